"""Two real web processes (``glbcompress serve``) sharing the machine's PostgreSQL and Redis, as
two machines behind a load balancer would: an API key's rate limit and request count are one for
both, a key revoked through one is refused by the other at once, and failed log-ins on either
count against the same limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from glbcompress.service.auth.accounts import create_user
from glbcompress.service.auth.api_keys import Refusal, create_key
from glbcompress.service.db import Database, migrate

from .scaleout_support import Process, redis_prefix, scaleout_env, start_server
from .support import PASSWORD, errors, log_in, post_form

__all__ = ["redis_prefix"]  # the fixture, used by name

EMAIL = "ada@example.com"
RATE_LIMIT = 6
MAX_FAILURES = 3


@pytest.fixture
def two_servers(
    tmp_path: Path, postgres_url: str, redis_prefix: tuple[str, str]
) -> Iterator[tuple[Database, str, str]]:
    redis_url, prefix = redis_prefix
    migrate.upgrade(postgres_url)
    env = scaleout_env(
        tmp_path / "data",
        postgres_url,
        redis_url,
        prefix,
        api_rate_limit=RATE_LIMIT,
        login_max_failures=MAX_FAILURES,
    )
    servers: list[Process] = []
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda name: start_server(env, tmp_path / f"{name}.log"), ["one", "two"]))
    servers = [process for process, _url in started]
    db = Database(postgres_url)
    try:
        yield db, started[0][1], started[1][1]
    finally:
        db.dispose()
        for server in servers:
            server.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def remaining(response: httpx2.Response) -> int:
    match = re.search(r";r=(\d+);", response.headers["RateLimit"])
    assert match, response.headers["RateLimit"]
    return int(match.group(1))


def test_counters_revocation_and_login_limits_are_shared(two_servers: tuple[Database, str, str]) -> None:
    db, one, two = two_servers
    user = create_user(db, EMAIL, PASSWORD)
    script = create_key(db, user.id, "script").key
    doomed = create_key(db, user.id, "to revoke")

    # One rate limit for both processes: requests alternate between them.
    answers = [httpx2.get(f"{(one, two)[i % 2]}/v1/account", headers=bearer(script)) for i in range(8)]
    assert [a.status_code for a in answers] == [200] * RATE_LIMIT + [429, 429]
    assert [remaining(a) for a in answers] == [5, 4, 3, 2, 1, 0, 0, 0]
    assert int(answers[-1].headers["Retry-After"]) >= 1

    with httpx2.Client(base_url=one) as browser:
        assert log_in(browser, EMAIL).status_code == 303
        # Both processes' requests are counted (the page of either shows all of them).
        with httpx2.Client(base_url=two, cookies=browser.cookies) as other_browser:
            for page in (browser.get("/keys"), other_browser.get("/keys")):
                counts = sorted(int(n) for n in re.findall(r'class="num key-requests">(\d+)<', page.text))
                assert counts == [0, 8]

        # Revoked through process one: refused by process two at once.
        assert httpx2.get(f"{two}/v1/account", headers=bearer(doomed.key)).status_code == 200
        revoked = post_form(browser, f"/keys/{doomed.row.id}/revoke", "/keys")
        assert revoked.status_code == 303, errors(revoked)
    refused = httpx2.get(f"{two}/v1/account", headers=bearer(doomed.key))
    assert refused.status_code == 401
    assert refused.json()["type"].endswith(Refusal.REVOKED)

    # Failed log-ins on either process count against one limit.
    for i in range(MAX_FAILURES):
        with httpx2.Client(base_url=(one, two)[i % 2]) as browser:
            assert log_in(browser, EMAIL, "wrong password").status_code == 401
    with httpx2.Client(base_url=two) as browser:
        locked = log_in(browser, EMAIL)  # the right password, too late
    assert locked.status_code == 429
    assert any("Too many failed log-in attempts" in e for e in errors(locked)), errors(locked)
