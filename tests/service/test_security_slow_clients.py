"""Slow clients: an upload trickled a few bytes at a time is cut off at the server's deadline with
a 408 problem+json (type upload-timeout) and nothing is kept, on the REST API (raw body and
multipart) and on the dashboard's upload; a normal upload on the same server is unaffected. Real
uvicorn on a loopback port, real sockets."""

from __future__ import annotations

import contextlib
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
        answer, _ = _drip(sock, b"x" * (body_length - len(start)), seconds)
        return answer, time.monotonic() - started


def _drip(sock: socket.socket, data: bytes, seconds: float) -> tuple[bytes, float]:
    """Send data one byte every 0.2 s until the server answers or closes (or seconds pass); its
    answer and how long after the first byte it came."""
    started = time.monotonic()
    sock.settimeout(0.2)
    answer, sent = b"", 0
    while time.monotonic() - started < seconds:
        if sent < len(data) and not answer:
            try:
                sock.sendall(data[sent : sent + 1])
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


HEAD_DEADLINE = 1.0


def _request_timeout(answer: bytes, took: float, what: str) -> None:
    status, headers, body = _problem(answer)
    assert status == 408, (what, answer[:300])
    assert headers["content-type"] == "application/problem+json", what
    assert body["type"] == "urn:glbcompress:problem:request-timeout", (what, body)
    assert headers.get("connection") == "close", what
    assert took < HEAD_DEADLINE + 4, (what, took)


def test_request_heads_that_do_not_arrive_in_time_are_cut_off(tmp_path: Path) -> None:
    """Slowloris: a request line and headers trickled a byte at a time (on a new connection or
    the next request of a kept-alive one), or nothing sent at all, are answered 408
    request-timeout and the connection closed; a request whose head arrives at once may take
    longer than that deadline over its body."""
    from glbcompress.service.db import migrate

    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'service.db'}", request_head_timeout_seconds=HEAD_DEADLINE
    )
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        key = make_api(client).key
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"s" * 200 + b"\r\n\r\n"
    with LiveServer(create_app(settings)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        address = (host, int(port))

        with socket.create_connection(address, timeout=10) as sock:
            _request_timeout(*_drip(sock, head, 8), "a new connection")

        with socket.create_connection(address, timeout=10) as sock:
            sock.settimeout(10)
            started = time.monotonic()
            answer = sock.recv(65536)  # sending nothing at all
            _request_timeout(answer, time.monotonic() - started, "a silent connection")

        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while b"\r\n\r\n" not in first:
                first += sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200"), first
            time.sleep(0.3)  # the first answer's body may still be arriving: let it, then drop it
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                sock.recv(65536)
            _request_timeout(*_drip(sock, head, 8), "the next request on a kept-alive connection")

        # The clock stops once the head is in: a body sent over more than the head's deadline
        # is received (the upload deadline is the body's limit).
        model = ALL["textured_box.glb"](tmp_path / "box.glb").read_bytes()
        request = (
            f"POST /v1/jobs?filename=box.glb HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: model/gltf-binary\r\nContent-Length: {len(model)}\r\n\r\n"
        ).encode()
        with socket.create_connection(address, timeout=20) as sock:
            sock.sendall(request)
            for part in range(4):
                time.sleep(HEAD_DEADLINE / 2)
                sock.sendall(model[part * len(model) // 4 : (part + 1) * len(model) // 4])
            sock.settimeout(20)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
