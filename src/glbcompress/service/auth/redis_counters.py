"""API key counters in Redis, for several web processes (and machines) that must agree: the per-key
rate limit, and the requests and last use that are written to the database at most once a minute.
Same interfaces as the in-memory ``KeyRateLimit`` and ``KeyActivity`` (the one-machine default);
``make_key_counters`` picks by the settings.

If Redis stops answering, requests are still served: the rate limit lets them through and their
use goes uncounted, with a warning in the log (at most one a minute), rather than every API call
failing because a counter could not be reached.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..db import ApiKey, Database, utcnow
from .key_activity import EVERY, KeyActivity, store_use
from .key_rate_limit import KeyRateLimit, Quota

if TYPE_CHECKING:
    from redis import Redis

    from ..settings import Settings

log = logging.getLogger("glbcompress.auth")

# Count one request in the key's window; the window starts with its first request (Redis's clock).
_TAKE = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""

# Add a request to a key's pending figures; 1 when the figures are due to be written (none were
# written, by any process, within the interval).
_RECORD = """
redis.call('HINCRBY', KEYS[1], 'count', 1)
local seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if tonumber(ARGV[1]) > seen then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# Take (and clear) a key's pending figures, to write them to the database.
_TAKE_PENDING = """
local v = redis.call('HMGET', KEYS[1], 'count', 'seen')
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return v
"""

# Put figures back when writing them failed.
_GIVE_BACK = """
redis.call('HINCRBY', KEYS[1], 'count', ARGV[1])
local seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if tonumber(ARGV[2]) > seen then redis.call('HSET', KEYS[1], 'seen', ARGV[2]) end
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""


class _Warn:
    """Log a Redis failure at most once a minute."""

    def __init__(self) -> None:
        self.last = -math.inf

    def __call__(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.last >= 60:
            self.last = now
            log.warning("Redis unavailable: %s", what, extra={"error": type(exc).__name__})


class RedisKeyRateLimit(KeyRateLimit):
    """At most ``limit`` requests per key in each window, counted once for all web processes."""

    def __init__(self, client: Redis, prefix: str, limit: int, window: int = 60):
        super().__init__(limit, window)
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._warn = _Warn()

    def take(self, key_id: int) -> Quota:
        try:
            used, ttl_ms = self._take(keys=[f"{self.prefix}ratelimit:{key_id}"], args=[self.window * 1000])
        except Exception as exc:
            self._warn("API key rate limits are not enforced", exc)
            return Quota(self.limit, self.window, self.limit, self.window, True)
        used = int(used)
        reset = max(1, math.ceil(int(ttl_ms) / 1000))
        return Quota(self.limit, self.window, max(0, self.limit - used), reset, used <= self.limit)


def _epoch(moment: datetime) -> str:
    return repr(moment.timestamp())


def _moment(value: Any) -> datetime | None:
    return None if value in (None, "", "0") else datetime.fromtimestamp(float(value), UTC)


class RedisKeyActivity(KeyActivity):
    """Requests and last use of each key, pending in Redis until one process writes them (at most
    once a minute per key, whichever process finds them due). The first use of a key is written at
    once, with its audit entry."""

    def __init__(
        self,
        db: Database,
        client: Redis,
        prefix: str,
        every: timedelta = EVERY,
        clock: Callable[[], datetime] = utcnow,
    ):
        super().__init__(db, every, clock)
        self.client = client
        self.prefix = prefix
        self._record = client.register_script(_RECORD)
        self._take_pending = client.register_script(_TAKE_PENDING)
        self._give_back = client.register_script(_GIVE_BACK)
        self._warn = _Warn()

    @property
    def _dirty(self) -> str:
        return f"{self.prefix}keyuse:dirty"

    def _pending_key(self, key_id: int) -> str:
        return f"{self.prefix}keyuse:{key_id}"

    def _written_key(self, key_id: int) -> str:
        return f"{self.prefix}keyuse:written:{key_id}"

    def record(self, key: ApiKey, address: str) -> None:
        now = self.clock()
        if key.last_used_at is None:
            try:
                store_use(self.db, key.id, 0, now, key.user_id, address)
            except Exception:
                log.warning(
                    "could not record an API key's first use", extra={"key_id": key.id}, exc_info=True
                )
        every_ms = max(1, int(self.every.total_seconds() * 1000))
        try:
            due = self._record(
                keys=[self._pending_key(key.id), self._dirty, self._written_key(key.id)],
                args=[_epoch(now), every_ms, key.id],
            )
        except Exception as exc:
            self._warn("API key requests are not counted", exc)
            return
        if int(due):
            self._write(key.id)

    def figures(self, key: ApiKey) -> tuple[int, datetime | None]:
        try:
            count, seen = self.client.hmget(self._pending_key(key.id), ["count", "seen"])
        except Exception as exc:
            self._warn("API key figures leave out the last minute", exc)
            count, seen = None, None
        last, pending_seen = key.last_used_at, _moment(seen)
        if pending_seen is not None and (last is None or pending_seen > last):
            last = pending_seen
        return key.requests + int(count or 0), last

    def flush(self, everything: bool = False) -> None:
        try:
            dirty = sorted(int(k) for k in self.client.smembers(self._dirty))
            every_ms = max(1, int(self.every.total_seconds() * 1000))
            for key_id in dirty:
                if everything or self.client.set(self._written_key(key_id), "1", nx=True, px=every_ms):
                    self._write(key_id)
        except Exception as exc:
            self._warn("API key figures are not written", exc)

    def _write(self, key_id: int, user_id: int | None = None, address: str = "") -> None:
        try:
            count, seen = self._take_pending(keys=[self._pending_key(key_id), self._dirty], args=[key_id])
        except Exception as exc:
            self._warn("API key figures are not written", exc)
            return
        moment = _moment(seen)
        if moment is None:
            return
        try:
            store_use(self.db, key_id, int(count or 0), moment)
        except Exception:
            log.warning("could not record API key use; will retry", extra={"key_id": key_id}, exc_info=True)
            self._give_back(
                keys=[self._pending_key(key_id), self._dirty], args=[int(count or 0), seen, key_id]
            )


def make_key_counters(db: Database, settings: Settings) -> tuple[KeyActivity, KeyRateLimit]:
    """Redis-backed counters when the settings name a Redis (``redis_url``, or the broker's), else
    in this process's memory."""
    url = settings.counters_url
    if not url:
        return KeyActivity(db), KeyRateLimit(settings.api_rate_limit)
    from ..redis_client import connect

    client = connect(url)
    prefix = settings.redis_prefix
    return RedisKeyActivity(db, client, prefix), RedisKeyRateLimit(client, prefix, settings.api_rate_limit)
