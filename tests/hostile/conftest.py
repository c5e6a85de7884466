"""Fixtures of the hostile-input suite: models our own code generates, plain and compressed."""

from __future__ import annotations

from pathlib import Path

import pytest

import glbcompress
from tests.fixtures import models


@pytest.fixture(scope="session")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated test models, plus a meshopt-compressed rig and a Draco-compressed box (our
    engine's own output), each the valid starting point of mutations."""
    folder = tmp_path_factory.mktemp("valid")
    found = models.generate_all(folder)
    keep = {"texture_format": "keep"}
    found["meshopt_rig.glb"] = folder / "meshopt_rig.glb"
    glbcompress.compress(found["skinned_rig.glb"], found["meshopt_rig.glb"], {**keep, "meshopt": True})
    found["draco_box.glb"] = folder / "draco_box.glb"
    glbcompress.compress(found["textured_box.glb"], found["draco_box.glb"], {**keep, "draco": True})
    return found


@pytest.fixture(scope="session")
def glbs(valid: dict[str, Path]) -> dict[str, Path]:
    return {name: path for name, path in valid.items() if name.endswith(".glb")}
