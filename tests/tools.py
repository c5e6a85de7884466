"""The reference tools the tests run: the Khronos glTF-Validator and glTF-Transform (npm packages
installed in tools/node by `scripts/setup-node`, which `.ci/run` calls)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tools" / "node"
VALIDATE = NODE_DIR / "validate.mjs"
GLTF_TRANSFORM = NODE_DIR / "node_modules" / ".bin" / "gltf-transform"
CORPUS = ROOT.parent / "shared" / "corpus"


def have_validator() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "gltf-validator").is_dir()


def need_validator() -> None:
    if not have_validator():
        pytest.skip("glTF-Validator not installed: run scripts/setup-node (needs node and npm)")


def validate(*files: Path) -> list[dict]:
    """One report per file: {"file", "errors", "warnings", "messages": [{code, severity, ...}]}."""
    need_validator()
    out = subprocess.run(
        ["node", str(VALIDATE), *map(str, files)], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def error_codes(report: dict) -> Counter:
    if report.get("fatal"):
        return Counter({"FATAL": 1})
    return Counter(m["code"] for m in report["messages"] if m["severity"] == 0)


def new_errors(before: dict, after: dict) -> dict[str, int]:
    """Error codes the output has that the input did not have (or has more of)."""
    b, a = error_codes(before), error_codes(after)
    return {code: n for code, n in a.items() if n > b.get(code, 0)}


def decoded_copy(src: Path, dst: Path) -> Path:
    """`gltf-transform copy`: writes the model with meshopt/Draco data decoded, so the validator
    can look inside it."""
    need_validator()
    if not GLTF_TRANSFORM.exists():
        pytest.skip("gltf-transform not installed: run scripts/setup-node")
    subprocess.run(
        [str(GLTF_TRANSFORM), "copy", str(src), str(dst)], capture_output=True, check=True, timeout=300
    )
    return dst


def assert_pass_adds_no_errors(
    inputs: Iterable[Path], folder: Path, apply: Callable[[Path, Path], None]
) -> None:
    """Runs `apply(input, output)` on each model and checks that no output has a validator error
    its input did not have (one validator run for all files: node start-up is the slow part)."""
    inputs = list(inputs)
    outputs = [folder / f"out{i}_{path.stem}.glb" for i, path in enumerate(inputs)]
    for path, out in zip(inputs, outputs, strict=True):
        apply(path, out)
    reports = validate(*inputs, *outputs)
    for path, before, after in zip(inputs, reports[: len(inputs)], reports[len(inputs) :], strict=True):
        assert not new_errors(before, after), f"{path.name}: {new_errors(before, after)}"


def corpus_models(names: Iterable[str]) -> list[Path]:
    """The corpus models (paths under public/) that this checkout has."""
    return [CORPUS / "public" / p for p in names if (CORPUS / "public" / p).exists()]


def drain(fd: int, into: list[bytes]) -> None:
    """Read a pty until its other end is closed."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.append(chunk)
