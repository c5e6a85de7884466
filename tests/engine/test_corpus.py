"""Every public corpus model with every preset: the output re-reads, the Khronos validator finds
no error the input did not have (on the output and on a decoded copy), the drawn geometry stays
within quantization tolerance, nothing disappears, and a second run gives the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glbcompress.engine.api import compress, resolve
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from tests.geometry import diagonal, drawn_area, drawn_points, max_deviation
from tests.tools import CORPUS, decoded_copy, new_errors, validate

PUBLIC = CORPUS / "public"
PRESETS = ("lossless", "balanced", "max")
# Largest allowed deviation of a drawn vertex, as a fraction of the scene's diagonal.
TOLERANCE = {"lossless": 1e-6, "balanced": 2e-4, "max": 2e-4}
# 8-bit skin weights move a skinned vertex by up to ~1/510 of the distance between its joints'
# transforms of it (gltfpack stores 8-bit weights too): a looser bound for skinned models.
SKINNED_TOLERANCE = {"lossless": 1e-6, "balanced": 1e-3, "max": 1e-3}


def corpus_models() -> list[Path]:
    if not PUBLIC.is_dir():
        return []
    found = []
    for folder in sorted(PUBLIC.iterdir()):
        files = sorted(p for p in folder.iterdir() if p.suffix in (".glb", ".gltf"))
        if files:
            found.append(files[0])
    return found


MODELS = corpus_models()


def _id(path: Path) -> str:
    return path.parent.name


@pytest.fixture(autouse=True)
def _need_corpus() -> None:
    if not MODELS:
        pytest.skip(f"{PUBLIC} is absent (the shared corpus is not on this machine)")


@pytest.mark.corpus
@pytest.mark.parametrize("model", MODELS, ids=_id)
def test_corpus_model(model: Path, tmp_path: Path) -> None:
    source = read(model)
    points = drawn_points(source)
    area = drawn_area(source)
    stats = scene_stats(source)
    outputs: dict[str, Path] = {}
    for preset in PRESETS:
        out = tmp_path / f"{preset}.glb"
        report = compress(model, out, resolve(preset))
        assert report.output_bytes == out.stat().st_size
        outputs[preset] = out

        again = tmp_path / f"{preset}.again.glb"
        compress(model, again, resolve(preset))
        assert again.read_bytes() == out.read_bytes(), f"{preset}: a second run gave different bytes"

        result = read(out)
        after = scene_stats(result)
        # Only degenerate triangles (no area, nothing drawn) may go, and not in the lossless preset.
        if preset == "lossless":
            assert after.triangles == stats.triangles, f"triangles {stats.triangles} -> {after.triangles}"
        else:
            assert after.triangles <= stats.triangles
            new_area = drawn_area(result)
            assert abs(new_area - area) <= 1e-3 * area, f"{preset}: drawn area {area:.6g} -> {new_area:.6g}"
        assert after.animations <= stats.animations
        assert after.skins <= stats.skins
        deviation = max_deviation(points, drawn_points(result))
        limit = (SKINNED_TOLERANCE if stats.skins else TOLERANCE)[preset] * max(diagonal(points), 1e-9)
        assert deviation <= limit, f"{preset}: geometry moved by {deviation:.3g} (limit {limit:.3g})"

    decoded = {p: decoded_copy(out, tmp_path / f"{p}.decoded.glb") for p, out in outputs.items()}
    reports = validate(model, *outputs.values(), *decoded.values())
    original = reports[0]
    for name, report in zip([*outputs, *(f"{p} decoded" for p in decoded)], reports[1:], strict=True):
        assert not report.get("fatal"), f"{name}: {report.get('fatal')}"
        assert new_errors(original, report) == {}, (
            f"{name}: {[m for m in report['messages'] if m['severity'] == 0][:5]}"
        )


@pytest.mark.corpus
@pytest.mark.parametrize("model", MODELS[:: max(1, len(MODELS) // 6)], ids=_id)
def test_same_bytes_in_another_process(model: Path, tmp_path: Path) -> None:
    """Determinism must not depend on hash seeds or object addresses."""
    here = tmp_path / "here.glb"
    compress(model, here, resolve("balanced"))
    there = tmp_path / "there.glb"
    code = "import sys; from glbcompress.engine.api import compress, resolve; compress(sys.argv[1], sys.argv[2], resolve())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(model), str(there)], check=True, env=env, timeout=300)
    assert here.read_bytes() == there.read_bytes()
