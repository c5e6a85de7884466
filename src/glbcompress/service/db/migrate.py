"""Bringing a database's schema up to date with the Alembic migrations in ``migrations/``.

>>> upgrade("sqlite:////srv/glbcompress/glbcompress.db")    # what `glbcompress migrate` does
>>> current(url) == head()
True

To write a new migration in a checkout: change ``models.py``, then
``alembic revision --autogenerate -m "what changed"`` (alembic.ini at the repository's root points
here) and review the file it writes; the test suite checks models and migrations agree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from . import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this version of the code needs."""


def config(url: str) -> Config:
    """An Alembic configuration for url, without an alembic.ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url  # not a main option: those interpolate '%' in URLs
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(config(url), revision)


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert revision is not None
    return revision


def current(url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check(url: str) -> None:
    """Raise SchemaOutOfDate unless the database is at the newest revision."""
    found, wanted = current(url), head()
    if found != wanted:
        state = "empty" if found is None else f"at revision {found}"
        raise SchemaOutOfDate(
            f"The database schema is {state}; this version needs revision {wanted}. "
            "Run 'glbcompress migrate' (glbcompress serve does it before starting)."
        )
