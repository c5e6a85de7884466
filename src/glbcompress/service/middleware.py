"""The outermost layer of every request: a request id, security headers, one access-log line, and a
last-resort error page.

The request id is the client's ``X-Request-ID`` when it is a short token of safe characters,
otherwise a new random one; it is sent back on every response (errors included) and appears in
every log line written while the request is served, so a user's report can be matched to the logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import logs

log = logging.getLogger("glbcompress.http")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
EXTRA_HEADERS = "response_headers"
ERROR_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
    "<p>Something went wrong on our side. If it keeps happening, report it with the reference "
    "<code>{rid}</code>.</p></html>"
)

API_ERROR = (
    '{{"type": "urn:glbcompress:problem:internal-error", "title": "Internal error", "status": 500, '
    '"detail": "Something went wrong on our side. If it keeps happening, report it with the reference {rid}."}}'
)


def add_response_headers(request: Request, headers: dict[str, str]) -> None:
    """Headers for this request's response, whatever the route returns or raises (e.g. the API's
    rate-limit headers, decided in a dependency before the route runs)."""
    extra = request.scope.setdefault("state", {}).setdefault(EXTRA_HEADERS, [])
    extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        token = logs.request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        state: dict[str, Any] = {"status": None}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode()))
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                headers += [(k, v) for k, v in scope["state"].get(EXTRA_HEADERS, []) if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error")
            if state["status"] is None:
                await self._error_page(rid, send_with_headers, api=scope["path"].startswith("/v1/"))
            state["status"] = state["status"] or 500
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],  # never the query string: it may carry tokens
                    "status": state["status"],
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            logs.request_id.reset(token)

    @staticmethod
    async def _error_page(rid: str, send: Send, api: bool = False) -> None:
        """An HTML page, or for the API a problem+json body (type internal-error)."""
        body = (API_ERROR if api else ERROR_PAGE).format(rid=rid).encode()
        media = b"application/problem+json" if api else b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
