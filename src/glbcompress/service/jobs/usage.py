"""Usage figures of an account from its jobs: models compressed and bytes saved, per day (UTC), per
source and in total. Jobs removed from the history still count (their rows stay); a failed job
counts as a failure, never as a model compressed.

Bytes saved per job is input minus output, never below zero (an upload that was a deflated zip can
be smaller than its GLB). Sums are done by the database, so an account with many jobs costs one
grouped query per figure, the same on SQLite and PostgreSQL.

>>> days = daily(db, user_id, days=30)     # one Day per date, oldest first, zeros included
>>> totals(db, user_id).models
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.sql import ColumnElement

from ..db import Database, Job, JobStatus, utcnow


@dataclass(frozen=True)
class Figures:
    models: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    saved: int = 0


@dataclass(frozen=True)
class Day(Figures):
    day: date = date.min


def total(rows: Iterable[Figures]) -> Figures:
    """The sum of several rows (e.g. the days of a window)."""
    rows = list(rows)
    return Figures(
        models=sum(r.models for r in rows),
        failed=sum(r.failed for r in rows),
        bytes_in=sum(r.bytes_in for r in rows),
        bytes_out=sum(r.bytes_out for r in rows),
        saved=sum(r.saved for r in rows),
    )


def _figures() -> list[ColumnElement[Any]]:
    ok = Job.status == JobStatus.SUCCEEDED
    saved = case((ok & (Job.input_bytes > Job.output_bytes), Job.input_bytes - Job.output_bytes), else_=0)
    return [
        func.count(case((ok, 1))),
        func.count(case((Job.status == JobStatus.FAILED, 1))),
        func.coalesce(func.sum(case((ok, Job.input_bytes), else_=0)), 0),
        func.coalesce(func.sum(case((ok, Job.output_bytes), else_=0)), 0),
        func.coalesce(func.sum(saved), 0),
    ]


def _of(row: Sequence[Any]) -> Figures:
    return Figures(*(int(v or 0) for v in row))


def _finished(user_id: int) -> list[ColumnElement[bool]]:
    return [Job.user_id == user_id, Job.status.in_((JobStatus.SUCCEEDED, JobStatus.FAILED))]


def totals(db: Database, user_id: int, since: datetime | None = None) -> Figures:
    where = _finished(user_id)
    if since is not None:
        where.append(Job.finished_at >= since)
    with db.session() as session:
        return _of(session.execute(select(*_figures()).where(*where)).one())


def _day(value: Any) -> date:
    """SQLite hands dates back as text, PostgreSQL as dates."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def daily(db: Database, user_id: int, days: int = 30, today: date | None = None) -> list[Day]:
    """Figures for each of the last `days` UTC dates up to today, oldest first."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    day = cast(Job.finished_at, Date) if db.engine.dialect.name != "sqlite" else func.date(Job.finished_at)
    with db.session() as session:
        rows = session.execute(
            select(day, *_figures()).where(*_finished(user_id), Job.finished_at >= since).group_by(day)
        ).all()
    found = {_day(row[0]): _of(row[1:]) for row in rows}
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        f = found.get(d, Figures())
        out.append(Day(f.models, f.failed, f.bytes_in, f.bytes_out, f.saved, day=d))
    return out


def by_source(db: Database, user_id: int, column: Any = None) -> dict[Any, Figures]:
    """Figures per value of a job column (default: the source, dashboard or api)."""
    column = Job.source if column is None else column
    with db.session() as session:
        rows = session.execute(select(column, *_figures()).where(*_finished(user_id)).group_by(column)).all()
    return {row[0]: _of(row[1:]) for row in rows}
