"""The periodic retention sweep: a daemon thread calling ``JobManager.sweep`` every interval."""

from __future__ import annotations

import logging
import threading

from .manager import JobManager

log = logging.getLogger("glbcompress.jobs")


class Sweeper:
    def __init__(self, jobs: JobManager, interval_seconds: float):
        self.jobs = jobs
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="glbcompress-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while True:
            try:
                self.jobs.sweep()
            except Exception:
                log.exception("retention sweep failed; trying again at the next interval")
            if self._stop.wait(self.interval):
                return
