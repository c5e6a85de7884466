"""Fixtures for the service tests: real databases (SQLite in a temporary folder, and PostgreSQL
when GLBCOMPRESS_TEST_POSTGRES_URL names one), migrated settings, and the real app behind a
TestClient.

PostgreSQL tests get a schema of their own (dropped afterwards), selected through the URL's
search_path, so parallel test workers never see each other's tables.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from glbcompress.service.app import create_app
from glbcompress.service.db import Database, migrate
from glbcompress.service.jobs import LocalQueue
from glbcompress.service.settings import Settings
from glbcompress.service.storage import Storage

POSTGRES_ENV = "GLBCOMPRESS_TEST_POSTGRES_URL"
SECRET = "test-secret-" + "x" * 40


def _postgres_base() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set, so the PostgreSQL variant is skipped (.ci/run sets it)")
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        pytest.skip(
            f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} is unreachable: {exc}"
        )
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema."""
    base = _postgres_base()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield str(make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'service.db'}"


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": SECRET,
        "workers": 2,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    settings = make_settings(tmp_path, database_url)
    migrate.upgrade(settings.database_url)
    return settings


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings on SQLite only, for tests where the database engine makes no difference."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    migrate.upgrade(settings.database_url)
    return settings


def running_app(settings: Settings, task: str | None = None, **queue_args: Any) -> TestClient:
    """A TestClient over the real app; with task, its queue runs that function instead of the
    engine. Use as a context manager (it starts and stops the app's lifespan)."""
    if task is not None:
        queue_args["task"] = task

    def queue(db: Database, storage: Storage, settings: Settings) -> LocalQueue:
        return LocalQueue(db, storage, settings, **queue_args)

    return TestClient(create_app(settings, queue_factory=queue))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with running_app(settings) as client:
        yield client


@pytest.fixture
def sqlite_client(sqlite_settings: Settings) -> Iterator[TestClient]:
    with running_app(sqlite_settings) as client:
        yield client


class LiveServer:
    """The app served by uvicorn on a free loopback port in a thread of this process, for tests
    that need real HTTP (streamed request bodies, connections cut short)."""

    def __init__(self, app: Any):
        import uvicorn

        from glbcompress.service.http_server import server_options

        options = server_options(app.state.services.settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
