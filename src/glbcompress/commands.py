"""The ``glbcompress`` command group and its local commands, built with click: ``compress``,
``presets`` and ``options``, with one flag per engine option, generated from
``engine.options.schema()`` (``--position-bits N``, ``--quantize/--no-quantize``, ...), so options
that passes add appear here by themselves. The web service's and ``remote`` commands are added on
first lookup (``_register_more_commands``).

The console script (``cli.main``) runs a plain ``glbcompress compress`` without loading this module
or click; every other command line comes here. Exit codes and messages are described in ``cli``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__, batch
from .cli import (
    DEBUG_FLAG,
    SCHEMA,
    compress_files,
    error,
    flag_name,
    internal_error,
    range_text,
    value_text,
)
from .engine import api
from .engine.options import PASSES

DEBUG_KEY = "glbcompress.debug"
PRESET_VALUES = api.presets()


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG_KEY] = True


debug_option = click.option(
    DEBUG_FLAG,
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
            error(exc.format_message() + hint)
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
            internal_error(f"{type(exc).__name__}: {exc}", batch.current_traceback(), None, debug)
            ctx.exit(batch.EXIT_INTERNAL)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="glbcompress", message="%(prog)s %(version)s")
@debug_option
def cli() -> None:
    """Make glTF/GLB 3D models small and fast to load without visible loss."""


# --- engine options as flags ----------------------------------------------------------------------


class EngineOption(click.Option):
    """A flag generated from one entry of the engine's option schema; --help groups them by pass."""

    def __init__(self, *args: Any, entry: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.section = f"{entry['pass']} pass"


def engine_option(entry: dict[str, Any]) -> Callable:
    """The click.option decorator for one schema entry: --x/--no-x for a bool, --x N for a number,
    --x CHOICE for a choice. Unset flags are None, so the preset's value stays."""
    flag = flag_name(entry["name"])
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
    notes = [f"default: {value_text(entry['default'])}"] if "default" in entry else []
    if "min" in entry:
        notes.append(range_text(entry))
    return f"{text} [{'; '.join(notes)}]" if notes else text


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


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
@click.option(
    "--list-textures",
    is_flag=True,
    help="After the summary, a table of each file's textures: class, format and size before and "
    "after, quality, SSIM and PSNR (not with --json, whose reports hold them).",
)
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
    list_textures: bool,
    **flags: Any,
) -> None:
    """Compress .glb/.gltf files, and every one found in the given folders, into GLB files."""
    debug = bool(ctx.meta.get(DEBUG_KEY))
    ctx.exit(compress_files(inputs, output, preset, as_json, jobs, quiet, debug, flags, list_textures))


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
        table.add_row(flag_name(item["name"]), *values)
    console.print()
    console.print(table)


def _preset_value(flat: dict[str, Any], item: dict[str, Any]) -> str:
    if item["name"] not in flat:
        return "-"  # its pass is off
    return value_text(flat[item["name"]])


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
        flag = flag_name(item["name"])
        kind = f"{item['type']} {range_text(item)}".strip()
        default = "preset" if is_switch else value_text(item.get("default", ""))
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
