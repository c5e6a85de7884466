"""What every dashboard page shares: the templates (autoescaped), the sidebar, the logged-in user,
form reading with CSRF checks, and short notices after a redirect.

>>> @router.get("/history")
... def history(request: Request, user: CurrentUser) -> Response:
...     return render(request, "section.html", {"title": "History"}, active="history")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ... import __version__
from ..auth import csrf, sessions
from ..context import services
from ..db import User

HERE = Path(__file__).parent
STATIC = HERE / "static"
MAX_FORM_BYTES = 64 * 1024
"""Dashboard forms are small; a bigger body is refused before it is read."""

# Autoescaping everywhere: every string a user gave (email, file names, ...) is shown as text.
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
)


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str


NAV = (
    NavItem("compress", "Compress", "/compress"),
    NavItem("history", "History", "/history"),
    NavItem("keys", "API Keys", "/keys"),
    NavItem("usage", "Usage", "/usage"),
    NavItem("api-docs", "API docs", "/api-docs"),
    NavItem("help", "Help", "/help"),
)

NOTICES = {
    "welcome": "Welcome! Your account is ready.",
    "logged-out": "You are logged out.",
    "password-changed": "Your password was changed. Other browsers where you were logged in are now logged out.",
    "account-deleted": "Your account and all its data were deleted.",
    "login-required": "Log in to see that page.",
}
"""Messages shown after a redirect, chosen by a fixed key (the query never carries text to show)."""


class LoginRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


class CsrfFailed(Exception):
    pass


class FormTooLarge(Exception):
    pass


def current_user(request: Request) -> User | None:
    """The logged-in user, looked up once per request from the session cookie."""
    if not hasattr(request.state, "user"):
        s = services(request)
        found = sessions.lookup(s.db, s.settings, request.cookies.get(sessions.COOKIE))
        request.state.user = found[0] if found else None
    return request.state.user


def require_user(request: Request) -> User:
    """A dependency for pages behind log-in: the user, or a redirect to the log-in page."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


CurrentUser = Annotated[User, Depends(require_user)]
"""A route parameter type for pages behind log-in: ``def page(request, user: CurrentUser)``."""


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never another site's URL)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) < 512:
        return value
    return "/compress"


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(
        f"/login?next={quote(next_path, safe='/')}&notice=login-required", status_code=303
    )


async def posted(request: Request) -> FormData:
    """The submitted form, after the size and CSRF checks (raises FormTooLarge or CsrfFailed)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise FormTooLarge()
    form = await request.form(max_files=0, max_fields=20, max_part_size=MAX_FORM_BYTES)
    token = form.get(csrf.FIELD)
    if not csrf.valid(request, services(request).settings, token if isinstance(token, str) else None):
        raise CsrfFailed()
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    active: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """A page: the template with the user, sidebar, CSRF token and any notice filled in. Pages
    are never cached (they carry the user's data and a CSRF token)."""
    s = services(request)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    values = {
        "user": current_user(request),
        "nav": NAV,
        "active": active,
        "notice": notice,
        "csrf_token": csrf.token(request, s.settings),
        "csrf_field": csrf.FIELD,
        "version": __version__,
        "errors": {},
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request,
        template,
        values,
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
    csrf.save(request, response, s.settings)
    return response


def redirect(request: Request, path: str) -> RedirectResponse:
    """A see-other redirect that keeps a CSRF cookie made during this request."""
    response = RedirectResponse(path, status_code=303)
    csrf.save(request, response, services(request).settings)
    return response
