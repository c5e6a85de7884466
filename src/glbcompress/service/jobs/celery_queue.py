"""The scale-out queue backend of web processes (``GLBCOMPRESS_QUEUE=celery``): a queued job is a
message to the ``glbcompress worker`` processes (``celery_worker.py``); this process never
compresses.

Cancelling needs no message: the web side marks the job in the database, and the worker running
it sees the mark at its next heartbeat (within a second) and stops the job's process.
"""

from __future__ import annotations

import logging
from typing import Any

from ..db import Database
from ..settings import Settings
from ..storage import Storage
from .celery_app import Dispatcher
from .queue import JobQueue

log = logging.getLogger("glbcompress.jobs")


class CeleryQueue(JobQueue):
    def __init__(self, db: Database, storage: Storage, settings: Settings):
        self.db = db
        self.storage = storage
        self.settings = settings
        self.dispatcher = Dispatcher(settings)

    def start(self) -> None:
        log.info("jobs run on Celery workers", extra={"broker": "redis"})

    def stop(self) -> None:
        self.dispatcher.close()

    def notify(self, job_id: str) -> None:
        """Send the job's message. If the broker is unreachable the job stays queued in the
        database and a worker sends its message once the broker is back (``send_missing``)."""
        try:
            self.dispatcher.send(job_id)
        except Exception as exc:
            log.warning(
                "could not reach the broker; the job stays queued and will be sent later",
                extra={"job_id": job_id, "error": type(exc).__name__},
            )

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: the worker reads the cancel mark from the database."""

    def stats(self) -> dict[str, Any]:
        return self.dispatcher.stats()
