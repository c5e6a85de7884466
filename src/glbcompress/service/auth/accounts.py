"""Accounts: sign up, log in, change password, delete (with every job and file), and the admin's
create / reset / list. Every refusal is an `AccountError` whose message is written for the user
and names the form field it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..db import Database, Job, User, utcnow
from . import api_keys, passwords
from .throttle import Throttle

if TYPE_CHECKING:
    from ..jobs import JobManager

WRONG_LOGIN = "The email or password is incorrect."


class AccountError(ValueError):
    """A refusal: the message for the user, the form field it is about, and the HTTP status."""

    def __init__(self, message: str, field: str = "", status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class TooManyAttempts(AccountError):
    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many failed log-in attempts. Wait {minutes} minute{'s' if minutes != 1 else ''} "
            "and try again.",
            status=429,
        )
        self.retry_after = retry_after


def create_user(db: Database, email: str, password: str) -> User:
    """A new account, after checking the email and password rules."""
    email = passwords.normalize_email(email)
    problem = passwords.email_problem(email)
    if problem:
        raise AccountError(problem, "email")
    problem = passwords.password_problem(password, email)
    if problem:
        raise AccountError(problem, "password")
    user = User(email=email, password_hash=passwords.hash_password(password))
    try:
        with db.session() as session, session.begin():
            session.add(user)
    except IntegrityError:
        raise AccountError(
            "An account with this email already exists. Log in instead.", "email", status=409
        ) from None
    return user


def find_user(db: Database, email: str) -> User | None:
    with db.session() as session:
        return session.scalar(select(User).where(User.email == passwords.normalize_email(email)))


@dataclass(frozen=True)
class LoginLimits:
    throttle: Throttle
    max_failures: int
    window: timedelta

    def keys(self, email: str, address: str) -> list[tuple[str, int]]:
        """What failures count against: the account, and (more loosely) the sender's address."""
        return [(f"login:email:{email}", self.max_failures), (f"login:ip:{address}", 4 * self.max_failures)]


def log_in(db: Database, limits: LoginLimits, email: str, password: str, address: str) -> User:
    """The user whose email and password these are; raises AccountError or TooManyAttempts."""
    email = passwords.normalize_email(email)
    if not email or not password:
        raise AccountError("Enter your email and password.", "email" if not email else "password")
    keys = limits.keys(email, address)
    waits = [limits.throttle.retry_after(key, limit, limits.window) for key, limit in keys]
    if any(waits):
        raise TooManyAttempts(max(w for w in waits if w))
    user = find_user(db, email) if len(password) <= passwords.MAX_PASSWORD else None
    if user is None or not passwords.verify_password(user.password_hash, password):
        if user is None:
            passwords.burn_verify(password[: passwords.MAX_PASSWORD])
        for key, _limit in keys:
            limits.throttle.hit(key)
        raise AccountError(WRONG_LOGIN, "email", status=401)
    limits.throttle.clear(keys[0][0])
    values: dict[str, object] = {"last_login_at": utcnow()}
    if passwords.needs_rehash(user.password_hash):
        values["password_hash"] = passwords.hash_password(password)
    with db.session() as session, session.begin():
        session.execute(update(User).where(User.id == user.id).values(**values))
    return user


def set_password(db: Database, user_id: int, new_password: str) -> None:
    """Replace the password (rules checked). Callers end the user's other sessions."""
    with db.session() as session:
        user = session.get_one(User, user_id)
    problem = passwords.password_problem(new_password, user.email)
    if problem:
        raise AccountError(problem, "new_password")
    with db.session() as session, session.begin():
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=passwords.hash_password(new_password), password_changed_at=utcnow())
        )


def change_password(db: Database, user: User, current: str, new: str, confirm: str) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise AccountError("Your current password is incorrect.", "current_password")
    if new != confirm:
        raise AccountError("The two new passwords do not match.", "confirm_password")
    if new == current:
        raise AccountError("The new password is the same as the current one.", "new_password")
    set_password(db, user.id, new)


def delete_account(db: Database, jobs: JobManager, user: User, password: str) -> None:
    """Delete the account, its sessions, and every job with its files."""
    if not passwords.verify_password(user.password_hash, password):
        raise AccountError("The password is incorrect; your account was not deleted.", "password")
    remove_user(db, jobs, user.id)


def remove_user(db: Database, jobs: JobManager, user_id: int) -> None:
    jobs.delete_user_jobs(user_id)
    with db.session() as session, session.begin():
        api_keys.forget_account_keys(session, user_id)
        session.execute(delete(User).where(User.id == user_id))


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    created_at: datetime
    last_login_at: datetime | None
    jobs: int


def list_users(db: Database) -> list[UserRow]:
    with db.session() as session:
        counts = select(Job.user_id, func.count(Job.id).label("jobs")).group_by(Job.user_id).subquery()
        rows = session.execute(
            select(User.id, User.email, User.created_at, User.last_login_at, counts.c.jobs)
            .outerjoin(counts, counts.c.user_id == User.id)
            .order_by(User.id)
        ).all()
    return [UserRow(r[0], r[1], r[2], r[3], r[4] or 0) for r in rows]
