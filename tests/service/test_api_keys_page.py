"""The API Keys page over HTTP (the browser journey is tests/browser/test_api_keys.py): the key
shown once, name rules with messages next to the field, the table's columns and formats, per-key
usage, revoking through the confirmation page, the audit trail and escaping."""

from __future__ import annotations

import html
import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from glbcompress.service.auth import api_keys
from glbcompress.service.db import ApiKey, Job, JobSource, JobStatus, utcnow

from .support import create_api_key, csrf_token, errors, post_form, sign_up

TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def rows(page: str) -> list[str]:
    body = page.split('<table class="api-keys">')[1].split("</table>")[0]
    return re.findall(r"<tr data-key-id=.*?</tr>", body, re.S)


def cell(row: str, css: str) -> str:
    match = re.search(rf'<td class="[^"]*\b{css}\b[^"]*">(.*?)</td>', row, re.S)
    assert match, css
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def test_the_key_is_shown_once(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    empty = client.get("/keys").text
    assert "You have no API keys yet" in empty and "Create new API key" in empty
    page = post_form(client, "/keys", "/keys", name="my script key", expires="")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key-value"[^>]*value="([^"]+)"', page.text).group(1)
    assert api_keys.well_formed(key)
    assert "it will not be shown again" in page.text
    assert 'id="copy-key"' in page.text and "Copy" in page.text
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)  # no inline script (CSP)
    assert 'src="/static/js/api_keys.js' in page.text
    assert not re.search(r"<[^>]+\son[a-z]+=", page.text)  # no inline event handlers
    later = client.get("/keys").text
    assert key not in later and key[13:] not in later  # gone for good
    assert key[:13] in later  # only the display prefix stays
    with client.app.state.services.db.session() as session:
        assert session.scalar(select(ApiKey.name)) == "my script key"


def test_bad_names_get_a_message_next_to_the_field(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    cases = [
        ("", "Give the key a name"),
        ("   ", "Give the key a name"),
        ("x" * 101, "at most 100 characters"),
    ]
    for name, message in cases:
        page = post_form(client, "/keys", "/keys", name=name)
        assert page.status_code == 400
        assert any(message in e for e in errors(page)), errors(page)
        assert 'aria-invalid="true"' in page.text and 'id="new-key-value"' not in page.text
    create_api_key(client, "ci")
    page = post_form(client, "/keys", "/keys", name="CI")
    assert page.status_code == 400
    assert errors(page) == ["You already have an active key named “CI”. Choose another name."]
    assert 'value="CI"' in page.text  # what was typed stays in the field
    page = post_form(client, "/keys", "/keys", name="other", expires="1000")
    assert page.status_code == 400 and errors(page) == ["Choose one of the offered expiry periods."]
    refused = client.post("/keys", data={"name": "no token"}, follow_redirects=False)
    assert refused.status_code == 403
    assert len(rows(client.get("/keys").text)) == 1


def test_the_table(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "build script")
    create_api_key(client, "expiring", expires="30")
    table = rows(client.get("/keys").text)
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', client.get("/keys").text)
    assert headers[:9] == [
        "Name",
        "Key",
        "Created (UTC)",
        "Last used (UTC)",
        "Status",
        "Requests",
        "Models compressed",
        "Bytes saved",
        "Actions",
    ]
    build = next(r for r in table if "build script" in r)
    assert cell(build, "key-name") == "build script"
    assert re.fullmatch(TIME, cell(build, "key-created"))
    assert cell(build, "key-last-used") == "Never"
    assert cell(build, "key-status-cell") == "Active"
    assert "key-status-active" in build
    assert key[:13] in build
    assert cell(build, "key-requests") == "0" and cell(build, "key-saved") == "0 B"
    assert ">Revoke</button>" in build
    expiring = next(r for r in table if "expiring" in r)
    assert re.fullmatch(rf"Active\s+until {TIME}", cell(expiring, "key-status-cell"))

    for _ in range(3):
        assert client.get("/v1/account", headers={"X-API-Key": key}).status_code == 200
    build = next(r for r in rows(client.get("/keys").text) if "build script" in r)
    assert re.fullmatch(TIME, cell(build, "key-last-used"))
    assert cell(build, "key-requests") == "3"  # counted, though not written to the database each time


def test_per_key_usage(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "pipeline")
    caller = api_keys.authenticate(client.app.state.services.db, key)
    with client.app.state.services.db.session() as session, session.begin():
        for status, size_in, size_out in (
            (JobStatus.SUCCEEDED, 3 * 1024 * 1024, 1024 * 1024),
            (JobStatus.SUCCEEDED, 2048, 1024),
            (JobStatus.FAILED, 5000, None),
        ):
            session.add(
                Job(
                    id=uuid.uuid4().hex,
                    user_id=caller.user.id,
                    source=JobSource.API,
                    api_key_id=caller.key.id,
                    status=status,
                    filename="m.glb",
                    options={},
                    input_bytes=size_in,
                    output_bytes=size_out,
                    finished_at=utcnow(),
                )
            )
    row = rows(client.get("/keys").text)[0]
    assert cell(row, "key-models") == "2"
    assert cell(row, "key-saved") == "2 MB"


def test_revoking_without_javascript(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "old laptop")
    ident = int(re.search(r'data-key-id="(\d+)"', client.get("/keys").text).group(1))
    page = client.get("/keys").text
    assert f'<form method="get" action="/keys/{ident}/revoke" class="revoke-form"' in page
    confirm = client.get(f"/keys/{ident}/revoke")
    assert confirm.status_code == 200
    assert "Revoke the API key “old laptop”" in confirm.text and "cannot be undone" in confirm.text
    assert 'href="/keys">Cancel</a>' in confirm.text
    # Cancel is a link back: the key stays active.
    assert client.get("/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    done = post_form(client, f"/keys/{ident}/revoke", f"/keys/{ident}/revoke")
    assert done.status_code == 303 and done.headers["location"] == f"/keys?revoked={ident}"
    after = client.get(done.headers["location"]).text
    assert "The API key “old laptop” was revoked" in after
    row = rows(after)[0]
    assert cell(row, "key-status-cell").startswith("Revoked")
    assert "key-status-revoked" in row and "Revoke" not in cell(row, "key-actions")
    assert client.get(f"/keys/{ident}/revoke", follow_redirects=False).headers["location"] == "/keys"
    assert client.get("/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    for path in (
        "/keys/999/revoke",
        "/keys/abc/revoke",
        "/keys/-1/revoke",
        "/keys/99999999999999999999/revoke",
    ):
        assert client.get(path, headers={"accept": "text/html"}).status_code == 404
    assert client.post("/keys/1/revoke", data={"csrf_token": "forged"}).status_code == 403
    assert csrf_token(client, "/keys")  # the page still has its token


def test_audit_trail(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "audited")
    client.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    client.get("/v1/account", headers={"Authorization": f"Bearer {key}"})
    ident = int(re.search(r'data-key-id="(\d+)"', client.get("/keys").text).group(1))
    post_form(client, f"/keys/{ident}/revoke", "/keys")
    page = client.get("/keys").text
    trail = page.split('<table class="key-events">')[1].split("<tbody>")[1].split("</tbody>")[0]
    entries = [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
        for r in re.findall(r"<tr>(.*?)</tr>", trail, re.S)
    ]
    assert [e[2] for e in entries] == ["Revoked", "First used", "Created"]  # newest first
    for when, name, _what, address in entries:
        assert re.fullmatch(TIME, when)
        assert name == f"audited {key[:13]}…"
        assert address == "testclient"  # the TestClient's address


def test_names_are_shown_as_text(sqlite_client: TestClient) -> None:
    client = sqlite_client
    sign_up(client, "ada@example.com")
    name = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    page = post_form(client, "/keys", "/keys", name=name)
    assert "<img src=x" not in page.text and "<script>alert" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text
    listed = client.get("/keys").text
    assert "<img src=x" not in listed and "<script>alert" not in listed
    assert cell(rows(listed)[0], "key-name") == name
    ident = int(re.search(r'data-key-id="(\d+)"', listed).group(1))
    confirm = client.get(f"/keys/{ident}/revoke").text
    assert "<img src=x" not in confirm and "&lt;script&gt;" in confirm
