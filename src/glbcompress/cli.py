"""The ``glbcompress`` command.

    glbcompress compress model.glb                   # writes model.min.glb beside it
    glbcompress compress scene.gltf -o small.glb --draco --position-bits 12
    glbcompress compress models/ -o dist/ --json     # every .glb/.gltf below models/, in parallel
    glbcompress presets | glbcompress options | glbcompress --version
    glbcompress remote compress models/ -o dist/     # the same on a server (client/commands.py)

The commands are click commands (``glbcompress.commands``; ``cli.cli`` is their group). Every engine
option has a flag generated from ``engine.options.schema()`` (``--position-bits N``,
``--quantize/--no-quantize``, ...), so options that passes add appear here by themselves.

Exit codes: 0 success; 2 bad input or options (a one-line ``glbcompress: error: ...`` on stderr);
1 internal error, i.e. a bug (``--debug`` shows its traceback). With several files the worst wins.

Start-up is most of a small model's run, and the benchmark against gltfpack starts one process per
model, so this module, the console script's, loads neither click nor rich (tests/test_startup.py
checks what the command loads). A plain ``compress`` command line (``fast_compress_args``: known
flags, each value as its own word) is read here and run by the same ``compress_files`` as the click
command; anything else, including every mistake, goes to click for its parsing and its messages.
rich is imported only when a progress bar or table is drawn on a terminal.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before numpy loads (with the engine, below): OpenBLAS otherwise starts a thread per CPU, which
# costs ~40 ms of start-up and exit on a run of ~0.3 s, while the engine's matrix products are far
# too small to gain from threads. An explicit OPENBLAS_NUM_THREADS still wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Loading numpy and the engine creates tens of thousands of objects that live as long as the
# process (modules, classes, functions). The cyclic garbage collector would walk them again and
# again while they are created, and in every full collection of the run after: ~2% of a small
# model's run. So it pauses while they load, and then sets them aside for good (gc.freeze: what
# exists by then, the importer's objects too, is left out of later collections).
_collecting = gc.isenabled()
gc.disable()
try:
    from . import batch, texture_table
    from .engine import api
    from .engine.errors import InvalidOptions
    from .engine.options import PASSES, schema
finally:
    if _collecting:
        gc.freeze()
        gc.enable()

if TYPE_CHECKING:
    import click

SCHEMA = schema()
LONG_WORK_BYTES = 4 * 1024 * 1024
"""Inputs at least this large (in total) get a progress bar, when stderr is a terminal."""
DEBUG_FLAG = "--debug"


def __getattr__(name: str) -> click.Group:
    """``cli``, the click group, is built on first use: a plain compress run never needs it."""
    if name == "cli":
        from .commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The console script. Once the command is done and its output flushed, the process ends
    with os._exit: the interpreter's orderly teardown (freeing every module and object one by one,
    ~20 ms with numpy loaded) achieves nothing the OS does not do at once. Nothing is left to
    write by then (outputs are complete files, a process pool has been shut down); should a thread
    still run, the ordinary exit waits for it (threading is looked up, not imported: if nothing
    imported it, no thread was started through it, and a compress run never needs it)."""
    code = run()
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe (glbcompress ... | head) or stream
            stream.flush()
    os._exit(code)


def run(args: Sequence[str] | None = None) -> int:
    """Run a command line (by default the process's own arguments) and return its exit code."""
    fast = fast_compress_args(sys.argv[1:] if args is None else args)
    if fast is not None:
        return _run_fast_compress(fast)
    from .commands import cli

    try:
        cli.main(None if args is None else list(args), prog_name="glbcompress")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


# --- messages -------------------------------------------------------------------------------------


