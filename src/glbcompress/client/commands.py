"""``glbcompress remote``: compress on a glbcompress server instead of this machine.

    export GLBCOMPRESS_API_KEY=glbc_...               # or --api-key-file ~/.config/glbcompress/key
    glbcompress remote compress models/ -o dist/ --server https://glb.example.com --concurrency 4
    glbcompress remote compress chair.glb --preset max --draco      # writes chair.min.glb
    glbcompress remote account                                       # check the key and server

Inputs, outputs and option flags work as in ``glbcompress compress`` (folders are searched for
.glb/.gltf files; a .gltf goes with the files it refers to; ``-o`` is a file or a folder). The key
is never a command-line argument, which other users could read from the process list.

Exit codes: 0 all files done; 2 a file, option or key was refused (one line each on stderr,
``glbcompress: error: <file>: <why>``); 1 the server failed or could not be reached. A refusal
that would repeat for every file (a bad key or option, no server) stops the batch at once.

This module imports only click and the SDK's exceptions; the SDK's HTTP library, rich and the
engine's batch planner are imported when a command runs.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import (
    ApiError,
    ClientError,
    ConfigurationError,
    ConnectionFailed,
    InvalidOptions,
    LocalFileError,
    ServerError,
    Unauthorized,
    ValidationFailed,
)

if TYPE_CHECKING:
    from .client import Client
    from .models import Progress, Result

EXIT_OK, EXIT_SERVICE, EXIT_REFUSED = 0, 1, 2
STOPS_THE_BATCH = (Unauthorized, InvalidOptions, ValidationFailed, ConnectionFailed, ConfigurationError)
"""Failures that every other file would meet too: the batch stops at the first."""
API_KEY_ENV = "GLBCOMPRESS_API_KEY"


class RemoteError(click.ClickException):
    """A refusal before any file is sent (no key, unreadable key file): exit 2."""

    exit_code = EXIT_REFUSED


@dataclass
class Outcome:
    src: Path
    dst: Path | None
    result: Result | None = None
    code: int = EXIT_OK
    kind: str = ""
    message: str = ""
    seconds: float = 0.0
    warning: str = ""
    """Said on stderr for a file that was compressed: its job's report could not be read."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input": str(self.src), "output": str(self.dst) if self.result else None}
        if self.result is not None:
            out.update(
                input_bytes=self.result.input_bytes,
                output_bytes=self.result.output_bytes,
                compression_ratio=round(self.result.compression_ratio, 4),
                seconds=round(self.seconds, 3),
                job_id=self.result.job_id,
                request_id=self.result.request_id,
            )
        else:
            out["error"] = {"kind": self.kind, "message": self.message}
        return out


# --- the key -------------------------------------------------------------------------------------


