"""The SDK and remote CLI examples of the API docs (``docs/examples/``), run as a user would run
them against the live server, and checked to be in ``docs/api.md`` word for word, so the docs
cannot rot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.cli_models import model_tree
from tests.fixtures.models import textured_box

from .conftest import Live

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
BIN = Path(sys.executable).parent


def env_for(live: Live) -> dict[str, str]:
    return {
        **os.environ,
        "GLBCOMPRESS_API_KEY": live.key,
        "GLBCOMPRESS_URL": live.url,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


@pytest.mark.parametrize("name", ["sdk.py", "remote.sh"])
def test_the_docs_show_the_example_as_it_is(name: str) -> None:
    assert (EXAMPLES / name).read_text().strip() in (ROOT / "docs" / "api.md").read_text()


def test_the_sdk_example(live: Live, tmp_path: Path) -> None:
    good = textured_box(tmp_path / "chair.glb")
    broken = tmp_path / "broken.glb"
    broken.write_bytes(good.read_bytes()[:100])
    run = subprocess.run(
        [sys.executable, EXAMPLES / "sdk.py", good, broken],
        cwd=tmp_path,
        env=env_for(live),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("compressing as sdk") and lines[0].endswith("@example.com")
    assert lines[1].startswith(f"{good}: {good.stat().st_size} -> ")
    assert lines[2].startswith("chair.glb: ") and "x smaller" in lines[2]
    assert lines[3].startswith("broken.glb: refused: ")
    for out in ("chair.min.glb", "chair.max.glb"):
        assert (tmp_path / out).read_bytes()[:4] == b"glTF"


def test_the_remote_cli_example(live: Live, tmp_path: Path) -> None:
    if shutil.which("glbcompress", path=str(BIN)) is None:
        pytest.skip("the glbcompress command is not installed (pip install -e .)")
    placed = model_tree(tmp_path / "models")
    run = subprocess.run(
        ["sh", EXAMPLES / "remote.sh"],
        cwd=tmp_path,
        env=env_for(live),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "account: sdk" in run.stdout and "total" in run.stdout
    for src in placed.values():
        relative = src.relative_to(tmp_path / "models")
        assert (tmp_path / "dist" / relative.with_name(relative.stem + ".glb")).exists()
