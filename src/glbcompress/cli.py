"""The ``glbcompress`` command.

    glbcompress compress model.glb                   # writes model.min.glb beside it
    glbcompress compress scene.gltf -o small.glb --draco --position-bits 12
    glbcompress compress models/ -o dist/ --json     # every .glb/.gltf below models/, in parallel
    glbcompress presets | glbcompress options | glbcompress --version
    glbcompress remote compress models/ -o dist/     # the same on a server (client/commands.py)

Every engine option has a flag generated from ``engine.options.schema()`` (``--position-bits N``,
``--quantize/--no-quantize``, ...), so options that passes add appear here by themselves.

Exit codes: 0 success; 2 bad input or options (a one-line ``glbcompress: error: ...`` on stderr);
1 internal error, i.e. a bug (``--debug`` shows its traceback). With several files the worst wins.
rich is imported only when a progress bar or table is drawn on a terminal, to keep start-up quick
(tests/test_startup.py checks what the command loads).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click

# Before numpy loads (with the engine, below): OpenBLAS otherwise starts a thread per CPU, which
# costs ~40 ms of start-up and exit on a run of ~0.3 s, while the engine's matrix products are far
# too small to gain from threads. An explicit OPENBLAS_NUM_THREADS still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import __version__, batch
from .engine import api
from .engine.errors import InvalidOptions
from .engine.options import PASSES, schema

SCHEMA = schema()
LONG_WORK_BYTES = 4 * 1024 * 1024
"""Inputs at least this large (in total) get a progress bar, when stderr is a terminal."""
DEBUG_KEY = "glbcompress.debug"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(message: str, file: Path | str | None = None, *, internal: bool = False) -> None:
    """The one line on stderr for a failure: ``glbcompress: error: <file>: <message>``."""
    label = "internal error" if internal else "error"
    where = f"{file}: " if file is not None else ""
    click.echo(f"glbcompress: {label}: {where}{_one_line(message)}", err=True)


def _internal_error(message: str, trace: str, file: Path | str | None, debug: bool) -> None:
    hint = "" if debug else " (this is a bug; run again with --debug to see the traceback)"
    _error(message + hint, file, internal=True)
    if debug:
        click.echo(trace.rstrip(), err=True)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG_KEY] = True


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show the traceback of internal errors.",
)


class Group(click.Group):
    """The top-level command group. Usage errors become one line on stderr (exit 2) and unexpected
    exceptions one line with a --debug hint (exit 1), never a traceback unless asked for."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        if not extra.pop("standalone_mode", True):
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _error(exc.format_message() + hint)
            code = exc.exit_code
        except click.Abort:
            click.echo("glbcompress: interrupted", err=True)
            code = 130
        sys.exit(code if isinstance(code, int) else 0)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and _register_more_commands(self):
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register_more_commands(self)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            debug = bool(ctx.meta.get(DEBUG_KEY))
            _internal_error(f"{type(exc).__name__}: {exc}", batch.current_traceback(), None, debug)
            ctx.exit(batch.EXIT_INTERNAL)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="glbcompress", message="%(prog)s %(version)s")
@debug_option
def cli() -> None:
    """Make glTF/GLB 3D models small and fast to load without visible loss."""


def main() -> None:
    """The console script. Once the command is done and its output flushed, the process ends
    with os._exit: the interpreter's orderly teardown (freeing every module and object one by one,
    ~20 ms with numpy loaded) achieves nothing the OS does not do at once. Nothing is left to
    write by then (outputs are complete files, a process pool has been shut down); should a thread
    still run, the ordinary exit waits for it."""
    try:
        cli.main(prog_name="glbcompress")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    else:
        code = 0
    if threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe (glbcompress ... | head) or stream
            stream.flush()
    os._exit(code)


# --- engine options as flags ----------------------------------------------------------------------


PRESET_VALUES = api.presets()


