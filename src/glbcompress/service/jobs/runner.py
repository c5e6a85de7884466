"""What runs inside a job's own process: resource limits, the task, and messages to the supervisor.

One process per job means a job that runs away (time), swells (memory) or crashes (a native
library's segfault) takes down only itself; its supervisor in the server records why and carries
on. The process reports over a one-way pipe:

    ("progress", step, fraction)    as the engine goes
    ("ok", report_dict)             the output file is written
    ("error", kind, message)        the model or options were refused (an EngineError), or memory ran out
    ("bug", traceback_text)         an unexpected exception: logged for us, a generic message for the user

A task is named by an import path (``"module:function"``) so it can cross into a fresh process;
it is called as ``task(src, dst, options, progress)`` and returns the report as a dict.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

DEFAULT_TASK = "glbcompress.service.jobs.runner:compress_model"
PR_SET_PDEATHSIG = 1

Task = Callable[[Path, Path, dict[str, Any], Callable[[str, float], None]], dict[str, Any]]


def compress_model(
    src: Path, dst: Path, options: dict[str, Any], progress: Callable[[str, float], None]
) -> dict[str, Any]:
    """The job every queue runs by default: the engine on one model, with the options the job was
    submitted with (``{"preset": name, "options": {flat overrides}}``). The input is a GLB, a .gltf
    or a .zip holding one model with its files (unpacked into dst's folder first)."""
    from glbcompress.engine import api

    from .archive import looks_like_zip, prepare_input

    if looks_like_zip(src):
        progress("unpack", 0.0)
    model = prepare_input(src, dst.parent)
    report = api.compress(
        model, dst, options.get("options") or {}, preset=options.get("preset"), progress=progress
    )
    return report.as_dict()


@dataclass(frozen=True)
class ResourceLimits:
    memory_bytes: int
    cpu_seconds: int


def load_task(path: str) -> Task:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def memory_message(limits: ResourceLimits) -> str:
    return (
        f"Compressing this model needed more than the {limits.memory_bytes // (1024 * 1024)} MB of "
        "memory a job may use."
    )


def child_main(
    conn: Connection,
    task_path: str,
    src: str,
    dst: str,
    options: dict[str, Any],
    limits: ResourceLimits,
) -> None:
    """The job process's entry point."""
    _die_with_parent()
    _leave_stopping_to_the_supervisor()
    _limit(limits)
    from glbcompress.engine.errors import EngineError

    def progress(step: str, fraction: float) -> None:
        conn.send(("progress", step, fraction))

    try:
        report = load_task(task_path)(Path(src), Path(dst), options, progress)
        conn.send(("ok", report))
    except MemoryError:
        conn.send(("error", "limit-exceeded", memory_message(limits)))
    except EngineError as exc:
        conn.send(("error", exc.kind, exc.message))
    except BaseException:
        conn.send(("bug", traceback.format_exc()))
    finally:
        conn.close()


def _limit(limits: ResourceLimits) -> None:
    """Memory the process may allocate (heap and private mappings), CPU time as a backstop to the
    supervisor's wall-clock limit, and no core dumps."""
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _leave_stopping_to_the_supervisor() -> None:
    """Ignore Ctrl-C and SIGTERM sent to the whole process group (a terminal, systemd without
    KillMode=mixed): the supervisor decides whether the job finishes or is handed back, and kills
    this process itself (SIGKILL) when it must stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _die_with_parent() -> None:
    """On Linux, ask to be killed when the process that started us dies, so a killed server leaves
    no job running unsupervised."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
