"""The database: an SQLAlchemy engine and session factory for a URL, SQLite or PostgreSQL.

>>> db = Database("sqlite:////srv/glbcompress/glbcompress.db")
>>> with db.session() as session, session.begin():
...     session.add(User(email="a@example.com", password_hash="..."))

The schema is managed by Alembic (``migrate.py``): ``upgrade(url)`` brings it to the newest
revision, ``glbcompress migrate`` does the same from the command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    ApiKey,
    ApiKeyEvent,
    Base,
    BrowserSession,
    Job,
    JobSource,
    JobStatus,
    ThrottleEvent,
    User,
    WebhookDelivery,
    WebhookState,
    utcnow,
)

__all__ = [
    "ApiKey",
    "ApiKeyEvent",
    "Base",
    "BrowserSession",
    "Database",
    "Job",
    "JobSource",
    "JobStatus",
    "ThrottleEvent",
    "User",
    "WebhookDelivery",
    "WebhookState",
    "make_engine",
    "utcnow",
]


def make_engine(url: str) -> Engine:
    """An engine for url. SQLite gets the settings that make it a good one-machine database:
    foreign keys enforced, write-ahead logging (readers never wait for the writer), and a busy
    timeout so that concurrent writers (web requests, job workers) queue instead of failing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class Database:
    """One database: its engine and a session factory. Sessions do not expire objects on commit,
    so rows read in a request stay usable after its transaction."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
