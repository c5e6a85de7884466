"""Browser-facing defences: security headers on every page and API answer, no session fixation,
no session reuse after log-out, CSRF on every state-changing dashboard route (found by walking the
app's routes, so a new route cannot be forgotten), and cookies that are HttpOnly, SameSite and
Secure behind an HTTPS proxy we trust (but not behind one we do not)."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from glbcompress.service.app import create_app
from glbcompress.service.auth import accounts, api_keys
from glbcompress.service.auth.csrf import COOKIE as CSRF_COOKIE
from glbcompress.service.auth.sessions import COOKIE as SESSION_COOKIE
from glbcompress.service.settings import Settings
from tests.fixtures.models import ALL

from .conftest import LiveServer, running_app
from .support import CSRF, create_api_key, csrf_token, log_in, log_out, sign_up, wait_for

EMAIL = "ada@example.com"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def app_client(sqlite_settings: Settings) -> Iterator[TestClient]:
    with running_app(sqlite_settings, task="tests.service.tasks:copy") as client:
        yield client


def app_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) of the app, through included routers (FastAPI keeps those as a
    branch holding the original router and its prefix, rather than flattening them)."""
    for route in routes:
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from app_routes(router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods)


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (part.split() for part in csp.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def assert_secure_headers(path: str, headers: object) -> None:
    csp = headers.get("content-security-policy")  # type: ignore[attr-defined]
    assert csp, f"{path}: no Content-Security-Policy"
    rules = _directives(csp)
    script = rules.get("script-src", rules.get("default-src"))
    assert script is not None and "'unsafe-inline'" not in script, (path, csp)
    assert not any(source in ("*", "http:", "https:", "data:") for source in script), (path, csp)
    assert rules.get("frame-ancestors") == ["'none'"], (path, csp)
    assert rules.get("object-src") == ["'none'"], (path, csp)
    assert headers.get("x-content-type-options") == "nosniff", path  # type: ignore[attr-defined]
    assert headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin"), path  # type: ignore[attr-defined]


def test_security_headers_on_every_page_and_api_answer(app_client: TestClient) -> None:
    client = app_client
    assert sign_up(client, EMAIL).status_code == 303
    key = create_api_key(client)
    pages = sorted(
        path for path, methods in app_routes(client.app.routes) if "GET" in methods and "{" not in path
    )
    assert "/history" in pages and "/v1/jobs" in pages
    bearer = {"Authorization": f"Bearer {key}"}
    for path in pages:
        answer = client.get(path, headers=bearer if path.startswith("/v1/") else {}, follow_redirects=False)
        assert answer.status_code < 500, (path, answer.status_code)
        assert_secure_headers(path, answer.headers)
    # Errors, redirects, static files and refusals carry them too.
    extra = ["/nothing-here", "/v1/nothing-here", "/v1/jobs", "/static/style.css", "/jobs/" + "0" * 32]
    for path in extra:
        assert_secure_headers(path, client.get(path, follow_redirects=False).headers)
    log_out(client)
    assert_secure_headers("/history (logged out)", client.get("/history", follow_redirects=False).headers)
    assert _directives(client.get("/login").headers["content-security-policy"])["script-src"] == ["'self'"]


def test_compress_page_policy_has_no_inline_script(app_client: TestClient) -> None:
    assert sign_up(app_client, EMAIL).status_code == 303
    page = app_client.get("/compress")
    assert_secure_headers("/compress", page.headers)
    rules = _directives(page.headers["content-security-policy"])
    assert "'unsafe-inline'" not in rules["script-src"] and "'unsafe-eval'" in rules["script-src"]
    # No inline <script> bodies or on* handler attributes on the page, so the policy costs nothing.
    for html_page in (page.text, app_client.get("/history").text, app_client.get("/keys").text):
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html_page)
        assert not re.search(r"\son[a-z]+\s*=", html_page)


def test_session_changes_at_login_and_dies_at_logout(app_client: TestClient) -> None:
    client = app_client
    assert sign_up(client, EMAIL).status_code == 303
    log_out(client)
    # An attacker plants a session cookie and a CSRF cookie before the victim logs in.
    planted_session, planted_csrf = "attacker-chosen-" + "s" * 30, "attacker-chosen-" + "c" * 30
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, planted_session)
    client.cookies.set(CSRF_COOKIE, planted_csrf)
    assert client.get("/history", follow_redirects=False).status_code in (302, 303)
    logged_in = log_in(client, EMAIL)
    assert logged_in.status_code == 303
    first = _set_cookie(logged_in, SESSION_COOKIE)
    assert first and first != planted_session
    assert _set_cookie(logged_in, CSRF_COOKIE) not in ("", planted_csrf)
    _only(client, first, _set_cookie(logged_in, CSRF_COOKIE))
    assert client.get("/history").status_code == 200
    # A second log-in gets another session id.
    log_out(client)
    again = log_in(client, EMAIL)
    assert again.status_code == 303
    second = _set_cookie(again, SESSION_COOKIE)
    assert second and second != first
    _only(client, second, _set_cookie(again, CSRF_COOKIE))
    assert client.get("/history").status_code == 200
    assert log_out(client).status_code == 303

    # The copied cookies of both sessions open nothing after log-out.
    for old in (first, second):
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, old)
        assert client.get("/history", follow_redirects=False).status_code in (302, 303)
        assert client.get("/jobs/" + "0" * 32).status_code == 401
        assert client.get("/account", follow_redirects=False).headers["location"].startswith("/login")


