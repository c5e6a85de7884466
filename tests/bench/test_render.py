"""Rendering in headless Chromium: identical files give SSIM 1.0, the cameras follow the original,
a model that fails to load is a reported failure."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bench.render import BACKGROUND, Renderer, renderer_available

from bench import metrics
from tests.fixtures import texture_models
from tests.fixtures.models import morph_cube, textured_box

REASON = renderer_available()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"rendering unavailable: {REASON}")


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    # One browser for the module: its start-up is slow (SwiftShader compiles the environment
    # map's shaders, ~10 s).
    with Renderer(size=96, timeout=60) as r:
        yield r


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return textured_box(tmp_path_factory.mktemp("render") / "box.glb")


def _scaled_copy(src: Path, dst: Path, scale: float) -> Path:
    """The same GLB with its first node scaled: a visibly different output."""
    data = src.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20 : 20 + length])
    gltf["nodes"][0]["scale"] = [scale] * 3
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + length :]
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + rest
    dst.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return dst


def test_identical_files_give_ssim_one(renderer: Renderer, box: Path, tmp_path: Path) -> None:
    original = renderer.render(box)
    assert original.ok, original.error
    assert len(original.images) == len(renderer.views)
    assert original.images[0].shape == (96, 96, 3)
    copy = renderer.render(shutil.copy(box, tmp_path / "copy.glb"), original.frame)
    assert copy.ok, copy.error
    fid = metrics.fidelity(original.images, copy.images)
    assert fid["ssim_min"] == 1.0 and fid["ssim_mean"] == 1.0
    assert fid["psnr_min"] == metrics.PSNR_IDENTICAL


def test_the_model_is_drawn_and_framed_on_its_box(renderer: Renderer, box: Path) -> None:
    result = renderer.render(box)
    assert result.frame == {"min": [-0.5, -0.5, -0.5], "max": [0.5, 0.5, 0.5]}
    background = result.images[0][0, 0]
    assert tuple(background) == BACKGROUND  # exactly: the metrics crop views by this colour
    covered = np.any(result.images[0] != background, axis=2).mean()
    assert 0.2 < covered < 0.9  # the box fills a good part of the view, with air around it


def test_a_different_output_scores_below_one_with_the_original_cameras(
    renderer: Renderer, box: Path, tmp_path: Path
) -> None:
    original = renderer.render(box)
    smaller = renderer.render(_scaled_copy(box, tmp_path / "small.glb", 0.8), original.frame)
    assert smaller.ok, smaller.error
    assert smaller.frame == original.frame
    fid = metrics.fidelity(original.images, smaller.images)
    assert fid["ssim_min"] < 0.95
    # framed on itself, the smaller copy would look the same size: the frame really is the original's
    alone = renderer.render(tmp_path / "small.glb")
    assert alone.frame != original.frame


def test_morph_targets_and_animation_render(renderer: Renderer, tmp_path: Path) -> None:
    result = renderer.render(morph_cube(tmp_path / "morph.glb"))
    assert result.ok, result.error


def test_a_model_that_fails_to_load_is_reported(renderer: Renderer, box: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF" + b"\x00" * 40)
    result = renderer.render(broken)
    assert not result.ok and result.error
    missing = renderer.render(tmp_path / "missing.glb")
    assert not missing.ok and missing.error
    assert renderer.render(box).ok  # and the renderer carries on


def test_an_exif_turned_texture_looks_the_same_after_compression(renderer: Renderer, tmp_path: Path) -> None:
    # Chromium (through three.js's GLTFLoader) turns a JPEG or PNG texture by its EXIF orientation,
    # which a re-encoded image does not carry: the engine keeps such images, so the output looks
    # like the source (re-encoded, the boxes' red bars moved a quarter turn: SSIM about 0.3).
    import glbcompress

    src = texture_models.exif_turned_boxes(tmp_path / "turned.glb", 6)
    glbcompress.compress(src, tmp_path / "out.glb", preset="balanced")
    original = renderer.render(src)
    output = renderer.render(tmp_path / "out.glb", original.frame)
    assert original.ok and output.ok, original.error or output.error
    assert metrics.fidelity(original.images, output.images)["ssim_min"] > 0.97
    # The tag matters here: the same pixels untagged render differently.
    upright = renderer.render(texture_models.exif_turned_boxes(tmp_path / "upright.glb", 1), original.frame)
    assert metrics.fidelity(original.images, upright.images)["ssim_min"] < 0.9
