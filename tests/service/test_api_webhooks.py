"""Webhooks through the real app and a real HTTP receiver on loopback, on SQLite and PostgreSQL:
a job submitted with callback_url is announced when it ends, signed (Standard Webhooks HMAC,
checked here independently), retried with backoff until a 2xx, given up after the last attempt;
callback URLs that would reach into the server's network are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from glbcompress.service.db import Database, migrate
from glbcompress.service.webhooks.dispatcher import Dispatcher
from glbcompress.service.webhooks.urls import BadCallbackUrl, check_address, check_url
from tests.fixtures.models import generate_all

from .api_support import Api, assert_problem, eventually, make_api
from .conftest import make_settings, running_app


@dataclass
class Receiver:
    """An HTTP server on loopback that records each POST and answers the next status in line."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/glb?token=abc"


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check a receiver does, written from the spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(part.split(",", 1)[1], expected) for part in headers["webhook-signature"].split()
    )


@pytest.fixture(scope="module")
def glb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return generate_all(tmp_path_factory.mktemp("models"))["textured_box.glb"].read_bytes()


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    settings = make_settings(
        tmp_path, database_url, webhook_allow_private=True, webhook_retry_seconds=0.2, webhook_max_attempts=3
    )
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        yield make_api(client)


def test_signed_delivery_retried_until_acknowledged(api: Api, glb: bytes) -> None:
    with Receiver([500, 200]) as receiver:
        created = api.post("/v1/jobs", content=glb, params={"callback_url": receiver.url})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.json()["webhook"]["state"] == "waiting"
        assert eventually(lambda: len(receiver.received) >= 2)
        job = eventually(
            lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == "delivered" and j
        )
    assert len(receiver.received) == 2
    (h1, b1), (h2, b2) = receiver.received
    assert b1 == b2 and h1["webhook-id"] == h2["webhook-id"]  # the same message, sent again
    assert h1["content-type"] == "application/json"
    secret = api.get("/v1/webhooks/secret").json()["secret"]
    assert secret.startswith("whsec_")
    assert verify(secret, h1, b1) and verify(secret, h2, b2)
    assert not verify(secret, h1, b1.replace(b"succeeded", b"failed"))
    payload = json.loads(b1)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job_id and payload["data"]["status"] == "succeeded"
    assert payload["data"]["links"]["result"] == f"/v1/jobs/{job_id}/result"
    assert job["webhook"]["attempts"] == 2 and job["webhook"]["last_status"] == 200
    assert job["webhook"]["url"] == receiver.url and job["webhook"]["delivered_at"]


