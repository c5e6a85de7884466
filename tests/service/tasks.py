"""Job tasks for the queue tests, run inside the job process in place of the engine: each
misbehaves in one way a real compression might (too slow, too hungry, crashing, buggy)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Progress = Callable[[str, float], None]


def copy(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Finishes at once: the output is the input."""
    progress("copy", 0.5)
    shutil.copyfile(src, dst)
    return {"input_bytes": src.stat().st_size, "output_bytes": dst.stat().st_size, "options": options}


def slow(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Runs for a minute; leaves its pid in its work folder, so tests can watch the process."""
    (dst.parent / f"pid-{os.getpid()}").write_text(str(os.getpid()))
    for i in range(600):
        progress("waiting", i / 600)
        time.sleep(0.1)
    return copy(src, dst, options, progress)


def hungry(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Allocates (and touches) 2 GB."""
    block = bytearray(2 * 1024**3)
    block[::4096] = b"x" * len(block[::4096])
    return {}


def crash(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Dies the way a native library's bug kills a process."""
    progress("about to crash", 0.5)
    os.kill(os.getpid(), signal.SIGSEGV)
    return {}


def buggy(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    raise RuntimeError("secret internal detail that users must not see")


SCRIPT = {b"copy": copy, b"slow": slow, b"hungry": hungry, b"crash": crash, b"buggy": buggy}


def scripted(src: Path, dst: Path, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Behaves as the input file says ("slow", "crash", ...): one queue, many kinds of job."""
    return SCRIPT[src.read_bytes().strip()](src, dst, options, progress)