class EngineOption(click.Option):
    """A flag generated from one entry of the engine's option schema; --help groups them by pass."""

    def __init__(self, *args: Any, entry: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.section = f"{entry['pass']} pass"


def engine_option(entry: dict[str, Any]) -> Callable:
    """The click.option decorator for one schema entry: --x/--no-x for a bool, --x N for a number,
    --x CHOICE for a choice. Unset flags are None, so the preset's value stays."""
    flag = "--" + entry["name"].replace("_", "-")
    kind = str(entry["type"]).replace(" | None", "")
    extra: dict[str, Any] = {}
    if kind == "bool":
        flag = f"{flag}/--no-{flag[2:]}"
    elif kind == "choice":
        extra = {"type": click.Choice([str(c) for c in entry["choices"]])}
    else:
        number = {"int": click.INT, "float": click.FLOAT}.get(kind)
        extra = {"type": number or click.STRING, "metavar": "N" if number else "TEXT"}
    return click.option(
        flag, entry["name"], cls=EngineOption, entry=entry, default=None, help=_flag_help(entry), **extra
    )


def _flag_help(entry: dict[str, Any]) -> str:
    text = _sentence(entry.get("help") or "")
    if entry["name"] in PASSES:
        on_in = [name for name, p in PRESET_VALUES.items() if p["options"][entry["name"]]]
        return f"{text} [on in: {', '.join(on_in) or 'no preset'}]"
    notes = [f"default: {_value(entry['default'])}"] if "default" in entry else []
    if "min" in entry:
        notes.append(_range(entry))
    return f"{text} [{'; '.join(notes)}]" if notes else text


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _value(value: Any) -> str:
    """An option value as the help and tables show it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _range(entry: dict[str, Any]) -> str:
    if "min" in entry:
        return f"{entry['min']}..{entry['max']}"
    return "|".join(map(str, entry.get("choices", [])))


def engine_options(command: Callable) -> Callable:
    """Decorator: one flag per flat option of the engine, in schema order."""
    for entry in reversed(SCHEMA):
        command = engine_option(entry)(command)
    return command


class SectionedCommand(click.Command):
    """A command whose --help lists engine flags in one section per pass."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and isinstance(param, click.Option):
                title = param.section if isinstance(param, EngineOption) else "Options"
                sections.setdefault(title, []).append(record)
        for title, rows in sections.items():
            with formatter.section(title.capitalize()):
                formatter.write_dl(rows)


def options_from_flags(preset: str, flags: dict[str, Any]) -> api.Options:
    """The preset with the flags given on the command line applied: pass switches first, then
    settings, each in schema order, so the result does not depend on the order of the flags."""
    given = {entry["name"]: flags[entry["name"]] for entry in SCHEMA if flags.get(entry["name"]) is not None}
    if given.get("meshopt") and given.get("draco"):
        raise InvalidOptions("--meshopt and --draco cannot be combined: choose one mesh compression.")
    owner = {entry["name"]: entry["pass"] for entry in SCHEMA}
    for name in given:
        if name not in PASSES and given.get(owner[name]) is False:
            flag, switch = name.replace("_", "-"), owner[name].replace("_", "-")
            raise InvalidOptions(f"--{flag} has no effect with --no-{switch}.")
    switches = {name: value for name, value in given.items() if name in PASSES}
    settings = {name: value for name, value in given.items() if name not in PASSES}
    return api.resolve(preset, {**switches, **settings})


# --- compress -------------------------------------------------------------------------------------


@cli.command(cls=SectionedCommand)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output .glb file (one input), or folder (created if needed). "
    "Default: <name>.min.glb next to each input.",
)
@click.option(
    "-p",
    "--preset",
    type=click.Choice(list(api.PRESETS)),
    default=api.DEFAULT_PRESET,
    show_default=True,
    help="Named option set that the flags below adjust (see 'glbcompress presets').",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the reports as JSON on stdout, and nothing else."
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Files compressed in parallel [default: CPU count; 1 for less than 4 MB of input].",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary table.")
@debug_option
@engine_options
@click.pass_context
def compress(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    output: Path | None,
    preset: str,
    as_json: bool,
    jobs: int | None,
    quiet: bool,
    **flags: Any,
) -> None:
    """Compress .glb/.gltf files, and every one found in the given folders, into GLB files."""
    debug = bool(ctx.meta.get(DEBUG_KEY))
    try:
        options = options_from_flags(preset, flags)
        tasks = batch.plan(inputs, output)
    except (InvalidOptions, batch.UsageError) as exc:
        _error(getattr(exc, "message", str(exc)))
        ctx.exit(batch.EXIT_BAD_INPUT)
    workers = jobs or batch.default_workers(tasks)
    show_bar = not quiet and sys.stderr.isatty() and batch.input_bytes(tasks) >= LONG_WORK_BYTES
    with _progress_bar(tasks, show_bar) as on_progress:
        outcomes = batch.run(tasks, options, workers, on_progress)
    for outcome in outcomes:
        if outcome.code == batch.EXIT_INTERNAL:
            _internal_error(outcome.message, outcome.traceback, outcome.src, debug)
        elif outcome.code != batch.EXIT_OK:
            _error(outcome.message, outcome.src)
    if as_json:
        one_file = len(inputs) == 1 and len(outcomes) == 1 and not inputs[0].is_dir()
        data = outcomes[0].as_dict() if one_file else [o.as_dict() for o in outcomes]
        click.echo(json.dumps(data, indent=2))
    elif not quiet:
        _print_summary(outcomes)
    ctx.exit(batch.exit_code(outcomes))


