"""The History page: every job of the account, newest first, with filters (file name, status,
source), a download while the result is kept, and removal.

Removing takes a job out of the history and deletes its files at once; the row stays hidden so the
Usage page's figures do not change (``JobManager.remove``). The page works without JavaScript
(filters are a GET form, removal a POST form with its CSRF token); ``history.js`` only asks for
confirmation first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from ..context import services
from ..db import ApiKey, Database, Job, JobSource, JobStatus, User, utcnow
from .figures import job_view
from .pages import CurrentUser, posted, redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUS_FILTERS = {
    "": ("Any status", ()),
    "done": ("Done", (JobStatus.SUCCEEDED,)),
    "active": ("Queued or compressing", (JobStatus.QUEUED, JobStatus.RUNNING)),
    "failed": ("Failed", (JobStatus.FAILED,)),
    "canceled": ("Canceled", (JobStatus.CANCELED,)),
}
SOURCE_FILTERS = {"": "Any source", JobSource.DASHBOARD: "Dashboard", JobSource.API: "API (any key)"}
KEY_SOURCE = "key-"
"""A source filter for one API key: ``key-<id>``."""


def key_labels(db: Database, user_id: int) -> dict[Any, str]:
    """How the account's API keys are named as a job's source, by id: revoked and expired keys
    too (their jobs stay in the history), marked as such."""
    from ..auth.api_keys import active

    with db.session() as session:
        keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user_id)).all()
    now = utcnow()
    labels = {}
    for key in keys:
        state = "" if active(key, now) else " (revoked)" if key.revoked_at else " (expired)"
        labels[key.id] = f"API key “{key.name}”{state}"
    return labels


@dataclass(frozen=True)
class Filters:
    q: str = ""
    status: str = ""
    source: str = ""
    page: int = 1

    @classmethod
    def of(cls, request: Request, sources: dict[str, str]) -> Filters:
        params = request.query_params
        status = params.get("status", "")
        source = params.get("source", "")
        try:
            page = max(1, min(10_000, int(params.get("page", "1"))))
        except ValueError:
            page = 1
        return cls(
            q=params.get("q", "").strip()[:200],
            status=status if status in STATUS_FILTERS else "",
            source=source if source in sources else "",
            page=page,
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.source)

    def query(self, page: int) -> str:
        from urllib.parse import urlencode

        values = {"q": self.q, "status": self.status, "source": self.source, "page": str(page)}
        kept = {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}
        return "?" + urlencode(kept) if kept else ""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_jobs(db: Database, user_id: int, filters: Filters) -> tuple[Sequence[Job], bool]:
    """The page of jobs the filters select, and whether there are more."""
    query = select(Job).where(Job.user_id == user_id, Job.removed_at.is_(None))
    if filters.q:
        query = query.where(Job.filename.ilike(_like(filters.q), escape="\\"))
    statuses = STATUS_FILTERS[filters.status][1]
    if statuses:
        query = query.where(Job.status.in_(statuses))
    if filters.source.startswith(KEY_SOURCE):
        query = query.where(Job.api_key_id == int(filters.source[len(KEY_SOURCE) :]))
    elif filters.source:
        query = query.where(Job.source == filters.source)
    offset = (filters.page - 1) * PAGE_SIZE
    query = query.order_by(Job.created_at.desc(), Job.id).limit(PAGE_SIZE + 1).offset(offset)
    with db.session() as session:
        rows = session.scalars(query).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@router.get("/history")
def history_page(request: Request, user: CurrentUser) -> Response:
    s = services(request)
    names = key_labels(s.db, user.id)
    sources = {**SOURCE_FILTERS, **{f"{KEY_SOURCE}{key_id}": label for key_id, label in names.items()}}
    filters = Filters.of(request, sources)
    jobs, more = find_jobs(s.db, user.id, filters)
    now = utcnow()
    context = {
        "title": "History",
        "jobs": [job_view(job, names, now) for job in jobs],
        "filters": filters,
        "status_filters": {k: v[0] for k, v in STATUS_FILTERS.items()},
        "source_filters": sources,
        "newer": filters.query(filters.page - 1) if filters.page > 1 else None,
        "older": filters.query(filters.page + 1) if more else None,
        "removed": request.query_params.get("removed") == "1",
        "retention_hours": s.settings.retention_hours,
    }
    return render(request, "history.html", context, active="history")


@router.post("/history/{job_id}/remove")
async def remove_job(request: Request, user: CurrentUser, job_id: str) -> Response:
    return await run_in_threadpool(_remove, request, user, job_id, await posted(request))


def _remove(request: Request, user: User, job_id: str, form: FormData) -> Response:
    if len(job_id) > 64 or not services(request).jobs.remove(job_id, user.id):
        raise HTTPException(404, "There is no such job in your account (it may have been deleted already).")
    back = form.get("back")
    target = back if isinstance(back, str) and back.startswith("?") and len(back) < 600 else ""
    separator = "&" if target else "?"
    return redirect(request, f"/history{target}{separator}removed=1")
