"""Rate limits counted in the database, so every web process (and a restart) sees the same count.

>>> throttle = Throttle(db, secret)
>>> throttle.retry_after("login:email:a@example.com", limit=5, window=timedelta(minutes=15))
None        # or the seconds to wait
>>> throttle.hit("login:email:a@example.com")

Keys are stored as a keyed hash (HMAC with the session secret): the table holds no emails or
addresses in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import timedelta

from sqlalchemy import delete, func, select

from ..db import Database, ThrottleEvent, utcnow


class Throttle:
    def __init__(self, db: Database, secret: bytes):
        self.db = db
        self.secret = secret

    def _key(self, key: str) -> str:
        return hmac.new(self.secret, b"throttle:" + key.encode(), hashlib.sha256).hexdigest()

    def retry_after(self, key: str, limit: int, window: timedelta) -> int | None:
        """Seconds until key may act again, or None when it is under its limit."""
        since = utcnow() - window
        with self.db.session() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(ThrottleEvent.created_at)).where(
                    ThrottleEvent.key_hash == self._key(key), ThrottleEvent.created_at > since
                )
            ).one()
        if count < limit or oldest is None:
            return None
        return max(1, math.ceil((oldest - since).total_seconds()))

    def hit(self, key: str) -> None:
        with self.db.session() as session, session.begin():
            session.add(ThrottleEvent(key_hash=self._key(key)))

    def clear(self, key: str) -> None:
        with self.db.session() as session, session.begin():
            session.execute(delete(ThrottleEvent).where(ThrottleEvent.key_hash == self._key(key)))
