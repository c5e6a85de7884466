"""A real server process for the restart tests: the app with a test task, served by uvicorn.

python -m tests.service.server_process DATA_DIR DATABASE_URL PORT TASK
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from glbcompress.service.app import create_app
from glbcompress.service.db import Database
from glbcompress.service.jobs import LocalQueue
from glbcompress.service.settings import Settings
from glbcompress.service.storage import Storage


def main() -> None:
    data_dir, database_url, port, task = sys.argv[1:5]
    settings = Settings(data_dir=Path(data_dir), database_url=database_url, workers=1, secret_key="s" * 40)

    def queue(db: Database, storage: Storage, settings: Settings) -> LocalQueue:
        return LocalQueue(db, storage, settings, task=task, poll_seconds=0.2)

    app = create_app(settings, queue_factory=queue)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_config=None, access_log=False)


if __name__ == "__main__":
    main()
