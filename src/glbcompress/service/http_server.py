"""How the service is served: uvicorn's options in one place (`glbcompress serve` and the tests'
live servers use the same), and an HTTP protocol that gives each request head a deadline.

uvicorn limits how long an idle keep-alive connection lives, but not how long a request's head
(request line and headers) may take to arrive: a client trickling one header byte every few
seconds ("slowloris") could hold a connection, and a file descriptor, forever. The upload body has
its own deadline (upload_deadline.py); this is the one before it.

>>> uvicorn.run(app, **server_options(settings), host="0.0.0.0", port=8000)
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .api.problems import TYPE_PREFIX
from .settings import Settings

log = logging.getLogger(__name__)

_BODY = json.dumps(
    {
        "type": TYPE_PREFIX + "request-timeout",
        "title": "Request not received in time",
        "status": 408,
        "detail": "The request line and headers did not arrive in time; the connection was closed.",
    }
).encode()
TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus: the head of each request (the first on a connection, and each
    next one on a kept-alive connection) must arrive within ``head_timeout`` seconds, or the
    server answers 408 and closes the connection."""

    head_timeout: float = 20.0
    _head_timer: asyncio.TimerHandle | None = None
    _waiting_after: object = None  # the scope of the last request parsed when the clock started

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._stop_head_clock_if_parsed()

    def on_response_complete(self) -> None:
        self._start_head_clock()  # before: finishing may parse a pipelined request at once
        super().on_response_complete()
        self._stop_head_clock_if_parsed()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        if self.transport.is_closing():
            return
        self._waiting_after = self.scope
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_clock_if_parsed(self) -> None:
        if self._head_timer is not None and self.scope is not self._waiting_after:
            self._stop_head_clock()

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.scope is not self._waiting_after or self.transport.is_closing():
            return
        log.info("request head not received in time; connection closed", extra={"client": self.client})
        self.transport.write(TIMED_OUT)
        self.transport.close()


def head_deadline_protocol(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol class with this deadline (uvicorn takes a class, not an instance)."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for this service, apart from where it listens."""
    return {
        "http": head_deadline_protocol(settings.request_head_timeout_seconds),
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
        "timeout_graceful_shutdown": 20,
    }