def test_failed_job_announced_and_delivery_given_up(api: Api) -> None:
    with Receiver([503]) as receiver:
        created = api.post(
            "/v1/jobs", files={"file": ("broken.glb", b"not a model")}, data={"callback_url": receiver.url}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = eventually(
            lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == "failed" and j
        )
        assert job, "the delivery was not given up"
        count = len(receiver.received)
        eventually(lambda: len(receiver.received) > count, timeout=1.5)
    assert count == len(receiver.received) == 3  # webhook_max_attempts, then no more
    payload = json.loads(receiver.received[0][1])
    assert payload["type"] == "job.failed"
    assert payload["data"]["error"]["type"] == "urn:glbcompress:problem:invalid-model"
    assert job["webhook"]["last_status"] == 503 and "503" in job["webhook"]["last_error"]


def test_redirects_are_not_followed(api: Api, glb: bytes) -> None:
    with Receiver([302, 204]) as receiver:
        job_id = api.post("/v1/jobs", content=glb, params={"callback_url": receiver.url}).json()["id"]
        job = eventually(
            lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == "delivered" and j
        )
    assert job["webhook"]["attempts"] == 2 and len(receiver.received) == 2


def test_callback_urls_into_private_networks_are_refused(sqlite_settings: Any, glb: bytes) -> None:
    with running_app(sqlite_settings) as client:
        api = make_api(client)
        for url, words in [
            ("http://127.0.0.1:8080/hook", ("loopback or private",)),
            ("http://localhost/hook", ("loopback or private",)),
            ("http://[::1]/hook", ("loopback or private",)),
            ("http://169.254.169.254/latest/meta-data", ("loopback or private",)),
            ("http://10.1.2.3/hook", ("loopback or private",)),
            ("ftp://example.com/hook", ("http:// or https://",)),
            ("http://user:secret@example.com/hook", ("user name or password",)),
            ("http://no-such-host.invalid/hook", ("cannot be resolved",)),
            ("/relative/hook", ("http:// or https://",)),
        ]:
            assert_problem(
                api.post("/v1/jobs", content=glb, params={"callback_url": url}),
                400,
                "invalid-callback-url",
                *words,
            )
        assert api.get("/v1/jobs").json()["total"] == 0  # nothing was queued


def test_address_checks() -> None:
    assert check_address("http://93.184.216.34/hook", allow_private=False) == "93.184.216.34"
    assert check_address("http://127.0.0.1:9/hook", allow_private=True) == "127.0.0.1"
    for url in ("http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://192.168.1.1/", "http://[fe80::1]/"):
        with pytest.raises(BadCallbackUrl):
            check_address(url, allow_private=False)
    for url in ("http://exa mple.com/", "https://", "http://example.com:0/", "x" * 3000):
        with pytest.raises(BadCallbackUrl):
            check_url(url)


def test_pending_delivery_survives_a_restart(tmp_path: Path, database_url: str, glb: bytes) -> None:
    settings = make_settings(
        tmp_path, database_url, webhook_allow_private=True, webhook_retry_seconds=2, webhook_max_attempts=5
    )
    migrate.upgrade(settings.database_url)
    with Receiver([500, 200]) as receiver:
        with running_app(settings) as client:
            api = make_api(client)
            job_id = api.post("/v1/jobs", content=glb, params={"callback_url": receiver.url}).json()["id"]
            assert eventually(lambda: len(receiver.received) >= 1)
        assert len(receiver.received) == 1  # stopped after the first, refused attempt
        with running_app(settings) as client:
            again = Api(client, api.key)
            job = eventually(
                lambda: (j := again.get(f"/v1/jobs/{job_id}").json())["webhook"]["state"] == "delivered" and j
            )
    assert job and job["webhook"]["attempts"] == 2
    (h1, b1), (h2, b2) = receiver.received
    assert h1["webhook-id"] == h2["webhook-id"] and b1 == b2


def test_competing_senders_deliver_each_webhook_once(tmp_path: Path, database_url: str, glb: bytes) -> None:
    """Several web processes share the database, and each runs a sender: every delivery goes out
    once, whichever sender claims it. Here the app's own sender competes with two more polling
    without pause, each with its own connection pool, as other processes' would."""
    settings = make_settings(tmp_path, database_url, webhook_allow_private=True, webhook_max_attempts=3)
    migrate.upgrade(settings.database_url)
    stop = threading.Event()

    def compete() -> None:
        db = Database(settings.database_url)
        dispatcher = Dispatcher(db, settings)
        try:
            while not stop.is_set():
                dispatcher.run_once()
        finally:
            db.dispose()

    competitors = [threading.Thread(target=compete, daemon=True) for _ in range(2)]
    with Receiver([200]) as receiver, running_app(settings) as client:
        api = make_api(client)
        for thread in competitors:
            thread.start()
        try:
            ids = [
                api.post("/v1/jobs", content=glb, params={"callback_url": receiver.url}).json()["id"]
                for _ in range(8)
            ]
            delivered = eventually(
                lambda: all(api.get(f"/v1/jobs/{i}").json()["webhook"]["state"] == "delivered" for i in ids),
                timeout=120,
            )
        finally:
            stop.set()
            for thread in competitors:
                thread.join(30)
        assert delivered
        sent = [json.loads(body)["data"]["id"] for _, body in receiver.received]
    assert sorted(sent) == sorted(ids), "each job's webhook is sent exactly once"
