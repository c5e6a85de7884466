"""The Python API: ``glbcompress.compress(src, dst, options, preset=..., progress=...)`` and the
helpers the package exports."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import glbcompress
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from tests.fixtures import texture_models as tm
from tests.fixtures.cli_models import broken_glb, off_options
from tests.fixtures.models import morph_cube, skinned_rig, textured_box


def test_dict_options_apply_over_the_preset(tmp_path: Path) -> None:
    src = skinned_rig(tmp_path / "rig.glb")
    dst = tmp_path / "out.glb"
    report = glbcompress.compress(src, dst, {**off_options(), "keep_extras": False}, preset="lossless")
    assert isinstance(report, glbcompress.Report)
    assert report.options["preset"] == "lossless" and report.options["keep_extras"] is False
    assert report.options["quantize"] is False  # lossless, untouched by the override
    assert report.output_bytes == dst.stat().st_size
    assert report.input_bytes == src.stat().st_size
    doc = read(dst)
    assert scene_stats(doc).triangles == report.scene_after.triangles == report.scene_before.triangles
    assert len(doc.skins) == 1 and len(doc.animations) == 1


def test_default_preset_is_balanced(tmp_path: Path) -> None:
    report = glbcompress.compress(textured_box(tmp_path / "box.glb"), tmp_path / "out.glb", off_options())
    assert report.options["preset"] == "balanced"


def test_options_object(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    options = glbcompress.resolve("max", off_options())
    report = glbcompress.compress(src, tmp_path / "out.glb", options)
    assert report.options == options.flat()
    with pytest.raises(TypeError):
        glbcompress.compress(src, tmp_path / "out.glb", options, preset="max")
    with pytest.raises(TypeError):
        glbcompress.compress(src, tmp_path / "out.glb", ["position_bits", 12])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "preset"),
    [({"no_such_option": 1}, None), ({"position_bits": 99}, None), ({"quantize": "yes"}, None), ({}, "tiny")],
)
def test_bad_options_raise_invalid_options(tmp_path: Path, options: dict, preset: str | None) -> None:
    src = textured_box(tmp_path / "box.glb")
    with pytest.raises(glbcompress.InvalidOptions) as caught:
        glbcompress.compress(src, tmp_path / "out.glb", options, preset=preset)
    assert caught.value.message and isinstance(caught.value, glbcompress.EngineError)
    assert not (tmp_path / "out.glb").exists()


def test_progress_rises_from_0_to_1(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    src = morph_cube(tmp_path / "morph.glb")
    glbcompress.compress(src, tmp_path / "out.glb", off_options(), progress=lambda s, f: calls.append((s, f)))
    fractions = [f for _, f in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    steps = [s for s, _ in calls]
    assert {"read", "write"} <= set(steps)


def test_bad_model_raises_and_leaves_nothing(tmp_path: Path) -> None:
    bad = broken_glb(tmp_path / "bad.glb")
    with pytest.raises(glbcompress.InvalidModel):
        glbcompress.compress(bad, tmp_path / "out.glb", off_options())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.glb"]  # no output, no partial file


def test_failed_run_keeps_the_previous_output(tmp_path: Path) -> None:
    dst = tmp_path / "out.glb"
    dst.write_bytes(b"previous")
    with pytest.raises(glbcompress.InvalidModel):
        glbcompress.compress(broken_glb(tmp_path / "bad.glb"), dst, off_options())
    assert dst.read_bytes() == b"previous"


def test_compressing_a_file_onto_itself_is_safe(tmp_path: Path) -> None:
    src = skinned_rig(tmp_path / "rig.glb")
    report = glbcompress.compress(src, src, off_options())
    assert src.stat().st_size == report.output_bytes
    assert len(read(src).skins) == 1


def test_same_bytes_every_run(tmp_path: Path) -> None:
    src = skinned_rig(tmp_path / "rig.glb")
    glbcompress.compress(src, tmp_path / "a.glb", off_options())
    glbcompress.compress(src, tmp_path / "b.glb", off_options())
    assert (tmp_path / "a.glb").read_bytes() == (tmp_path / "b.glb").read_bytes()


def test_presets_and_schema_helpers() -> None:
    presets = glbcompress.presets()
    assert list(presets) == ["lossless", "balanced", "max"]
    for name, entry in presets.items():
        assert entry["description"] and entry["options"]["preset"] == name
    assert presets["balanced"]["options"]["position_bits"] == 14
    entry = next(e for e in glbcompress.schema() if e["name"] == "position_bits")
    assert entry["type"] == "int" and entry["pass"] == "quantize" and entry["min"] == 1


def test_package_exports() -> None:
    for name in glbcompress.__all__:
        assert getattr(glbcompress, name) is not None
    for error in (glbcompress.InvalidModel, glbcompress.UnsupportedModel, glbcompress.LimitExceeded):
        assert issubclass(error, glbcompress.EngineError)
    assert glbcompress.__version__


def test_scene_after_counts_what_the_file_holds(tmp_path: Path) -> None:
    """A re-encoded texture's old image stays in the document until the writer drops it: the
    figures after must describe the output file (one image, not the old one and the new)."""
    src = textured_box(tmp_path / "box.glb")
    dst = tmp_path / "out.glb"
    report = glbcompress.compress(src, dst, {"texture_format": "webp"}, preset="balanced")
    written = read(dst)
    assert [im.mime_type for im in written.images] == ["image/webp"]
    assert report.scene_after == scene_stats(written)
    assert report.scene_after.images == report.scene_before.images == 1


def test_the_textures_pass_reports_each_finished_image(tmp_path: Path) -> None:
    """Re-encoding images is nearly all of a textured model's time: the textures pass owns most of
    the bar and moves it as images are worked on and finished ("textures 3/5"), to its end."""
    from glbcompress.engine.pipeline import TEXTURES_SHARE
    from glbcompress.engine.reader import read as read_model

    src = tm.texture_suite(tmp_path / "suite.glb")
    assert len(read_model(src).images) >= 3
    calls: list[tuple[str, float]] = []
    glbcompress.compress(src, tmp_path / "out.glb", progress=lambda s, f: calls.append((s, f)))
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    steps = [s for s, _ in calls]
    first = steps.index("textures")
    details = [s.removeprefix("textures ").split("/") for s in steps if s.startswith("textures ")]
    total = int(details[-1][1])
    finished = [int(done) for done, _ in details]
    assert total >= 3 and finished == sorted(finished) and set(range(1, total + 1)) <= set(finished)
    last = len(steps) - 1 - steps[::-1].index(f"textures {total}/{total}")
    assert fractions[last] - fractions[first] == pytest.approx(0.8 * TEXTURES_SHARE)


def test_an_untextured_model_shares_the_bar_equally(tmp_path: Path) -> None:
    calls: list[tuple[str, float]] = []
    glbcompress.compress(
        morph_cube(tmp_path / "m.glb"), tmp_path / "o.glb", progress=lambda s, f: calls.append((s, f))
    )
    starts = [f for s, f in calls if s not in ("read", "write", "done")]
    gaps = {round(b - a, 9) for a, b in pairwise(starts)}
    assert len(gaps) == 1 and not any(s.startswith("textures ") for s, _ in calls)


def test_a_single_image_moves_the_bar_as_it_is_searched(tmp_path: Path) -> None:
    """One image is the whole textures pass: the bar moves with each encode of its search
    ("textures 0/1" at rising fractions), and reaches the pass's end when the image is done."""
    from glbcompress.engine.pipeline import TEXTURES_SHARE

    calls: list[tuple[str, float]] = []
    src = tm.large_texture(tmp_path / "large.glb", 512)
    glbcompress.compress(src, tmp_path / "out.glb", progress=lambda s, f: calls.append((s, f)))
    start = next(f for s, f in calls if s == "textures")
    during = [f for s, f in calls if s == "textures 0/1"]
    assert len(during) >= 2 and during == sorted(during)
    assert start < during[0] and during[-1] < start + 0.8 * TEXTURES_SHARE
    assert [f for s, f in calls if s == "textures 1/1"] == [pytest.approx(start + 0.8 * TEXTURES_SHARE)]
