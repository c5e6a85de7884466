"""API keys: making, checking, revoking and listing them.

A key looks like ``glbc_`` + 40 random base62 characters + a 6-character checksum (51 in all):

>>> key = generate()
>>> key
'glbc_3kTq9ZfW...Xr81Lm'            # glbc_[0-9A-Za-z]{46}, easy for secret scanners to spot
>>> well_formed(key), well_formed(key[:-1] + "x")
(True, False)

- The random part comes from ``secrets``: 40 characters of 62 are 238 bits. The first 8 are
  shown on the dashboard to tell keys apart (the display prefix, ``glbc_3kTq9ZfW``); the 32 never
  shown after creation still hold 190 bits.
- The checksum is CRC32 of everything before it, in base62: a mistyped or truncated key is
  refused without a database lookup, and scanners can check a match is really one of ours.
- The database keeps the key's SHA-256 (a unique index) and the display prefix, never the key.
  A fast hash is right here: the key is random and long, so there is nothing to guess offline.

``authenticate(db, key)`` answers the key's row and account, or raises `KeyRefused` saying why.
How requests are counted and "last used" is written (not on every request) is ``key_activity.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import ApiKey, ApiKeyEvent, Database, User, utcnow

log = logging.getLogger("glbcompress.auth")

PREFIX = "glbc_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_CHARS = 40
SHOWN_CHARS = 8
"""Random characters shown in the display prefix (48 bits: enough to tell keys apart)."""
CHECKSUM_CHARS = 6
"""62**6 > 2**32: a CRC32 always fits."""
KEY_LENGTH = len(PREFIX) + RANDOM_CHARS + CHECKSUM_CHARS
KEY_PATTERN = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}$")

MAX_NAME = 100
MAX_ACTIVE_KEYS = 50
EXPIRY_CHOICES = {"": None, "7": 7, "30": 30, "90": 90, "365": 365}
"""Expiry offered at creation: never, or after this many days."""


class Event:
    """Kinds of entries in a key's audit trail."""

    CREATED = "created"
    REVOKED = "revoked"
    FIRST_USE = "first_use"


# --- the key itself ------------------------------------------------------------------------------


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    """The checksum that ends a key whose other characters are body."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_CHARS)


def generate() -> str:
    """A new random key."""
    body = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return body + checksum(body)


def well_formed(key: str) -> bool:
    """Whether key has our shape and a correct checksum (no database needed)."""
    if len(key) != KEY_LENGTH or not KEY_PATTERN.match(key):
        return False
    body, check = key[:-CHECKSUM_CHARS], key[-CHECKSUM_CHARS:]
    return hmac.compare_digest(checksum(body), check)


def hash_key(key: str) -> str:
    """What the database stores and looks keys up by."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key the dashboard shows: ``glbc_`` and its first 8 random characters."""
    return key[: len(PREFIX) + SHOWN_CHARS]


# --- making and revoking -------------------------------------------------------------------------


class KeyNameError(ValueError):
    """A refused name or expiry: the message for the user and the form field it is about."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.message = message
        self.field = field


def clean_name(name: str) -> str:
    return " ".join(name.split())


def name_problem(name: str, taken: Sequence[str]) -> str | None:
    """What is wrong with a (cleaned) name for a new key, given the account's active keys' names."""
    if not name:
        return "Give the key a name, like “my script key”, so you can tell it apart later."
    if len(name) > MAX_NAME:
        return f"Use at most {MAX_NAME} characters for the name (this one has {len(name)})."
    if not name.isprintable():
        return "The name cannot contain control characters."
    if name.casefold() in {t.casefold() for t in taken}:
        return f"You already have an active key named “{name}”. Choose another name."
    return None


def active(key: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    key: str
    """The full key: show it once, never store or log it."""


def create_key(db: Database, user_id: int, name: str, expires: str = "", address: str = "") -> NewKey:
    """A new key for the account (raises KeyNameError). expires is a key of EXPIRY_CHOICES."""
    name = clean_name(name)
    if expires not in EXPIRY_CHOICES:
        raise KeyNameError("Choose one of the offered expiry periods.", "expires")
    days = EXPIRY_CHOICES[expires]
    now = utcnow()
    with db.session() as session, session.begin():
        # Lock the account's row (PostgreSQL): two creations at once cannot both take a name.
        session.execute(select(User.id).where(User.id == user_id).with_for_update())
        keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user_id)).all()
        current = [k for k in keys if active(k, now)]
        problem = name_problem(name, [k.name for k in current])
        if problem:
            raise KeyNameError(problem)
        if len(current) >= MAX_ACTIVE_KEYS:
            raise KeyNameError(
                f"You have {len(current)} active keys, the most an account may have. "
                "Revoke the ones you no longer use first."
            )
        key = generate()
        row = ApiKey(
            user_id=user_id,
            name=name,
            prefix=display_prefix(key),
            key_hash=hash_key(key),
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
            requests=0,
        )
        session.add(row)
        session.flush()
        session.add(ApiKeyEvent(key_id=row.id, user_id=user_id, kind=Event.CREATED, at=now, address=address))
    log.info("api key created", extra={"user_id": user_id, "key_id": row.id})
    return NewKey(row, key)


def get_key(db: Database, user_id: int, key_id: int) -> ApiKey | None:
    """The account's key with this id (None for another account's key)."""
    with db.session() as session:
        return session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))


def revoke_key(db: Database, user_id: int, key_id: int, address: str = "") -> ApiKey | None:
    """Revoke the account's key at once and for good; None if the account has no such key.
    Revoking a revoked key changes nothing (there is no way back)."""
    now = utcnow()
    with db.session() as session, session.begin():
        done = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if done.rowcount:
            session.add(
                ApiKeyEvent(key_id=key_id, user_id=user_id, kind=Event.REVOKED, at=now, address=address)
            )
    if done.rowcount:
        log.info("api key revoked", extra={"user_id": user_id, "key_id": key_id})
    return get_key(db, user_id, key_id)


def forget_account_keys(session: Session, user_id: int) -> None:
    """Before an account is deleted: its keys lose owner and name but stay, so requests with
    them are told the account is gone (their audit trail goes with the account)."""
    session.execute(update(ApiKey).where(ApiKey.user_id == user_id).values(user_id=None, name=""))


# --- reading -------------------------------------------------------------------------------------


def list_keys(db: Database, user_id: int) -> Sequence[ApiKey]:
    """The account's keys: active ones first, then newest first."""
    with db.session() as session:
        keys = session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).all()
    now = utcnow()
    return sorted(keys, key=lambda k: not active(k, now))


