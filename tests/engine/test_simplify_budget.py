"""target_size_mb: the output fits the budget (within 5% under it) or the run is refused with a
message saying how small the model can go; nothing is lost when the model fits already."""

from __future__ import annotations

from pathlib import Path

import pytest

from glbcompress.engine.api import compress, resolve
from glbcompress.engine.budget import BudgetUnreachable
from glbcompress.engine.errors import InvalidOptions
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from tests.fixtures import simplify_models
from tests.tools import CORPUS, new_errors, validate


@pytest.fixture(scope="module")
def sphere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("budget")
    return simplify_models.uv_sphere(folder / "sphere.glb", segments=192, rings=96)


@pytest.fixture(scope="module")
def plain_size(sphere: Path, tmp_path_factory: pytest.TempPathFactory) -> int:
    out = tmp_path_factory.mktemp("plain") / "plain.glb"
    return compress(sphere, out, resolve("balanced")).output_bytes


def test_a_model_that_fits_is_not_simplified(sphere: Path, plain_size: int, tmp_path: Path) -> None:
    out = tmp_path / "fits.glb"
    report = compress(sphere, out, resolve("balanced", {"target_size_mb": 2 * plain_size / 1e6}))
    assert report.output_bytes == plain_size == out.stat().st_size
    (target,) = [p for p in report.passes if p.name == "target size"]
    assert target.changes["compressions tried"] == 1
    assert scene_stats(read(out)).triangles == scene_stats(read(sphere)).triangles


@pytest.mark.parametrize("share", [0.5, 0.2])
def test_output_fits_just_under_the_budget(
    sphere: Path, plain_size: int, tmp_path: Path, share: float
) -> None:
    budget = share * plain_size
    out = tmp_path / "fit.glb"
    report = compress(sphere, out, resolve("balanced", {"target_size_mb": budget / 1e6}))
    assert 0.95 * budget <= out.stat().st_size <= budget
    (target,) = [p for p in report.passes if p.name == "target size"]
    assert target.changes["compressions tried"] <= 14
    # The fidelity reached is reported, and within the error the search allowed.
    assert 0 < report.fidelity["simplify_hausdorff"] <= target.changes["geometric error allowed"]
    assert report.scene_after.triangles < report.scene_before.triangles
    assert [p.name for p in tmp_path.iterdir()] == ["fit.glb"]  # no trial left behind
    before, after = validate(sphere, out)
    assert new_errors(before, after) == {}


def test_an_impossible_budget_is_refused_clearly(sphere: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.glb"
    with pytest.raises(BudgetUnreachable, match=r"cannot be made 0\.001 MB .* Ask for [0-9.]+ MB or more"):
        compress(sphere, out, resolve("balanced", {"target_size_mb": 0.001}))
    assert not list(tmp_path.iterdir())
    assert issubclass(BudgetUnreachable, InvalidOptions)  # a 4xx for the API, exit 2 for the CLI


def test_the_option_is_checked() -> None:
    with pytest.raises(InvalidOptions, match="target_size_mb"):
        resolve("balanced", {"target_size_mb": -1})


# A dense untextured model that must fit; a small skinned one whose bytes are mostly texture and
# animation, which fits only if the textures pass can shrink its texture (else it is refused).
CORPUS_BUDGETS = {"ChineseDragon/chinesedragon.gltf": (0.1, True), "Fox/Fox.glb": (0.03, False)}


@pytest.mark.corpus
@pytest.mark.parametrize("model", CORPUS_BUDGETS, ids=lambda v: v.split("/")[0])
def test_corpus_models_meet_their_budget_or_are_refused(model: str, tmp_path: Path) -> None:
    source = CORPUS / "public" / model
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared corpus is not on this machine)")
    megabytes, must_fit = CORPUS_BUDGETS[model]
    out = tmp_path / "out.glb"
    try:
        report = compress(source, out, resolve("balanced", {"target_size_mb": megabytes}))
    except BudgetUnreachable as refusal:
        assert not must_fit, refusal.message
        assert "Ask for" in refusal.message and not out.exists()
        return
    tried = next(p.changes for p in report.passes if p.name == "target size")["compressions tried"]
    # Within 5% under the budget, unless the model fitted as it was (then nothing is lost).
    assert (0.95 * megabytes * 1e6 if tried > 1 else 0) <= out.stat().st_size <= megabytes * 1e6
    assert report.scene_after.skins == report.scene_before.skins
    before, after = validate(source, out)
    assert new_errors(before, after) == {}


def test_texture_heavy_model_fills_the_budget_between_texture_levels(tmp_path: Path) -> None:
    """Texture levels halve the textures' size; a budget between two levels is filled by a texture
    scale between them rather than left a third empty."""
    import numpy as np

    from tests.fixtures.models import Builder, _mesh_box

    b = Builder()
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)  # compresses badly: textures dominate
    image = b.image_png(np.dstack([noise, np.full((256, 256, 1), 255, np.uint8)]), name="noise")
    texture = b.add("textures", {"source": image})
    material = b.add("materials", {"pbrMetallicRoughness": {"baseColorTexture": {"index": texture}}})
    node = b.add("nodes", {"mesh": _mesh_box(b, material, name="Box")})
    b.add("scenes", {"nodes": [node]})
    b.gltf["scene"] = 0
    source = b.write_glb(tmp_path / "noisy.glb")
    full = compress(source, tmp_path / "full.glb").output_bytes
    budget = int(0.6 * full)
    report = compress(source, tmp_path / "out.glb", {"target_size_mb": budget / 1e6})
    (entry,) = [p.changes for p in report.passes if p.name == "target size"]
    assert 0.95 * budget <= report.output_bytes <= budget
    assert 0.5 < entry["texture scale"] < 1.0


@pytest.mark.corpus
def test_room_the_texture_scales_leave_goes_to_texture_quality(tmp_path: Path) -> None:
    """Nefertiti at this budget fits at half its texture size with 7% to spare, and every larger
    scale tried overshoots (the quality search's choices jump with the scale): the SSIM targets are
    raised instead, until the output is within 5% under the budget."""
    source = CORPUS / "public" / "Nefertiti" / "Nefertiti.glb"
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared corpus is not on this machine)")
    out = tmp_path / "out.glb"
    report = compress(source, out, resolve("balanced", {"target_size_mb": 0.1968}))
    changes = next(p.changes for p in report.passes if p.name == "target size")
    assert 0 < changes["texture SSIM targets raised towards 1 by"] < 1
    assert 0.95 * 0.1968e6 <= out.stat().st_size <= 0.1968e6


@pytest.mark.corpus
def test_a_larger_texture_past_the_scale_that_overshot_can_fit(tmp_path: Path) -> None:
    """BoxTexturedDraco's logo near-lossless is 2,278 bytes at 103 px, 2,596 at 104 and 2,376 at 106:
    the scale bisection ends between 103 (fits, 94% of this budget) and 105 (over); a few pixels
    further, 106 fits within 5% of the budget with a larger texture."""
    source = CORPUS / "public" / "BoxTexturedDraco" / "BoxTextured.glb"
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared corpus is not on this machine)")
    out = tmp_path / "out.glb"
    report = compress(source, out, resolve("balanced", {"target_size_mb": 0.004482}))
    assert 0.95 * 4482 <= out.stat().st_size <= 4482
    rows = next(p.changes for p in report.passes if p.name == "textures")["textures"]
    assert int(rows[0]["after"]["size"].split("x")[0]) > 103
