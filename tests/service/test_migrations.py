"""Migrations: up and down on SQLite and PostgreSQL, models and migrations agree, and the app
refuses to start on an out-of-date schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from glbcompress.service.app import create_app
from glbcompress.service.db import make_engine, migrate
from glbcompress.service.db.models import Base

from .conftest import make_settings, running_app

TABLES = {"users", "sessions", "throttle_events", "jobs", "api_keys", "api_key_events", "webhook_deliveries"}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_up_and_down(database_url: str) -> None:
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert tables(database_url) >= TABLES
    migrate.check(database_url)
    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    assert not TABLES & tables(database_url)
    migrate.upgrade(database_url)  # and up again, as after a rollback
    assert tables(database_url) >= TABLES


def test_models_match_migrations(database_url: str) -> None:
    """A model changed without a migration (or the reverse) shows up as a difference here."""
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, Base.metadata)
                if d[0] != "remove_table" or d[1].name != "alembic_version"
            ]
    finally:
        engine.dispose()
    assert differences == []


def test_app_refuses_an_old_schema(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(migrate.SchemaOutOfDate, match="glbcompress migrate"), running_app(settings):
        pass
    assert create_app(settings) is not None  # building the app is fine; starting it is refused
