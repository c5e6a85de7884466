"""A job's life in the database: claimed, heartbeats and progress, finished, handed back, requeued.

Every transition is one conditional UPDATE (``... WHERE id = ? AND status = ? AND worker = ?``), so
several workers and web processes sharing one database never both take a job, and a worker that
lost its job (canceled, deleted, requeued as stale) finds out instead of overwriting it. Every
queue backend uses these functions; none writes job states another way.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from ..db import Database, Job, JobStatus, utcnow


def worker_name(token: str) -> str:
    """Who runs a job: ``host:pid:token``, the token telling apart queue instances of one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


@dataclass(frozen=True)
class Claimed:
    """What a worker needs to run a job it claimed."""

    id: str
    input_key: str | None
    filename: str
    options: dict[str, Any]
    attempt: int = 0
    """Which run of the job this is (1 for the first); a worker's later writes name it, so a run
    the job was taken from can write nothing more, even if the same worker claimed it again."""


def _claimed(job: Job) -> Claimed:
    return Claimed(job.id, job.input_key, job.filename, dict(job.options or {}), job.attempts)


def _running_values(worker: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "status": JobStatus.RUNNING,
        "worker": worker,
        "started_at": now,
        "heartbeat_at": now,
        "attempts": Job.attempts + 1,
        "step": "starting",
        "progress": 0.0,
    }


def claim_next(db: Database, worker: str) -> Claimed | None:
    """Take the oldest queued job for worker (queued -> running), or None when there is none."""
    with db.session() as session:
        candidates = session.scalars(
            select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.created_at, Job.id).limit(8)
        ).all()
    for job_id in candidates:
        claimed = claim(db, job_id, worker)
        if claimed is not None:
            return claimed
    return None


def claim(db: Database, job_id: str, worker: str) -> Claimed | None:
    """Take one job for worker if it is still queued (a Celery message names the job); None when
    it is not: already running elsewhere, finished, canceled or deleted. A message delivered twice
    thus starts the job once."""
    with db.session() as session, session.begin():
        taken = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
            .values(**_running_values(worker))
        ).rowcount
        if taken:
            return _claimed(session.get_one(Job, job_id))
    return None


def queued_ids(db: Database, older_than: timedelta, limit: int = 1000) -> list[str]:
    """Jobs queued for longer than older_than, oldest first (to send their message again in case the
    broker lost it)."""
    cutoff = utcnow() - older_than
    with db.session() as session:
        return list(
            session.scalars(
                select(Job.id)
                .where(Job.status == JobStatus.QUEUED, Job.created_at < cutoff)
                .order_by(Job.created_at, Job.id)
                .limit(limit)
            ).all()
        )


def status(db: Database, job_id: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(Job.status).where(Job.id == job_id))


def beat(
    db: Database,
    job_id: str,
    worker: str,
    step: str | None,
    progress: float | None,
    attempt: int | None = None,
) -> bool:
    """Record that the job is alive (and its progress). False when the job is no longer this
    worker's to run (this attempt's, when given): canceled, deleted or taken back; the worker must
    then stop it."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if step is not None:
        values.update(step=step[:32], progress=max(0.0, min(1.0, float(progress or 0.0))))
    with db.session() as session, session.begin():
        mine = (
            Job.id == job_id,
            Job.status == JobStatus.RUNNING,
            Job.worker == worker,
            Job.cancel_requested.is_(False),
            *([Job.attempts == attempt] if attempt is not None else []),
        )
        return bool(session.execute(update(Job).where(*mine).values(**values)).rowcount)


def finish(
    db: Database,
    job_id: str,
    worker: str | None,
    status: str,
    retention: timedelta,
    attempt: int | None = None,
    **values: Any,
) -> bool:
    """Move a job to a final status with its outcome; False when it was not this worker's (any more,
    or not this attempt's, when given): the one conditional UPDATE that makes completion idempotent.

    worker None finishes a queued job (canceled before it started)."""
    assert status in JobStatus.FINISHED
    now = utcnow()
    where = [Job.id == job_id]
    if worker is None:
        where.append(Job.status == JobStatus.QUEUED)
    else:
        where += [Job.status == JobStatus.RUNNING, Job.worker == worker]
    if attempt is not None:
        where.append(Job.attempts == attempt)
    if status != JobStatus.SUCCEEDED:
        values.setdefault("output_key", None)
    values.update(status=status, finished_at=now, expires_at=now + retention, heartbeat_at=None)
    if status == JobStatus.SUCCEEDED:
        values.update(step="done", progress=1.0)
    with db.session() as session, session.begin():
        return bool(session.execute(update(Job).where(*where).values(**values)).rowcount)


def hand_back(db: Database, job_id: str, worker: str, attempt: int | None = None) -> bool:
    """Put a job this worker cannot finish (it is shutting down) back in the queue, uncounted."""
    where = [Job.id == job_id, Job.status == JobStatus.RUNNING, Job.worker == worker]
    if attempt is not None:
        where.append(Job.attempts == attempt)
    with db.session() as session, session.begin():
        return bool(
            session.execute(
                update(Job).where(*where).values(**_requeued(), attempts=Job.attempts - 1)
            ).rowcount
        )


def _requeued() -> dict[str, Any]:
    return {"status": JobStatus.QUEUED, "worker": None, "heartbeat_at": None, "step": "", "progress": 0.0}


def cancel_requested(db: Database, job_id: str) -> bool:
    with db.session() as session:
        return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def interrupted_message(attempts: int) -> str:
    return (
        f"The job was interrupted {attempts} times while running (the server stopped or its worker "
        "died), so it was not started again."
    )


def recover_interrupted(
    db: Database,
    is_gone: Any,
    stale_after: timedelta,
    max_attempts: int,
    retention: timedelta,
) -> tuple[list[str], list[str]]:
    """Requeue running jobs whose worker is gone: is_gone(worker) says so, or its heartbeat is
    older than stale_after. A job interrupted max_attempts times fails instead (it may be what
    kills its workers). Returns (requeued ids, failed ids)."""
    cutoff = utcnow() - stale_after
    with db.session() as session:
        rows: Sequence[Any] = session.execute(
            select(Job.id, Job.worker, Job.heartbeat_at, Job.attempts)
            .where(Job.status == JobStatus.RUNNING)
            .order_by(Job.created_at, Job.id)
        ).all()
    requeued, failed = [], []
    for job_id, worker, heartbeat, attempts in rows:
        if not (is_gone(worker or "") or heartbeat is None or heartbeat < cutoff):
            continue
        if attempts >= max_attempts:
            if finish(
                db,
                job_id,
                worker,
                JobStatus.FAILED,
                retention,
                error_kind="interrupted",
                error_message=interrupted_message(attempts),
            ):
                failed.append(job_id)
            continue
        with db.session() as session, session.begin():
            moved = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.worker == worker)
                .values(**_requeued())
            ).rowcount
        if moved:
            requeued.append(job_id)
    return requeued, failed


def worker_is_gone(own_token: str) -> Any:
    """A test for recover_interrupted on this machine: a worker of this host whose process has
    exited, or of this very process but an earlier queue instance (a different token)."""
    host, pid = socket.gethostname(), os.getpid()

    def gone(worker: str) -> bool:
        parts = worker.split(":")
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            return False  # another machine's: only its heartbeat tells
        if int(parts[1]) == pid:
            return parts[2] != own_token
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    return gone


def exists(db: Database, job_id: str) -> bool:
    with db.session() as session:
        return session.scalar(select(Job.id).where(Job.id == job_id)) is not None