def names(db: Database, user_id: int) -> dict[int, str]:
    """The account's key names by id (to say which key a job came through)."""
    with db.session() as session:
        rows = session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.user_id == user_id)).all()
    return {key_id: name for key_id, name in rows}


@dataclass(frozen=True)
class EventRow:
    at: datetime
    kind: str
    key_id: int
    key_name: str
    key_prefix: str
    address: str


def events(db: Database, user_id: int, limit: int = 100) -> list[EventRow]:
    """The account's key audit trail, newest first."""
    with db.session() as session:
        rows = session.execute(
            select(ApiKeyEvent, ApiKey.name, ApiKey.prefix)
            .join(ApiKey, ApiKey.id == ApiKeyEvent.key_id)
            .where(ApiKeyEvent.user_id == user_id)
            .order_by(ApiKeyEvent.at.desc(), ApiKeyEvent.id.desc())
            .limit(limit)
        ).all()
    return [EventRow(e.at, e.kind, e.key_id, name, prefix, e.address) for e, name, prefix in rows]


# --- checking a request's key --------------------------------------------------------------------


class Refusal:
    """Why a key was refused (the problem type's last part)."""

    MISSING = "missing-api-key"
    MALFORMED = "malformed-api-key"
    UNKNOWN = "unknown-api-key"
    REVOKED = "revoked-api-key"
    EXPIRED = "expired-api-key"
    ACCOUNT_DELETED = "account-deleted"


REFUSALS = {
    Refusal.MISSING: (
        "API key required",
        "Send your API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. "
        "Create one on the dashboard's API Keys page.",
    ),
    Refusal.MALFORMED: (
        "Malformed API key",
        "This is not a well-formed API key: keys start with 'glbc_' and are 51 characters long, and "
        "this one's characters or checksum do not match. Check that it was copied whole.",
    ),
    Refusal.UNKNOWN: (
        "Unknown API key",
        "This API key is not valid for this service. Check which key you are using, or create a "
        "new one on the dashboard's API Keys page.",
    ),
    Refusal.REVOKED: (
        "Revoked API key",
        "This API key was revoked and can no longer be used. Create a new one on the dashboard's "
        "API Keys page.",
    ),
    Refusal.EXPIRED: (
        "Expired API key",
        "This API key has expired. Create a new one on the dashboard's API Keys page.",
    ),
    Refusal.ACCOUNT_DELETED: (
        "Account deleted",
        "The account this API key belonged to was deleted, so the key no longer works.",
    ),
}
"""Title and detail of each refusal. None contains the key or any part of it."""


class KeyRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.title, self.detail = REFUSALS[reason]


@dataclass(frozen=True)
class Caller:
    """Who a request with a valid key acts for."""

    key: ApiKey
    user: User


def authenticate(db: Database, key: str | None, now: datetime | None = None) -> Caller:
    """The key's row and account if the key may be used now; raises KeyRefused otherwise.

    The row is read on every request (an index lookup), so a revocation counts from the very next
    request, in every web process."""
    if not key:
        raise KeyRefused(Refusal.MISSING)
    if not well_formed(key):
        raise KeyRefused(Refusal.MALFORMED)
    digest = hash_key(key)
    with db.session() as session:
        found = session.execute(
            select(ApiKey, User).outerjoin(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == digest)
        ).first()
    if found is None or not hmac.compare_digest(found[0].key_hash, digest):
        raise KeyRefused(Refusal.UNKNOWN)
    row, user = found
    if user is None:
        raise KeyRefused(Refusal.ACCOUNT_DELETED)
    if row.revoked_at is not None:
        raise KeyRefused(Refusal.REVOKED)
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        raise KeyRefused(Refusal.EXPIRED)
    return Caller(row, user)
