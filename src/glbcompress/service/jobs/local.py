"""The default queue backend: jobs run in worker processes of the web server itself.

``settings.workers`` supervisor threads each take the oldest queued job from the database and run
it in a fresh process of its own (forked from a clean "forkserver" process that has the engine
already imported, so a job starts in milliseconds), with the job's memory limit set on the process.
While it runs, the supervisor relays progress and a heartbeat to the database, enforces the
wall-clock limit and watches for cancellation. Whatever the job does — run away, exhaust its
memory, crash in native code — only its process dies: the supervisor records why and takes the
next job. The web server's event loop never waits for any of it.

After a restart, jobs still queued are taken as usual, and jobs left "running" by a server that
died are requeued (``store.recover_interrupted``, at start and then periodically by a monitor
thread); several server processes may share a database.

>>> queue = LocalQueue(db, storage, settings)
>>> queue.start()                # resumes what a previous run left
>>> queue.notify(job.id)         # after inserting a queued job
>>> queue.stop()                 # running jobs are handed back, to resume at the next start
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

from ..db import Database, JobStatus
from ..settings import Settings
from ..storage import Blob, MissingBlob, Storage
from . import store
from .queue import JobQueue
from .runner import DEFAULT_TASK, ResourceLimits, child_main

log = logging.getLogger("glbcompress.jobs")

_context_lock = threading.Lock()
_context: ForkServerContext | None = None


def process_context() -> ForkServerContext:
    """The forkserver context every LocalQueue of this process shares. Forking from a server
    process (rather than from the web server, which has threads and open connections) is safe,
    and preloading the engine there makes each job's start cheap."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["glbcompress.service.jobs.runner", "glbcompress.engine.api"])
            _context = context
        return _context


@dataclass
class Outcome:
    """How a run ended, as the supervisor saw it."""

    status: str  # a JobStatus, or HANDED_BACK / LOST
    report: dict[str, Any] | None = None
    output: Blob | None = None
    error_kind: str | None = None
    error_message: str | None = None


HANDED_BACK, LOST = "handed back", "lost"


def _failed(kind: str, message: str) -> Outcome:
    return Outcome(JobStatus.FAILED, error_kind=kind, error_message=message)


def internal_message(job_id: str) -> str:
    return f"An internal error stopped this job; it was logged with reference {job_id}."


