"""The configurations the bench compares, and running one of them on one model.

Each configuration is a command line: glbcompress presets, gltfpack (the npm WASM build, and the
native build from PyPI for texture encoding, which the WASM build lacks) and glTF-Transform. A
run is timed from outside (wall time includes interpreter or Node start-up alike), its peak
memory read by GNU time, and it is stopped at a time limit. A tool that fails on a model is a
result with ok=False, never an exception.

    run_config(CONFIGS["gltfpack -cc"], Path("in.glb"), Path("out.glb"), timeout=300)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .paths import NATIVE_GLTFPACK, NODE_BIN

Command = Callable[[Path, Path], list[str]]
GNU_TIME = Path("/usr/bin/time")

# The CLI of the Python environment running the bench (the project's .venv).
GLBCOMPRESS = Path(sys.executable).with_name("glbcompress")


def glbcompress(preset: str, *flags: str) -> Command:
    """glbcompress with a preset (and extra flags), through its CLI in its own process."""
    return lambda src, dst: [
        str(GLBCOMPRESS),
        "compress",
        str(src),
        "-o",
        str(dst),
        "--preset",
        preset,
        "--json",
        *flags,
    ]


def gltfpack(*flags: str, native: bool = False) -> Command:
    binary = NATIVE_GLTFPACK if native else NODE_BIN / "gltfpack"
    return lambda src, dst: [str(binary), "-i", str(src), "-o", str(dst), *flags]


def gltf_transform(*args: str) -> Command:
    return lambda src, dst: [str(NODE_BIN / "gltf-transform"), args[0], str(src), str(dst), *args[1:]]


@dataclass(frozen=True)
class Config:
    name: str
    tool: str  # "glbcompress", "gltfpack" or "gltf-transform": groups configurations in the chart
    command: Command
    executable: Path | None = None  # checked before running
    note: str = ""
    budget_of: tuple[str, float] | None = None
    """(configuration, fraction): run with --target-size-mb set to that fraction of the named
    configuration's output on the same model (which runs first if it is not selected)."""

    def describe(self) -> str:
        """The command line with placeholders, for listings and the results' metadata."""
        cmd = self.command(Path("IN"), Path("OUT"))
        return " ".join([Path(cmd[0]).name, *cmd[1:]]) + (f"  [{self.note}]" if self.note else "")


_GLTFPACK = NODE_BIN / "gltfpack"
_GLTF_TRANSFORM = NODE_BIN / "gltf-transform"

CONFIGS: dict[str, Config] = {
    c.name: c
    for c in [
        Config("glbcompress lossless", "glbcompress", glbcompress("lossless"), GLBCOMPRESS),
        Config("glbcompress balanced", "glbcompress", glbcompress("balanced"), GLBCOMPRESS),
        Config("glbcompress max", "glbcompress", glbcompress("max"), GLBCOMPRESS),
        Config(
            "glbcompress balanced, textures untouched",
            "glbcompress",
            glbcompress("balanced", "--no-textures"),
            GLBCOMPRESS,
            "the engine issue's configuration",
        ),
        Config(
            "glbcompress balanced, fixed texture quality",
            "glbcompress",
            glbcompress("balanced", "--texture-quality", "80"),
            GLBCOMPRESS,
            "one encode per texture, no quality search",
        ),
        Config(
            "glbcompress balanced ktx2",
            "glbcompress",
            glbcompress("balanced", "--texture-format", "ktx2"),
            GLBCOMPRESS,
        ),
        Config(
            "glbcompress balanced avif",
            "glbcompress",
            glbcompress("balanced", "--texture-format", "avif"),
            GLBCOMPRESS,
        ),
        Config("gltfpack -cc", "gltfpack", gltfpack("-cc"), _GLTFPACK, "npm, WASM"),
        Config(
            "gltfpack -cc -tw", "gltfpack", gltfpack("-cc", "-tw", native=True), NATIVE_GLTFPACK, "native"
        ),
        Config(
            "gltfpack -cc -tc", "gltfpack", gltfpack("-cc", "-tc", native=True), NATIVE_GLTFPACK, "native"
        ),
        Config(
            "gltf-transform optimize",
            "gltf-transform",
            gltf_transform("optimize", "--texture-compress", "false", "--simplify", "false"),
            _GLTF_TRANSFORM,
        ),
        Config(
            "gltf-transform optimize draco webp",
            "gltf-transform",
            gltf_transform("optimize", "--compress", "draco", "--texture-compress", "webp"),
            _GLTF_TRANSFORM,
        ),
    ]
}

SIMPLIFY_RATIOS = ("0.5", "0.25", "0.1")
BUDGET_REFERENCE = "glbcompress balanced"
BUDGET_FRACTIONS = (0.5, 0.25)


def _simplify_configs() -> list[Config]:
    """Simplification to a ratio (issue 5): every tool asked for the same share of triangles with
    the error bound out of the way (1 = the whole model), textures left as they are, so outputs
    differ in which triangles went, not in how many; then target sizes at fractions of balanced."""
    out = []
    for r in SIMPLIFY_RATIOS:
        out += [
            Config(
                f"glbcompress simplify {r}",
                "glbcompress",
                glbcompress("balanced", "--no-textures", "--simplify-ratio", r, "--simplify-error", "1"),
                GLBCOMPRESS,
            ),
            Config(
                f"gltfpack -si {r}", "gltfpack", gltfpack("-cc", "-si", r, "-se", "1"), _GLTFPACK, "npm, WASM"
            ),
            Config(
                f"gltf-transform simplify {r}",
                "gltf-transform",
                gltf_transform("simplify", "--ratio", r, "--error", "1"),
                _GLTF_TRANSFORM,
                "no compression",
            ),
        ]
    for fraction in BUDGET_FRACTIONS:
        out.append(
            Config(
                f"glbcompress target {fraction:.0%}",
                "glbcompress",
                glbcompress("balanced"),
                GLBCOMPRESS,
                f"--target-size-mb = {fraction:g} x {BUDGET_REFERENCE} output",
                budget_of=(BUDGET_REFERENCE, fraction),
            )
        )
    return out