@contextmanager
def _progress_bar(tasks: Sequence[batch.Task], enabled: bool) -> Iterator[batch.OnProgress | None]:
    """A transient bar on stderr over all files: steps of a file compressed here, whole files from
    the process pool."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    todo = [i for i, task in enumerate(tasks) if not task.refused]
    done = dict.fromkeys(todo, 0.0)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        overall = bar.add_task("compressing", total=len(todo), files=f"0/{len(todo)} files")

        def update(index: int, step: str, fraction: float) -> None:
            done[index] = fraction
            finished = sum(1 for value in done.values() if value >= 1.0)
            description = tasks[index].src.name if step == "done" else f"{tasks[index].src.name}: {step}"
            bar.update(
                overall,
                completed=sum(done.values()),
                description=description,
                files=f"{finished}/{len(todo)} files",
            )

        yield update


def _print_summary(outcomes: Sequence[batch.Outcome]) -> None:
    """A table on stdout: one row per compressed file, with a total row when there are several.
    Drawn by rich on a terminal (styled, folded to its width); as plain aligned text otherwise,
    where rich would draw the same text but take ~35 ms to import, a sixth of a small model's run."""
    done = [(o.src, o.report) for o in outcomes if o.report is not None]
    if not done:
        return
    names, folder = _short_names([src for src, _ in done])
    figures = [(r.input_bytes, r.output_bytes, r.scene_after.triangles, r.seconds) for _, r in done]
    rows = [_summary_row(name, *row) for name, row in zip(names, figures, strict=True)]
    totals = _summary_row("total", *map(sum, zip(*figures, strict=True))) if len(done) > 1 else None
    failed = len(outcomes) - len(done)
    caption = f"{failed} of {len(outcomes)} files failed (messages on stderr)" if failed else None
    if not sys.stdout.isatty():
        footer = [totals] if totals else []
        click.echo(_plain_table(folder, [list(SUMMARY_COLUMNS), *rows, *footer], caption))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=folder, title_justify="left", box=None, pad_edge=False, show_footer=totals is not None
    )
    for i, header in enumerate(SUMMARY_COLUMNS):
        footer = totals[i] if totals else ""
        table.add_column(header, footer, justify="right" if i else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    table.caption = caption
    Console(highlight=False).print(table)


def _plain_table(title: str | None, rows: list[list[str]], caption: str | None) -> str:
    """Rows as columns two spaces apart, the first left-aligned and the others right-aligned (the
    layout of the terminal's table), with the title above and the caption below."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    lines = [title] if title else []
    for row in rows:
        cells = [
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    if caption:
        lines.append(caption)
    return "\n".join(lines)


def _short_names(paths: list[Path]) -> tuple[list[str], str | None]:
    """Files named relative to their common folder, and that folder for the table's title (none
    when it is the current folder)."""
    folder = Path(os.path.commonpath([path.absolute().parent for path in paths]))
    names = [str(path.absolute().relative_to(folder)) for path in paths]
    return names, None if folder == Path.cwd() else str(folder)


SUMMARY_COLUMNS = ("file", "input", "output", "ratio", "triangles", "time")


def _summary_row(name: str, input_bytes: int, output_bytes: int, triangles: int, seconds: float) -> list[str]:
    ratio = f"{100 * output_bytes / input_bytes:.1f}%" if input_bytes else "-"
    return [name, _size(input_bytes), _size(output_bytes), ratio, f"{triangles:,}", f"{seconds:.2f} s"]


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


# --- presets and options --------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the presets as JSON.")
def presets(as_json: bool) -> None:
    """List the presets with their descriptions and option values."""
    data = PRESET_VALUES
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for name, entry in data.items():
        console.print(f"[bold]{name}[/bold]: {entry['description']}")
    table = Table("option", *data, box=None, pad_edge=False)
    for item in SCHEMA:
        values = [_preset_value(entry["options"], item) for entry in data.values()]
        table.add_row("--" + item["name"].replace("_", "-"), *values)
    console.print()
    console.print(table)


def _preset_value(flat: dict[str, Any], item: dict[str, Any]) -> str:
    if item["name"] not in flat:
        return "-"  # its pass is off
    return _value(flat[item["name"]])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the schema as JSON.")
def options(as_json: bool) -> None:
    """List every engine option: its flag, type, default and help, pass by pass."""
    if as_json:
        click.echo(json.dumps(SCHEMA, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for header in ("flag", "type", "default"):
        table.add_column(header, no_wrap=True)
    table.add_column("help", ratio=1)
    for item in SCHEMA:
        is_switch = item["name"] in PASSES
        if is_switch and table.row_count:
            table.add_section()
        flag = "--" + item["name"].replace("_", "-")
        kind = f"{item['type']} {_range(item)}".strip()
        default = "preset" if is_switch else _value(item.get("default", ""))
        table.add_row(f"[bold]{flag}[/bold]" if is_switch else flag, kind, default, item.get("help", ""))
    Console(highlight=False).print(table)


def _register_more_commands(group: click.Group) -> bool:
    """Add the web service's commands (serve, migrate, worker, users) and ``glbcompress remote``
    (the same compression on a server, through the SDK) the first time a command other than the
    local ones is looked up or all are listed: their modules and click options would cost a local
    ``compress`` (timed against gltfpack) start-up for nothing. False once already added."""
    if "remote" in group.commands:
        return False
    from .client.commands import register as register_remote_commands
    from .service.commands import register as register_service_commands

    register_service_commands(group)
    register_remote_commands(group, engine_options, SectionedCommand)
    return True
