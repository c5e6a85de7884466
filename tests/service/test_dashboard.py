"""The dashboard shell and what every response carries: sidebar, assets served by us, help, error
pages, request ids, security headers, the health check, and logs without secrets."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from glbcompress.engine.presets import PRESET_HELP
from glbcompress.service import logs
from glbcompress.service.auth import sessions
from glbcompress.service.web.pages import NAV

from .support import PASSWORD, log_in, log_out, sign_up

SECTIONS = ["/compress", "/history", "/keys", "/usage", "/api-docs"]


@pytest.fixture
def user_client(sqlite_client: TestClient) -> TestClient:
    assert sign_up(sqlite_client, "ada@example.com").status_code == 303
    return sqlite_client


def test_sidebar_on_every_section(user_client: TestClient) -> None:
    labels = ["Compress", "History", "API Keys", "Usage", "API docs", "Help"]
    assert [item.label for item in NAV] == labels
    for path in [*SECTIONS, "/help"]:
        page = user_client.get(path)
        assert page.status_code == 200, path
        sidebar = page.text.split('<nav class="sidebar"')[1].split("</nav>")[0]
        links = re.findall(r'<li><a href="([^"]+)"[^>]*>([^<]+)</a></li>', sidebar)
        assert [label for _, label in links] == labels
        current = re.findall(r'<a href="([^"]+)" aria-current="page">', page.text)
        assert current == [path], path
        assert page.headers["cache-control"] == "no-store"


def test_no_section_is_a_placeholder(user_client: TestClient) -> None:
    for path in SECTIONS:
        assert "not built yet" not in user_client.get(path).text, path


def test_sections_need_log_in(sqlite_client: TestClient) -> None:
    for path in [*SECTIONS, "/account"]:
        response = sqlite_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/login?next={path}")
    assert sqlite_client.get("/help").status_code == 200  # help is for everyone
    assert sqlite_client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_help_explains_the_presets(sqlite_client: TestClient) -> None:
    page = sqlite_client.get("/help").text
    for name, text in PRESET_HELP.items():
        assert f"<dt>{name}" in page
        assert text.split(":")[0] in page


def test_assets_are_ours_and_pages_work_on_phones(user_client: TestClient) -> None:
    page = user_client.get("/compress").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<a class="skip-link" href="#main">' in page and 'id="main"' in page
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(ref.startswith(("/", "#")) for ref in references), references
    css = user_client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media (max-width: 48rem)" in css.text and ":focus-visible" in css.text
    assert "http" not in css.text  # no fonts or images from elsewhere
    assert user_client.get("/static/favicon.svg").status_code == 200


def test_forms_are_labelled(sqlite_client: TestClient) -> None:
    sign_up(sqlite_client, "ada@example.com")
    page = sqlite_client.get("/account").text
    inputs = re.findall(r'<input id="([^"]+)"', page)
    assert inputs
    for name in inputs:
        assert f'<label for="{name}">' in page


def test_request_id_on_every_response(sqlite_client: TestClient) -> None:
    first, second = sqlite_client.get("/help"), sqlite_client.get("/help")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    given = sqlite_client.get("/healthz", headers={"X-Request-ID": "trace-1234.abc"})
    assert given.headers["x-request-id"] == "trace-1234.abc"
    unsafe = sqlite_client.get("/healthz", headers={"X-Request-ID": "bad id\twith <html>"})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
    assert "x-request-id" in sqlite_client.get("/no-such-page").headers
    assert "x-request-id" in sqlite_client.get("/static/style.css").headers


def test_security_headers(sqlite_client: TestClient) -> None:
    headers = sqlite_client.get("/login").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_not_found(sqlite_client: TestClient) -> None:
    page = sqlite_client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "There is no page at this address." in page.text
    api = sqlite_client.get("/no-such-page")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["status"] == 404


def test_server_error_page_has_the_request_id(sqlite_client: TestClient) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    sqlite_client.app.add_api_route("/test-broken", broken)
    response = sqlite_client.get("/test-broken")
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    assert rid in response.text
    assert "boom" not in response.text and "Traceback" not in response.text


def test_health(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["storage"] == "ok"
    assert body["queue"]["backend"] == "local" and body["queue"]["workers"] == 2


def test_health_reports_broken_storage(sqlite_client: TestClient) -> None:
    partial = sqlite_client.app.state.services.storage.partial_dir
    shutil.rmtree(partial)
    partial.write_text("not a folder")
    response = sqlite_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage"] == "unavailable"
    partial.unlink()
    partial.mkdir()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, formatted as the service formats it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_logs_are_json_with_request_ids_and_no_secrets(
    sqlite_client: TestClient, json_logs: io.StringIO
) -> None:
    sign_up(sqlite_client, "ada@example.com")
    cookie = sqlite_client.cookies.get(sessions.COOKIE)
    log_out(sqlite_client)
    log_in(sqlite_client, "ada@example.com", "wrong password!")
    log_in(sqlite_client, "ada@example.com")
    sqlite_client.get("/login?next=/x&token=glbc_abcdefghijklmnop")
    text = json_logs.getvalue()
    entries = [json.loads(line) for line in text.splitlines()]
    requests = [e for e in entries if e["msg"] == "request"]
    assert requests and all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in requests)
    assert {"method", "path", "status", "ms"} <= set(requests[0])
    assert any(e["msg"] == "account created" and e["user_id"] == 1 for e in entries)
    for secret in (PASSWORD, "wrong password!", cookie, "glbc_abcdefghijklmnop", "test-secret-"):
        assert secret not in text


def test_log_redaction() -> None:
    assert logs.redact("sent password=hunter2 and key glbc_0123456789abcdef") == (
        "sent password=[redacted] and key [redacted]"
    )
    assert logs.redact("Authorization: Bearer abc.def") == "Authorization: [redacted]"
    assert logs.redact("then bearer abc.def") == "then bearer [redacted]"
    record = logging.makeLogRecord({"msg": "x", "api_key": "k", "nested": {"token": "t", "n": 1}})
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["api_key"] == "[redacted]"
    assert entry["nested"] == {"token": "[redacted]", "n": 1}
