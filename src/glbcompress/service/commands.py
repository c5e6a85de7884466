"""The service's commands in the ``glbcompress`` CLI:

    glbcompress serve [--host 127.0.0.1] [--port 8000]   migrate the database, then serve
    glbcompress migrate                                  bring the database schema up to date
    glbcompress worker [--concurrency N]                 run compression jobs sent through Celery
    glbcompress users create EMAIL                       what email would do on a hosted service:
    glbcompress users reset-password EMAIL               create accounts, reset passwords,
    glbcompress users list [--json]                      list accounts

This module imports only click: the service (FastAPI, SQLAlchemy, ...) is imported inside each
command, so ``glbcompress compress`` starts as fast as if the service did not exist. Passwords are
asked for at a hidden prompt or read from stdin (``--password-stdin``), never taken as arguments
(which other users of the machine could see in the process list).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .settings import Settings


class CommandError(click.ClickException):
    """A refusal caused by the input or the configuration: exit code 2, as everywhere in the CLI."""

    exit_code = 2


def _settings() -> Settings:
    """The settings from the environment, with a one-line error naming the bad variable."""
    from pydantic import ValidationError

    from .settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"GLBCOMPRESS_{str(error['loc'][0]).upper()}: {error['msg']}"
            if error["loc"]
            else error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise CommandError(f"invalid configuration: {problems}") from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _migrate(settings: Settings) -> str:
    from sqlalchemy.exc import OperationalError

    from .db import migrate

    try:
        migrate.upgrade(settings.database_url)
        return migrate.head()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise CommandError(
            f"cannot reach the database {_safe_url(settings.database_url)}: {reason}"
        ) from None


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, envvar="GLBCOMPRESS_HOST", help="Address to listen on."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    envvar="GLBCOMPRESS_PORT",
    help="Port to listen on.",
)
def serve(host: str, port: int) -> None:
    """Serve the web dashboard (and run compression jobs), after bringing the database schema up
    to date. Configured by GLBCOMPRESS_* environment variables (see the README)."""
    settings = _settings()
    from . import logs

    logs.configure(settings.log_level)
    _migrate(settings)
    import uvicorn

    from .app import create_app
    from .http_server import server_options

    click.echo(f"glbcompress: serving on http://{host}:{port}/ (data in {settings.data_dir})", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, **server_options(settings))


@click.command()
def migrate() -> None:
    """Bring the database schema up to date (glbcompress serve does this too)."""
    settings = _settings()
    revision = _migrate(settings)
    click.echo(f"database {_safe_url(settings.database_url)} is at revision {revision} (the newest)")


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Jobs run at once (default: GLBCOMPRESS_WORKERS, half the cores).",
)
@click.option("--task", default=None, hidden=True, help="Import path of the function jobs run (for tests).")
def worker(concurrency: int | None, task: str | None) -> None:
    """Run compression jobs for web processes started with GLBCOMPRESS_QUEUE=celery (a Celery
    worker on the GLBCOMPRESS_BROKER_URL Redis). Start as many as you like, on any machine that
    shares the database and the storage folder. SIGTERM stops it gracefully."""
    import os
    import socket

    settings = _settings()
    if settings.queue != "celery":
        raise CommandError(
            "glbcompress worker runs jobs sent through Celery: set GLBCOMPRESS_QUEUE=celery and "
            "GLBCOMPRESS_BROKER_URL (redis://host:6379/0) for it and for the web processes"
        )
    from . import logs

    logs.configure(settings.log_level)
    _database(settings).dispose()  # refuses an unreachable database or an old schema
    from celery import signals

    from .jobs.celery_app import TASK_NAME, make_celery
    from .jobs.celery_worker import JobWorker
    from .jobs.runner import DEFAULT_TASK
    from .redis_client import safe_url

    app = make_celery(settings)
    runtime = JobWorker(settings, task or DEFAULT_TASK)

    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run_job(job_id: str) -> None:
        runtime.run_job(job_id)

    def shutting_down(**_: Any) -> None:
        runtime.begin_shutdown()

    signals.worker_shutting_down.connect(shutting_down, weak=False)
    runtime.start()
    slots = concurrency or settings.workers
    click.echo(
        f"glbcompress: worker {runtime.name} running {slots} job(s) at once from {safe_url(settings.broker_url)}",
        err=True,
    )
    try:
        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={slots}",
                f"--hostname=glbcompress-{os.getpid()}@{socket.gethostname()}",
                "--without-mingle",
                "--without-gossip",
                f"--loglevel={settings.log_level}",
            ]
        )
    finally:
        runtime.close()


# --- users ---------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Manage accounts: create them, reset passwords, list them."""


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of asking."
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _database(settings: Settings) -> Any:
    from sqlalchemy.exc import OperationalError

    from .db import Database, migrate

    try:
        migrate.check(settings.database_url)
    except migrate.SchemaOutOfDate as exc:
        raise CommandError(str(exc)) from None
    except OperationalError:
        raise CommandError(f"cannot reach the database {_safe_url(settings.database_url)}") from None
    return Database(settings.database_url)


@users.command("create")
@click.argument("email")
@password_stdin
def users_create(email: str, password_stdin: bool) -> None:
    """Create an account (asks for its password)."""
    from .auth import accounts

    db = _database(_settings())
    try:
        user = accounts.create_user(db, email, _password(password_stdin))
    except accounts.AccountError as exc:
        raise CommandError(exc.message) from None
    click.echo(f"created account {user.id}: {user.email}")


@users.command("reset-password")
@click.argument("email")
@password_stdin
def users_reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an account and log it out everywhere."""
    from .auth import accounts, sessions

    db = _database(_settings())
    user = accounts.find_user(db, email)
    if user is None:
        raise CommandError(f"no account with the email {email.strip().lower()}")
    try:
        accounts.set_password(db, user.id, _password(password_stdin))
    except accounts.AccountError as exc:
        raise CommandError(exc.message) from None
    sessions.end_all(db, user.id)
    click.echo(f"new password set for {user.email}; its sessions were ended")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
def users_list(as_json: bool) -> None:
    """List the accounts: id, email, created, last log-in, jobs."""
    from .auth import accounts

    rows = accounts.list_users(_database(_settings()))
    if as_json:
        data = [
            {
                "id": r.id,
                "email": r.email,
                "created_at": r.created_at.isoformat(),
                "last_login_at": r.last_login_at.isoformat() if r.last_login_at else None,
                "jobs": r.jobs,
            }
            for r in rows
        ]
        click.echo(json.dumps(data, indent=2))
        return
    if not rows:
        click.echo("no accounts yet (create one with: glbcompress users create EMAIL)")
        return
    table = [("id", "email", "created (UTC)", "last log-in (UTC)", "jobs")]
    for r in rows:
        last = r.last_login_at.strftime("%Y-%m-%d %H:%M") if r.last_login_at else "never"
        table.append((str(r.id), r.email, r.created_at.strftime("%Y-%m-%d %H:%M"), last, str(r.jobs)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def register(cli: click.Group) -> None:
    """Add the service's commands to the glbcompress command group."""
    for command in (serve, migrate, worker, users):
        cli.add_command(command)
