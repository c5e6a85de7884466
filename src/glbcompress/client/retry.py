"""When to try a request again, and how long to wait first.

Retried: 429 (rate limited) and 503 (unavailable), and failures to connect; for GET and DELETE
also a connection that broke while the answer was on its way (a POST then may have created a job,
so it is not sent twice). The wait is the server's ``Retry-After`` when it gives one (seconds or an
HTTP date), else exponential backoff with full jitter (a random wait between 0 and
``backoff * 2**attempt``, at most ``max_backoff``), so many clients that failed together do not
come back together. Bounded twice: at most ``max_retries`` retries, and a ``Retry-After`` longer
than ``max_retry_after`` is not waited for (the error is raised, with its ``retry_after``).

>>> policy = RetryPolicy(max_retries=3)
>>> policy.delay(attempt=0, retry_after=None)    # 0 .. 0.5 s
>>> policy.delay(attempt=2, retry_after=7.0)     # 7.0 s: the server knows best
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    """Retries after the first attempt (0: never retry)."""
    backoff: float = 0.5
    """Seconds: the first retry waits up to this long, each next one up to twice as long."""
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    """A server asking to wait longer than this (seconds) gets an error raised instead."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        return self.rng.uniform(0.0, ceiling)

    def should_retry_status(self, status: int, attempt: int, retry_after: float | None) -> bool:
        if attempt >= self.max_retries or status not in RETRY_STATUSES:
            return False
        return retry_after is None or retry_after <= self.max_retry_after

    def should_retry_error(self, method: str, attempt: int, connected: bool) -> bool:
        """A transport failure: always retryable before the connection was made; after, only for
        requests that are safe to repeat."""
        if attempt >= self.max_retries:
            return False
        return not connected or method.upper() in IDEMPOTENT_METHODS


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date (RFC 9110);
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
