"""Per-account limits, so one account cannot take every worker or fill the disk: how many of its
jobs may be queued or running at once, and how many bytes of its uploads and results may be
stored. 0 means no limit. Refusals are `QuotaExceeded`, answered as problem+json (429
too-many-active-jobs, 413 storage-quota-exceeded) whose detail the dashboard shows as it is.

Each submission is checked twice: `room` before its body is read (so a full account is refused
without receiving a big upload), and `recheck` in the transaction that inserts its job, with the
account locked, so concurrent submissions of one account cannot all pass the first check and
together go past a limit.

>>> room = quotas.room(db, settings, user_id)  # then store the upload, at most room bytes
>>> with db.session() as session, session.begin():
...     quotas.recheck(session, settings, user_id, blob.size)
...     session.add(job)
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import Database, Job, JobStatus, User
from ..settings import Settings


class QuotaExceeded(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str):
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        super().__init__(detail)


def active_jobs(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.user_id == user_id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        )
        or 0
    )


def stored_bytes(session: Session, user_id: int) -> int:
    """Bytes of the account's inputs and results still kept (not yet expired or deleted)."""
    total = session.scalar(
        select(func.sum(Job.input_bytes + func.coalesce(Job.output_bytes, 0))).where(
            Job.user_id == user_id, Job.purged_at.is_(None)
        )
    )
    return int(total or 0)


def room(db: Database, settings: Settings, user_id: int) -> int | None:
    """The early check: raises QuotaExceeded if the account may not start a job now; returns the
    bytes it may still store (None: no limit)."""
    with db.session() as session:
        return _room(session, settings, user_id)


def _room(session: Session, settings: Settings, user_id: int) -> int | None:
    check_active(session, settings, user_id)
    return storage_room(session, settings, user_id)


def recheck(session: Session, settings: Settings, user_id: int, size: int) -> None:
    """The check again, inside the transaction that will insert a job of size input bytes, after
    locking the account so that its other submissions wait for this transaction to end."""
    if not (settings.max_active_jobs_per_account or settings.account_storage_bytes):
        return
    lock_account(session, user_id)
    left = _room(session, settings, user_id)
    if left is not None and size > left:
        raise storage_full(settings)


def lock_account(session: Session, user_id: int) -> None:
    """Take the account's lock for the rest of the transaction. PostgreSQL locks the users row;
    SQLite (whose driver starts a transaction at its first write, not at BEGIN) needs a write
    first: a no-op update of the row (of a column no index or key involves), which takes the
    database's one write lock."""
    if session.get_bind().dialect.name == "sqlite":
        no_op = update(User).where(User.id == user_id).values(created_at=User.created_at)
        session.execute(no_op, execution_options={"synchronize_session": False})
    else:
        session.execute(select(User.id).where(User.id == user_id).with_for_update())


def check_active(session: Session, settings: Settings, user_id: int) -> None:
    limit = settings.max_active_jobs_per_account
    if limit and active_jobs(session, user_id) >= limit:
        raise QuotaExceeded(
            429,
            "too-many-active-jobs",
            "Too many jobs at once",
            f"Your account already has {limit} jobs queued or running, the most it may have at once. "
            "Wait for one to finish (or cancel one), then try again.",
        )


def storage_room(session: Session, settings: Settings, user_id: int) -> int | None:
    """Bytes the account may still store (None: no limit); raises QuotaExceeded at none."""
    limit = settings.account_storage_bytes
    if not limit:
        return None
    left = limit - stored_bytes(session, user_id)
    if left <= 0:
        raise storage_full(settings)
    return left


def storage_full(settings: Settings) -> QuotaExceeded:
    return QuotaExceeded(
        413,
        "storage-quota-exceeded",
        "Storage quota reached",
        f"This upload would take your account past its {settings.account_storage_mb:g} MB of stored "
        "models and results. Delete some jobs on the History page (or wait for them to expire), "
        "then try again.",
    )
