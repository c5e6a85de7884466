"""The API Keys page: create a key (shown once), the table of keys with their use, revoking (with a
confirmation: a dialog with JavaScript, a page of its own without), the practices that keep keys
safe, and the audit trail.

The new key is in the response to the creating POST only, never in a URL, cookie or log: reload
or leave the page and it is gone (``api_keys.js`` also replaces the history entry, so a reload is
a plain GET). Everything a user typed — key names above all — is autoescaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from ..auth import api_keys
from ..auth.api_keys import Event, KeyNameError, NewKey
from ..context import services
from ..db import ApiKey, Job, User, utcnow
from ..jobs import usage
from .figures import format_size
from .pages import CurrentUser, field, posted, redirect, render

router = APIRouter(include_in_schema=False)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EXPIRY_LABELS = {"": "Never", "7": "In 7 days", "30": "In 30 days", "90": "In 90 days", "365": "In 1 year"}
EVENT_LABELS = {Event.CREATED: "Created", Event.REVOKED: "Revoked", Event.FIRST_USE: "First used"}
NOT_FOUND = "There is no such API key in your account."


def when(value: datetime | None) -> str:
    """A time as the page shows it: ``YYYY-MM-DD HH:MM:SS`` in UTC (the columns say so)."""
    return value.strftime(TIME_FORMAT) if value else ""


@dataclass(frozen=True)
class KeyView:
    id: int
    name: str
    prefix: str
    created: str
    created_iso: str
    last_used: str
    """Empty when never used."""
    last_used_iso: str
    status: str
    status_class: str
    note: str
    """'on' (revoked or expired on) or 'until' (expires), followed by note_time; or empty."""
    note_time: str
    note_iso: str
    requests: str
    models: str
    saved: str
    revocable: bool


def key_view(
    key: ApiKey, requests: int, last_used: datetime | None, figures: usage.Figures, now: datetime
) -> KeyView:
    noted: datetime | None = key.expires_at
    if key.revoked_at is not None:
        status, css, note, noted = "Revoked", "revoked", "on", key.revoked_at
    elif key.expires_at is not None and key.expires_at <= now:
        status, css, note = "Expired", "revoked", "on"
    else:
        status, css, note = "Active", "active", "until" if key.expires_at else ""
    return KeyView(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created=when(key.created_at),
        created_iso=key.created_at.isoformat(),
        last_used=when(last_used),
        last_used_iso=last_used.isoformat() if last_used else "",
        status=status,
        status_class=css,
        note=note,
        note_time=when(noted) if note else "",
        note_iso=noted.isoformat() if note and noted else "",
        requests=f"{requests:,}",
        models=f"{figures.models:,}",
        saved=format_size(figures.saved),
        revocable=status == "Active",
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(
    request: Request,
    user: User,
    *,
    new: NewKey | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    s = services(request)
    now = utcnow()
    per_key = usage.by_source(s.db, user.id, Job.api_key_id)
    views = []
    for key in api_keys.list_keys(s.db, user.id):
        requests, last_used = s.key_activity.figures(key)
        views.append(key_view(key, requests, last_used, per_key.get(key.id, usage.Figures()), now))
    revoked_id = request.query_params.get("revoked", "")
    revoked = next((v for v in views if str(v.id) == revoked_id and v.status == "Revoked"), None)
    context: dict[str, Any] = {
        "title": "API Keys",
        "keys": views,
        "new_key": new.key if new else None,
        "new_key_name": new.row.name if new else None,
        "revoked": revoked,
        "events": [
            {
                "at": when(e.at),
                "at_iso": e.at.isoformat(),
                "what": EVENT_LABELS.get(e.kind, e.kind),
                "key": e.key_name,
                "prefix": e.key_prefix,
                "address": e.address or "unknown",
            }
            for e in api_keys.events(s.db, user.id)
        ],
        "expiry_labels": EXPIRY_LABELS,
        "errors": errors or {},
        "values": values or {},
        "rate_limit": s.settings.api_rate_limit,
        "max_name": api_keys.MAX_NAME,
    }
    return render(request, "api_keys.html", context, status=status, active="keys")


@router.get("/keys")
def keys_page(request: Request, user: CurrentUser) -> Response:
    return _page(request, user)


@router.post("/keys")
async def create_key(request: Request, user: CurrentUser) -> Response:
    return await run_in_threadpool(_create, request, user, await posted(request))


def _create(request: Request, user: User, form: FormData) -> Response:
    name, expires = field(form, "name"), field(form, "expires")
    try:
        new = api_keys.create_key(services(request).db, user.id, name, expires, _address(request))
    except KeyNameError as exc:
        values = {"name": name[:200], "expires": expires if expires in EXPIRY_LABELS else ""}
        return _page(request, user, errors={exc.field: exc.message}, values=values, status=400)
    return _page(request, user, new=new)


def _own_key(request: Request, user: User, key_id: str) -> ApiKey:
    key = (
        api_keys.get_key(services(request).db, user.id, int(key_id))
        if key_id.isdigit() and len(key_id) < 12
        else None
    )
    if key is None:
        raise HTTPException(404, NOT_FOUND)
    return key


@router.get("/keys/{key_id}/revoke")
def confirm_revoke(request: Request, user: CurrentUser, key_id: str) -> Response:
    """The confirmation without JavaScript (with it, a dialog on the keys page asks instead)."""
    key = _own_key(request, user, key_id)
    if key.revoked_at is not None:
        return redirect(request, "/keys")
    context = {"title": "Revoke API key", "key": key, "created": when(key.created_at)}
    return render(request, "api_key_revoke.html", context, active="keys")


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, user: CurrentUser, key_id: str) -> Response:
    return await run_in_threadpool(_revoke, request, user, key_id, await posted(request))


def _revoke(request: Request, user: User, key_id: str, _form: FormData) -> Response:
    key = _own_key(request, user, key_id)
    api_keys.revoke_key(services(request).db, user.id, key.id, _address(request))
    return redirect(request, f"/keys?revoked={key.id}")