def echo(text: str, *, err: bool = False) -> None:
    """One line on stdout (or stderr), as ``click.echo`` writes it. click has its own rules only for
    ANSI escapes (stripped when not on a terminal) and for streams that are not UTF-8, so those go
    to it."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
    if "\x1b" in text or encoding != "utf8":
        import click

        click.echo(text, err=err)
        return
    stream.write(text + "\n")
    stream.flush()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error(message: str, file: Path | str | None = None, *, internal: bool = False) -> None:
    """The one line on stderr for a failure: ``glbcompress: error: <file>: <message>``."""
    label = "internal error" if internal else "error"
    where = f"{file}: " if file is not None else ""
    echo(f"glbcompress: {label}: {where}{_one_line(message)}", err=True)


def internal_error(message: str, trace: str, file: Path | str | None, debug: bool) -> None:
    hint = "" if debug else " (this is a bug; run again with --debug to see the traceback)"
    error(message + hint, file, internal=True)
    if debug:
        echo(trace.rstrip(), err=True)


# --- compress -------------------------------------------------------------------------------------


def flag_name(name: str) -> str:
    """The command-line flag of a flat engine option: position_bits -> --position-bits."""
    return "--" + name.replace("_", "-")


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


def compress_files(
    inputs: Sequence[Path],
    output: Path | None,
    preset: str,
    as_json: bool,
    jobs: int | None,
    quiet: bool,
    debug: bool,
    flags: dict[str, Any],
    list_textures: bool = False,
) -> int:
    """``glbcompress compress``, its arguments read: compress, report, and return the exit code."""
    try:
        options = options_from_flags(preset, flags)
        tasks = batch.plan(inputs, output)
    except (InvalidOptions, batch.UsageError) as exc:
        error(getattr(exc, "message", str(exc)))
        return batch.EXIT_BAD_INPUT
    workers = jobs or batch.default_workers(tasks)
    show_bar = not quiet and sys.stderr.isatty() and batch.input_bytes(tasks) >= LONG_WORK_BYTES
    with _progress_bar(tasks, show_bar) as on_progress:
        outcomes = batch.run(tasks, options, workers, on_progress)
    for outcome in outcomes:
        if outcome.code == batch.EXIT_INTERNAL:
            internal_error(outcome.message, outcome.traceback, outcome.src, debug)
        elif outcome.code != batch.EXIT_OK:
            error(outcome.message, outcome.src)
    if as_json:
        one_file = len(inputs) == 1 and len(outcomes) == 1 and not inputs[0].is_dir()
        data = outcomes[0].as_dict() if one_file else [o.as_dict() for o in outcomes]
        echo(json.dumps(data, indent=2))
    else:
        if not quiet:
            _print_summary(outcomes)
        if list_textures:
            _print_textures(outcomes, after_summary=not quiet)
    return batch.exit_code(outcomes)


def _number(kind: type, value: str, lowest: int | None = None) -> int | float | None:
    """The value as click's INT, FLOAT or IntRange(min=lowest) reads it; None when click refuses it."""
    try:
        number = kind(value)
    except ValueError:
        return None
    return None if lowest is not None and number < lowest else number


def _path(value: str) -> Path | None:
    """The path as click.Path reads it; None when click refuses it (it exists but cannot be read)."""
    try:
        os.stat(value)
    except OSError:
        return Path(value)
    return Path(value) if os.access(value, os.R_OK) else None


def _preset(value: str) -> str | None:
    return value if value in api.PRESETS else None


_Reading = tuple[str, Any]
"""What a flag word sets: (keyword of compress_files or engine option name, how): a function that
reads the next word (None when click would refuse that word), or the value a bare flag stands for."""

_COMPRESS_OPTIONS: dict[str, _Reading] = {
    **dict.fromkeys(("-o", "--output"), ("output", _path)),
    **dict.fromkeys(("-p", "--preset"), ("preset", _preset)),
    "--json": ("as_json", True),
    **dict.fromkeys(("-j", "--jobs"), ("jobs", partial(_number, int, lowest=1))),
    **dict.fromkeys(("-q", "--quiet"), ("quiet", True)),
    "--list-textures": ("list_textures", True),
    DEBUG_FLAG: ("debug", True),
}
"""The compress command's own options (commands.compress), read as click reads them."""

_ENGINE_FLAGS: dict[str, _Reading] = {}


def _engine_flags() -> dict[str, _Reading]:
    """The engine options' flag words (commands.engine_option): --x and --no-x for a switch, --x
    VALUE for a number, a choice or text."""
    if not _ENGINE_FLAGS:
        for entry in SCHEMA:
            name, flag = entry["name"], flag_name(entry["name"])
            kind = str(entry["type"]).replace(" | None", "")
            if kind == "bool":
                _ENGINE_FLAGS[flag] = (name, True)
                _ENGINE_FLAGS[f"--no-{flag[2:]}"] = (name, False)
            elif kind == "choice":
                choices = frozenset(str(c) for c in entry["choices"])
                _ENGINE_FLAGS[flag] = (
                    name,
                    lambda value, choices=choices: value if value in choices else None,
                )
            elif kind in ("int", "float"):
                _ENGINE_FLAGS[flag] = (name, partial(_number, int if kind == "int" else float))
            else:
                _ENGINE_FLAGS[flag] = (name, str)
    return _ENGINE_FLAGS


