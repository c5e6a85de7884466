"""CSRF protection for every form: a signed double-submit token.

The browser holds a random value in an HttpOnly cookie; each form carries an HMAC of that value
(made with the session secret) in a hidden ``csrf_token`` field. A POST is accepted only when the
field matches the cookie. Another site can make a browser send the cookie, but cannot read our
pages to learn the token, nor make a valid one without the secret. The cookie is replaced at log-in
and log-out, so tokens do not outlive a session. As a second check, a POST whose Origin header
names another host (or is "null") is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ..settings import Settings
from .sessions import cookie_secure

COOKIE = "glbc_csrf"
FIELD = "csrf_token"
FAILED = "This form has expired or did not come from this site. Reload the page and try again."


def _sign(secret: bytes, value: str) -> str:
    return hmac.new(secret, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()


def cookie_value(request: Request) -> str:
    """The request's CSRF cookie value, or a new one (sent with the response by `save`)."""
    value = getattr(request.state, "csrf_cookie", None)
    if value is None:
        value = request.cookies.get(COOKIE) or ""
        if len(value) < 32 or len(value) > 128:
            value = secrets.token_urlsafe(32)
            request.state.csrf_new = True
        request.state.csrf_cookie = value
    return value


def rotate(request: Request) -> None:
    """Use a new cookie value from now on (at log-in and log-out)."""
    request.state.csrf_cookie = secrets.token_urlsafe(32)
    request.state.csrf_new = True


def token(request: Request, settings: Settings) -> str:
    """The token for forms on the page being rendered."""
    return _sign(settings.secret, cookie_value(request))


def save(request: Request, response: Response, settings: Settings) -> None:
    """Send the cookie if this request made a new value."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            COOKIE,
            request.state.csrf_cookie,
            httponly=True,
            secure=cookie_secure(settings, request),
            samesite="lax",
            path="/",
        )


def valid(request: Request, settings: Settings, sent: str | None) -> bool:
    """Whether a POST's token matches its cookie and it came from this site."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        return False
    cookie = request.cookies.get(COOKIE)
    if not cookie or not sent:
        return False
    return hmac.compare_digest(_sign(settings.secret, cookie), sent)
