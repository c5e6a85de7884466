"""The service's commands: migrate, users create / reset-password / list, and serve (a real
server process started the way the README says)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from glbcompress.cli import cli
from glbcompress.service.auth import accounts, sessions
from glbcompress.service.db import Database, migrate
from glbcompress.service.settings import Settings

from .support import PASSWORD
from .test_jobs import free_port

NEW_PASSWORD = "another fine passphrase"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("GLBCOMPRESS_") and name != "GLBCOMPRESS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    variables = {"GLBCOMPRESS_DATA_DIR": str(tmp_path / "data")}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.output


def test_migrate_then_manage_users(env: dict[str, str]) -> None:
    code, out = run("users", "list")
    assert code == 2 and "Run 'glbcompress migrate'" in out

    code, out = run("migrate")
    assert code == 0 and f"revision {migrate.head()}" in out
    settings = Settings()
    assert migrate.current(settings.database_url) == migrate.head()

    code, out = run("users", "create", "Ada@Example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "ada@example.com" in out
    code, out = run("users", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and "already exists" in out
    code, out = run("users", "create", "bob@example.com", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 10 characters" in out
    code, out = run("users", "create", "bob@example.com", stdin=f"{PASSWORD}\n{PASSWORD}\n")  # the prompt
    assert code == 0 and PASSWORD not in out

    code, out = run("users", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "email", "created", "(UTC)", "last", "log-in", "(UTC)", "jobs"]
    assert "ada@example.com" in lines[1] and "never" in lines[1] and "bob@example.com" in lines[2]
    code, out = run("users", "list", "--json")
    assert [u["email"] for u in json.loads(out)] == ["ada@example.com", "bob@example.com"]

    db = Database(settings.database_url)
    ada = accounts.find_user(db, "ada@example.com")
    sessions.start(db, settings, ada.id)
    code, out = run(
        "users", "reset-password", "ADA@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\n"
    )
    assert code == 0 and "sessions were ended" in out
    ada = accounts.find_user(db, "ada@example.com")
    from glbcompress.service.auth import passwords

    assert passwords.verify_password(ada.password_hash, NEW_PASSWORD)
    with db.session() as session:
        assert session.query(sessions.BrowserSession).count() == 0
    code, out = run(
        "users", "reset-password", "nobody@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\n"
    )
    assert code == 2 and "no account" in out
    db.dispose()


def test_bad_configuration_is_named(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLBCOMPRESS_WORKERS", "none")
    code, out = run("migrate")
    assert code == 2
    assert "invalid configuration: GLBCOMPRESS_WORKERS" in out


def test_unreachable_database(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GLBCOMPRESS_DATABASE_URL", "postgresql+psycopg://someone:hunter22@127.0.0.1:1/nothing"
    )
    code, out = run("migrate")
    assert code == 2
    assert "cannot reach the database" in out and "hunter22" not in out


def test_serve(env: dict[str, str], tmp_path: Path) -> None:
    """`glbcompress serve` on an empty data folder: creates the database and the secret, serves,
    logs JSON, and stops cleanly on SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from glbcompress.cli import main; main()", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        page = httpx2.get(f"http://127.0.0.1:{port}/login")
        assert page.status_code == 200 and "Log in" in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), stderr  # uvicorn re-raises the signal it handled
    data = Path(env["GLBCOMPRESS_DATA_DIR"])
    assert (data / "glbcompress.db").is_file()
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600
    assert f"serving on http://127.0.0.1:{port}/" in stderr
    entries = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(e["msg"] == "request" and e["path"] == "/login" and e["status"] == 200 for e in entries)
    assert any(e["msg"] == "service stopped" for e in entries)
