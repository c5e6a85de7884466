"""Alembic's environment: runs the migrations on the connection or URL that `migrate.py` passes
(or, for the ``alembic`` command in a checkout, the URL the GLBCOMPRESS_* settings give)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from glbcompress.service.db import make_engine
from glbcompress.service.db.models import Base

config = context.config


def _configure(**kwargs: object) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(target_metadata=Base.metadata, render_as_batch=True, compare_type=True, **kwargs)


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from glbcompress.service.settings import Settings

    return Settings().database_url


def run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run_on(config.attributes["connection"])
else:
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            run_on(connection)
            connection.commit()
    finally:
        engine.dispose()
