"""``GET /v1/usage``: the account's figures per day, per source and per API key — computed by the
same code as the dashboard's Usage and API Keys pages (``jobs/usage.py`` for jobs,
``auth/key_activity.py`` for request counts), so the two always agree."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from ..auth import api_keys
from ..context import services
from ..db import Job, JobSource, utcnow
from ..jobs import usage
from . import problems
from .key_auth import ApiKeyAuth

router = APIRouter(prefix="/v1", tags=["account"])


class Figures(BaseModel):
    models: int
    """Models compressed (succeeded jobs)."""
    failed: int
    bytes_in: int
    """Bytes uploaded for the models compressed."""
    bytes_out: int
    bytes_saved: int
    """Sum over the models of input minus output (never below zero per model)."""


class Window(Figures):
    days: int


class DayFigures(Figures):
    date: date


class KeyUsage(Figures):
    id: int
    name: str
    prefix: str
    active: bool
    """False once revoked or expired (its jobs still count)."""
    requests: int
    """API requests made with the key."""


class Usage(BaseModel):
    totals: Figures
    window: Window
    daily: list[DayFigures]
    """One entry per UTC date of the window, oldest first."""
    sources: dict[str, Figures]
    """dashboard and api."""
    keys: list[KeyUsage]
    key_id: int
    """The key making this request."""


def _figures(f: usage.Figures) -> dict[str, int]:
    return {
        "models": f.models,
        "failed": f.failed,
        "bytes_in": f.bytes_in,
        "bytes_out": f.bytes_out,
        "bytes_saved": f.saved,
    }


@router.get(
    "/usage", summary="Usage figures", response_model=Usage, responses=problems.responses(401, 422, 429)
)
def account_usage(
    request: Request,
    caller: ApiKeyAuth,
    days: Annotated[int, Query(ge=1, le=366, description="Days in the daily figures.")] = 30,
) -> Usage:
    """Models compressed, failures and bytes saved: in total, over the last days (and per day),
    per source, and per API key with its request count."""
    s = services(request)
    user_id = caller.user.id
    daily = usage.daily(s.db, user_id, days)
    window = usage.total(daily)
    sources = usage.by_source(s.db, user_id)
    per_key = usage.by_source(s.db, user_id, Job.api_key_id)
    now = utcnow()
    keys = []
    for key in api_keys.list_keys(s.db, user_id):
        requests, _ = s.key_activity.figures(key)
        keys.append(
            KeyUsage(
                id=key.id,
                name=key.name,
                prefix=key.prefix,
                active=api_keys.active(key, now),
                requests=requests,
                **_figures(per_key.get(key.id, usage.Figures())),
            )
        )
    return Usage(
        totals=Figures(**_figures(usage.totals(s.db, user_id))),
        window=Window(days=days, **_figures(window)),
        daily=[DayFigures(date=d.day, **_figures(d)) for d in daily],
        sources={
            source: Figures(**_figures(sources.get(source, usage.Figures())))
            for source in (JobSource.DASHBOARD, JobSource.API)
        },
        keys=keys,
        key_id=caller.key.id,
    )
