"""HTTP for the SDK: one pooled ``httpx2`` connection set per client, the API key on every
request, retries (``retry.py``), and error answers turned into the exceptions of ``errors.py``.

>>> http = Transport("https://glb.example.com", "glbc_...")
>>> response = http.request("GET", "/v1/account")      # raises an ApiError subclass on 4xx/5xx
>>> http.download("GET", "/v1/jobs/abc/result", Path("out.glb"), on_received)

Uploads are ``upload.Body`` objects, streamed from disk and sent again from the start when a
request is retried. Downloads go to a temporary file beside the destination and are renamed into
place once complete, so a broken download never leaves a half-written model under its name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx2

from .errors import ApiError, ConnectionFailed, LocalFileError, from_problem
from .retry import RetryPolicy, parse_retry_after
from .upload import Body, OnSent

OnReceived = Callable[[int, int | None], None]
"""Called as ``on_received(bytes_received, bytes_total_or_None)`` during a download."""

NOT_CONNECTED = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.UnsupportedProtocol)
DOWNLOAD_CHUNK = 256 * 1024


class Transport:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        retry: RetryPolicy,
        user_agent: str,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx2.Client | None = None,
    ):
        self.retry = retry
        self.sleep = sleep
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.http = http or httpx2.Client(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 15.0)),
            headers={"User-Agent": user_agent, "Accept": "application/json, application/problem+json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        body: Body | None = None,
        on_sent: OnSent | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> httpx2.Response:
        """The response to a request, retried as the policy allows; raises an ApiError for an
        error answer and ConnectionFailed when the server cannot be reached. With stream the body
        is not read yet: the caller reads it and closes the response."""
        attempt = 0
        while True:
            request = self._build(method, path, params, json, body, on_sent, headers)
            try:
                response = self.http.send(request, stream=True)
            except httpx2.TransportError as exc:
                connected = not isinstance(exc, NOT_CONNECTED)
                if self.retry.should_retry_error(method, attempt, connected):
                    self.sleep(self.retry.delay(attempt, None))
                    attempt += 1
                    continue
                raise ConnectionFailed(self._connection_message(exc)) from None
            if 300 <= response.status_code < 400:
                self.read(response)
                location = response.headers.get("location", "")
                raise ApiError(
                    f"The server answered with a redirect (HTTP {response.status_code}) to {location or '?'}: "
                    "give that address as the base URL.",
                    status=response.status_code,
                    request_id=response.headers.get("x-request-id"),
                )
            if response.status_code < 400:
                if not stream:
                    self.read(response)
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            self.read(response)
            if self.retry.should_retry_status(response.status_code, attempt, retry_after):
                self.sleep(self.retry.delay(attempt, retry_after))
                attempt += 1
                continue
            raise self.error(response, retry_after)

    def download(
        self,
        method: str,
        path: str,
        dest: Path,
        on_received: OnReceived | None = None,
        response: httpx2.Response | None = None,
    ) -> int:
        """Write a response body to dest (created or replaced whole); returns its size. With
        response given, that open streamed response is read instead of making a request (it is
        closed either way). A GET whose body breaks off is fetched again from the start."""
        attempt = 0
        while True:
            current = response if response is not None else self.request(method, path, stream=True)
            response = None
            try:
                return self._save(current, dest, on_received)
            except OSError as exc:
                raise LocalFileError(f"{exc.filename or dest}: {exc.strerror or exc}") from None
            except httpx2.TransportError as exc:
                if not self.retry.should_retry_error(method, attempt, connected=True):
                    raise ConnectionFailed(self._connection_message(exc)) from None
                self.sleep(self.retry.delay(attempt, None))
                attempt += 1
            finally:
                current.close()

    def json(self, response: httpx2.Response) -> Any:
        """A success response's JSON; an ApiError when it is not JSON (not a glbcompress server)."""
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"The answer from {self.base_url} to {response.request.method} {response.request.url.path} is "
                "not JSON: is the base URL a glbcompress server?",
                status=response.status_code,
            ) from None

    def error(self, response: httpx2.Response, retry_after: float | None = None) -> ApiError:
        """The exception an error response stands for."""
        try:
            body = response.json()
        except ValueError:
            body = None
        text = " ".join(response.text.split())[:200] if body is None else ""
        return from_problem(
            response.status_code,
            body,
            request_id=response.headers.get("x-request-id"),
            retry_after=retry_after,
            fallback=f"The server answered HTTP {response.status_code}" + (f": {text}" if text else "."),
        )

    # --- internals ---------------------------------------------------------------------------------

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        body: Body | None,
        on_sent: OnSent | None,
        headers: Mapping[str, str] | None,
    ) -> httpx2.Request:
        all_headers = {"Authorization": f"Bearer {self._api_key}", **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = body.content_type
            all_headers["Content-Length"] = str(body.length)
            return self.http.build_request(
                method, path, params=params, content=body.chunks(on_sent), headers=all_headers
            )
        return self.http.build_request(method, path, params=params, json=json, headers=all_headers)

    @staticmethod
    def read(response: httpx2.Response) -> None:
        """Read a streamed response's body and close it (a broken connection is ConnectionFailed)."""
        try:
            response.read()
        except httpx2.TransportError as exc:
            raise ConnectionFailed(f"the connection broke while reading the answer ({exc})") from None
        finally:
            response.close()

    @staticmethod
    def _save(response: httpx2.Response, dest: Path, on_received: OnReceived | None) -> int:
        total = _content_length(response)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        received = 0
        try:
            with os.fdopen(fd, "wb") as out:
                if on_received:
                    on_received(0, total)
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if on_received:
                        on_received(received, total)
            if total is not None and received != total:
                raise httpx2.ReadError(f"the download ended after {received} of {total} bytes")
            os.replace(temp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return received

    def _connection_message(self, exc: Exception) -> str:
        reason = str(exc).strip() or type(exc).__name__
        return f"cannot reach {self.base_url}: {reason}"


def _content_length(response: httpx2.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or "content-encoding" in response.headers:
        return None
    try:
        return int(value)
    except ValueError:
        return None