def fast_compress_args(args: Sequence[str]) -> dict[str, Any] | None:
    """The arguments of compress_files for a plain ``compress`` command line, read as the click
    command reads them; None for any other command line, for click to read (and word its errors).

    Plain means: the ``compress`` command with no option before it; options written out in full as
    the command defines them, each value as the next word (``-o out.glb``, not ``-oout.glb`` or
    ``--output=out.glb``); no other word starting with ``-``, no empty word; values that click
    accepts; at least one input. On Windows click expands wildcards in the arguments, and with
    _GLBCOMPRESS_COMPLETE set it completes words for the shell, so those go to click."""
    if os.name == "nt" or not args or args[0] != "compress" or os.environ.get("_GLBCOMPRESS_COMPLETE"):
        return None
    engine = _engine_flags()
    inputs: list[Path] = []
    result: dict[str, Any] = {"output": None, "preset": api.DEFAULT_PRESET, "as_json": False, "jobs": None}
    result |= {"quiet": False, "list_textures": False, "debug": False}
    result["flags"] = dict.fromkeys(name for name, _ in engine.values())
    words = iter(args[1:])
    for word in words:
        if word[:1] != "-":
            path = _path(word) if word else None
            if path is None:
                return None
            inputs.append(path)
            continue
        target = result if word in _COMPRESS_OPTIONS else result["flags"]
        name, how = _COMPRESS_OPTIONS.get(word) or engine.get(word) or ("", None)
        if not name:
            return None
        if callable(how):
            value = next(words, "")
            how = how(value) if value[:1] not in ("", "-") else None
            if how is None:
                return None
        target[name] = how
    return {"inputs": tuple(inputs), **result} if inputs else None


def _run_fast_compress(arguments: dict[str, Any]) -> int:
    """compress_files with the click group's handling of what escapes it: a closed stdout ends the
    run quietly with exit code 1, Ctrl-C with a blank line and "interrupted" (130), any other
    exception is an internal error (exit 1)."""
    try:
        return compress_files(**arguments)
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        echo("", err=True)
        echo("glbcompress: interrupted", err=True)
        return 130
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        internal_error(message, batch.current_traceback(), None, arguments["debug"])
        return batch.EXIT_INTERNAL


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
        echo(_plain_table(folder, [list(SUMMARY_COLUMNS), *rows, *footer], caption))
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


def _print_textures(outcomes: Sequence[batch.Outcome], after_summary: bool) -> None:
    """For each compressed file, a table of its textures (print_texture_tables)."""
    print_texture_tables([(o.src, o.report.passes) for o in outcomes if o.report is not None], after_summary)


def print_texture_tables(files: Sequence[tuple[Path, Iterable[Any] | None]], after_summary: bool) -> None:
    """For each file, a table of its textures (texture_table.COLUMNS) from its report's passes, as
    plain aligned text titled with the file's name; a file without textures says so in one line, as
    does one whose report could not be had (None). A blank line goes before each (before the first
    only when it follows the summary). ``glbcompress remote compress --list-textures`` prints these
    too, from the reports of the server's jobs."""
    if not files:
        return
    names, _ = _short_names([src for src, _ in files])
    headers = [header for _, header in texture_table.COLUMNS]
    for i, (name, (_, passes)) in enumerate(zip(names, files, strict=True)):
        if i or after_summary:
            echo("")
        if passes is None:
            echo(f"{_printable(name)}: no report, textures unknown")
            continue
        rows = texture_table.texture_rows(passes, _size, missing="-")
        if not rows:
            echo(f"{_printable(name)}: no textures")
            continue
        cells = [[_printable(row[key]) for key, _ in texture_table.COLUMNS] for row in rows]
        echo(_plain_table(f"{_printable(name)}: textures", [headers, *cells], None, left=4))


def _printable(text: str) -> str:
    """Text from a model (an image's name) made safe for a terminal: control characters, escape
    sequences included, become U+FFFD."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _plain_table(title: str | None, rows: list[list[str]], caption: str | None, left: int = 1) -> str:
    """Rows as columns two spaces apart, the first ``left`` columns left-aligned and the others
    right-aligned (the layout of the terminal's table), with the title above and the caption below."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    lines = [title] if title else []
    for row in rows:
        cells = [
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
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


def value_text(value: Any) -> str:
    """An option value as the help and tables show it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def range_text(entry: dict[str, Any]) -> str:
    if "min" in entry:
        return f"{entry['min']}..{entry['max']}"
    return "|".join(map(str, entry.get("choices", [])))
