"""Retries over real HTTP on loopback: 429 and 503 are retried after the server's Retry-After
(seconds or an HTTP date) or after a jittered exponential backoff, a bounded number of times;
connection failures are retried, a POST that may have reached the server is not."""

from __future__ import annotations

import random
import socket
import time
from email.utils import formatdate

import pytest

from glbcompress.client import ApiError, Client, ConnectionFailed, RateLimited, ServerError
from glbcompress.client.retry import RetryPolicy, parse_retry_after

from .scripted_server import Reply, ScriptedServer

RATE_LIMITED = {
    "type": "urn:glbcompress:problem:rate-limited",
    "title": "Too many requests",
    "status": 429,
    "detail": "Wait 1 seconds (Retry-After) and try again.",
}
ACCOUNT = {"email": "ada@example.com"}


def client_for(url: str, **kwargs: object) -> tuple[Client, list[float]]:
    """A client whose waits are recorded (and really slept)."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    return Client(api_key="glbc_test", base_url=url, sleep=sleep, **kwargs), waits


def test_429_is_retried_after_retry_after_seconds() -> None:
    replies = [Reply(429, RATE_LIMITED, {"Retry-After": "1"}), Reply(200, ACCOUNT)]
    with ScriptedServer(replies) as server:
        client, waits = client_for(server.url)
        assert client.account() == ACCOUNT
    first, second = server.requests
    assert waits == [1.0]
    assert second.at - first.at >= 1.0
    assert first.headers["authorization"] == "Bearer glbc_test" == second.headers["authorization"]


def test_retry_after_as_an_http_date() -> None:
    replies = [
        Reply(503, b"busy", {"Retry-After": formatdate(time.time() + 2, usegmt=True)}),
        Reply(200, ACCOUNT),
    ]
    with ScriptedServer(replies) as server:
        client, waits = client_for(server.url)
        assert client.account() == ACCOUNT
    assert len(waits) == 1 and 0.0 < waits[0] <= 2.0


def test_503_without_retry_after_backs_off_with_jitter() -> None:
    replies = [Reply(503, b"busy"), Reply(503, b"busy"), Reply(503, b"busy"), Reply(200, ACCOUNT)]
    with ScriptedServer(replies) as server:
        client, waits = client_for(server.url, backoff=0.05)
        assert client.account() == ACCOUNT
    assert len(waits) == 3
    for attempt, wait in enumerate(waits):
        assert 0.0 <= wait <= 0.05 * 2**attempt


def test_retries_are_bounded_and_the_typed_error_keeps_retry_after() -> None:
    replies = [Reply(429, RATE_LIMITED, {"Retry-After": "0", "X-Request-ID": f"req-{i}"}) for i in range(3)]
    with ScriptedServer(replies) as server:
        client, waits = client_for(server.url, max_retries=2)
        with pytest.raises(RateLimited) as caught:
            client.account()
    assert len(server.requests) == 3 and waits == [0.0, 0.0]
    assert caught.value.retry_after == 0.0
    assert caught.value.status == 429 and caught.value.kind == "rate-limited"
    assert caught.value.request_id == "req-2"
    assert "Retry-After" in str(caught.value)


def test_a_retry_after_longer_than_the_client_waits_is_raised_at_once() -> None:
    with ScriptedServer([Reply(429, RATE_LIMITED, {"Retry-After": "3600"})]) as server:
        client, waits = client_for(server.url, max_retry_after=60)
        with pytest.raises(RateLimited) as caught:
            client.account()
    assert waits == [] and caught.value.retry_after == 3600.0


def test_other_errors_are_not_retried() -> None:
    with ScriptedServer([Reply(500, b"<html>Bad gateway</html>", {"Content-Type": "text/html"})]) as server:
        client, waits = client_for(server.url)
        with pytest.raises(ServerError) as caught:
            client.account()
    assert waits == [] and len(server.requests) == 1
    assert "HTTP 500" in str(caught.value) and "Bad gateway" in str(caught.value)


def test_a_get_is_retried_when_the_connection_breaks_but_a_post_is_not(tmp_path) -> None:
    with ScriptedServer([Reply(hang_up=True), Reply(200, ACCOUNT)]) as server:
        client, waits = client_for(server.url, backoff=0.01)
        assert client.account() == ACCOUNT
    assert len(waits) == 1
    model = tmp_path / "m.glb"
    model.write_bytes(b"glTF" + bytes(100))
    with ScriptedServer([Reply(hang_up=True), Reply(200, b"never asked for")]) as server:
        client, waits = client_for(server.url, backoff=0.01)
        with pytest.raises(ConnectionFailed, match="cannot reach"):
            client.submit(model)
    assert len(server.requests) == 1 and waits == []


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, waits = client_for(f"http://127.0.0.1:{port}", max_retries=3, backoff=0.01)
    with pytest.raises(ConnectionFailed, match=f"cannot reach http://127.0.0.1:{port}"):
        client.account()
    assert len(waits) == 3


def test_policy_delays() -> None:
    policy = RetryPolicy(max_retries=5, backoff=1.0, max_backoff=4.0, rng=random.Random(1))
    for attempt in range(8):
        assert 0.0 <= policy.delay(attempt, None) <= min(4.0, 2.0**attempt)
    assert policy.delay(3, 7.5) == 7.5
    assert policy.should_retry_status(429, 0, 10) and policy.should_retry_status(503, 4, None)
    assert not policy.should_retry_status(429, 5, None)  # out of retries
    assert not policy.should_retry_status(500, 0, None)
    assert not policy.should_retry_status(429, 0, 121)  # longer than max_retry_after
    assert policy.should_retry_error("POST", 0, connected=False)
    assert not policy.should_retry_error("POST", 0, connected=True)
    assert policy.should_retry_error("GET", 0, connected=True)


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None and parse_retry_after("nan") is None
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_a_redirect_or_an_answer_that_is_not_json_is_a_clear_error(tmp_path) -> None:
    model = tmp_path / "m.glb"
    model.write_bytes(b"glTF" + bytes(100))
    replies = [
        Reply(301, b"", {"Location": "https://glb.example.com/v1/account"}),
        Reply(200, b"<html>a web page</html>", {"Content-Type": "text/html"}),
        Reply(200, b"<html>a web page</html>", {"Content-Type": "text/html"}),
    ]
    with ScriptedServer(replies) as server:
        client, _ = client_for(server.url)
        with pytest.raises(ApiError, match=r"redirect .*https://glb\.example\.com/v1/account"):
            client.account()
        with pytest.raises(ApiError, match="not JSON: is the base URL a glbcompress server"):
            client.account()
        with pytest.raises(ApiError, match="not a GLB"):
            client.compress(model, tmp_path / "out.glb")
    assert not (tmp_path / "out.glb").exists()
