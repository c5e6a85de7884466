"""Compression jobs: a row per job in the database, files in storage, a queue that runs them.

- ``manager.py``: what the web side calls — submit (from an upload or a file), get, list, cancel,
  delete, and the retention sweep (``sweeper.py`` runs it periodically).
- ``queue.py``: the queue interface; ``local.py``: the default backend, worker processes of the
  web server; ``runner.py``: what runs inside a job's process.
- ``celery_app.py``, ``celery_queue.py``, ``celery_worker.py``: the scale-out backend — web
  processes send a message per job through Redis, ``glbcompress worker`` processes run them.
- ``store.py``: the job's state transitions in the database, shared by every backend.
"""

from __future__ import annotations

from ..db import Database
from ..settings import Settings
from ..storage import Storage
from .local import LocalQueue
from .manager import JobManager, check_options, clean_filename
from .queue import JobQueue
from .sweeper import Sweeper

__all__ = ["JobManager", "JobQueue", "LocalQueue", "Sweeper", "check_options", "clean_filename", "make_queue"]


def make_queue(db: Database, storage: Storage, settings: Settings) -> JobQueue:
    """The queue backend the settings name: "local" (jobs run in this process's workers) or
    "celery" (jobs are sent to ``glbcompress worker`` processes)."""
    if settings.queue == "celery":
        from .celery_queue import CeleryQueue

        return CeleryQueue(db, storage, settings)
    return LocalQueue(db, storage, settings)
