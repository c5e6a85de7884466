"""A bounded time for every request body, so a client that trickles its upload a few bytes at a
time cannot hold a connection, a job slot's disk space and a worker forever.

The clock starts when the request arrives; once the body has been received in full, the request
runs unbounded (downloads and waiting for a disconnect are not affected). A body still arriving at
the deadline makes the route's read raise `UploadTimedOut`, answered 408 (problem+json, type
upload-timeout) with the connection closed, and nothing of the upload is kept (the storage
writer discards it on the way out).
"""

from __future__ import annotations

import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class UploadTimedOut(Exception):
    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(
            f"The upload took longer than {seconds:g} seconds to arrive, so it was stopped. "
            "Try again on a faster connection, or with a smaller file."
        )


class UploadDeadline:
    def __init__(self, app: ASGIApp, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        done = False

        async def bounded() -> Message:
            nonlocal done
            if done:
                return await receive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UploadTimedOut(self.seconds)
            try:
                with anyio.fail_after(remaining):
                    message = await receive()
            except TimeoutError:
                raise UploadTimedOut(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        await self.app(scope, bounded, send)
