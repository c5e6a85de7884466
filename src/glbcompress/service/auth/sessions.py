"""Browser sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS); the
database keeps only an HMAC of it, so a copy of the database opens no session.

A new token is issued at every log-in and password change (no session fixation), and logging out
deletes the row, so the old cookie is worthless even if it was copied.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from starlette.requests import Request
from starlette.responses import Response

from ..db import BrowserSession, Database, User, utcnow
from ..settings import Settings

COOKIE = "glbc_session"
TOUCH_EVERY = timedelta(minutes=5)
"""last_seen_at is written at most this often per session, not on every request."""


def token_hash(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"session:" + token.encode(), hashlib.sha256).hexdigest()


def cookie_secure(settings: Settings, request: Request) -> bool:
    if settings.cookie_secure == "auto":
        return request.url.scheme == "https"
    return settings.cookie_secure == "always"


def start(db: Database, settings: Settings, user_id: int) -> str:
    """A new session for the user; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as session, session.begin():
        session.add(
            BrowserSession(
                user_id=user_id,
                token_hash=token_hash(settings.secret, token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=settings.session_days),
            )
        )
    return token


def lookup(db: Database, settings: Settings, token: str | None) -> tuple[User, int] | None:
    """The user and session id a cookie's token stands for, if the session is valid."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    with db.session() as session:
        found = session.execute(
            select(BrowserSession, User)
            .join(User, User.id == BrowserSession.user_id)
            .where(BrowserSession.token_hash == token_hash(settings.secret, token))
        ).first()
        if found is None:
            return None
        browser, user = found
        if browser.expires_at <= now:
            return None
        if now - browser.last_seen_at >= TOUCH_EVERY:
            with session.begin():
                session.execute(
                    update(BrowserSession).where(BrowserSession.id == browser.id).values(last_seen_at=now)
                )
        return user, browser.id


def end(db: Database, settings: Settings, token: str | None) -> None:
    if token:
        with db.session() as session, session.begin():
            session.execute(
                delete(BrowserSession).where(BrowserSession.token_hash == token_hash(settings.secret, token))
            )


def end_all(db: Database, user_id: int) -> None:
    with db.session() as session, session.begin():
        session.execute(delete(BrowserSession).where(BrowserSession.user_id == user_id))


def set_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_days * 86400),
        httponly=True,
        secure=cookie_secure(settings, request),
        samesite="lax",
        path="/",
    )


def clear_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, httponly=True, secure=cookie_secure(settings, request), samesite="lax", path="/"
    )
