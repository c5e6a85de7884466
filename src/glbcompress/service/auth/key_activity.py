"""Counting API key requests and recording "last used" without a database write per request.

Each web process adds up, per key, the requests it served and when it last saw the key, and
writes both at most once a minute per key (``EVERY``): on a request when a minute has passed,
from a background thread for keys that went quiet, and when the process stops. A key's very first
use is written at once, with an audit entry (time and address).

>>> activity = KeyActivity(db)
>>> activity.record(caller.key, "203.0.113.7")      # on every authenticated request
>>> requests, last_used = activity.figures(key)      # what the dashboard shows

The dashboard adds this process's unwritten figures to the stored ones, so on one machine it is
exact; with several web processes another process's figures arrive within a minute — unless Redis
is configured, where ``redis_counters.RedisKeyActivity`` keeps the pending figures for all of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, literal, update

from ..db import ApiKey, ApiKeyEvent, Database, utcnow
from ..db.models import UTCDateTime
from .api_keys import Event

log = logging.getLogger("glbcompress.auth")

EVERY = timedelta(minutes=1)


@dataclass
class _Pending:
    count: int = 0
    last_seen: datetime | None = None
    written_at: datetime | None = None


class KeyActivity:
    def __init__(self, db: Database, every: timedelta = EVERY, clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.every = every
        self.clock = clock
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, key: ApiKey, address: str) -> None:
        """One request with key (its row as read for this request) from address."""
        now = self.clock()
        first = key.last_used_at is None
        with self._lock:
            p = self._pending.setdefault(key.id, _Pending())
            p.count += 1
            p.last_seen = now
            due = first or p.written_at is None or now - p.written_at >= self.every
        if due:
            self._write(key.id, user_id=key.user_id if first else None, address=address)

    def figures(self, key: ApiKey) -> tuple[int, datetime | None]:
        """The key's request count and last use, including what this process has not written."""
        with self._lock:
            p = self._pending.get(key.id)
            count, seen = (p.count, p.last_seen) if p else (0, None)
        last = key.last_used_at
        if seen is not None and (last is None or seen > last):
            last = seen
        return key.requests + count, last

    def flush(self, everything: bool = False) -> None:
        """Write the keys whose figures waited a minute (or all of them)."""
        now = self.clock()
        with self._lock:
            due = [
                key_id
                for key_id, p in self._pending.items()
                if p.count and (everything or p.written_at is None or now - p.written_at >= self.every)
            ]
            # Forget keys that have been quiet for a while.
            for key_id in [
                k
                for k, p in self._pending.items()
                if not p.count and p.last_seen and now - p.last_seen > 10 * self.every
            ]:
                del self._pending[key_id]
        for key_id in due:
            self._write(key_id)

    def _write(self, key_id: int, user_id: int | None = None, address: str = "") -> None:
        """Add the pending count and last use to the key's row; with user_id, this is the key's
        first use: set last_used_at if nobody did yet, and if so, note it in the audit trail."""
        now = self.clock()
        with self._lock:
            p = self._pending.get(key_id)
            if p is None:
                return
            count, seen = p.count, p.last_seen
            p.count = 0
            p.written_at = now
        if seen is None:
            return
        try:
            store_use(self.db, key_id, count, seen, user_id, address)
        except Exception:
            log.warning("could not record API key use; will retry", extra={"key_id": key_id}, exc_info=True)
            with self._lock:
                back = self._pending.setdefault(key_id, _Pending())
                back.count += count
                back.written_at = None
                if back.last_seen is None or back.last_seen < seen:
                    back.last_seen = seen

    # --- the background writer -----------------------------------------------------------------
    # (also the interface of the Redis-backed variant, ``redis_counters.RedisKeyActivity``)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="key-activity", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background writer and write everything still pending."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10)
            self._thread = None
        self.flush(everything=True)

    def _run(self) -> None:
        interval = max(0.05, self.every.total_seconds() / 4)
        while not self._stop.wait(interval):
            try:
                self.flush()
            except Exception:  # never let the writer thread die
                log.warning("key activity flush failed", exc_info=True)


def store_use(
    db: Database, key_id: int, count: int, seen: datetime, user_id: int | None = None, address: str = ""
) -> None:
    """Add count requests and a use at seen to the key's row; with user_id, this is the key's first
    use: set last_used_at if nobody did yet, and if so, note it in the audit trail (once, however
    many processes try at the same time)."""
    with db.session() as session, session.begin():
        if user_id is not None:
            first = session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.last_used_at.is_(None))
                .values(last_used_at=seen)
            )
            if first.rowcount:
                session.add(
                    ApiKeyEvent(
                        key_id=key_id, user_id=user_id, kind=Event.FIRST_USE, at=seen, address=address
                    )
                )
        later = (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < seen)
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(
                requests=ApiKey.requests + count,
                last_used_at=case((later, literal(seen, UTCDateTime())), else_=ApiKey.last_used_at),
            )
        )
