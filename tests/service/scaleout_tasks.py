"""A job task for the scale-out tests, run by ``glbcompress worker --task`` in place of the engine:
it holds its job "running" until the test lets it go, so the test can kill or stop the worker at
a known moment.

The folder it watches is named by GLBCOMPRESS_TEST_HOLD_DIR (set in the worker's environment).
Each run writes ``started-<pid>`` there; it finishes (copying input to output) once ``release``
exists, and gives up after a minute.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def hold(
    src: Path, dst: Path, options: dict[str, Any], progress: Callable[[str, float], None]
) -> dict[str, Any]:
    folder = Path(os.environ["GLBCOMPRESS_TEST_HOLD_DIR"])
    (folder / f"started-{os.getpid()}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the job")
        progress("holding", 0.5)
        time.sleep(0.05)
    shutil.copyfile(src, dst)
    return {"input_bytes": src.stat().st_size, "output_bytes": dst.stat().st_size}
