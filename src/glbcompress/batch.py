"""Compressing many model files in one call, as ``glbcompress compress`` does.

Two steps, each testable on its own:

- `plan` turns the command line's inputs (files and folders) into one `Task` per model file, each
  with its output path. What must never happen is refused here, per file, before any work:
  overwriting an input, or writing two inputs to the same output name.
- `run` compresses the tasks (in a process pool when there are several) and returns one `Outcome`
  per task, in the same order: a Report, or an error with the exit code it stands for. One bad file
  never stops the others.

>>> tasks = plan([Path("models")], output=Path("dist"))
>>> outcomes = run(tasks, resolve("balanced"), workers=4)
>>> exit_code(outcomes)
0
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import api
from .engine.errors import EngineError
from .engine.records import dataclass

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2
MODEL_SUFFIXES = (".glb", ".gltf")
OUTPUT_SUFFIX = ".min.glb"
"""Outputs written next to their input are named ``<stem>.min.glb``; folder scans skip them."""

POOL_MIN_BYTES = 4 * 1024 * 1024
"""Unless told how many workers to use, batches smaller than this (input bytes in total) run one
file after another in this process: starting a pool (about 0.3 s) would cost more than it saves."""

OnProgress = Callable[[int, str, float], None]
"""Called as ``on_progress(task_index, step, fraction)``."""


class UsageError(ValueError):
    """The command as a whole cannot run (for example -o names a file but there are several inputs)."""


@dataclass(frozen=True)
class Task:
    """One model file to compress, or (with refused set) one that must not be."""

    src: Path
    dst: Path | None
    refused: str = ""
    kind: str = ""


@dataclass
class Outcome:
    """How one task ended: a report, or an error kind and one-line message (with the traceback for
    internal errors)."""

    src: Path
    dst: Path | None
    report: api.Report | None = None
    code: int = EXIT_OK
    kind: str = ""
    message: str = ""
    traceback: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: input and output paths with the report, or with the error."""
        out: dict[str, Any] = {"input": str(self.src), "output": str(self.dst) if self.report else None}
        if self.report is not None:
            out.update(self.report.as_dict())
        else:
            out["error"] = {"kind": self.kind, "message": self.message}
        return out


# --- planning -----------------------------------------------------------------------------------


def plan(inputs: Sequence[Path], output: Path | None = None) -> list[Task]:
    """One task per model file named or found (recursively) in a named folder, in command-line
    order, then path order within each folder.

    Outputs: with no output, ``<stem>.min.glb`` next to each input; with an output ending in .glb
    (one input file only), that file; otherwise output is a folder and each model is written to
    ``<output>/<path inside its folder>/<stem>.glb``.
    """
    if output is not None and output.suffix.lower() == ".gltf":
        raise UsageError("glbcompress writes GLB files: name the output .glb, or give a folder.")
    to_file = output is not None and output.suffix.lower() == ".glb" and not output.is_dir()
    if to_file and (len(inputs) > 1 or any(path.is_dir() for path in inputs)):
        raise UsageError("With several inputs or a folder, -o must name a folder, not a .glb file.")
    out_dir = None if to_file or output is None else output
    tasks: list[Task] = []
    seen: set[Path] = set()
    for path in inputs:
        if path.is_dir():
            found = [(model, model.relative_to(path)) for model in _models_in(path, out_dir)]
            if not found:
                tasks.append(Task(path, None, "this folder holds no .glb or .gltf files", "missing-input"))
        elif path.is_file():
            found = [(path, Path(path.name))]
        else:
            found = []
            tasks.append(Task(path, None, "no such file or folder", "missing-input"))
        for src, relative in found:
            if _identity(src) not in seen:  # a file named twice is compressed once
                seen.add(_identity(src))
                tasks.append(Task(src, _destination(src, relative, output, to_file)))
    return _refuse_conflicts(tasks)


def _models_in(folder: Path, out_dir: Path | None) -> list[Path]:
    """Every .glb/.gltf file under folder, sorted; outputs of earlier runs (``*.min.glb`` and
    anything inside the output folder) are skipped so that running twice does not compress them."""
    skip = _identity(out_dir) if out_dir is not None else None
    models = []
    for root, dirs, files in os.walk(folder):
        if skip is not None and _identity(Path(root)) == skip:
            dirs.clear()
            continue
        for name in files:
            lower = name.lower()
            if lower.endswith(MODEL_SUFFIXES) and not lower.endswith(OUTPUT_SUFFIX):
                models.append(Path(root, name))
    return sorted(models)


def _destination(src: Path, relative: Path, output: Path | None, to_file: bool) -> Path:
    if output is None:
        return src.with_name(src.stem + OUTPUT_SUFFIX)
    if to_file:
        return output
    return output / relative.with_name(relative.stem + ".glb")


