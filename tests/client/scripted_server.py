"""A tiny HTTP server on loopback that answers from a script, for testing the SDK's network
behaviour (retries, Retry-After, broken connections) that a real glbcompress server cannot be
made to show on demand. A test double of the network, not of our code.

>>> with ScriptedServer([Reply(429, headers={"Retry-After": "1"}), Reply(200, b"{}")]) as server:
...     ...                                      # server.url, then server.requests
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False
    """Close the connection without answering (after reading the request)."""
    delay: float = 0.0
    """Seconds to wait before answering."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedServer:
    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        self.requests: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                    )
                )
                reply = owner.replies.pop(0) if owner.replies else Reply(500, b"script exhausted")
                time.sleep(reply.delay)
                if reply.hang_up:
                    self.close_connection = True
                    return
                data = reply.body
                content_type = "application/octet-stream"
                if isinstance(data, dict):
                    data = json.dumps(data).encode()
                    content_type = "application/problem+json" if reply.status >= 400 else "application/json"
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.pop("Content-Type", content_type))
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
