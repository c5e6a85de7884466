"""Accounts see only their own jobs, results, keys and usage: a second account tries every dashboard
and /v1 route with the first account's job and key ids, and gets the same 404 as for ids that never
existed (so it learns nothing, not even that they exist), and nothing of the first account changes.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from glbcompress.service.auth import accounts, api_keys
from glbcompress.service.settings import Settings
from tests.fixtures.models import ALL

from .api_support import Api, assert_problem, make_api
from .conftest import running_app
from .support import create_api_key, csrf_token, log_out, wait_for

COPY = "tests.service.tasks:copy"
ADA_FILE = "ada-secret-model.glb"
ADA_KEY = "ada-private-key"
MISSING_JOB = "0" * 32
MISSING_KEY = "999999"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "textured_box.glb"
    return ALL["textured_box.glb"](path).read_bytes()


def _user_id(client: TestClient, email: str) -> int:
    user = accounts.find_user(client.app.state.services.db, email)
    assert user is not None
    return user.id


def _key_ids(client: TestClient, user_id: int) -> dict[str, int]:
    return {key.name: key.id for key in api_keys.list_keys(client.app.state.services.db, user_id)}


def _job_state(client: TestClient, job_id: str) -> tuple[object, ...]:
    job = client.app.state.services.jobs.get(job_id)
    assert job is not None
    return (job.status, job.removed_at, job.purged_at, job.output_key, job.user_id)


def _key_state(client: TestClient, user_id: int) -> dict[str, object]:
    return {k.name: k.revoked_at for k in api_keys.list_keys(client.app.state.services.db, user_id)}


def _same_404(first: str, second: str, theirs: str, mine: str) -> None:
    """Another account's id and an id that never existed get the same answer."""
    assert first.replace(theirs, "ID") == second.replace(mine, "ID")


def test_other_accounts_jobs_keys_and_usage_are_invisible(settings: Settings, model: bytes) -> None:
    with running_app(settings, task=COPY) as client:
        ada = make_api(client, "ada@example.com", key_name=ADA_KEY)
        create_api_key(client, "ada-spare-key")
        ada_id = _user_id(client, "ada@example.com")
        job_id = ada.post(f"/v1/jobs?filename={ADA_FILE}", content=model).json()["id"]
        wait_for(client.app.state.services.jobs, job_id)
        keys = _key_ids(client, ada_id)
        job_before = _job_state(client, job_id)
        keys_before = _key_state(client, ada_id)
        assert log_out(client).status_code == 303

        bob = make_api(client, "bob@example.com", key_name="bob-key")
        _try_dashboard(client, job_id, keys)
        _try_api(bob, job_id)

        assert _job_state(client, job_id) == job_before
        assert _key_state(client, ada_id) == keys_before
        # Ada's key and job still work for Ada.
        again = Api(client, ada.key)
        assert again.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"
        assert again.get(f"/v1/jobs/{job_id}/result").content == model


def _try_dashboard(client: TestClient, job_id: str, keys: dict[str, int]) -> None:
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/download"):
        theirs = client.get(path)
        assert theirs.status_code == 404, (path, theirs.status_code)
        _same_404(theirs.text, client.get(path.replace(job_id, MISSING_JOB)).text, job_id, MISSING_JOB)
    token = csrf_token(client, "/history")
    removed = client.post(f"/history/{job_id}/remove", data={"csrf_token": token}, follow_redirects=False)
    assert removed.status_code == 404
    for key_id in keys.values():
        for method in ("GET", "POST"):
            path = f"/keys/{key_id}/revoke"
            data = {"csrf_token": csrf_token(client, "/keys")} if method == "POST" else None
            theirs = client.request(method, path, data=data, follow_redirects=False)
            assert theirs.status_code == 404, (method, path, theirs.status_code)
            missing = client.request(method, f"/keys/{MISSING_KEY}/revoke", data=data, follow_redirects=False)
            _same_404(theirs.text, missing.text, str(key_id), MISSING_KEY)
    # No page of Bob's shows Ada's file, keys or email, even when searched for.
    for path in ("/history", f"/history?q={ADA_FILE}", "/usage", "/keys", "/compress", "/account"):
        page = client.get(path)
        assert page.status_code == 200, path
        shown = page.text.replace(f'value="{ADA_FILE}"', "")  # the search box echoes the query
        for secret in (ADA_FILE, ADA_KEY, "ada-spare-key", "ada@example.com", job_id):
            assert secret not in shown, (path, secret)


def _try_api(bob: Api, job_id: str) -> None:
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/result"):
        theirs = assert_problem(bob.get(path), 404, "not-found")
        missing = assert_problem(bob.get(path.replace(job_id, MISSING_JOB)), 404, "not-found")
        _same_404(str(theirs), str(missing), job_id, MISSING_JOB)
    assert_problem(bob.delete(f"/v1/jobs/{job_id}"), 404, "not-found")
    listed = bob.get("/v1/jobs").json()
    assert listed["total"] == 0 and listed["items"] == []
    usage = bob.get("/v1/usage").json()
    assert usage["totals"]["models"] == 0
    assert [k["name"] for k in usage["keys"]] == ["bob-key"]
    assert bob.get("/v1/account").json()["email"] == "bob@example.com"
    for text in (bob.get("/v1/usage").text, bob.get("/v1/jobs").text, bob.get("/v1/account").text):
        assert not re.search(f"{ADA_FILE}|{ADA_KEY}|ada@example.com|{job_id}", text)