def crash_message(exitcode: int | None) -> str:
    """Why a job's process ended without an answer, in words for the user."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGXCPU":
            return "Compressing this model used more processor time than a job may use."
        return (
            f"The compression process stopped unexpectedly ({name}). The model may trigger a bug, "
            "or need more memory than is available; the job was not retried."
        )
    return f"The compression process exited unexpectedly (code {exitcode}); the job was not retried."


@dataclass
class _Progress:
    step: str | None = None
    fraction: float | None = None


@dataclass
class LocalQueue(JobQueue):
    db: Database
    storage: Storage
    settings: Settings
    task: str = DEFAULT_TASK
    """Import path of the function a job runs (tests substitute their own)."""
    poll_seconds: float = 2.0
    """How often idle supervisors look for jobs queued by other processes."""
    heartbeat_seconds: float = 1.0
    stale_after_seconds: float = 60.0
    """A running job without a heartbeat for this long is taken to be interrupted."""

    token: str = field(default_factory=lambda: secrets.token_hex(4))
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _signals: int = 0
    _running: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def worker(self) -> str:
        return store.worker_name(self.token)

    @property
    def retention(self) -> timedelta:
        return timedelta(hours=self.settings.retention_hours)

    # --- the JobQueue interface ---------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        targets = [(self._monitor, "glbcompress-jobs-monitor")]
        targets += [(self._loop, f"glbcompress-jobs-{slot}") for slot in range(self.settings.workers)]
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def notify(self, job_id: str) -> None:
        with self._wake:
            self._signals += 1
            self._wake.notify()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            event = self._running.get(job_id)
        if event is not None:
            event.set()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            running = len(self._running)
        return {"backend": "local", "workers": self.settings.workers, "running": running}

    def run_claimed(self, job: store.Claimed) -> None:
        """Run one job claimed by someone else (a Celery worker's task) the way this queue runs its
        own: in a process of its own with the limits, heartbeats and cancellation, its outcome
        recorded (or handed back when ``stop`` was called meanwhile)."""
        self._run(job)

    def recover(self) -> None:
        """Requeue (or fail) jobs whose worker is gone."""
        requeued, failed = store.recover_interrupted(
            self.db,
            store.worker_is_gone(self.token),
            timedelta(seconds=self.stale_after_seconds),
            self.settings.job_max_attempts,
            self.retention,
        )
        for job_id in requeued:
            log.info("job requeued after an interruption", extra={"job_id": job_id})
        for job_id in failed:
            log.warning("job failed: interrupted too often", extra={"job_id": job_id})

    # --- supervisors ----------------------------------------------------------------------------

    def _monitor(self) -> None:
        """Look for jobs whose worker died (on another server, say) while this one runs."""
        while not self._stopping.wait(self.stale_after_seconds / 2):
            try:
                self.recover()
            except Exception:
                log.exception("recovering interrupted jobs failed; trying again later")

    def _loop(self) -> None:
        """A supervisor: take the oldest queued job, run it, repeat; sleep while there is none."""
        while not self._stopping.is_set():
            try:
                seen = self._signals
                job = store.claim_next(self.db, self.worker)
                if job is None:
                    with self._wake:
                        self._wake.wait_for(
                            lambda seen=seen: self._signals != seen or self._stopping.is_set(),
                            timeout=self.poll_seconds,
                        )
                    continue
                self._run(job)
            except Exception:
                log.exception("job supervisor error; carrying on")
                self._stopping.wait(self.poll_seconds)

    def _run(self, job: store.Claimed) -> None:
        cancel = threading.Event()
        with self._lock:
            self._running[job.id] = cancel
        started = time.monotonic()
        log.info("job started", extra={"job_id": job.id})
        try:
            outcome = self._execute(job, cancel)
        except Exception:
            log.exception("job supervisor failed", extra={"job_id": job.id})
            outcome = _failed("internal-error", internal_message(job.id))
        finally:
            with self._lock:
                self._running.pop(job.id, None)
        self._record(job, outcome, time.monotonic() - started)

    def _execute(self, job: store.Claimed, cancel: threading.Event) -> Outcome:
        """Run the job in its own process and, when it succeeds, store the output."""
        if job.input_key is None:
            return _failed("missing-input", "The uploaded model is no longer stored.")
        try:
            with self.storage.local_path(job.input_key) as src, self.storage.scratch() as work:
                dst = work / "output.glb"
                outcome = self._in_process(job, str(src), str(dst), cancel)
                if outcome.status == JobStatus.SUCCEEDED:
                    key = f"jobs/{job.id}/result-{secrets.token_hex(4)}.glb"
                    outcome.output = self.storage.save_file(key, dst)
                return outcome
        except MissingBlob:
            return _failed("missing-input", "The uploaded model is no longer stored.")

    def _in_process(self, job: store.Claimed, src: str, dst: str, cancel: threading.Event) -> Outcome:
        timeout = self.settings.job_timeout_seconds
        limits = ResourceLimits(
            memory_bytes=self.settings.job_memory_mb * 1024 * 1024,
            cpu_seconds=math.ceil(timeout * 2) + 10,
        )
        context = process_context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=child_main,
            args=(sender, self.task, src, dst, job.options, limits),
            name=f"glbcompress-job-{job.id}",
            daemon=True,
        )
        process.start()
        sender.close()
        try:
            return self._supervise(job, process, receiver, cancel, time.monotonic() + timeout)
        finally:
            if process.is_alive():
                process.kill()
            process.join(10)
            receiver.close()

    def _supervise(
        self,
        job: store.Claimed,
        process: BaseProcess,
        receiver: Connection,
        cancel: threading.Event,
        deadline: float,
    ) -> Outcome:
        """Relay the job process's messages until it answers, dies, or must be stopped."""
        job_id = job.id
        progress = _Progress()
        next_beat = 0.0
        while True:
            now = time.monotonic()
            if cancel.is_set():
                return Outcome(JobStatus.CANCELED)
            if self._stopping.is_set():
                return Outcome(HANDED_BACK)
            if now >= deadline:
                limit = self.settings.job_timeout_seconds
                return _failed(
                    "timeout", f"Compressing this model took longer than a job may run ({limit:g} s)."
                )
            if now >= next_beat:
                if not store.beat(
                    self.db, job_id, self.worker, progress.step, progress.fraction, job.attempt
                ):
                    cancelled = store.cancel_requested(self.db, job_id)
                    return Outcome(JobStatus.CANCELED if cancelled else LOST)
                next_beat = now + self.heartbeat_seconds
            if not receiver.poll(min(0.1, max(0.0, deadline - now))):
                continue
            try:
                message = receiver.recv()
            except EOFError:
                process.join(5)
                return _failed("crashed", crash_message(process.exitcode))
            outcome = self._handle(job_id, message, progress)
            if outcome is not None:
                return outcome

    def _handle(self, job_id: str, message: tuple, progress: _Progress) -> Outcome | None:
        kind = message[0]
        if kind == "progress":
            progress.step, progress.fraction = str(message[1]), float(message[2])
            return None
        if kind == "ok":
            return Outcome(JobStatus.SUCCEEDED, report=message[1])
        if kind == "error":
            return _failed(str(message[1]), str(message[2]))
        log.error("job failed with an internal error:\n%s", message[1], extra={"job_id": job_id})
        return _failed("internal-error", internal_message(job_id))

    def _record(self, job: store.Claimed, outcome: Outcome, seconds: float) -> None:
        """Write the outcome; if the job is no longer this worker's, drop what the run produced."""
        job_id = job.id
        extra = {"job_id": job_id, "status": outcome.status, "seconds": round(seconds, 3)}
        if outcome.status == HANDED_BACK:
            store.hand_back(self.db, job_id, self.worker, job.attempt)
            log.info("job handed back to the queue", extra=extra)
            return
        recorded = False
        if outcome.status != LOST:
            values: dict[str, Any] = {
                "error_kind": outcome.error_kind,
                "error_message": outcome.error_message,
            }
            if outcome.output is not None:
                values.update(
                    output_key=outcome.output.key,
                    output_bytes=outcome.output.size,
                    output_sha256=outcome.output.sha256,
                    report=outcome.report,
                )
            if outcome.status == JobStatus.CANCELED:
                values.update(error_kind="canceled", error_message="The job was canceled.")
            recorded = store.finish(
                self.db, job_id, self.worker, outcome.status, self.retention, job.attempt, **values
            )
        if not recorded:
            if outcome.output is not None:
                self.storage.delete(outcome.output.key)
            if not store.exists(self.db, job_id):
                self.storage.delete_prefix(f"jobs/{job_id}")
            log.info("job result dropped: the job was canceled, deleted or taken back", extra=extra)
            return
        if outcome.error_kind:
            extra["error_kind"] = outcome.error_kind
        log.info("job finished", extra=extra)
