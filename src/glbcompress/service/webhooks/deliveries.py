"""Webhook deliveries in the database. Every change is one conditional UPDATE, so several web
processes sharing the database never send one delivery at once (a sender holds a lease) and a
restart loses nothing: what was not acknowledged is sent again when due.

>>> record(db, job.id, user.id, "https://example.com/hooks/glb")     # at submission
>>> make_ready(db)               # jobs that ended: fix the payload, due now
>>> for d in claim_due(db, lease=timedelta(seconds=30)): ...          # send, then:
>>> acknowledged(db, d.id, 200) | failed_attempt(db, d.id, 500, "...", settings)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..db import Database, Job, JobStatus, WebhookDelivery, WebhookState, utcnow

MAX_BACKOFF_SECONDS = 3600
BATCH = 20


@dataclass(frozen=True)
class Due:
    id: int
    user_id: int
    url: str
    payload: dict[str, Any]
    attempts: int


def record(db: Database, job_id: str, user_id: int, url: str) -> None:
    with db.session() as session, session.begin():
        session.add(
            WebhookDelivery(job_id=job_id, user_id=user_id, url=url, state=WebhookState.WAITING, attempts=0)
        )


def for_job(db: Database, job_id: str) -> WebhookDelivery | None:
    with db.session() as session:
        return session.scalar(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id))


def for_jobs(db: Database, job_ids: list[str]) -> dict[str, WebhookDelivery]:
    if not job_ids:
        return {}
    with db.session() as session:
        rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id.in_(job_ids))).all()
    return {row.job_id: row for row in rows}


EVENTS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELED: "job.canceled",
}


def make_ready(db: Database, now: datetime | None = None) -> int:
    """Deliveries whose job has ended become pending, due now, with their payload fixed."""
    from ..api.job_models import job_json

    now = now or utcnow()
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery.id, Job)
            .join(Job, Job.id == WebhookDelivery.job_id)
            .where(WebhookDelivery.state == WebhookState.WAITING, Job.status.in_(JobStatus.FINISHED))
            .order_by(WebhookDelivery.id)
            .limit(BATCH * 5)
        ).all()
    made = 0
    for delivery_id, job in rows:
        event = EVENTS[job.status]
        payload = {"type": event, "timestamp": now.isoformat(), "data": job_json(job)}
        with db.session() as session, session.begin():
            made += session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == WebhookState.WAITING)
                .values(state=WebhookState.PENDING, event=event, payload=payload, next_attempt_at=now)
            ).rowcount
    return made


def claim_due(db: Database, lease: timedelta, now: datetime | None = None) -> list[Due]:
    """Pending deliveries that are due and not held by another sender, now held by this one."""
    now = now or utcnow()
    free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
    with db.session() as session:
        candidates = session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.state == WebhookState.PENDING, WebhookDelivery.next_attempt_at <= now, free
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(BATCH)
        ).all()
    claimed = []
    for row in candidates:
        with db.session() as session, session.begin():
            taken = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id, WebhookDelivery.state == WebhookState.PENDING, free)
                .values(lease_until=now + lease)
            ).rowcount
        if taken:
            claimed.append(Due(row.id, row.user_id, row.url, dict(row.payload or {}), row.attempts))
    return claimed


def acknowledged(db: Database, delivery_id: int, status: int) -> None:
    now = utcnow()
    with db.session() as session, session.begin():
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                state=WebhookState.DELIVERED,
                attempts=WebhookDelivery.attempts + 1,
                last_status=status,
                last_error=None,
                delivered_at=now,
                lease_until=None,
                next_attempt_at=None,
            )
        )


def backoff(attempts: int, first_seconds: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: first, 3x, 9x, ... at most
    an hour."""
    return min(MAX_BACKOFF_SECONDS, first_seconds * 3 ** max(0, attempts - 1))


def failed_attempt(
    db: Database,
    delivery_id: int,
    status: int | None,
    error: str,
    attempts_before: int,
    max_attempts: int,
    first_retry_seconds: float,
) -> str:
    """Record a failed attempt: retried later with backoff, or given up after the last one.
    Returns the new state."""
    attempts = attempts_before + 1
    now = utcnow()
    give_up = attempts >= max_attempts
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error[:500],
        "lease_until": None,
    }
    if give_up:
        values.update(state=WebhookState.FAILED, next_attempt_at=None)
    else:
        values.update(next_attempt_at=now + timedelta(seconds=backoff(attempts, first_retry_seconds)))
    with db.session() as session, session.begin():
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
    return WebhookState.FAILED if give_up else WebhookState.PENDING