CONFIGS.update((c.name, c) for c in _simplify_configs())
SIMPLIFY_CONFIGS = (BUDGET_REFERENCE, *(c.name for c in _simplify_configs()))
"""The simplification comparison (--simplify-goal): balanced as the budgets' reference, then the
ratio and target-size configurations."""

# The comparison of the engine issue: glbcompress balanced with textures untouched (the engine
# issue is about geometry, scene and animation) against these two, bytes and wall time.
ENGINE = "glbcompress balanced, textures untouched"
GOAL_REFERENCE = "gltfpack -cc"
GOAL_CONFIGS = (ENGINE, GOAL_REFERENCE, "gltf-transform optimize")

# The texture issue's comparison (issue 4): glbcompress balanced (textures included) against four
# references, two that re-encode textures as WebP, one as KTX2 and one that leaves them as they
# are; bytes against the smallest of them, fidelity, and wall time against native gltfpack -tw.
TEXTURE_ENGINE = "glbcompress balanced"
TEXTURE_REFERENCES = (
    "gltfpack -cc -tw",
    "gltfpack -cc -tc",
    "gltf-transform optimize",
    "gltf-transform optimize draco webp",
)
TEXTURE_TIME_REFERENCE = "gltfpack -cc -tw"
TEXTURE_CONFIGS = (TEXTURE_ENGINE, *TEXTURE_REFERENCES)
TEXTURE_TIME_FLOORS = ("glbcompress balanced, fixed texture quality", ENGINE)
"""Run with the texture goal, for its time line: what balanced takes with one encode per texture
instead of the quality search, and with textures untouched (start-up and geometry alone)."""
TEXTURE_RUNS = (*TEXTURE_CONFIGS, *TEXTURE_TIME_FLOORS)
"""What --texture-goal runs."""


@dataclass
class RunResult:
    ok: bool
    seconds: float
    peak_mb: float | None  # None where GNU time is missing
    returncode: int | None
    error: str = ""
    stdout: str = ""


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[:400]


def _peak_mb(report: Path) -> float | None:
    """GNU time's last line is the peak resident set size in kilobytes."""
    try:
        return int(report.read_text().split()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        return None


def run_command(cmd: list[str], timeout: float) -> RunResult:
    """Run cmd, timing it and reading its peak resident memory (its own and its children's).

    The peak comes from GNU time (/usr/bin/time): the kernel's figure for a child forked straight
    from this (large) Python process would include this process's own size. The child runs in its
    own process group so that a time-out ends everything it started. The wait blocks until the
    child exits, with a timer for the time limit: Popen.wait(timeout) polls every 50 ms, which
    rounded each time up to the next poll (0.16, 0.21, 0.26 s, ...), a large error for tools that
    take 0.1-0.3 s.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out, err, report = Path(tmp, "out"), Path(tmp, "err"), Path(tmp, "time")
        measured = [str(GNU_TIME), "-f", "%M", "-o", str(report), *cmd] if GNU_TIME.exists() else cmd
        started = time.perf_counter()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            try:
                proc = subprocess.Popen(
                    measured, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, start_new_session=True
                )
            except OSError as exc:
                return RunResult(False, 0.0, None, None, f"cannot start {cmd[0]}: {exc}")
            stopped = threading.Event()
            timer = threading.Timer(timeout, _stop_group, (proc.pid, stopped))
            timer.start()
            try:
                proc.wait()
            finally:
                timer.cancel()
            timed_out = stopped.is_set()
        seconds = time.perf_counter() - started
        peak_mb = _peak_mb(report)
        output = out.read_text(errors="replace")
        errors = err.read_text(errors="replace")
    if timed_out:
        return RunResult(False, seconds, peak_mb, proc.returncode, f"timed out after {timeout:g} s")
    if proc.returncode != 0:
        message = _tail(errors) or _tail(output) or "no message"
        return RunResult(
            False, seconds, peak_mb, proc.returncode, f"exit {proc.returncode}: {message}", output
        )
    return RunResult(True, seconds, peak_mb, 0, stdout=output)


def _stop_group(pgid: int, stopped: threading.Event) -> None:
    """The time limit's end: kill the command and everything it started."""
    stopped.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def run_config(config: Config, src: Path, dst: Path, timeout: float) -> RunResult:
    """Run one configuration on one model; ok only when it exited cleanly and wrote dst."""
    if config.executable is not None and not config.executable.exists():
        return RunResult(False, 0.0, None, None, f"{config.executable.name} not installed: run bench/setup")
    dst.unlink(missing_ok=True)
    result = run_command(config.command(src, dst), timeout)
    if result.ok and not (dst.exists() and dst.stat().st_size > 0):
        result.ok = False
        result.error = "exit 0 but no output written" + (f": {_tail(result.stdout)}" if result.stdout else "")
    return result
