"""The scale-out queue backend of web processes (``GLBCOMPRESS_QUEUE=celery``): a queued job is a
message to the ``glbcompress worker`` processes (``celery_worker.py``); this process never
compresses.

Messages are sent by a thread of their own, so a request that queues a job never waits on the
broker (were Redis slow or gone, the event loop would wait with it).

Cancelling needs no message: the web side marks the job in the database, and the worker running
it sees the mark at its next heartbeat (within a second) and stops the job's process.
"""

from __future__ import annotations

import logging
import queue
import threading
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
        self._outbox: queue.Queue[str | None] = queue.Queue()
        self._sender: threading.Thread | None = None

    def start(self) -> None:
        self._sender = threading.Thread(target=self._send_loop, name="glbcompress-job-sender", daemon=True)
        self._sender.start()
        log.info("jobs run on Celery workers", extra={"broker": "redis"})

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is still waiting (for up to timeout seconds), then close the connections."""
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout)
            self._sender = None
        self.dispatcher.close()

    def notify(self, job_id: str) -> None:
        """Have the job's message sent (at once, by the sender thread). If the broker is
        unreachable the job stays queued in the database and a worker sends its message once the
        broker is back (``send_missing``)."""
        if self._sender is None:
            self._send(job_id)  # not started (a script using the queue directly)
        else:
            self._outbox.put(job_id)

    def _send_loop(self) -> None:
        while (job_id := self._outbox.get()) is not None:
            self._send(job_id)

    def _send(self, job_id: str) -> None:
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
