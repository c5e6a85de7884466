"""The webhook sender of a web process: a daemon thread that, every ``poll_seconds``, makes the
deliveries of ended jobs ready and sends those that are due, a few at once.

>>> dispatcher = Dispatcher(db, settings)
>>> dispatcher.start()     # with the app; dispatcher.stop() when it stops

A delivery is acknowledged by any 2xx answer. Anything else — another status, a timeout, a
refused connection, a redirect (not followed) — is retried with backoff until the attempts run out.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from ... import __version__
from . import deliveries, sender, signing
from .urls import BadCallbackUrl, check_address

if TYPE_CHECKING:
    from ..db import Database
    from ..settings import Settings

log = logging.getLogger("glbcompress.webhooks")

SENDERS = 4


def body_of(payload: dict) -> bytes:
    """The exact bytes sent (the same on every attempt: the payload was fixed when the job ended)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, poll_seconds: float = 0.5):
        self.db = db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 30)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="glbcompress-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.webhook_timeout_seconds + 5)

    def _loop(self) -> None:
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="glbcompress-webhook") as pool:
            while not self._stop.is_set():
                try:
                    self.run_once(pool)
                except Exception:
                    log.exception("webhook dispatch failed; trying again shortly")
                self._stop.wait(self.poll_seconds)

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Make ready and send what is due now; returns how many were attempted."""
        deliveries.make_ready(self.db)
        due = deliveries.claim_due(self.db, self.lease)
        if pool is None or len(due) < 2:
            for item in due:
                self.send(item)
        else:
            list(pool.map(self.send, due))
        return len(due)

    def send(self, item: deliveries.Due) -> None:
        body = body_of(item.payload)
        secret = signing.account_secret(self.settings.secret, item.user_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"glbcompress-webhooks/{__version__}",
            **signing.headers(secret, f"msg_{item.id}", int(time.time()), body),
        }
        status: int | None = None
        try:
            address = check_address(item.url, self.settings.webhook_allow_private)
            status = sender.post(item.url, address, body, headers, self.settings.webhook_timeout_seconds)
            if 200 <= status < 300:
                deliveries.acknowledged(self.db, item.id, status)
                log.info("webhook delivered", extra={"delivery_id": item.id, "status": status})
                return
            error = f"The receiver answered HTTP {status}."
        except BadCallbackUrl as exc:
            error = str(exc)
        except (OSError, http.client.HTTPException) as exc:
            error = f"The receiver could not be reached ({type(exc).__name__})."
        state = deliveries.failed_attempt(
            self.db,
            item.id,
            status,
            error,
            item.attempts,
            self.settings.webhook_max_attempts,
            self.settings.webhook_retry_seconds,
        )
        log.info(
            "webhook attempt failed",
            extra={"delivery_id": item.id, "status": status, "attempt": item.attempts + 1, "state": state},
        )
