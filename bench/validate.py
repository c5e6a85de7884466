"""The Khronos glTF-Validator on the outputs, and on decoded copies of them.

The validator does not look inside EXT_meshopt_compression or KHR_draco_mesh_compression data, so
every output is also copied with `gltf-transform copy` (which decodes both) and that copy is
validated too. Errors the input already had are not held against a tool: `new_errors` counts the
ones it added.

    reports = validate([Path("in.glb"), Path("out.glb")])
    new_errors(reports[0], reports[1])   # {"ACCESSOR_INDEX_OOB": 1}
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .paths import NODE_BIN, NODE_MODULES, TOOLS

VALIDATE_SCRIPT = TOOLS / "validate.mjs"


def validator_available() -> str | None:
    """None when the validator can run here, otherwise why not."""
    if shutil.which("node") is None:
        return "node not found"
    if not (NODE_MODULES / "gltf-validator").is_dir():
        return "gltf-validator not installed: run bench/setup"
    return None


def validate(files: list[Path], timeout: float = 600) -> list[dict]:
    """One report per file: {errors, warnings, error_codes, warning_codes} or {fatal}."""
    if not files:
        return []
    reason = validator_available()
    if reason:
        return [{"fatal": reason} for _ in files]
    try:
        proc = subprocess.run(
            ["node", str(VALIDATE_SCRIPT), *map(str, files)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return [{"fatal": f"validator timed out after {timeout:g} s"} for _ in files]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(reports) != len(files):
        message = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return [{"fatal": f"validator failed: {message[0]}"} for _ in files]
    for report in reports:
        report.pop("file", None)
    return reports


def decoded_copy(src: Path, dst: Path, timeout: float = 300) -> str | None:
    """Write src with meshopt/Draco data decoded; None on success, else what went wrong."""
    tool = NODE_BIN / "gltf-transform"
    if not tool.exists():
        return "gltf-transform not installed: run bench/setup"
    try:
        proc = subprocess.run(
            [str(tool), "copy", str(src), str(dst)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"gltf-transform copy timed out after {timeout:g} s"
    if proc.returncode != 0 or not dst.exists():
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        return f"gltf-transform copy failed: {lines[-1].strip() if lines else 'no message'}"[:300]
    return None


def new_errors(before: dict, after: dict) -> dict[str, int]:
    """Error codes the output has more of than the input had (an unreadable output counts as FATAL,
    unless the input was unreadable too)."""
    if after.get("fatal"):
        return {} if before.get("fatal") else {"FATAL": 1}
    had = before.get("error_codes", {})
    return {
        code: n - had.get(code, 0) for code, n in after.get("error_codes", {}).items() if n > had.get(code, 0)
    }