def _refuse_conflicts(tasks: list[Task]) -> list[Task]:
    """Refuse tasks that would overwrite an input, and every task of a group that would share one
    output path."""
    inputs = {_identity(t.src): t.src for t in tasks if t.dst is not None}
    writers: dict[Path, list[Task]] = {}
    for task in tasks:
        if task.dst is not None:
            writers.setdefault(_identity(task.dst), []).append(task)
    result = []
    for task in tasks:
        if task.dst is None:
            result.append(task)
            continue
        key = _identity(task.dst)
        if key in inputs:
            why = f"the output {task.dst} would overwrite the input {inputs[key]}; choose another -o"
            task = Task(task.src, None, why, "output-conflict")
        elif len(writers[key]) > 1:
            others = ", ".join(str(t.src) for t in writers[key] if t is not task)
            why = (
                f"{others} would also be written to {task.dst}; give -o a folder or compress them separately"
            )
            task = Task(task.src, None, why, "output-conflict")
        result.append(task)
    return result


def _identity(path: Path) -> Path:
    """The absolute, symlink-free, case-normalized form of path, to compare files."""
    return Path(os.path.normcase(path.resolve()))


# --- running ------------------------------------------------------------------------------------


def run(
    tasks: Sequence[Task],
    options: api.Options,
    workers: int = 1,
    on_progress: OnProgress | None = None,
) -> list[Outcome]:
    """Compress every task that was not refused; with workers > 1 and several tasks, in a process
    pool. Progress comes step by step when running here, per finished file from the pool."""
    results = {i: _refused(task) for i, task in enumerate(tasks) if task.refused}
    todo = [i for i, task in enumerate(tasks) if not task.refused]
    if workers <= 1 or len(todo) <= 1:
        for i in todo:
            results[i] = compress_one(tasks[i], options, partial(on_progress, i) if on_progress else None)
            if on_progress:
                on_progress(i, "done", 1.0)
    else:
        _run_in_pool(tasks, todo, options, min(workers, len(todo)), results, on_progress)
    return [results[i] for i in range(len(tasks))]


def _run_in_pool(
    tasks: Sequence[Task],
    todo: list[int],
    options: api.Options,
    workers: int,
    results: dict[int, Outcome],
    on_progress: OnProgress | None,
) -> None:
    """Fill results[i] for every i in todo from a pool of worker processes."""
    from concurrent.futures import as_completed

    pool = _pool(workers)
    try:
        futures = {pool.submit(compress_one, tasks[i], options): i for i in todo}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = _collect(future, tasks[i])
            if on_progress:
                on_progress(i, "done", 1.0)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def compress_one(
    task: Task, options: api.Options, progress: Callable[[str, float], None] | None = None
) -> Outcome:
    """Compress one file; every failure becomes an Outcome (engine and file-system errors are the
    input's fault, exit 2; anything else is a bug, exit 1)."""
    assert task.dst is not None
    try:
        task.dst.parent.mkdir(parents=True, exist_ok=True)
        report = api.compress(task.src, task.dst, options, progress=progress)
    except EngineError as exc:
        return Outcome(task.src, task.dst, None, EXIT_BAD_INPUT, exc.kind, _strip_name(exc.message, task.src))
    except OSError as exc:
        message = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        return Outcome(task.src, task.dst, None, EXIT_BAD_INPUT, "io-error", message)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        return Outcome(
            task.src, task.dst, None, EXIT_INTERNAL, "internal-error", message, current_traceback()
        )
    return Outcome(task.src, task.dst, report)


def current_traceback() -> str:
    """The traceback of the exception being handled, for a bug's report. traceback is imported
    here, not at the top: it would add ~2 ms to every start-up for a run that has no bug."""
    import traceback

    return traceback.format_exc()


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """The worst code wins: an internal error (a bug) outranks bad input, which outranks success."""
    codes = {o.code for o in outcomes}
    for code in (EXIT_INTERNAL, EXIT_BAD_INPUT):
        if code in codes:
            return code
    return EXIT_OK


def default_workers(tasks: Sequence[Task]) -> int:
    """One worker per CPU, at most one per file; one (no pool) for a small batch."""
    todo = sum(1 for task in tasks if not task.refused)
    if input_bytes(tasks) < POOL_MIN_BYTES:
        return 1
    return max(1, min(available_cpus(), todo))


def input_bytes(tasks: Sequence[Task]) -> int:
    """Size of the files to compress (a .gltf counts without its external files)."""
    return sum(task.src.stat().st_size for task in tasks if not task.refused)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _refused(task: Task) -> Outcome:
    return Outcome(task.src, task.dst, None, EXIT_BAD_INPUT, task.kind, task.refused)


def _collect(future: Future, task: Task) -> Outcome:
    """The worker's outcome; a worker that died (killed, out of memory) is an internal error."""
    try:
        return future.result()
    except Exception as exc:
        message = f"the worker process failed ({type(exc).__name__}: {exc})"
        return Outcome(
            task.src, task.dst, None, EXIT_INTERNAL, "internal-error", message, current_traceback()
        )


def _pool(workers: int) -> ProcessPoolExecutor:
    """Workers forked from a clean server process that has already imported the engine: quick to
    start, and safe although this process may run threads (a progress bar, numpy's pools). Imported
    here: a single file, the usual case, needs no pool (multiprocessing takes ~15 ms to import)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context)


def _strip_name(message: str, src: Path) -> str:
    """Messages are shown after the file's path; drop the file name where the engine repeats it."""
    prefix = f"{src.name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
