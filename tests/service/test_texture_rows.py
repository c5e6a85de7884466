"""The result card's Textures table, as figures.texture_rows words a real engine report: one row per
texture with its class, format, size and bytes before and after, quality and SSIM/PSNR; solid
textures folded into material factors and images kept as they are say so."""

from __future__ import annotations

from pathlib import Path

import pytest

import glbcompress
from glbcompress.service.web.figures import format_size, report_summary, texture_rows
from tests.fixtures import texture_models as tm


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tm.texture_suite(tmp_path_factory.mktemp("textures") / "suite.glb")


def _raw(report: dict) -> dict[str, dict]:
    """The textures pass's own rows, by image."""
    step = next(p for p in report["passes"] if p["name"] == "textures")
    return {row["image"]: row for row in step["changes"]["textures"]}


def _image(image: dict) -> str:
    return f"{image['size'].replace('x', '×')}, {format_size(image['bytes'])}"


def test_rows_of_a_real_report(suite: Path, tmp_path: Path) -> None:
    report = glbcompress.compress(suite, tmp_path / "out.glb").as_dict()
    raw = _raw(report)
    rows = texture_rows(report)
    assert [row["image"] for row in rows] == list(raw) and len(rows) == 10
    assert report_summary(report)["textures"] == rows  # what the card's JSON carries

    by_image = {row["image"]: row for row in rows}
    colour = by_image["images[0] (colour)"]
    source = raw["images[0] (colour)"]
    assert source["after"]["format"] == "webp" and source["class"] == "color"
    assert colour == {
        "image": "images[0] (colour)",
        "class": "colour",
        "before": f"PNG {_image(source['before'])}",
        "after": f"WebP {_image(source['after'])}",
        "quality": str(source["quality"]),
        "ssim": f"{source['ssim']:.5f}",
        "psnr": f"{source['psnr']:.2f} dB",
    }
    assert colour["before"].startswith("PNG 256×256, ") and colour["ssim"].startswith("0.9")
    assert by_image["images[1] (normal)"]["class"] == "normal"
    assert by_image["images[2] (orm)"]["class"] == "data"
    assert by_image["images[6] (shared)"]["before"].startswith("JPEG 256×256, ")

    for index, name in ((3, "solid colour"), (4, "solid mr"), (5, "flat normal")):
        row = by_image[f"images[{index}] ({name})"]
        assert raw[row["image"]]["after"]["format"] == "factor"
        assert row["after"] == "material factor"
        assert (row["quality"], row["ssim"], row["psnr"]) == ("–", "–", "–")


def test_kept_images_say_why(suite: Path, tmp_path: Path) -> None:
    """With the format kept, the JPEG is left as it is (re-encoding would only lose)."""
    report = glbcompress.compress(suite, tmp_path / "out.glb", {"texture_format": "keep"}).as_dict()
    raw = _raw(report)["images[6] (shared)"]
    assert "after" not in raw and raw["note"].startswith("kept")
    row = next(row for row in texture_rows(report) if row["image"] == "images[6] (shared)")
    assert row["after"] == raw["note"]
    assert row["before"].startswith("JPEG 256×256, ")
    assert (row["quality"], row["ssim"], row["psnr"]) == ("–", "–", "–")


def test_no_textures_no_rows(suite: Path, tmp_path: Path) -> None:
    report = glbcompress.compress(suite, tmp_path / "out.glb", {"textures": False}).as_dict()
    assert texture_rows(report) == [] == report_summary(report)["textures"]
    assert texture_rows(None) == []
