"""Image attacks: PNG, JPEG and WebP files of a few hundred bytes whose headers declare
60000 x 60000 pixels (3.6 gigapixels, 14 GB as RGBA) are refused from their headers, before any
pixel is decoded, within a small memory bound; images that are not what they claim, or are cut
short, are refused with a message. KTX2 headers are checked the same way before basisu runs."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from glbcompress.engine.limits import Limits
from tests.hostile import images
from tests.hostile.support import mutate, outcome, record_bounded, run_bounded

MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def with_image(src: Path, dst: Path, data: bytes, mime: str) -> Path:
    uri = f"data:{mime};base64," + base64.b64encode(data).decode()
    return mutate(src, dst, lambda g: g["images"].__setitem__(0, {"uri": uri, "mimeType": mime}))


@pytest.mark.parametrize("fmt", list(MIME))
@pytest.mark.parametrize("size", [(60000, 60000), (16384, 16384), (65535, 1)])
def test_gigapixel_headers_are_refused_before_decoding(
    glbs: dict[str, Path], tmp_path: Path, fmt: str, size: tuple[int, int]
) -> None:
    width, height = size
    if fmt == "webp" and width * height < 2**27:
        pytest.skip("a WebP canvas this small is under the limit")
    data = getattr(images, fmt)(width, height)
    assert len(data) < 2000
    case = with_image(glbs["textured_box.glb"], tmp_path / "giga.glb", data, MIME[fmt])
    bounded = run_bounded(case, {"texture_format": "webp"}, memory_bytes=512 * 1024**2)
    record_bounded("gigapixel images", f"{fmt.upper()} header {width}x{height}", bounded)
    if width * height > Limits().max_image_pixels:
        assert bounded.outcome.kind == "limit-exceeded", bounded
        assert "pixels" in bounded.outcome.message and "images[0]" in bounded.outcome.message
    else:
        assert bounded.outcome.ok or bounded.outcome.kind == "invalid-model", bounded


def test_our_pixel_limit_is_the_one_that_applies(glbs: dict[str, Path], tmp_path: Path) -> None:
    """Below Pillow's own decompression-bomb stop, our limit still refuses (with our message)."""
    case = with_image(glbs["textured_box.glb"], tmp_path / "big.glb", images.png(4000, 4000), "image/png")
    result = outcome(case, {"texture_format": "webp"}, limits=Limits(max_image_pixels=1000 * 1000))
    assert result.kind == "limit-exceeded" and "the limit is 1,000,000" in result.message, result


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
        (images.png(64, 64)[:40], "image/png"),
        (images.jpeg(64, 64)[:30], "image/jpeg"),
        (b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 8, "image/webp"),
        (b"GIF89a" + b"\0" * 64, "image/gif"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"", "image/png"),
        (b"\xff\xd8\xff" + b"\xff" * 200, "image/jpeg"),
    ],
)
@pytest.mark.parametrize("texture_format", ["keep", "webp", "png"])
def test_broken_images_are_refused_or_kept(
    glbs: dict[str, Path], tmp_path: Path, data: bytes, mime: str, texture_format: str
) -> None:
    case = with_image(glbs["textured_box.glb"], tmp_path / "broken.glb", data, mime)
    result = outcome(case, {"texture_format": texture_format})
    assert result.ok or result.kind in ("invalid-model", "unsupported-model"), result


def ktx2(width: int, height: int) -> bytes:
    """A KTX2 header (Basis ETC1S) declaring width x height, with a minimal data format descriptor."""
    dfd = struct.pack("<I", 44) + struct.pack("<IHH", 0, 2, 40) + bytes([163, 1, 2, 0]) + b"\0" * 28
    head = b"\xabKTX 20\xbb\r\n\x1a\n"
    head += struct.pack("<9I", 0, 1, width, height, 0, 0, 1, 1, 1)
    dfd_offset = 80 + 24
    head += struct.pack("<4I", dfd_offset, len(dfd), 0, 0) + struct.pack("<2Q", 0, 0)
    level = struct.pack("<3Q", dfd_offset + len(dfd), 16, 0)
    return head + level + dfd + b"\0" * 16


def test_gigapixel_ktx2_is_refused_before_basisu_runs(glbs: dict[str, Path], tmp_path: Path) -> None:
    from glbcompress.engine.textures import basisu

    if basisu.find() is None:
        pytest.skip("basisu is not installed (scripts/setup installs it); KTX2 re-encoding needs it")
    case = with_image(glbs["textured_box.glb"], tmp_path / "giga.glb", ktx2(60000, 60000), "image/ktx2")
    bounded = run_bounded(case, {"texture_format": "webp", "texture_reencode_ktx2": True})
    record_bounded("gigapixel images", "KTX2 header 60000x60000", bounded)
    assert bounded.outcome.kind == "limit-exceeded" and "pixels" in bounded.outcome.message, bounded


def test_an_image_too_wide_for_webp_is_left_as_it_is(glbs: dict[str, Path], tmp_path: Path) -> None:
    """16400 x 4 pixels is within our limit but wider than WebP can store: the image stays a PNG,
    with a warning, rather than the run failing with an encoder's exception."""
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 255, (4, 16400, 3), np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    case = with_image(glbs["textured_box.glb"], tmp_path / "wide.glb", buffer.getvalue(), "image/png")
    result = outcome(case, {"texture_format": "webp"})
    assert result.ok, result