def _set_cookie(response: Any, name: str) -> str:
    """The value the response sets for the cookie ('' if it sets none)."""
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    return ""


def _only(client: TestClient, session: str, csrf_value: str) -> None:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, session)
    client.cookies.set(CSRF_COOKIE, csrf_value)


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def test_every_state_changing_dashboard_route_needs_a_csrf_token(
    app_client: TestClient, tmp_path: Path
) -> None:
    client = app_client
    assert sign_up(client, EMAIL).status_code == 303
    create_api_key(client, "kept")
    s = client.app.state.services
    user = accounts.find_user(s.db, EMAIL)
    assert user is not None
    key = api_keys.list_keys(s.db, user.id)[0]
    model = ALL["textured_box.glb"](tmp_path / "box.glb").read_bytes()
    token = csrf_token(client, "/compress")
    made = client.post("/jobs?name=box.glb", content=model, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    job_id = made.json()["id"]
    wait_for(s.jobs, job_id)
    ids = {"key_id": str(key.id), "job_id": job_id}

    routes = [
        (method, path)
        for path, methods in app_routes(client.app.routes)
        if not path.startswith("/v1")
        for method in sorted(methods & STATE_CHANGING)
    ]
    assert ("POST", "/logout") in routes and ("POST", "/jobs") in routes
    good_form = {"password": "correct horse battery", "name": "x", "email": EMAIL}
    forged = [
        ({}, {}),  # no token at all
        ({"csrf_token": "0" * 64}, {"X-CSRF-Token": "0" * 64}),  # a made-up one
        ({"csrf_token": token}, {"X-CSRF-Token": token, "Origin": "https://evil.example"}),  # foreign page
    ]
    for method, template in routes:
        path = _fill(template, ids)
        for fields, headers in forged:
            data = {**good_form, **fields}
            if template == "/jobs":
                answer = client.request(method, path + "?name=box.glb", content=model, headers=headers)
            else:
                answer = client.request(method, path, data=data, headers=headers, follow_redirects=False)
            assert answer.status_code == 403, (method, path, fields, headers, answer.status_code)

    # Nothing happened: still logged in, key not revoked, job listed, account there, one job only.
    assert client.get("/history").status_code == 200
    assert api_keys.get_key(s.db, user.id, key.id).revoked_at is None  # type: ignore[union-attr]
    job = s.jobs.get(job_id)
    assert job is not None and job.removed_at is None
    assert accounts.find_user(s.db, EMAIL) is not None


def _get(server: LiveServer, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    host = urlsplit(server.url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=20)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _post(
    server: LiveServer, path: str, body: dict[str, str], headers: dict[str, str]
) -> http.client.HTTPResponse:
    host = urlsplit(server.url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=20)
    encoded = urlencode(body)
    connection.request(
        "POST", path, body=encoded, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    """Each Set-Cookie header's cookie name -> the whole header, lower-cased."""
    found = {}
    for header in response.headers.get_all("set-cookie") or []:
        found[header.split("=", 1)[0]] = header.lower()
    return found


def _sign_up_over_http(server: LiveServer, email: str, proto: str | None) -> dict[str, str]:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    page = _get(server, "/signup", headers)
    csrf_header = _cookies(page)[CSRF_COOKIE]
    jar = SimpleCookie()
    jar.load(page.headers["set-cookie"])
    cookie = f"{CSRF_COOKIE}={jar[CSRF_COOKIE].value}"
    connection = http.client.HTTPConnection(
        urlsplit(server.url).hostname, urlsplit(server.url).port, timeout=20
    )
    connection.request("GET", "/signup", headers={**headers, "Cookie": cookie})
    html_page = connection.getresponse().read().decode()
    connection.close()
    match = CSRF.search(html_page)
    assert match
    form = {
        "csrf_token": match.group(1),
        "email": email,
        "password": "correct horse battery",
        "confirm_password": "correct horse battery",
    }
    signed = _post(server, "/signup", form, {**headers, "Cookie": cookie})
    assert signed.status == 303, signed.status
    return {CSRF_COOKIE: csrf_header, **_cookies(signed)}


@pytest.mark.parametrize(
    ("trusted", "proto", "secure"),
    [("127.0.0.1", "https", True), ("127.0.0.1", None, False), ("10.9.9.9", "https", False)],
    ids=["trusted-proxy-https", "plain-http", "untrusted-proxy-claims-https"],
)
def test_cookies_httponly_samesite_and_secure_behind_a_trusted_https_proxy(
    sqlite_settings: Settings, trusted: str, proto: str | None, secure: bool
) -> None:
    server = LiveServer(create_app(sqlite_settings))
    server.server.config.forwarded_allow_ips = trusted
    server.server.config.proxy_headers = True
    with server:
        cookies = _sign_up_over_http(server, "sam@example.com", proto)
    assert SESSION_COOKIE in cookies and CSRF_COOKIE in cookies
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        header = cookies[name]
        assert "httponly" in header and "samesite=lax" in header, header
        assert ("; secure" in header) is secure, header
