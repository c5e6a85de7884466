"""The scale-out parts one at a time, on the machine's real Redis: the configuration refuses what
cannot work, job messages are sent again only when none is pending (a Redis that lost them), the
shared rate limit counts for everyone and lets requests through when Redis is gone."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from redis import Redis

from glbcompress.service.auth import api_keys
from glbcompress.service.auth.accounts import create_user
from glbcompress.service.auth.api_keys import create_key
from glbcompress.service.auth.key_activity import KeyActivity
from glbcompress.service.auth.key_rate_limit import KeyRateLimit
from glbcompress.service.auth.redis_counters import RedisKeyActivity, RedisKeyRateLimit, make_key_counters
from glbcompress.service.db import Database, migrate
from glbcompress.service.jobs.celery_app import QUEUE_NAME, Dispatcher
from glbcompress.service.jobs.celery_queue import CeleryQueue
from glbcompress.service.redis_client import connect
from glbcompress.service.settings import Settings
from glbcompress.service.storage import make_storage

from .scaleout_support import GLBCOMPRESS, redis_prefix
from .support import PASSWORD

__all__ = ["redis_prefix"]  # the fixture, used by name


def test_celery_needs_a_redis_broker(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="GLBCOMPRESS_BROKER_URL"):
        Settings(data_dir=tmp_path, queue="celery")
    with pytest.raises(ValidationError, match="must be a Redis URL"):
        Settings(data_dir=tmp_path, queue="celery", broker_url="amqp://guest@127.0.0.1//")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set GLBCOMPRESS_QUEUE=celery and GLBCOMPRESS_BROKER_URL"),
        ({"GLBCOMPRESS_QUEUE": "celery"}, "queue 'celery' needs GLBCOMPRESS_BROKER_URL"),
    ],
)
def test_the_worker_command_refuses_a_configuration_without_celery(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GLBCOMPRESS_")}
    clean.update(GLBCOMPRESS_DATA_DIR=str(tmp_path), **env)
    done = subprocess.run([GLBCOMPRESS, "worker"], env=clean, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line, no traceback


def settings_for(tmp_path: Path, redis: tuple[str, str], **values: object) -> Settings:
    url, prefix = redis
    return Settings(
        data_dir=tmp_path,
        queue="celery",
        broker_url=url,
        redis_prefix=prefix,
        **values,  # type: ignore[arg-type]
    )


def test_lost_messages_are_sent_again_once(tmp_path: Path, redis_prefix: tuple[str, str]) -> None:
    dispatcher = Dispatcher(settings_for(tmp_path, redis_prefix))
    raw = Redis.from_url(redis_prefix[0])
    queue = f"{redis_prefix[1]}{QUEUE_NAME}"
    try:
        dispatcher.send("job-a")
        assert raw.llen(queue) == 1
        # a message is pending for job-a: only job-b's is sent, and only by the first of two monitors
        assert dispatcher.send_missing(["job-a", "job-b"]) == ["job-b"]
        assert dispatcher.send_missing(["job-a", "job-b"]) == []
        assert raw.llen(queue) == 2
        raw.delete(queue, *raw.keys(f"{redis_prefix[1]}dispatched:*"))  # a restarted Redis lost it all
        assert dispatcher.send_missing(["job-a", "job-b"]) == ["job-a", "job-b"]
        assert raw.llen(queue) == 2
        assert dispatcher.stats() == {"backend": "celery", "broker": "ok"}
    finally:
        dispatcher.close()
        raw.close()


def test_counters_are_shared_when_redis_is_configured(tmp_path: Path, redis_prefix: tuple[str, str]) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    local = make_key_counters(db, Settings(data_dir=tmp_path))
    assert (type(local[0]), type(local[1])) == (KeyActivity, KeyRateLimit)
    shared = make_key_counters(db, settings_for(tmp_path, redis_prefix, api_rate_limit=3))
    assert isinstance(shared[0], RedisKeyActivity)
    assert isinstance(shared[1], RedisKeyRateLimit)

    url, prefix = redis_prefix
    one, two = (RedisKeyRateLimit(connect(url), prefix, limit=3, window=60) for _ in range(2))
    quotas = [(one, two)[i % 2].take(7) for i in range(5)]
    assert [q.allowed for q in quotas] == [True, True, True, False, False]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0, 0]
    assert all(1 <= q.reset <= 60 for q in quotas)
    assert two.take(8).remaining == 2  # another key has its own count
    db.dispose()


def test_an_unreachable_redis_lets_requests_through(tmp_path: Path) -> None:
    gone = connect("redis://127.0.0.1:1/0")  # nothing listens there
    limiter = RedisKeyRateLimit(gone, "x:", limit=2, window=60)
    quotas = [limiter.take(1) for _ in range(4)]
    assert all(q.allowed for q in quotas)

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    db = Database(url)
    user = create_user(db, "ada@example.com", PASSWORD)
    key = create_key(db, user.id, "script").row
    activity = RedisKeyActivity(db, gone, "x:")
    activity.record(key, "203.0.113.7")  # the first use still reaches the database
    activity.flush(everything=True)
    stored = api_keys.get_key(db, user.id, key.id)
    assert stored is not None and stored.last_used_at is not None
    assert activity.figures(stored) == (0, stored.last_used_at)
    db.dispose()


def test_a_web_process_accepts_jobs_while_the_broker_is_down(tmp_path: Path) -> None:
    """The job stays queued in the database (a worker sends its message once Redis is back);
    the request that queued it neither waits on the broker nor fails."""
    settings = Settings(data_dir=tmp_path, queue="celery", broker_url="redis://127.0.0.1:1/0")
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    queue = CeleryQueue(db, make_storage(settings), settings)
    queue.start()
    try:
        started = time.monotonic()
        queue.notify("job-a")
        assert time.monotonic() - started < 0.5
        assert queue.stats() == {"backend": "celery", "broker": "unavailable"}
    finally:
        queue.stop()
        db.dispose()
