"""The Celery side of the scale-out queue: the app's configuration, and sending a job's message.

A message only says "run job <id>"; the database stays the truth about every job. Delivery is
at-least-once: a worker acknowledges a message after the job ended (``acks_late``), a message whose
worker process died is returned to the queue (``reject_on_worker_lost``), and one taken by a worker
that vanished without a word is delivered again after the broker's visibility timeout. So a message
may arrive twice: the worker claims the job with a conditional UPDATE (``store.claim``), and a
duplicate finds it running or finished and does nothing.

Messages can also be lost (a Redis that keeps nothing on disk restarts). Each sent message leaves a
marker in Redis that lasts the visibility timeout; workers look for queued jobs without one and send
their message again (``Dispatcher.send_missing``), so every queued job is eventually delivered.

>>> dispatcher = Dispatcher(settings)
>>> dispatcher.send(job.id)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..redis_client import connect
from ..settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("glbcompress.jobs")

TASK_NAME = "glbcompress.run_job"
QUEUE_NAME = "glbcompress.jobs"


def make_celery(settings: Settings) -> Celery:
    """The Celery app of web processes (which only send) and workers (which also run the task)."""
    from celery import Celery

    visibility = settings.broker_visibility_timeout_seconds
    app = Celery("glbcompress", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_default_queue=QUEUE_NAME,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_pool_limit=10,
        broker_transport_options={
            "visibility_timeout": visibility,
            "global_keyprefix": settings.redis_prefix,
            # Look for messages of vanished workers a few times per visibility timeout (every 10 s
            # at most), with a real scan each time.
            "unacked_restore_interval": max(1, min(10, int(visibility // 3))),
            "unacked_restore_throttle": 1,
            "socket_timeout": 15,
            "socket_connect_timeout": 5,
        },
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
    )
    return app


class Dispatcher:
    """Sends job messages, and remembers in Redis (for the visibility timeout) that it did."""

    def __init__(self, settings: Settings, app: Celery | None = None):
        self.settings = settings
        self.app = app or make_celery(settings)
        self.redis = connect(settings.broker_url)
        self.lease = max(1, int(settings.broker_visibility_timeout_seconds))

    def _marker(self, job_id: str) -> str:
        return f"{self.settings.redis_prefix}dispatched:{job_id}"

    def send(self, job_id: str) -> None:
        """Send the job's message (raises when the broker cannot be reached)."""
        self.app.send_task(TASK_NAME, args=[job_id], queue=QUEUE_NAME)
        self.redis.set(self._marker(job_id), "1", ex=self.lease)

    def send_missing(self, job_ids: Iterable[str]) -> list[str]:
        """Send a message for each queued job that has had none within the visibility timeout
        (several workers may call this at once: the marker, set only if absent, picks one)."""
        ids = list(job_ids)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.set(self._marker(job_id), "1", ex=self.lease, nx=True)
        due = [job_id for job_id, fresh in zip(ids, pipe.execute(), strict=True) if fresh]
        sent = []
        for job_id in due:
            try:
                self.app.send_task(TASK_NAME, args=[job_id], queue=QUEUE_NAME)
                sent.append(job_id)
            except Exception:
                self.redis.delete(self._marker(job_id))
                raise
        return sent

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False

    def stats(self) -> dict[str, Any]:
        return {"backend": "celery", "broker": "ok" if self.ping() else "unavailable"}

    def close(self) -> None:
        self.redis.close()
        pool = getattr(self.app, "_pool", None)  # only there once a message was sent
        if pool is not None:
            pool.force_close_all()
        self.app.close()
