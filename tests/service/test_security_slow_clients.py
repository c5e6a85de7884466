"""Slow clients: an upload trickled a few bytes at a time is cut off at the server's deadline with
a 408 problem+json (type upload-timeout) and nothing is kept, on the REST API (raw body and
multipart) and on the dashboard's upload; a normal upload on the same server is unaffected. Real
uvicorn on a loopback port, real sockets."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path

import pytest

from glbcompress.service.app import create_app
from glbcompress.service.settings import Settings
from tests.fixtures.models import ALL

from .api_support import make_api
from .conftest import LiveServer, make_settings, running_app
from .support import csrf_token

DEADLINE = 1.5


@pytest.fixture
def slow_settings(tmp_path: Path) -> Settings:
    from glbcompress.service.db import migrate

    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'service.db'}", upload_timeout_seconds=DEADLINE
    )
    migrate.upgrade(settings.database_url)
    return settings


def _trickle(url: str, head: str, body_length: int, seconds: float = 10) -> tuple[bytes, float]:
    """Send the request head (and the body's start, after it), then one body byte every 0.2 s;
    the server's answer and when it came."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=seconds) as sock:
        start = head.split("\r\n\r\n", 1)[1]
        sock.sendall(head.format(length=body_length).encode())
        sock.settimeout(0.2)
        answer = b""
        sent = len(start)
        while time.monotonic() - started < seconds:
            if sent < body_length and not answer:
                try:
                    sock.sendall(b"x")
                    sent += 1
                except OSError:
                    pass
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:  # the server closed with our unread bytes pending
                break
            if not chunk:
                break
            answer += chunk
        return answer, time.monotonic() - started


def _problem(answer: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return status, headers, json.loads(body) if body else {}


def _stored_uploads(settings: Settings) -> list[Path]:
    return [p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()]


def test_trickled_uploads_are_cut_off_at_the_deadline(slow_settings: Settings) -> None:
    with running_app(slow_settings) as client:
        key = make_api(client).key
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        token = csrf_token(client, "/compress")
    heads = {
        "api raw": (
            "POST /v1/jobs?filename=slow.glb HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n"
            "Content-Type: model/gltf-binary\r\nContent-Length: {length}\r\n\r\n"
        ),
        "api multipart": (
            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {length}\r\n\r\n"
            '--b\r\nContent-Disposition: form-data; name="file"; filename="slow.glb"\r\n'
            "Content-Type: model/gltf-binary\r\n\r\n"
        ),
        "dashboard": (
            "POST /jobs?name=slow.glb HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n"
            "X-CSRF-Token: " + token + "\r\nContent-Length: {length}\r\n\r\n"
        ),
    }
    with LiveServer(create_app(slow_settings)) as server:
        for name, head in heads.items():
            answer, took = _trickle(server.url, head, 10_000)
            status, headers, body = _problem(answer)
            assert status == 408, (name, answer[:300])
            assert headers["content-type"] == "application/problem+json", name
            assert body["type"] == "urn:glbcompress:problem:upload-timeout", (name, body)
            assert headers.get("connection") == "close", name
            assert DEADLINE <= took < DEADLINE + 4, (name, took)
        assert _stored_uploads(slow_settings) == []

        # A client that sends its body at once is not affected; its job is stored and runs.
        model = ALL["textured_box.glb"](slow_settings.data_dir / "box.glb").read_bytes()
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
        connection.request(
            "POST", "/v1/jobs?filename=box.glb", body=model, headers={"Authorization": f"Bearer {key}"}
        )
        answer = connection.getresponse()
        assert answer.status == 202, answer.read()
        answer.read()
        time.sleep(DEADLINE + 0.5)  # the same connection, long after the first request's deadline
        connection.request("GET", "/v1/jobs", headers={"Authorization": f"Bearer {key}"})
        listed = connection.getresponse()
        assert listed.status == 200 and json.loads(listed.read())["total"] == 1
        assert _stored_uploads(slow_settings)  # where the refused uploads would have been
        connection.close()