def read_api_key(key_file: Path | None) -> str:
    """The key from --api-key-file (its first line) or else $GLBCOMPRESS_API_KEY."""
    if key_file is None:
        key = os.environ.get(API_KEY_ENV, "").strip()
        if not key:
            raise RemoteError(
                f"no API key: set {API_KEY_ENV} or give --api-key-file (create a key on the "
                "dashboard's API Keys page)"
            )
        return key
    try:
        mode = key_file.stat().st_mode
        with key_file.open(encoding="utf-8") as f:
            key = f.readline().strip()
    except FileNotFoundError:
        raise RemoteError(f"--api-key-file {key_file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RemoteError(f"--api-key-file {key_file}: {getattr(exc, 'strerror', None) or exc}") from None
    if not key:
        raise RemoteError(f"--api-key-file {key_file}: the file is empty (put the key on its first line)")
    if mode & (stat.S_IRGRP | stat.S_IROTH) and sys.platform != "win32":
        click.echo(f"glbcompress: warning: {key_file} can be read by other users (chmod 600 it)", err=True)
    return key


def warn_if_unencrypted(server: str) -> None:
    """A warning when the key would cross a network in clear text (plain http to another host)."""
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and host not in ("localhost", "::1") and not host.startswith("127."):
        click.echo(
            f"glbcompress: warning: the API key goes to {server} unencrypted; use https:// beyond this machine",
            err=True,
        )


# --- running -------------------------------------------------------------------------------------


class _Interrupted(Exception):
    """Raised from a progress callback to stop a file's transfer or wait (Ctrl-C)."""


def compress_all(
    client: Client,
    tasks: Sequence[Any],
    preset: str | None,
    options: dict[str, Any],
    concurrency: int,
    timeout: float | None,
    on_progress: Callable[[int, Progress | None], None] | None = None,
    with_report: bool = False,
) -> list[Outcome]:
    """Compress every planned task (``batch.Task``) on the server, ``concurrency`` at a time; one
    Outcome per task, in order. A failure in STOPS_THE_BATCH skips the files not yet sent; an
    interruption (Ctrl-C) stops the files in flight at their next chunk or poll. ``with_report``:
    each result holds its job with the engine's report (a model answered at once, without a job,
    costs one more request: ``GET /v1/jobs/{id}``)."""
    stop: list[Outcome] = []
    lock = threading.Lock()
    interrupted = threading.Event()

    def one(index: int) -> Outcome:
        task = tasks[index]
        if task.refused:
            return Outcome(task.src, task.dst, code=EXIT_REFUSED, kind=task.kind, message=task.refused)
        with lock:
            if stop or interrupted.is_set():
                code = stop[0].code if stop else EXIT_SERVICE
                return Outcome(task.src, task.dst, code=code, kind="not-sent", message="not sent")

        def report(event: Progress) -> None:
            if interrupted.is_set():
                raise _Interrupted
            if on_progress:
                on_progress(index, event)

        started = time.monotonic()
        try:
            result = client.compress(
                task.src, task.dst, preset=preset, progress=report, timeout=timeout, **options
            )
        except ClientError as exc:
            outcome = _failure(task.src, task.dst, exc)
            if isinstance(exc, STOPS_THE_BATCH):
                with lock:
                    stop.append(outcome)
        except _Interrupted:
            outcome = Outcome(task.src, task.dst, code=EXIT_SERVICE, kind="not-sent", message="interrupted")
        else:
            outcome = Outcome(task.src, task.dst, result, seconds=time.monotonic() - started)
            if with_report and result.job is None and result.job_id:
                try:
                    outcome.result = replace(result, job=client.job(result.job_id))
                except ClientError as exc:
                    outcome.warning = f"no report from the server: {_one_line(str(exc))}"
        finally:
            if on_progress:
                on_progress(index, None)
        return outcome

    # Daemon threads, not a ThreadPoolExecutor: after Ctrl-C the process must not wait for a
    # request blocked on the network (the interrupted flag stops the others at their next step).
    results: list[Outcome | None] = [None] * len(tasks)
    order = iter(range(len(tasks)))

    def worker() -> None:
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                return
            try:
                results[index] = one(index)
            except Exception as exc:  # a bug: reported for its file, the batch goes on
                task = tasks[index]
                message = f"{type(exc).__name__}: {exc}"
                results[index] = Outcome(
                    task.src, task.dst, code=EXIT_SERVICE, kind="internal-error", message=message
                )

    threads = [
        threading.Thread(target=worker, name=f"remote-{n}", daemon=True)
        for n in range(max(1, min(concurrency, len(tasks))))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        interrupted.set()
        raise
    return [outcome for outcome in results if outcome is not None]


def _failure(src: Path, dst: Path | None, exc: ClientError) -> Outcome:
    if isinstance(exc, ApiError):
        code = EXIT_SERVICE if isinstance(exc, ServerError) else EXIT_REFUSED
        message = str(exc)
        if isinstance(exc, ServerError) and exc.request_id:
            message += f" (request ID {exc.request_id})"
        return Outcome(src, dst, code=code, kind=exc.kind or f"http-{exc.status}", message=message)
    if isinstance(exc, LocalFileError | ConfigurationError):
        return Outcome(src, dst, code=EXIT_REFUSED, kind="local-file", message=_without_path(str(exc), src))
    kind = "connection-failed" if isinstance(exc, ConnectionFailed) else "timeout"
    return Outcome(src, dst, code=EXIT_SERVICE, kind=kind, message=str(exc))


def _without_path(message: str, src: Path) -> str:
    prefix = f"{src}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """A refusal (2) outranks a service failure (1), which outranks success."""
    codes = {o.code for o in outcomes}
    return next((code for code in (EXIT_REFUSED, EXIT_SERVICE) if code in codes), EXIT_OK)


# --- output --------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def print_errors(outcomes: Sequence[Outcome]) -> None:
    """One line per failed file on stderr, and per warning; files skipped after a batch-stopping
    failure are counted in one line instead of repeating its message."""
    skipped = 0
    for outcome in outcomes:
        if outcome.warning:
            click.echo(f"glbcompress: warning: {outcome.src}: {outcome.warning}", err=True)
        if outcome.kind == "not-sent":
            skipped += 1
        elif outcome.code != EXIT_OK:
            click.echo(f"glbcompress: error: {outcome.src}: {_one_line(outcome.message)}", err=True)
    if skipped:
        click.echo(f"glbcompress: error: {skipped} more file(s) not sent (see the error above)", err=True)


SUMMARY_COLUMNS = ("file", "input", "output", "ratio", "time")


def print_summary(outcomes: Sequence[Outcome]) -> None:
    """A table on stdout: one row per compressed file, a total row when there are several, and
    how many failed."""
    done = [o for o in outcomes if o.result is not None]
    failed = len(outcomes) - len(done)
    if not done:
        if failed:
            click.echo(f"0 of {len(outcomes)} files compressed")
        return
    from rich.console import Console
    from rich.table import Table

    from ..cli import _short_names, _size

    names, folder = _short_names([o.src for o in done])
    rows = [(o.result.input_bytes, o.result.output_bytes, o.seconds) for o in done if o.result]

    def cells(name: str, size_in: int, size_out: int, seconds: float) -> list[str]:
        ratio = f"{100 * size_out / size_in:.1f}%" if size_in else "-"
        return [name, _size(size_in), _size(size_out), ratio, f"{seconds:.2f} s"]

    totals = cells("total", *(sum(column) for column in zip(*rows, strict=True)))
    table = Table(title=folder, title_justify="left", box=None, pad_edge=False, show_footer=len(done) > 1)
    for i, (header, footer) in enumerate(zip(SUMMARY_COLUMNS, totals, strict=True)):
        table.add_column(header, footer, justify="right" if i else "left", overflow="fold")
    for name, row in zip(names, rows, strict=True):
        table.add_row(*cells(name, *row))
    if failed:
        table.caption = f"{failed} of {len(outcomes)} files failed (messages on stderr)"
    Console(highlight=False, soft_wrap=False).print(table)


def print_textures(outcomes: Sequence[Outcome], after_summary: bool) -> None:
    """For each compressed file, the table of its textures that ``glbcompress compress
    --list-textures`` prints, from the report of its job on the server."""
    from ..cli import print_texture_tables

    files = []
    for outcome in outcomes:
        if outcome.result is not None:
            report = outcome.result.report
            files.append((outcome.src, report.get("passes") or [] if isinstance(report, dict) else None))
    print_texture_tables(files, after_summary)


STAGE_LABELS = {
    "upload": "uploading",
    "queued": "queued",
    "compress": "compressing",
    "download": "downloading",
}


@contextmanager
def progress_bars(
    tasks: Sequence[Any], enabled: bool
) -> Iterator[Callable[[int, Progress | None], None] | None]:
    """Bars on stderr: one for the batch (files done) and one per file being worked on, showing
    its upload, the server's progress and its download. Transient: gone once all are done."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    todo = sum(1 for task in tasks if not task.refused)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    rows: dict[int, TaskID] = {}
    lock = threading.Lock()
    with Progress(*columns, console=Console(stderr=True), transient=True) as bars:
        overall = bars.add_task("files", total=todo, note=f"0/{todo}")
        finished = 0

        def update(index: int, event: Progress | None) -> None:
            nonlocal finished
            with lock:
                if event is None:  # the file is done, one way or another
                    if index in rows:
                        bars.remove_task(rows.pop(index))
                    finished += 1
                    bars.update(overall, completed=finished, note=f"{finished}/{todo}")
                    return
                name = tasks[index].src.name
                if index not in rows:
                    rows[index] = bars.add_task(name, total=1.0, note="")
                completed = event.fraction or 0.0
                if event.stage == "upload" and event.total and event.done >= event.total:
                    # Sent: the server compresses while this waits for its answer (no figures).
                    shown, completed = "compressing on the server", 0.0
                elif event.stage in ("upload", "download"):
                    label = STAGE_LABELS[event.stage]
                    shown = f"{label} {_size_short(event.done)}" + (
                        f"/{_size_short(event.total)}" if event.total else ""
                    )
                else:
                    shown = f"{STAGE_LABELS.get(event.stage, event.stage)} {event.step}".strip()
                # Below 1 until the file is done, so that its clock keeps running.
                bars.update(rows[index], completed=min(completed, 0.999), note=shown, description=name)

        yield update


def _size_short(n: float | None) -> str:
    from ..cli import _size

    return _size(int(n or 0))


# --- the commands --------------------------------------------------------------------------------


def register(cli: click.Group, engine_options: Callable[[Callable], Callable], command_class: type) -> None:
    """Add ``glbcompress remote`` to the command group, with the same option flags as the local
    compress command (``engine_options``, ``command_class`` come from ``glbcompress.commands``)."""

    @cli.group()
    def remote() -> None:
        """Compress on a glbcompress server (the REST API) instead of this machine."""

    server_option = click.option(
        "--server",
        envvar="GLBCOMPRESS_URL",
        default="http://127.0.0.1:8000",
        show_default=True,
        metavar="URL",
        help="The server's base URL [env: GLBCOMPRESS_URL].",
    )
    key_file_option = click.option(
        "--api-key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help=f"Read the API key from the first line of this file [default: ${API_KEY_ENV}].",
    )

    @remote.command("compress", cls=command_class)
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        help="Output .glb file (one input), or folder (created if needed). "
        "Default: <name>.min.glb next to each input.",
    )
    @server_option
    @key_file_option
    @click.option(
        "-p",
        "--preset",
        metavar="NAME",
        help="Named option set: lossless, balanced or max [default: the server's].",
    )
    @click.option(
        "-c",
        "--concurrency",
        type=click.IntRange(1, 64),
        default=4,
        show_default=True,
        help="Files sent to the server at once.",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        help="Seconds to wait for one file's job on the server [default: no limit].",
    )
    @click.option(
        "--json", "as_json", is_flag=True, help="Print the results as JSON on stdout, and nothing else."
    )
    @click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary table.")
    @click.option(
        "--list-textures",
        is_flag=True,
        help="After the summary, a table of each file's textures: class, format and size before and "
        "after, quality, SSIM and PSNR (from the job's report; not with --json).",
    )
    @engine_options
    @click.pass_context
    def remote_compress(
        ctx: click.Context,
        inputs: tuple[Path, ...],
        output: Path | None,
        server: str,
        api_key_file: Path | None,
        preset: str | None,
        concurrency: int,
        timeout: float | None,
        as_json: bool,
        quiet: bool,
        list_textures: bool,
        **flags: Any,
    ) -> None:
        """Compress .glb/.gltf files (and every one in the given folders) on a server."""
        from .. import batch
        from .client import Client

        key = read_api_key(api_key_file)
        warn_if_unencrypted(server)
        options = {name: value for name, value in flags.items() if value is not None}
        try:
            tasks = batch.plan(inputs, output)
            client = Client(api_key=key, base_url=server)
        except (batch.UsageError, ConfigurationError) as exc:
            raise RemoteError(str(exc)) from None
        with client, progress_bars(tasks, not quiet and not as_json and sys.stderr.isatty()) as on_progress:
            tables = list_textures and not as_json
            outcomes = compress_all(
                client, tasks, preset, options, concurrency, timeout, on_progress, with_report=tables
            )
        print_errors(outcomes)
        if as_json:
            click.echo(json.dumps([o.as_dict() for o in outcomes], indent=2))
        else:
            if not quiet:
                print_summary(outcomes)
            if tables:
                print_textures(outcomes, after_summary=not quiet)
        ctx.exit(exit_code(outcomes))

    @remote.command("account")
    @server_option
    @key_file_option
    @click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
    @click.pass_context
    def remote_account(ctx: click.Context, server: str, api_key_file: Path | None, as_json: bool) -> None:
        """Check the API key against the server: the account and key it stands for."""
        from .client import Client

        warn_if_unencrypted(server)
        try:
            with Client(api_key=read_api_key(api_key_file), base_url=server) as client:
                data = client.account()
        except ClientError as exc:
            code = EXIT_SERVICE if isinstance(exc, ServerError | ConnectionFailed) else EXIT_REFUSED
            click.echo(f"glbcompress: error: {_one_line(str(exc))}", err=True)
            ctx.exit(code)
        if as_json:
            click.echo(json.dumps(data, indent=2))
            return
        key = data.get("api_key", {})
        limit = data.get("rate_limit", {})
        click.echo(f"account: {data.get('email')}")
        click.echo(f"API key: {key.get('name')} ({key.get('prefix')}…)")
        if limit.get("limit"):
            click.echo(f"rate limit: {limit['limit']} requests per {limit.get('window_seconds')} s")
