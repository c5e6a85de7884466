"""Passwords: hashed with Argon2id, never stored or logged.

Parameters: OWASP's recommended Argon2id configuration (19 MiB, 2 passes, 1 lane), about 0.1 s
per hash here — strong against offline guessing, yet cheap enough that log-ins cannot be used to
exhaust a small server. Hashes made with other parameters are upgraded at the next log-in.

>>> stored = hash_password("correct horse battery")
>>> verify_password(stored, "correct horse battery")
True
"""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD = 10
MAX_PASSWORD = 256
"""Longer inputs are refused rather than hashed: hashing cost should not be the sender's choice."""
MAX_EMAIL = 254
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash on next log-in)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def burn_verify(password: str) -> None:
    """Spend the time a real verification takes, for an unknown email: response times then do
    not tell which emails have accounts."""
    verify_password(_dummy_hash(), password)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """What is wrong with an (already normalised) email address, or None."""
    if not email:
        return "Enter your email address."
    if len(email) > MAX_EMAIL or not EMAIL.match(email):
        return "Enter a valid email address, like name@example.com."
    return None


def password_problem(password: str, email: str = "") -> str | None:
    """What is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters for your password."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters for your password."
    if not password.strip():
        return "The password cannot be only spaces."
    if email and password.strip().lower() in {email, email.split("@")[0]}:
        return "Choose a password that is not your email address."
    return None
