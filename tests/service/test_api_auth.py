"""API key authentication over HTTP, through the real app on SQLite and PostgreSQL: both ways of
sending a key, every 401 case, revocation on the very next request, isolation between accounts,
the rate-limit headers, and keys kept out of logs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update

from glbcompress.service.auth import api_keys
from glbcompress.service.db import ApiKey, Database, Job, JobSource, JobStatus, migrate, utcnow
from glbcompress.service.settings import Settings

from .conftest import make_settings, running_app
from .support import PASSWORD, create_api_key, log_in, log_out, post_form, sign_up

PROBLEM = "application/problem+json"


def db_of(client: TestClient) -> Database:
    return client.app.state.services.db


def account(client: TestClient, key: str | None = None, header: str = "Authorization") -> Response:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "Authorization" else {header: key}
    return client.get("/v1/account", headers=headers)


def key_id(client: TestClient, key: str) -> int:
    response = account(client, key)
    assert response.status_code == 200, response.text
    return response.json()["api_key"]["id"]


def revoke(client: TestClient, key_id: int) -> Response:
    return post_form(client, f"/keys/{key_id}/revoke", f"/keys/{key_id}/revoke")


def assert_refused(response: Response, reason: str, key: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="glbcompress"')
    assert ('error="invalid_token"' in challenge) == (reason != api_keys.Refusal.MISSING)
    body = response.json()
    assert body["type"] == f"urn:glbcompress:problem:{reason}"
    assert body["status"] == 401 and body["title"] and body["detail"]
    if key:
        assert key[5:20] not in response.text and key[5:20] not in str(response.headers)


def test_both_ways_of_sending_a_key(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "build script", expires="30")
    client.cookies.clear()  # the API needs no session
    for response in (
        account(client, key),
        account(client, key, header="X-API-Key"),
        client.get("/v1/account", headers={"Authorization": f"bearer  {key} "}),
    ):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["email"] == "ada@example.com"
        assert body["api_key"]["name"] == "build script"
        assert body["api_key"]["prefix"] == key[:13]
        assert body["api_key"]["expires_at"] is not None
        assert key not in response.text  # never the key itself
        assert response.headers["cache-control"] == "no-store"


def test_every_refusal_is_a_401_problem(client: TestClient) -> None:
    refusal = api_keys.Refusal
    sign_up(client, "ada@example.com")
    key = create_api_key(client, "live")
    revoked = create_api_key(client, "revoked")
    revoke(client, key_id(client, revoked))
    expired = create_api_key(client, "expired", expires="7")
    with db_of(client).session() as session, session.begin():
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == api_keys.hash_key(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # Missing: no key at all, another scheme, an empty one, or only a session cookie.
    assert_refused(account(client), refusal.MISSING)
    assert_refused(client.get("/v1/account", headers={"Authorization": "Basic YWRhOnB3"}), refusal.MISSING)
    assert_refused(client.get("/v1/account", headers={"Authorization": "Bearer "}), refusal.MISSING)
    assert_refused(client.get("/v1/account", headers={"X-API-Key": ""}), refusal.MISSING)
    assert client.cookies  # logged in on the dashboard, which does not count for the API
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    for bad in (typo, key[:-1], key + "x", "glbc_short", "x" * 5000):
        assert_refused(account(client, bad), refusal.MALFORMED, key)
        assert_refused(account(client, bad, header="X-API-Key"), refusal.MALFORMED, key)
    assert_refused(account(client, api_keys.generate()), refusal.UNKNOWN)
    assert_refused(account(client, revoked), refusal.REVOKED, revoked)
    assert_refused(account(client, expired), refusal.EXPIRED, expired)
    log_out(client)
    sign_up(client, "bob@example.com")
    doomed = create_api_key(client, "Bob's laptop")
    assert account(client, doomed).status_code == 200
    post_form(client, "/account/delete", "/account", delete_password=PASSWORD)
    assert_refused(account(client, doomed), refusal.ACCOUNT_DELETED, doomed)
    assert account(client, key).status_code == 200  # other accounts' keys are unaffected


def test_an_unknown_key_tells_nothing_about_existing_keys(client: TestClient) -> None:
    """A well-formed key sharing a real key's display prefix is answered exactly like any other
    unknown key: nothing says it is "close" to one that exists."""
    sign_up(client, "ada@example.com")
    key = create_api_key(client)
    body = key[:13] + "".join(reversed(key[13:-6]))
    near = body + api_keys.checksum(body)
    assert api_keys.well_formed(near) and near != key
    answers = [account(client, k) for k in (near, api_keys.generate())]
    first, second = (a.json() for a in answers)
    assert first == second
    assert {a.headers["www-authenticate"] for a in answers} == {answers[0].headers["www-authenticate"]}


def test_revocation_counts_from_the_next_request(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    key = create_api_key(client)
    ident = key_id(client, key)
    assert revoke(client, ident).status_code == 303
    assert_refused(account(client, key), api_keys.Refusal.REVOKED, key)
    assert revoke(client, ident).status_code == 303  # revoking again changes nothing
    assert_refused(account(client, key), api_keys.Refusal.REVOKED, key)


def add_api_job(db: Database, user_id: int, key: int, size_in: int, size_out: int) -> None:
    now = utcnow()
    with db.session() as session, session.begin():
        session.add(
            Job(
                id=uuid.uuid4().hex,
                user_id=user_id,
                source=JobSource.API,
                api_key_id=key,
                status=JobStatus.SUCCEEDED,
                filename="model.glb",
                options={},
                input_bytes=size_in,
                output_bytes=size_out,
                finished_at=now,
            )
        )


def test_accounts_only_see_their_own_keys_and_data(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    ada_key = create_api_key(client, "ada key")
    log_out(client)
    sign_up(client, "bob@example.com")
    bob_key = create_api_key(client, "bob key")
    ada, bob = account(client, ada_key).json(), account(client, bob_key).json()
    assert ada["email"] == "ada@example.com" and bob["email"] == "bob@example.com"
    db = db_of(client)
    ada_user = api_keys.authenticate(db, ada_key).user.id
    bob_user = api_keys.authenticate(db, bob_key).user.id
    add_api_job(db, ada_user, ada["api_key"]["id"], 5_000_000, 1_000_000)
    add_api_job(db, bob_user, bob["api_key"]["id"], 9_000_000, 2_000_000)

    # Bob, logged in, cannot see, confirm or revoke Ada's key.
    page = client.get("/keys").text
    assert "bob key" in page and "ada key" not in page and ada_key[:13] not in page
    assert "6.68 MB" in page and "3.81 MB" not in page  # Bob's bytes saved only
    ada_id = ada["api_key"]["id"]
    assert client.get(f"/keys/{ada_id}/revoke").status_code == 404
    token_page = "/keys"
    refused = post_form(client, f"/keys/{ada_id}/revoke", token_page)
    assert refused.status_code == 404
    assert account(client, ada_key).status_code == 200  # still active
    assert api_keys.names(db, bob_user) == {bob["api_key"]["id"]: "bob key"}

    log_out(client)
    log_in(client, "ada@example.com")
    page = client.get("/keys").text
    assert "ada key" in page and "bob key" not in page and "3.81 MB" in page


@pytest.fixture
def limited_client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings: Settings = make_settings(tmp_path, database_url, api_rate_limit=3)
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        yield client


def test_rate_limit_headers(limited_client: TestClient) -> None:
    client = limited_client
    sign_up(client, "ada@example.com")
    key, other = create_api_key(client, "busy"), create_api_key(client, "quiet")
    for remaining in (2, 1, 0):
        response = account(client, key)
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"per-key";q=3;w=60'
        policy, left, reset = response.headers["ratelimit"].split(";")
        assert policy == '"per-key"' and left == f"r={remaining}"
        assert 1 <= int(reset.removeprefix("t=")) <= 60
        assert "retry-after" not in response.headers
    refused = account(client, key)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "urn:glbcompress:problem:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit"].startswith('"per-key";r=0;t=')
    assert refused.headers["ratelimit-policy"] == '"per-key";q=3;w=60'
    assert account(client, other).status_code == 200  # each key has its own limit
    assert "ratelimit" not in account(client).headers  # refused keys are not counted against anything


def test_requests_are_counted_across_a_restart(settings: Settings) -> None:
    with running_app(settings) as client:
        sign_up(client, "ada@example.com")
        key = create_api_key(client)
        for _ in range(5):
            assert account(client, key).status_code == 200
    # The count waited in memory (one write a minute at most); stopping the server wrote it.
    with running_app(settings) as client, db_of(client).session() as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.key_hash == api_keys.hash_key(key)))
        assert stored is not None and stored.requests == 5 and stored.last_used_at is not None


def test_keys_never_reach_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sign_up(client, "ada@example.com")
    key = create_api_key(client)
    account(client, key)
    account(client, key, header="X-API-Key")
    account(client, key[:-1] + "!")
    revoke(client, key_id(client, key))
    account(client, key)
    assert any(r.getMessage() == "api key created" for r in caplog.records)
    assert any(r.getMessage() == "api key revoked" for r in caplog.records)
    secret = key[13:]
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in repr(record.__dict__)


def test_openapi_documents_key_auth(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["HTTPBearer"].items()
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key"
    operation = schema["paths"]["/v1/account"]["get"]
    assert {"HTTPBearer": []} in operation["security"]
    assert set(operation["responses"]) >= {"200", "401", "429"}
    assert PROBLEM in operation["responses"]["401"]["content"]
