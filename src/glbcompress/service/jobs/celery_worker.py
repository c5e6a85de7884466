"""What a ``glbcompress worker`` process does: run the jobs its Celery messages name, and keep the
queue whole.

- A message's task claims its job (queued -> running, one conditional UPDATE) and runs it exactly
  as the local queue does — a process of its own with the memory and time limits, a heartbeat to
  the database every second, cancellation — then records the outcome only if the job is still this
  run's (same worker, same attempt). A duplicate message finds nothing to claim and is acknowledged.
- A monitor thread requeues jobs whose worker died (its process is gone from this machine, or its
  heartbeat is older than ``job_lease_seconds``) and sends their message again; a job interrupted
  ``job_max_attempts`` times fails instead. It also sends again the message of queued jobs the
  broker lost. So no job is lost and none stays "running" forever.
- On SIGTERM (Celery's warm shutdown) running jobs get ``worker_shutdown_grace_seconds`` to finish;
  those still running then are handed back to the queue and their message sent again, so another
  worker resumes them. A worker killed outright loses nothing either: its message is redelivered
  (late acknowledgement) and the monitor of any other worker requeues the job.

>>> worker = JobWorker(settings)
>>> worker.start()             # the monitor
>>> worker.run_job(job_id)     # the Celery task's body
>>> worker.begin_shutdown()    # on SIGTERM; worker.close() once the pool has stopped
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from ..db import Database, JobStatus
from ..settings import Settings
from ..storage import make_storage
from . import store
from .celery_app import Dispatcher
from .local import LocalQueue, process_context
from .runner import DEFAULT_TASK

log = logging.getLogger("glbcompress.jobs")

RESEND_AFTER = timedelta(seconds=5)
"""A queued job this old without a message marker gets its message sent again (younger ones may
be between their database row and their message)."""


class JobWorker:
    def __init__(self, settings: Settings, task: str = DEFAULT_TASK, dispatcher: Dispatcher | None = None):
        self.settings = settings
        self.db = Database(settings.database_url)
        self.storage = make_storage(settings)
        self.dispatcher = dispatcher or Dispatcher(settings)
        self.runner = LocalQueue(
            self.db, self.storage, settings, task=task, stale_after_seconds=settings.job_lease_seconds
        )
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.monitor_seconds = max(0.5, min(settings.job_lease_seconds / 2, 30.0))
        self._stop = threading.Event()
        self._shutting_down = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.runner.worker

    # --- the task ------------------------------------------------------------------------------

    def run_job(self, job_id: str) -> None:
        """Claim the job and run it; a job that is not queued (any more) is left alone."""
        if self._shutting_down.is_set():
            self._resend(job_id)  # not started here: let another worker have it
            return
        claimed = store.claim(self.db, job_id, self.name)
        if claimed is None:
            log.info(
                "job message ignored: the job is not queued",
                extra={"job_id": job_id, "status": store.status(self.db, job_id) or "deleted"},
            )
            return
        self.runner.run_claimed(claimed)
        if store.status(self.db, job_id) == JobStatus.QUEUED:  # handed back at shutdown
            self._resend(job_id)

    def _resend(self, job_id: str) -> None:
        try:
            self.dispatcher.send(job_id)
        except Exception:
            log.warning("could not send a job's message; the monitors will", extra={"job_id": job_id})

    # --- the monitor ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the job processes' forkserver (importing the engine takes seconds, during which
        a first job could not send heartbeats) and the monitor."""
        import multiprocessing.forkserver

        process_context()
        multiprocessing.forkserver.ensure_running()
        self.runner.recover()
        self._monitor = threading.Thread(target=self._watch, name="glbcompress-jobs-monitor", daemon=True)
        self._monitor.start()

    def check(self) -> None:
        """One round of the monitor: requeue jobs of dead workers, resend lost messages."""
        requeued, failed = store.recover_interrupted(
            self.db,
            store.worker_is_gone(self.runner.token),
            self.lease,
            self.settings.job_max_attempts,
            self.runner.retention,
        )
        for job_id in failed:
            log.warning("job failed: interrupted too often", extra={"job_id": job_id})
        for job_id in requeued:
            log.info("job requeued: its worker is gone", extra={"job_id": job_id})
            self._resend(job_id)
        for job_id in self.dispatcher.send_missing(store.queued_ids(self.db, RESEND_AFTER)):
            log.info("job message sent again: none was pending", extra={"job_id": job_id})

    def _watch(self) -> None:
        while not self._stop.wait(self.monitor_seconds):
            try:
                self.check()
            except Exception as exc:
                log.warning("job monitor round failed; trying again", extra={"error": type(exc).__name__})

    # --- stopping --------------------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """Let running jobs finish for the grace period, then hand back those still running."""
        if self._shutting_down.is_set():
            return
        self._shutting_down.set()
        grace = self.settings.worker_shutdown_grace_seconds
        log.info("worker stopping: running jobs may finish", extra={"seconds": grace})
        timer = threading.Timer(grace, self.runner.stop)
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join(10)
        self.runner.stop()
        self.dispatcher.close()
        self.db.dispose()
