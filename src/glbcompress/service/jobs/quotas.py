"""Per-account limits, so one account cannot take every worker or fill the disk: how many of its
jobs may be queued or running at once, and how many bytes of its uploads and results may be
stored. 0 means no limit. Refusals are `QuotaExceeded`, answered as problem+json (429
too-many-active-jobs, 413 storage-quota-exceeded) whose detail the dashboard shows as it is.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..db import Database, Job, JobStatus
from ..settings import Settings


class QuotaExceeded(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str):
        self.status, self.kind, self.title, self.detail = status, kind, title, detail
        super().__init__(detail)


def active_jobs(db: Database, user_id: int) -> int:
    with db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.user_id == user_id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            )
            or 0
        )


def stored_bytes(db: Database, user_id: int) -> int:
    """Bytes of the account's inputs and results still kept (not yet expired or deleted)."""
    with db.session() as session:
        total = session.scalar(
            select(func.sum(Job.input_bytes + func.coalesce(Job.output_bytes, 0))).where(
                Job.user_id == user_id, Job.purged_at.is_(None)
            )
        )
    return int(total or 0)


def check_active(db: Database, settings: Settings, user_id: int) -> None:
    limit = settings.max_active_jobs_per_account
    if limit and active_jobs(db, user_id) >= limit:
        raise QuotaExceeded(
            429,
            "too-many-active-jobs",
            "Too many jobs at once",
            f"Your account already has {limit} jobs queued or running, the most it may have at once. "
            "Wait for one to finish (or cancel one), then try again.",
        )


def storage_room(db: Database, settings: Settings, user_id: int) -> int | None:
    """Bytes the account may still store (None: no limit); raises QuotaExceeded at none."""
    limit = settings.account_storage_bytes
    if not limit:
        return None
    room = limit - stored_bytes(db, user_id)
    if room <= 0:
        raise storage_full(settings)
    return room


def storage_full(settings: Settings) -> QuotaExceeded:
    return QuotaExceeded(
        413,
        "storage-quota-exceeded",
        "Storage quota reached",
        f"This upload would take your account past its {settings.account_storage_mb:g} MB of stored "
        "models and results. Delete some jobs on the History page (or wait for them to expire), "
        "then try again.",
    )
