"""Account pages: sign up, log in, log out, and the account page (change password, delete account).

Every form posts back to its own page; a refusal re-renders the form with the message next to the
field it is about (keeping what the user typed, never a password); a success redirects (303).
Handlers read the form on the event loop, then do the slow part (Argon2, the database) in a
worker thread, so a log-in never stalls other requests.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from ..auth import accounts, csrf, sessions
from ..auth.accounts import AccountError, TooManyAttempts
from ..context import services
from ..db import User
from .pages import CurrentUser, current_user, field, posted, redirect, render, safe_next

router = APIRouter(include_in_schema=False)
log = logging.getLogger("glbcompress.auth")

SIGNUPS_PER_HOUR = 10
"""Accounts one address may create per hour."""


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _log_in_browser(request: Request, user: User, to: str) -> Response:
    """Start a new session (never keep one from before) with a new CSRF cookie, and go to `to`."""
    s = services(request)
    sessions.end(s.db, s.settings, request.cookies.get(sessions.COOKIE))
    token = sessions.start(s.db, s.settings, user.id)
    csrf.rotate(request)
    response = redirect(request, to)
    sessions.set_cookie(response, request, s.settings, token)
    return response


# --- log in / log out ----------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return redirect(request, next_path)
    return render(request, "login.html", {"title": "Log in", "next": next_path})


@router.post("/login")
async def login(request: Request) -> Response:
    return await run_in_threadpool(_login, request, await posted(request))


def _login(request: Request, form: FormData) -> Response:
    s = services(request)
    email, next_path = field(form, "email"), safe_next(field(form, "next"))
    try:
        user = accounts.log_in(s.db, s.login_limits, email, field(form, "password"), _address(request))
    except AccountError as exc:
        log.info(
            "log-in refused",
            extra={"reason": "rate limited" if isinstance(exc, TooManyAttempts) else exc.status},
        )
        context = {"title": "Log in", "email": email, "next": next_path, "form_error": exc.message}
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
        return render(request, "login.html", context, status=exc.status, headers=headers)
    log.info("logged in", extra={"user_id": user.id})
    return _log_in_browser(request, user, next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await run_in_threadpool(_logout, request, await posted(request))


def _logout(request: Request, _form: FormData) -> Response:
    s = services(request)
    sessions.end(s.db, s.settings, request.cookies.get(sessions.COOKIE))
    csrf.rotate(request)
    response = redirect(request, "/login?notice=logged-out")
    sessions.clear_cookie(response, request, s.settings)
    return response


# --- sign up -------------------------------------------------------------------------------------


@router.get("/signup")
def signup_page(request: Request) -> Response:
    if current_user(request) is not None:
        return redirect(request, "/compress")
    enabled = services(request).settings.signup_enabled
    return render(
        request, "signup.html", {"title": "Sign up", "enabled": enabled}, status=200 if enabled else 403
    )


@router.post("/signup")
async def signup(request: Request) -> Response:
    return await run_in_threadpool(_signup, request, await posted(request))


def _signup(request: Request, form: FormData) -> Response:
    s = services(request)
    email = field(form, "email")
    context = {"title": "Sign up", "enabled": s.settings.signup_enabled, "email": email}
    if not s.settings.signup_enabled:
        return render(request, "signup.html", context, status=403)
    key = f"signup:ip:{_address(request)}"
    wait = s.throttle.retry_after(key, SIGNUPS_PER_HOUR, timedelta(hours=1))
    if wait:
        context["form_error"] = "Too many accounts were created from your address. Try again later."
        return render(request, "signup.html", context, status=429, headers={"Retry-After": str(wait)})
    password = field(form, "password")
    try:
        if password != field(form, "confirm_password"):
            raise AccountError("The two passwords do not match.", "confirm_password")
        user = accounts.create_user(s.db, email, password)
    except AccountError as exc:
        context["errors"] = {exc.field: exc.message}
        return render(request, "signup.html", context, status=exc.status)
    s.throttle.hit(key)
    log.info("account created", extra={"user_id": user.id})
    return _log_in_browser(request, user, "/compress?notice=welcome")


# --- the account page ----------------------------------------------------------------------------


@router.get("/account")
def account_page(request: Request, user: CurrentUser) -> Response:
    return render(request, "account.html", {"title": "Account"})


@router.post("/account/password")
async def change_password(request: Request, user: CurrentUser) -> Response:
    return await run_in_threadpool(_change_password, request, user, await posted(request))


def _change_password(request: Request, user: User, form: FormData) -> Response:
    s = services(request)
    try:
        accounts.change_password(
            s.db,
            user,
            field(form, "current_password"),
            field(form, "new_password"),
            field(form, "confirm_password"),
        )
    except AccountError as exc:
        context = {"title": "Account", "errors": {exc.field: exc.message}}
        return render(request, "account.html", context, status=exc.status)
    sessions.end_all(s.db, user.id)
    log.info("password changed", extra={"user_id": user.id})
    return _log_in_browser(request, user, "/account?notice=password-changed")


@router.post("/account/delete")
async def delete_account(request: Request, user: CurrentUser) -> Response:
    return await run_in_threadpool(_delete_account, request, user, await posted(request))


def _delete_account(request: Request, user: User, form: FormData) -> Response:
    s = services(request)
    try:
        accounts.delete_account(s.db, s.jobs, user, field(form, "delete_password"))
    except AccountError as exc:
        context = {"title": "Account", "errors": {"delete_" + exc.field: exc.message}}
        return render(request, "account.html", context, status=exc.status)
    log.info("account deleted", extra={"user_id": user.id})
    csrf.rotate(request)
    request.state.user = None
    response = redirect(request, "/login?notice=account-deleted")
    sessions.clear_cookie(response, request, s.settings)
    return response
