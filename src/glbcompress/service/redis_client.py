"""One place that opens Redis connections, with timeouts: a Redis that stops answering must slow a
request down by seconds at most, never hang it.

>>> client = connect("redis://127.0.0.1:6379/0")
>>> client.incr(settings.redis_prefix + "example")

redis-py clients are thread-safe (a connection pool each), so one client serves a whole process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

TIMEOUT_SECONDS = 5.0


def connect(url: str) -> Redis:
    from redis import Redis

    return Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        health_check_interval=30,
        decode_responses=True,
    )


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
