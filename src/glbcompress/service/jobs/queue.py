"""The job queue interface. The web side records a job in the database and tells the queue; a
backend runs it somewhere and records the outcome (through ``store.py``).

Backends: ``LocalQueue`` (default) runs jobs in processes of the web server; a Celery backend for
workers on other machines comes later and implements the same four methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class JobQueue(ABC):
    @abstractmethod
    def start(self) -> None:
        """Begin running jobs, including those queued or interrupted before a restart."""

    @abstractmethod
    def stop(self) -> None:
        """Stop running jobs; those still running are handed back to the queue, to resume later."""

    @abstractmethod
    def notify(self, job_id: str) -> None:
        """A job was queued: start it soon."""

    @abstractmethod
    def cancel(self, job_id: str) -> None:
        """The job was marked for cancellation in the database: stop it now if it runs here."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Figures for the health check."""
