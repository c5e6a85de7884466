"""API keys without HTTP: the format and its checksum, hashing, verification, revocation, names,
the throttled "last used" and request counts, and the per-key rate limit — on real SQLite and
PostgreSQL databases."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from glbcompress.service.auth import api_keys
from glbcompress.service.auth.api_keys import Event, KeyNameError, KeyRefused, Refusal
from glbcompress.service.auth.key_activity import KeyActivity
from glbcompress.service.auth.key_rate_limit import KeyRateLimit
from glbcompress.service.db import ApiKey, ApiKeyEvent, Database, User, utcnow
from glbcompress.service.settings import Settings

SCANNER_PATTERN = re.compile(r"\bglbc_[0-9A-Za-z]{46}\b")
"""What a secret scanner would look for."""


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


def add_user(db: Database, email: str = "ada@example.com") -> int:
    with db.session() as session, session.begin():
        user = User(email=email, password_hash="not-a-real-hash")
        session.add(user)
    return user.id


def row(db: Database, key_id: int) -> ApiKey:
    with db.session() as session:
        return session.get_one(ApiKey, key_id)


def trail(db: Database, key_id: int) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ApiKeyEvent.kind).where(ApiKeyEvent.key_id == key_id).order_by(ApiKeyEvent.id)
            )
        )


# --- format, checksum, hashing -------------------------------------------------------------------


def test_generated_keys_have_the_format() -> None:
    keys = {api_keys.generate() for _ in range(2000)}
    assert len(keys) == 2000
    for key in keys:
        assert len(key) == api_keys.KEY_LENGTH == 51
        assert key.startswith("glbc_")
        assert SCANNER_PATTERN.fullmatch(key)
        assert api_keys.well_formed(key)
    # At least 190 bits of randomness stay secret even after the display prefix was shown.
    hidden = api_keys.RANDOM_CHARS - api_keys.SHOWN_CHARS
    assert hidden * math.log2(62) >= 190
    # The secret part uses the whole base62 alphabet.
    used = set("".join(k[5 + 8 : 5 + 40] for k in keys))
    assert used == set(api_keys.ALPHABET)


def test_checksum_rejects_typos_without_a_lookup() -> None:
    key = api_keys.generate()
    assert api_keys.checksum(key[:-6]) == key[-6:]
    for i in range(len("glbc_"), len(key)):  # every single-character substitution
        for ch in api_keys.ALPHABET:
            if ch != key[i]:
                assert not api_keys.well_formed(key[:i] + ch + key[i + 1 :]), (i, ch)
    for i in range(len("glbc_"), len(key) - 1):  # every swap of neighbours
        if key[i] != key[i + 1]:
            assert not api_keys.well_formed(key[:i] + key[i + 1] + key[i] + key[i + 2 :])
    for bad in (
        key[:-1],
        key + "0",
        "GLBC_" + key[5:],
        "glbd_" + key[5:],
        key.replace("glbc_", ""),
        "",
        " " + key,
    ):
        assert not api_keys.well_formed(bad)
    assert not api_keys.well_formed(key[:20] + "-" + key[21:])
    assert not api_keys.well_formed(key[:20] + "é" + key[21:])


def test_only_a_hash_and_a_display_prefix_are_stored(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "build script")
    assert api_keys.hash_key(new.key) == hashlib.sha256(new.key.encode()).hexdigest()
    stored = row(db, new.row.id)
    assert stored.key_hash == hashlib.sha256(new.key.encode()).hexdigest()
    assert stored.prefix == new.key[:13] == api_keys.display_prefix(new.key)
    with db.engine.connect() as connection:
        dump = repr(connection.exec_driver_sql("SELECT * FROM api_keys").all())
        dump += repr(connection.exec_driver_sql("SELECT * FROM api_key_events").all())
    assert new.key not in dump
    assert new.key[13:30] not in dump  # no secret part of it either


def test_key_hashes_are_unique(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "one")
    with pytest.raises(IntegrityError), db.session() as session, session.begin():
        session.add(
            ApiKey(user_id=user_id, name="copy", prefix="glbc_x", key_hash=new.row.key_hash, requests=0)
        )


# --- verification and revocation -----------------------------------------------------------------


def test_verification(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "ci", expires="7")
    caller = api_keys.authenticate(db, new.key)
    assert caller.user.id == user_id and caller.key.id == new.row.id

    def refusal(key: str | None, now: datetime | None = None) -> str:
        with pytest.raises(KeyRefused) as caught:
            api_keys.authenticate(db, key, now)
        assert new.key not in str(caught.value.detail)
        return caught.value.reason

    assert refusal(None) == refusal("") == Refusal.MISSING
    assert refusal(new.key[:-1]) == Refusal.MALFORMED
    assert refusal(new.key.lower()) == Refusal.MALFORMED
    assert refusal(api_keys.generate()) == Refusal.UNKNOWN  # well formed, but never issued
    assert refusal(new.key, now=utcnow() + timedelta(days=8)) == Refusal.EXPIRED
    assert api_keys.authenticate(db, new.key, now=utcnow() + timedelta(days=6)).key.id == new.row.id


def test_revocation_is_immediate_and_irreversible(db: Database) -> None:
    ada, bob = add_user(db), add_user(db, "bob@example.com")
    new = api_keys.create_key(db, ada, "laptop", address="203.0.113.7")
    other = api_keys.create_key(db, bob, "laptop")
    assert api_keys.revoke_key(db, bob, new.row.id) is None  # not Bob's key
    assert api_keys.authenticate(db, new.key).user.id == ada
    revoked = api_keys.revoke_key(db, ada, new.row.id, address="203.0.113.8")
    assert revoked is not None and revoked.revoked_at is not None
    with pytest.raises(KeyRefused) as caught:
        api_keys.authenticate(db, new.key)
    assert caught.value.reason == Refusal.REVOKED
    again = api_keys.revoke_key(db, ada, new.row.id)
    assert again is not None and again.revoked_at == revoked.revoked_at  # nothing changes
    assert trail(db, new.row.id) == [Event.CREATED, Event.REVOKED]
    with db.session() as session:
        addresses = session.scalars(select(ApiKeyEvent.address).where(ApiKeyEvent.key_id == new.row.id)).all()
    assert addresses == ["203.0.113.7", "203.0.113.8"]
    assert api_keys.authenticate(db, other.key).user.id == bob  # the other account's key is untouched
    # Nothing in the code base can make a revoked key active again.
    assert not [name for name in dir(api_keys) if re.search(r"restore|reactivat|unrevoke", name)]


def test_names(db: Database) -> None:
    user_id = add_user(db)

    def refused(name: str, expires: str = "") -> KeyNameError:
        with pytest.raises(KeyNameError) as caught:
            api_keys.create_key(db, user_id, name, expires)
        return caught.value

    assert "Give the key a name" in refused("   ").message
    assert "at most 100 characters" in refused("x" * 101).message
    assert "control characters" in refused("bad\x00name").message
    assert refused("ok", expires="12").field == "expires"
    first = api_keys.create_key(db, user_id, "  my   script key ")
    assert first.row.name == "my script key"
    assert api_keys.create_key(db, user_id, "x" * 100).row.name == "x" * 100
    assert "already have an active key" in refused("My Script Key").message
    api_keys.revoke_key(db, user_id, first.row.id)
    assert api_keys.create_key(db, user_id, "my script key").row.name == "my script key"  # name free again
    with db.session() as session, session.begin():
        session.execute(update(ApiKey).values(revoked_at=None))  # both active: listing still works
    assert [k.name for k in api_keys.list_keys(db, user_id)].count("my script key") == 2


def test_keys_of_a_deleted_account_say_so(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "Ada's laptop")
    with db.session() as session, session.begin():
        api_keys.forget_account_keys(session, user_id)
        session.delete(session.get_one(User, user_id))
    with pytest.raises(KeyRefused) as caught:
        api_keys.authenticate(db, new.key)
    assert caught.value.reason == Refusal.ACCOUNT_DELETED
    kept = row(db, new.row.id)
    assert kept.user_id is None and kept.name == ""  # nothing personal stays
    assert trail(db, new.row.id) == []


# --- last used and request counts ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def count_writes(db: Database) -> list[str]:
    """Every statement that changes api_keys, as the database receives it."""
    writes: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement: str, *_args: object) -> None:
        if re.match(r"\s*UPDATE api_keys\b", statement, re.I):
            writes.append(statement)

    return writes


def test_last_used_is_written_at_most_once_a_minute(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "poller")
    clock = Clock()
    activity = KeyActivity(db, clock=clock)
    writes = count_writes(db)

    def request() -> None:
        activity.record(api_keys.authenticate(db, new.key).key, "198.51.100.4")

    request()  # the first use is written at once, with its audit entry
    first_use = clock.now
    assert row(db, new.row.id).last_used_at == first_use
    assert trail(db, new.row.id) == [Event.CREATED, Event.FIRST_USE]
    writes_after_first = len(writes)
    assert writes_after_first >= 1  # the listener sees the writes it counts
    for _ in range(30):  # a request every second for half a minute: no database writes
        clock.advance(1)
        request()
    assert len(writes) == writes_after_first
    stored = row(db, new.row.id)
    assert stored.last_used_at == first_use and stored.requests == 1
    assert activity.figures(stored) == (31, clock.now)  # the page still sees every request
    clock.advance(31)
    request()  # a minute after the last write: one write with everything since
    stored = row(db, new.row.id)
    assert stored.requests == 32 and stored.last_used_at == clock.now
    assert len(writes) == writes_after_first + 1
    clock.advance(5)
    request()
    activity.flush()  # nothing is due yet
    assert row(db, new.row.id).requests == 32
    clock.advance(60)
    activity.flush()  # the background writer's turn: the key went quiet
    assert row(db, new.row.id).requests == 33
    clock.advance(1)
    request()
    activity.stop()  # stopping writes what is left
    assert row(db, new.row.id).requests == 34
    assert trail(db, new.row.id) == [Event.CREATED, Event.FIRST_USE]  # first use recorded once


def test_first_use_is_recorded_once_across_processes(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "two servers")
    stale = api_keys.authenticate(db, new.key).key  # both processes read the row before either wrote
    one, two = KeyActivity(db), KeyActivity(db)
    one.record(stale, "192.0.2.1")
    two.record(stale, "192.0.2.2")
    assert trail(db, new.row.id) == [Event.CREATED, Event.FIRST_USE]
    assert row(db, new.row.id).requests == 2


# --- the per-key rate limit ----------------------------------------------------------------------


def test_rate_limit_windows() -> None:
    now = [1000.0]
    limiter = KeyRateLimit(limit=3, window=60, clock=lambda: now[0])
    quotas = [limiter.take(1) for _ in range(3)]
    assert [q.allowed for q in quotas] == [True, True, True]
    assert [q.remaining for q in quotas] == [2, 1, 0]
    now[0] += 20
    refused = limiter.take(1)
    assert not refused.allowed and refused.remaining == 0 and refused.reset == 40
    assert limiter.take(2).allowed  # another key has its own quota
    now[0] += 40
    fresh = limiter.take(1)
    assert fresh.allowed and fresh.remaining == 2 and fresh.reset == 60
    assert not KeyRateLimit(limit=0).enabled


def test_rate_limit_reset_never_exceeds_the_window() -> None:
    """A window that starts now ends in exactly the window's seconds, although start + 60 - now
    can come out a hair above 60 in floating point (it did on a CI run: t=61)."""
    moment = 8161.962517661547  # (moment + 60) - moment == 60.00000000000091
    assert (moment + 60) - moment > 60
    limiter = KeyRateLimit(limit=3, window=60, clock=lambda: moment)
    assert limiter.take(1).reset == 60


def test_the_background_writer_catches_keys_that_went_quiet(db: Database) -> None:
    user_id = add_user(db)
    new = api_keys.create_key(db, user_id, "burst")
    # The interval leaves room for three authentications on a loaded machine before the first flush.
    activity = KeyActivity(db, every=timedelta(seconds=3))
    activity.start()
    try:
        for _ in range(3):
            activity.record(api_keys.authenticate(db, new.key).key, "192.0.2.9")
        assert row(db, new.row.id).requests == 1  # only the first use was written at once
        deadline = time.monotonic() + 30
        while row(db, new.row.id).requests < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert row(db, new.row.id).requests == 3
    finally:
        activity.stop()
