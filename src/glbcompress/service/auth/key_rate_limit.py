"""The per-key rate limit: at most ``limit`` requests per key in each window (fixed windows, 60 s
by default), counted in this process's memory so that checking costs no database work.

>>> limiter = KeyRateLimit(limit=120)
>>> quota = limiter.take(key_id)
>>> quota.allowed, quota.remaining, quota.reset         # reset: seconds until the window ends
(True, 119, 60)

This counts in one process's memory: the single-machine default. With Redis configured, every web
process shares one count per key (``redis_counters.RedisKeyRateLimit``, the same interface).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 10_000
"""Above this many keys in memory, windows that have ended are dropped."""


@dataclass(frozen=True)
class Quota:
    limit: int
    window: int
    """Seconds."""
    remaining: int
    reset: int
    """Seconds until the current window ends (and the full limit is available again)."""
    allowed: bool


class KeyRateLimit:
    def __init__(self, limit: int, window: int = 60, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def take(self, key_id: int) -> Quota:
        """Count one request for the key; allowed is False when it is over the limit (a refused
        request does not use up more of the quota)."""
        with self._lock:  # the clock read inside: a window started by a later reading is never ahead of now
            now = self.clock()
            start, used = self._windows.get(key_id, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[key_id] = (start, used)
            if len(self._windows) > MAX_TRACKED:
                self._forget_ended(now)
        reset = min(self.window, max(1, math.ceil(start + self.window - now)))
        return Quota(self.limit, self.window, max(0, self.limit - used), reset, allowed)

    def _forget_ended(self, now: float) -> None:
        for key_id in [k for k, (start, _) in self._windows.items() if now - start >= self.window]:
            del self._windows[key_id]
