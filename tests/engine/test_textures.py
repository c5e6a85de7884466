"""textures: classes from material slots, WebP/AVIF/PNG/JPEG/KTX2 outputs that decode the right
way up and in the right colour space, quality targets met, solid textures folded into factors,
required/optional extensions, limits, and valid output on generated and corpus models."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from glbcompress.engine.document import Document, Image
from glbcompress.engine.errors import InvalidOptions, LimitExceeded
from glbcompress.engine.limits import Limits
from glbcompress.engine.passes.textures import TexturesOptions, textures
from glbcompress.engine.presets import resolve
from glbcompress.engine.reader import read
from glbcompress.engine.textures import basisu, choose, encoders, quality
from glbcompress.engine.textures.classify import image_uses
from glbcompress.engine.textures.solid import srgb_to_linear
from glbcompress.engine.writer import write_glb
from glbcompress.texture_table import texture_rows
from tests.fixtures import texture_models as tm
from tests.tools import CORPUS, new_errors, validate

needs_basisu = pytest.mark.skipif(basisu.find() is None, reason=basisu.INSTALL_HINT)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tm.texture_suite(tmp_path_factory.mktemp("textures") / "suite.glb")


def _material(doc: Document, name: str) -> dict:
    return next(m for m in doc.materials if m.get("name") == name)


def _rows(report: dict) -> dict[str, dict]:
    """Report rows by image name."""
    return {row["image"].split("(")[-1].rstrip(")"): row for row in report["textures"]}


def _image(texture: dict, extension: str | None) -> Image:
    return texture["extensions"][extension]["source"] if extension else texture["source"]


def _pixels(image: Image) -> np.ndarray:
    if image.mime_type == "image/ktx2":
        return basisu.decode(image.data)
    with PILImage.open(io.BytesIO(image.data)) as im:
        return np.asarray(im.convert("RGBA" if "A" in im.mode else "RGB"))


def _decoded(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as decoded:
        return np.asarray(decoded.convert("RGB"))


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])


def _run(path: Path, out: Path, **options: object) -> tuple[Document, dict, dict]:
    doc = read(path)
    report = textures(doc, TexturesOptions(**options))  # type: ignore[arg-type]
    written = write_glb(doc, out)
    return doc, report, written.json


# -- classification -------------------------------------------------------------------------------


def test_classes_channels_and_colour_space(suite: Path) -> None:
    uses = {u.image.name: u for u in image_uses(read(suite))}
    assert uses["colour"].kind == "color" and uses["colour"].srgb is True
    assert uses["normal"].kind == "normal" and uses["normal"].srgb is False
    assert uses["orm"].kind == "data" and uses["orm"].channels == (0, 1, 2)
    # Read as emissive colour and as occlusion: the stricter class, and no single transfer function.
    assert uses["shared"].kind == "data" and uses["shared"].srgb is None
    # Base colour alpha is read only when the material blends.
    assert uses["blended"].channels == (0, 1, 2, 3)
    assert uses["opaque alpha"].channels == (0, 1, 2)


# -- WebP (the balanced default) ------------------------------------------------------------------


def test_webp_meets_targets_and_requires_its_extension(suite: Path, tmp_path: Path) -> None:
    options = TexturesOptions()
    doc, report, gltf = _run(suite, tmp_path / "out.glb")
    rows = _rows(report)
    goal = {
        "color": options.texture_ssim,
        "normal": options.texture_ssim_normal,
        "data": options.texture_ssim_data,
    }
    for name in ("colour", "normal", "orm", "shared", "transformed", "blended"):
        row = rows[name]
        assert row["after"]["format"] == "webp", row
        assert row["ssim"] >= goal[row["class"]] - choose.SAMPLE_SLACK, row
        assert row["psnr"] >= choose.MIN_PSNR[row["class"]] - 1, row
        assert row["after"]["bytes"] < row["before"]["bytes"]
    assert gltf["extensionsRequired"] == ["EXT_texture_webp"]
    for texture in gltf["textures"]:
        assert "source" not in texture and "EXT_texture_webp" in texture["extensions"]
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0
    # Every new image decodes at its size, the right way up (red top half, blue bottom half).
    colour = _pixels(
        _image(
            _material(doc, "Colour")["pbrMetallicRoughness"]["baseColorTexture"]["index"], "EXT_texture_webp"
        )
    )
    assert colour.shape == (tm.SIZE, tm.SIZE, 3)
    top, bottom = colour[: tm.SIZE // 2].mean(axis=(0, 1)), colour[tm.SIZE // 2 :].mean(axis=(0, 1))
    assert top[0] > 150 > bottom[0] and bottom[2] > 150 > top[2]


def test_unread_channels_are_not_stored(suite: Path, tmp_path: Path) -> None:
    doc, _report, _gltf = _run(suite, tmp_path / "out.glb", texture_format="png")
    blended = _material(doc, "Blend")["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"]
    opaque = _material(doc, "Opaque")["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"]
    assert _pixels(blended).shape[2] == 4
    assert _pixels(opaque).shape[2] == 3
    np.testing.assert_array_equal(_pixels(blended), tm.alpha_map())  # PNG: lossless


def test_occlusion_only_image_becomes_grey(tmp_path: Path) -> None:
    doc, _report, _gltf = _run(
        tm.occlusion_only(tmp_path / "in.glb"), tmp_path / "out.glb", texture_format="png"
    )
    image = doc.materials[0]["occlusionTexture"]["index"]["source"]
    with PILImage.open(io.BytesIO(image.data)) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), tm.orm_map()[..., 0])


def test_data_map_no_lossy_quality_matches_goes_near_lossless(suite: Path, tmp_path: Path) -> None:
    """The packed ORM map's hard metalness stripes defeat lossy WebP (chroma at half resolution):
    near-lossless instead of exact, every value within its step of the source."""
    doc, report, _gltf = _run(suite, tmp_path / "out.glb")
    row = _rows(report)["orm"]
    step = choose.NEAR_LOSSLESS_STEPS["data"][0]
    assert row["quality"] == f"near-lossless ±{step // 2}", row
    orm = _material(doc, "ORM")["pbrMetallicRoughness"]["metallicRoughnessTexture"]["index"]
    decoded = _pixels(_image(orm, "EXT_texture_webp")).astype(int)
    difference = np.abs(decoded - tm.orm_map())
    assert 0 < difference.max() <= step // 2
    exact = encoders.encode(tm.orm_map(), encoders.Encoding("webp", lossless=True, kind="data"))
    assert row["after"]["bytes"] < 0.8 * len(exact)


def test_a_goal_near_what_webp_reaches_on_a_jpeg_is_relaxed_not_bought() -> None:
    """A data map from a JPEG whose goal lies just under the best WebP reaches (its artefacts are
    what is left to match): the search aims LOSSY_SOURCE_SLACK below that best instead of paying
    for the artefacts; from a PNG, the same goal is met."""
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    noisy = np.clip(tm.orm_map().astype(int) + rng.normal(0, 12, tm.orm_map().shape), 0, 255)
    with PILImage.open(io.BytesIO(tm.jpeg(noisy.astype(np.uint8), quality=70))) as decoded:
        source = np.asarray(decoded.convert("RGB"))
    read = (0, 1, 2)
    top = encoders.Encoding("webp", 100, kind="data", srgb=False)
    best = quality.ssim(source, encoders.decode(encoders.encode(source, top), "webp", 3))
    options = TexturesOptions(texture_ssim_data=round(best - 0.005, 4))
    found = {}
    for mime in ("image/jpeg", "image/png"):
        entry = SimpleNamespace(kind="data", image=SimpleNamespace(mime_type=mime))
        found[mime] = choose.best_encoding(source, read, entry, "webp", False, options)
    how, data, (ssim, _psnr) = found["image/jpeg"]
    assert not how.lossless and how.quality < 100
    assert best - choose.LOSSY_SOURCE_SLACK[0] <= ssim < options.texture_ssim_data
    _how, png_data, (png_ssim, _) = found["image/png"]
    assert png_ssim >= options.texture_ssim_data and len(png_data) > len(data)


def test_a_jpeg_normal_map_is_relaxed_only_on_rough_surfaces() -> None:
    """A normal map from a full-chroma JPEG, which WebP (chroma at half resolution) cannot match:
    where it shades only rough surfaces the goal is relaxed as for any lossy source (a smaller,
    lower quality); where a reflection could be sharp, it gets WebP's best, quality 100."""
    from types import SimpleNamespace

    jpeg = tm.noisy_normal_jpeg()
    source = _decoded(jpeg)
    found = {}
    for rough in (True, False):
        image = SimpleNamespace(mime_type="image/jpeg", data=jpeg)
        entry = SimpleNamespace(kind="normal", image=image, rough=rough)
        found[rough] = choose.best_encoding(source, (0, 1, 2), entry, "webp", False, TexturesOptions())
    glossy_how, glossy_data, (best, _psnr) = found[False]
    assert glossy_how.quality == 100 and best < TexturesOptions().texture_ssim_normal
    rough_how, rough_data, (ssim, _psnr) = found[True]
    assert rough_how.quality < 100 and len(rough_data) < len(glossy_data)
    assert best - choose.LOSSY_SOURCE_SLACK[0] - choose.SAMPLE_SLACK <= ssim


def _webp_best(source: np.ndarray) -> tuple[int, tuple[float, float]]:
    """Bytes and (SSIM, PSNR) of a normal map at WebP quality 100, measured as the pass does."""
    how = encoders.Encoding("webp", 100, kind="normal", srgb=False)
    data = encoders.encode(source, how)
    return len(data), choose.measure(source, data, how, (0, 1, 2))


@pytest.mark.parametrize("width", [tm.SIZE, 2304])
def test_a_jpeg_normal_map_webp_cannot_match_becomes_a_smaller_jpeg_as_close(width: int) -> None:
    """A glossy normal map from a full-chroma JPEG that no WebP quality matches: a JPEG with full
    chroma whose SSIM and PSNR are at least WebP's best, in fewer bytes (2304 wide: searched on the
    mosaic, then settled on the whole image). Not where the source is smaller than WebP's best (the
    pass keeps it), nor where alpha is read (JPEG has none)."""
    from types import SimpleNamespace

    jpeg = tm.grainy_normal_jpeg(width, tm.SIZE if width == tm.SIZE else 1024)
    source = _decoded(jpeg)
    options = TexturesOptions()

    def best(source: np.ndarray, data: bytes, read: tuple[int, ...] = (0, 1, 2)) -> tuple:
        image = SimpleNamespace(mime_type="image/jpeg", data=data)
        entry = SimpleNamespace(kind="normal", image=image, rough=False)
        return choose.best_encoding(source, read, entry, "webp", False, options)

    webp_bytes, (webp_ssim, webp_psnr) = _webp_best(source)
    assert webp_ssim < options.texture_ssim_normal  # no WebP quality meets the goal
    how, data, (ssim, psnr) = best(source, jpeg)
    assert how.format == "jpeg" and how.quality < 100, how
    assert ssim >= webp_ssim and psnr >= webp_psnr and len(data) < webp_bytes
    assert np.array_equal(encoders.decode(data, "jpeg", 3).shape, source.shape)
    if width != tm.SIZE:
        return
    how, data, _ = best(source, jpeg[: webp_bytes - 1])  # a source smaller than WebP's best
    assert (how.format, how.quality, len(data)) == ("webp", 100, webp_bytes)
    alpha = np.concatenate([source, np.full((*source.shape[:2], 1), 200, np.uint8)], axis=2)
    how, _data, _ = best(alpha, jpeg, (0, 1, 2, 3))
    assert (how.format, how.quality) == ("webp", 100)


def test_a_rough_jpeg_normal_map_gets_a_jpeg_as_close_as_its_relaxed_webp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a rough surface a full-chroma JPEG normal map's goal is relaxed and WebP meets it below
    quality 100; a JPEG as close as that WebP (SSIM and PSNR) and smaller still replaces it."""
    from types import SimpleNamespace

    jpeg = tm.noisy_normal_jpeg()
    source = _decoded(jpeg)
    entry = SimpleNamespace(
        kind="normal", image=SimpleNamespace(mime_type="image/jpeg", data=jpeg), rough=True
    )
    how, data, (ssim, psnr) = choose.best_encoding(source, (0, 1, 2), entry, "webp", False, TexturesOptions())
    monkeypatch.setattr(choose, "_full_chroma_jpeg", lambda image: False)
    webp_how, webp_data, (webp_ssim, webp_psnr) = choose.best_encoding(
        source, (0, 1, 2), entry, "webp", False, TexturesOptions()
    )
    assert webp_how.format == "webp" and webp_how.quality < 100
    assert how.format == "jpeg" and len(data) < len(webp_data)
    assert ssim >= webp_ssim and psnr >= webp_psnr


@pytest.mark.parametrize(("subsampling", "full"), [(0, True), (1, True), (2, False), (None, False)])
def test_full_chroma_jpeg_is_read_from_the_header(subsampling: int | None, full: bool) -> None:
    from types import SimpleNamespace

    out = io.BytesIO()
    if subsampling is None:
        PILImage.fromarray(tm.normal_map()).save(out, format="PNG")
    else:
        PILImage.fromarray(tm.normal_map()).save(out, format="JPEG", quality=90, subsampling=subsampling)
    mime = "image/png" if subsampling is None else "image/jpeg"
    assert choose._full_chroma_jpeg(SimpleNamespace(mime_type=mime, data=out.getvalue())) is full


def test_a_jpeg_normal_map_among_webp_images_is_core_and_valid(tmp_path: Path) -> None:
    """Through the pass: the normal map becomes a JPEG (a core image, no extension), the colour
    map WebP; the report says why; the output is valid."""
    src = tm.glossy_jpeg_normal_map(tmp_path / "in.glb")
    doc, report, gltf = _run(src, tmp_path / "out.glb")
    rows = _rows(report)
    normal, colour = rows["grainy normal"], rows["colour"]
    assert normal["after"]["format"] == "jpeg" and "full chroma" in normal["note"], normal
    assert normal["after"]["bytes"] < normal["before"]["bytes"] and normal["quality"] < 100
    assert colour["after"]["format"] == "webp"
    texture = _material(doc, "Glossy")["normalTexture"]["index"]
    assert "extensions" not in texture and texture["source"].mime_type == "image/jpeg"
    assert _pixels(texture["source"]).shape == (tm.SIZE, tm.SIZE, 3)
    assert gltf["extensionsUsed"] == gltf["extensionsRequired"] == ["EXT_texture_webp"]
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0
    # The table (CLI and dashboard) says why a WebP run wrote a JPEG.
    table = {row["image"]: row for row in texture_rows([{"name": "textures", "changes": report}], str)}
    assert (
        table[normal["image"]]["after"].startswith("JPEG")
        and normal["note"] in table[normal["image"]]["after"]
    )


@pytest.mark.parametrize("fmt", ["webp", "keep"])
def test_an_image_with_an_exif_orientation_is_left_as_it_is(tmp_path: Path, fmt: str) -> None:
    """Web viewers turn a JPEG or PNG by its EXIF orientation and a re-encoded image has none
    (tests/bench/test_render.py shows it rendered): tagged images stay byte for byte, the report
    says why; untagged (orientation 1) ones are converted as usual."""
    src = tm.exif_turned_boxes(tmp_path / "in.glb", 6)
    before = {im.name: im.data for im in read(src).images}
    doc, report, _gltf = _run(src, tmp_path / "out.glb", texture_format=fmt)
    rows = _rows(report)
    for name, data in before.items():
        assert "EXIF orientation 6" in rows[name]["note"] and "after" not in rows[name], rows[name]
        texture = _material(doc, name.split()[0])["pbrMetallicRoughness"]["baseColorTexture"]["index"]
        assert texture["source"].data == data and "extensions" not in texture
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0
    upright = tm.exif_turned_boxes(tmp_path / "upright.glb", 1)
    _doc, report, _gltf = _run(upright, tmp_path / "upright.out.glb", texture_format=fmt)
    assert not any("EXIF" in row.get("note", "") for row in report["textures"])
    if fmt == "webp":
        assert all(row["after"]["format"] == "webp" for row in report["textures"])


def test_exif_orientation_is_read_from_the_header() -> None:
    from glbcompress.engine.textures import pixels

    for fmt in ("JPEG", "PNG", "WEBP"):
        for orientation in (1, 3, 6, 8):
            with PILImage.open(io.BytesIO(tm.exif_turned(fmt, orientation))) as opened:
                assert pixels.exif_orientation(opened) == orientation
    with PILImage.open(io.BytesIO(tm.exif_turned("JPEG", 9))) as opened:
        assert pixels.exif_orientation(opened) == 1  # not an orientation: viewers ignore it
    with PILImage.open(io.BytesIO(tm.jpeg(tm.colour_map()))) as opened:
        assert pixels.exif_orientation(opened) == 1


def test_a_png_normal_map_on_rough_surfaces_goes_coarser_near_lossless() -> None:
    """A normal map whose per-channel detail lossy WebP cannot keep goes near-lossless: within 1
    level where a reflection could be sharp, within 2 or 3 (what meets the goal) where it shades
    only rough surfaces."""
    from types import SimpleNamespace

    rng = np.random.default_rng(7)
    source = np.clip(tm.normal_map().astype(int) + rng.normal(0, 4, tm.normal_map().shape), 0, 255)
    source = source.astype(np.uint8)
    found = {}
    for rough in (True, False):
        entry = SimpleNamespace(kind="normal", image=SimpleNamespace(mime_type="image/png"), rough=rough)
        found[rough] = choose.best_encoding(source, (0, 1, 2), entry, "webp", False, TexturesOptions())
    for rough, steps in ((True, (5, 7)), (False, (3,))):
        how, data, (ssim, _psnr) = found[rough]
        assert how.lossless and how.step in steps, how
        decoded = encoders.decode(data, "webp", 3).astype(int)
        assert np.abs(decoded - source).max() <= how.step // 2
        assert ssim >= TexturesOptions().texture_ssim_normal
    assert len(found[True][1]) < 0.9 * len(found[False][1])


def test_palette_merges_colours_within_the_radius_and_keeps_alpha() -> None:
    """A logo's thousands of colours (anti-aliasing, a level of noise) become at most 256, each
    pixel within the radius of its source and its alpha exact; an image of at most 256 colours
    is returned as it is; a photograph-like image finds no palette, and encode() says so."""
    from glbcompress.engine.textures import palette

    tall = np.concatenate([tm.logo_map()] * 3)  # mapped in several strips of rows
    for source in (tm.logo_map(), tm.logo_map(alpha=True), tall):
        assert len(PILImage.fromarray(source).getcolors(1 << 20)) > 256
        out = palette.reduce(source, 4)
        assert out is not None and out.shape == source.shape
        assert len(PILImage.fromarray(out).getcolors(1 << 20)) <= 256
        assert np.abs(out[..., :3].astype(int) - source[..., :3]).max() <= 4
        if source.shape[2] == 4:
            np.testing.assert_array_equal(out[..., 3], source[..., 3])
        assert palette.reduce(out, 4) is out
    noise = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert palette.reduce(noise, 4) is None
    with pytest.raises(palette.TooManyColours):
        encoders.encode(noise, encoders.Encoding("webp", lossless=True, palette=4))


def test_flat_art_becomes_a_palette_image_and_a_gradient_is_not_banded() -> None:
    """A colour PNG of flat art: a palette within 4 levels, smaller than near-lossless, decoding
    to at most 256 colours; a smooth gradient, whose colours a 4-level palette would turn into
    bands that move whole areas, is merged within 2 levels at most (quality.largest_shift)."""
    from types import SimpleNamespace

    entry = SimpleNamespace(kind="color", image=SimpleNamespace(mime_type="image/png"), rough=False)
    options = TexturesOptions()
    logo = tm.logo_map()
    how, data, (ssim, _psnr) = choose.best_encoding(logo, (0, 1, 2), entry, "webp", True, options)
    assert how.lossless and how.palette == 4 and ssim >= options.texture_ssim, how
    decoded = encoders.decode(data, "webp", 3)
    assert len(PILImage.fromarray(decoded).getcolors(1 << 20)) <= 256
    assert np.abs(decoded.astype(int) - logo).max() <= 4
    without, without_data, _ = choose._encoding(logo, (0, 1, 2), entry, "webp", True, options)
    assert without.step > 1 and len(data) < 0.8 * len(without_data)  # near-lossless before

    gradient = tm.gradient_map()
    banded = encoders.palette.reduce(gradient, 4)
    assert banded is not None and quality.largest_shift(gradient, banded) > choose.PALETTE_SHIFT
    how, data, _measured = choose.best_encoding(gradient, (0, 1, 2), entry, "webp", True, options)
    assert how.palette != 4, how
    decoded = encoders.decode(data, "webp", 3)
    assert quality.largest_shift(gradient, decoded) <= choose.PALETTE_SHIFT


def test_texture_near_lossless_sets_the_colour_steps_and_palette_radii() -> None:
    steps = {
        n: choose.near_lossless_steps("color", TexturesOptions(texture_near_lossless=n)) for n in range(5)
    }
    assert steps == {0: (), 1: (3,), 2: (5, 3), 3: (7, 5, 3), 4: (9, 7, 5, 3)}
    radii = {n: choose.palette_radii(TexturesOptions(texture_near_lossless=n)) for n in range(5)}
    assert radii == {0: (0,), 1: (2,), 2: (4, 2), 3: (6, 3), 4: (8, 4, 2)}
    data = TexturesOptions(texture_near_lossless=4)
    assert choose.near_lossless_steps("data", data) == choose.NEAR_LOSSLESS_STEPS["data"]  # colour only
    with pytest.raises(InvalidOptions, match="texture_near_lossless"):
        resolve("max", {"texture_near_lossless": 9})


def test_max_merges_flat_art_further_but_never_bands_a_gradient() -> None:
    """texture_near_lossless 4 (max): the logo becomes a palette within 8 levels, smaller than
    balanced's within 4; the gradient, which rounding or merging beyond 2 levels would band, gets
    nothing coarser than balanced does (every area within PALETTE_SHIFT of its source)."""
    from types import SimpleNamespace

    entry = SimpleNamespace(kind="color", image=SimpleNamespace(mime_type="image/png"), rough=False)
    balanced, wider = TexturesOptions(), TexturesOptions(texture_near_lossless=4)
    logo = tm.logo_map()
    narrow = choose.best_encoding(logo, (0, 1, 2), entry, "webp", True, balanced)
    how, data, (ssim, _psnr) = choose.best_encoding(logo, (0, 1, 2), entry, "webp", True, wider)
    assert how.palette == 8 and len(data) < len(narrow[1]) and ssim >= wider.texture_ssim, how
    decoded = encoders.decode(data, "webp", 3)
    assert np.abs(decoded.astype(int) - logo).max() <= 8
    assert quality.largest_shift(logo, decoded) <= choose.PALETTE_SHIFT

    gradient = tm.gradient_map()
    assert quality.largest_shift(gradient, encoders.posterize(gradient, 9)) > choose.PALETTE_SHIFT
    how, data, _measured = choose.best_encoding(gradient, (0, 1, 2), entry, "webp", True, wider)
    assert how.palette <= 2 and how.step <= 5, how
    assert quality.largest_shift(gradient, encoders.decode(data, "webp", 3)) <= choose.PALETTE_SHIFT


def test_a_large_texture_a_lossy_quality_matches_is_a_palette_only_where_its_sample_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above PALETTE_PIXELS, a texture that lossy WebP already matches: a grid of grey cells (at
    most 256 colours) is stored exactly as a palette, four times smaller than lossy; where the
    palette's sample, scaled up, does not undercut the lossy bytes, no whole-image lossless encode
    is made at all."""
    from types import SimpleNamespace

    entry = SimpleNamespace(kind="color", image=SimpleNamespace(mime_type="image/png"), rough=False)
    options = TexturesOptions()
    levels = np.random.default_rng(4).integers(40, 220, (32, 32))
    grey = np.repeat(np.repeat(levels, 64, axis=0), 64, axis=1)
    grid = np.stack([grey] * 3, axis=-1).astype(np.uint8)
    assert grid.shape[0] * grid.shape[1] > choose.PALETTE_PIXELS
    lossy = choose._encoding(grid, (0, 1, 2), entry, "webp", True, options)
    assert lossy is not None and not lossy[0].lossless
    how, data, measured = choose.best_encoding(grid, (0, 1, 2), entry, "webp", True, options)
    assert how.lossless and measured == choose.EXACT and len(data) * 3 < len(lossy[1])
    np.testing.assert_array_equal(encoders.decode(data, "webp", 3), grid)

    shapes = []
    real_encode = encoders.encode

    def counting(array: np.ndarray, how: encoders.Encoding) -> bytes:
        shapes.append((array.shape, how.lossless))
        return real_encode(array, how)

    monkeypatch.setattr(choose, "encode", counting)
    cheap = (lossy[0], b"x" * 100, lossy[2])  # a lossy encoding no palette can undercut
    assert choose._palette(grid, (0, 1, 2), cheap, entry, options) is None
    assert shapes and (grid.shape, True) not in shapes  # the sample was encoded, the whole never


def test_the_report_names_a_palette_and_the_output_is_valid(suite: Path, tmp_path: Path) -> None:
    """Through the pass and the writer: the suite's colour map replaced by a logo is reported as
    a palette within 4 levels, decodes to at most 256 colours, and the model stays valid."""
    doc = read(suite)
    image = next(im for im in doc.images if im.name == "colour")
    image.data = tm.png(tm.logo_map())
    report = textures(doc, TexturesOptions())
    row = _rows(report)["colour"]
    assert row["quality"] == "palette ±4" and row["after"]["format"] == "webp", row
    write_glb(doc, tmp_path / "out.glb")
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0
    webp = _material(doc, "Colour")["pbrMetallicRoughness"]["baseColorTexture"]["index"]
    decoded = _pixels(_image(webp, "EXT_texture_webp"))
    assert len(PILImage.fromarray(decoded).getcolors(1 << 20)) <= 256
    assert np.abs(decoded.astype(int) - tm.logo_map()).max() <= 4


def test_an_animated_roughness_keeps_a_normal_map_from_the_relaxed_goal(tmp_path: Path) -> None:
    """Through the pass: of two rough materials with the same JPEG normal map, the one whose
    roughness an animation may lower (KHR_animation_pointer) is not relaxed."""
    src = tm.rough_normal_maps(tmp_path / "in.glb")
    assert not validate(src)[0]["errors"]
    _doc, report, _gltf = _run(src, tmp_path / "out.glb")
    rows = {row["image"].split(" (")[1].rstrip(")"): row for row in report["textures"]}
    assert rows["Rough"]["quality"] < 100
    animated = rows["Rough animated"]  # WebP's best, or its source where that is smaller
    assert animated.get("quality", 100) == 100 and animated.get("note", "kept").startswith("kept")
    assert rows["Rough"]["after"]["bytes"] < animated.get("after", animated["before"])["bytes"]


def test_rough_means_every_use_is_a_rough_materials_normal_map() -> None:
    from glbcompress.engine.textures.classify import ImageUse, Use

    def use(material: dict, key: str = "normalTexture") -> Use:
        material.setdefault(key, {"index": {}})
        return Use(material, material, key)

    image = Image(b"", "image/jpeg")
    assert ImageUse(image, [use({}), use({"pbrMetallicRoughness": {"roughnessFactor": 0.6}})]).rough
    assert not ImageUse(image, []).rough
    assert not ImageUse(image, [use({}), use({"pbrMetallicRoughness": {"roughnessFactor": 0.3}})]).rough
    with_map = {"pbrMetallicRoughness": {"metallicRoughnessTexture": {"index": {}}}}
    assert not ImageUse(image, [use(with_map)]).rough  # a roughness map may make parts glossy
    assert not ImageUse(image, [use({"extensions": {"KHR_materials_anisotropy": {}}})]).rough
    assert not ImageUse(image, [use({})], animated=True).rough  # its roughness may change
    coat = {"extensions": {"KHR_materials_clearcoat": {"clearcoatNormalTexture": {"index": {}}}}}
    assert not ImageUse(
        image, [Use(coat, coat["extensions"]["KHR_materials_clearcoat"], "clearcoatNormalTexture")]
    ).rough


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("step", [2, 3, 4, 5, 7])
def test_posterize_bounds_every_value_and_keeps_alpha(step: int, channels: int) -> None:
    source = np.random.default_rng(step).integers(0, 256, (64, 64, channels), dtype=np.uint8)
    source[0, :, :] = 255  # the top of the range rounds up past 255 for most steps
    out = encoders.posterize(source, step)
    assert out.dtype == np.uint8 and out.shape == source.shape
    colour = min(channels, 3)
    difference = np.abs(out[..., :colour].astype(int) - source[..., :colour])
    assert difference.max() <= step // 2
    assert len(np.unique(out[..., :colour])) <= 256 // step + 2
    np.testing.assert_array_equal(out[..., colour:], source[..., colour:])


def test_fallback_keeps_core_source_and_optional_extension(suite: Path, tmp_path: Path) -> None:
    _doc, _report, gltf = _run(suite, tmp_path / "out.glb", texture_fallback=True)
    assert "EXT_texture_webp" in gltf["extensionsUsed"]
    assert "extensionsRequired" not in gltf
    for texture in gltf["textures"]:
        if "extensions" in texture:
            fallback = gltf["images"][texture["source"]]
            assert fallback["mimeType"] in ("image/png", "image/jpeg")
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0


def test_texture_transform_and_factors_survive(suite: Path, tmp_path: Path) -> None:
    doc, _report, _gltf = _run(suite, tmp_path / "out.glb")
    info = _material(doc, "Transform")["pbrMetallicRoughness"]["baseColorTexture"]
    assert info["extensions"]["KHR_texture_transform"] == {
        "offset": [0.25, 0.5],
        "scale": [2.0, 2.0],
        "rotation": 0.3,
    }
    assert _material(doc, "Normal")["normalTexture"]["scale"] == 0.8
    assert _material(doc, "ORM")["occlusionTexture"]["strength"] == 0.9


def test_same_bytes_twice(suite: Path, tmp_path: Path) -> None:
    _run(suite, tmp_path / "a.glb")
    _run(suite, tmp_path / "b.glb")
    assert (tmp_path / "a.glb").read_bytes() == (tmp_path / "b.glb").read_bytes()


# -- solid textures -------------------------------------------------------------------------------


def test_solid_textures_become_factors(suite: Path, tmp_path: Path) -> None:
    doc, report, _gltf = _run(suite, tmp_path / "out.glb")
    material = _material(doc, "Solid")
    pbr = material["pbrMetallicRoughness"]
    assert "baseColorTexture" not in pbr and "metallicRoughnessTexture" not in pbr
    assert "normalTexture" not in material  # (128, 128, 255) is the unperturbed normal
    expected = srgb_to_linear(np.array([200, 100, 50])) * np.array([1.0, 0.5, 1.0])
    np.testing.assert_allclose(pbr["baseColorFactor"][:3], expected, rtol=1e-6)
    assert pbr["baseColorFactor"][3] == 1.0
    assert pbr["roughnessFactor"] == pytest.approx(128 / 255)
    assert pbr["metallicFactor"] == pytest.approx(1.0)
    assert report["texture slots folded into factors"] == 3


def test_solid_tolerance_zero_needs_identical_texels(tmp_path: Path) -> None:
    from glbcompress.engine.textures.solid import solid_value

    nearly = tm.solid((100, 100, 100))
    nearly[0, 0, 0] = 101
    assert solid_value(nearly, (0, 1, 2), 0) is None
    assert solid_value(nearly, (0, 1, 2), 2) is not None
    assert solid_value(nearly, (1, 2), 0) is not None  # R is not read


# -- other formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["avif", "jpeg"])
def test_lossy_formats_decode_and_meet_targets(fmt: str, suite: Path, tmp_path: Path) -> None:
    options = TexturesOptions(texture_format=fmt)  # type: ignore[arg-type]
    doc, report, gltf = _run(suite, tmp_path / "out.glb", texture_format=fmt)
    extension = {"avif": "EXT_texture_avif", "jpeg": None}[fmt]
    colour = _material(doc, "Colour")["pbrMetallicRoughness"]["baseColorTexture"]["index"]
    pixels = _pixels(_image(colour, extension))
    assert pixels[: tm.SIZE // 2, :, 0].mean() > 150 > pixels[tm.SIZE // 2 :, :, 0].mean()
    assert quality.ssim(pixels, tm.colour_map()) >= options.texture_ssim - choose.SAMPLE_SLACK
    if fmt == "jpeg":
        assert gltf["extensionsUsed"] == ["KHR_texture_transform"]  # no image extension
        assert _rows(report)["blended"]["after"]["format"] == "png"  # its alpha is read
    assert validate(tmp_path / "out.glb")[0]["errors"] == 0


def test_keep_recompresses_png_losslessly(suite: Path, tmp_path: Path) -> None:
    doc, report, _gltf = _run(suite, tmp_path / "out.glb", texture_format="keep", texture_solid=False)
    rows = _rows(report)
    assert rows["shared"].get("after") is None  # a JPEG is kept as it is
    colour = _material(doc, "Colour")["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"]
    np.testing.assert_array_equal(_pixels(colour), tm.colour_map())


# -- KTX2 -----------------------------------------------------------------------------------------


def _ktx2_info(doc: Document, name: str, slot: str) -> basisu.Ktx2Info:
    material = _material(doc, name)
    holder = material if slot in material else material["pbrMetallicRoughness"]
    return basisu.ktx2_info(_image(holder[slot]["index"], "KHR_texture_basisu").data)


@needs_basisu
def test_ktx2_codecs_transfer_functions_orientation(suite: Path, tmp_path: Path) -> None:
    doc, report, gltf = _run(suite, tmp_path / "out.glb", texture_format="ktx2")
    assert gltf["extensionsRequired"] == ["KHR_texture_basisu"]
    etc1s, uastc, srgb, linear = 163, 166, 2, 1
    rows = _rows(report)
    for name, slot, image in (
        ("Colour", "baseColorTexture", "colour"),
        ("Normal", "normalTexture", "normal"),
    ):
        info = _ktx2_info(doc, name, slot)
        assert info.transfer == (srgb if name == "Colour" else linear), name
        assert info.color_model == (uastc if rows[image]["codec"] == "uastc" else etc1s)
        assert info.supercompression == (2 if info.color_model == uastc else 1)  # Zstandard / BasisLZ
        assert info.width % 4 == 0 and info.height % 4 == 0
        assert info.levels == int(np.log2(max(info.width, info.height))) + 1  # a full mip chain
        assert info.orientation in (None, "rd")
    assert rows["normal"]["codec"] == rows["orm"]["codec"] == "uastc"  # never ETC1S for them
    colour = _pixels(
        _image(
            _material(doc, "Colour")["pbrMetallicRoughness"]["baseColorTexture"]["index"],
            "KHR_texture_basisu",
        )
    )
    assert colour[: tm.SIZE // 2, :, 0].mean() > 150 > colour[tm.SIZE // 2 :, :, 0].mean()
    normal = _pixels(_image(_material(doc, "Normal")["normalTexture"]["index"], "KHR_texture_basisu"))
    assert quality.ssim(normal[..., :3], tm.normal_map()) > 0.97
    # Read as colour and as data: left as it was, with a warning.
    assert rows["shared"].get("after") is None and report["warnings"]
    assert not new_errors(validate(suite)[0], validate(tmp_path / "out.glb")[0])
    # ETC1S when asked for, sRGB for colour.
    doc, report, _gltf = _run(suite, tmp_path / "etc1s.glb", texture_format="ktx2", texture_ktx2_mode="etc1s")
    info = _ktx2_info(doc, "Colour", "baseColorTexture")
    assert (info.color_model, info.transfer) == (etc1s, srgb)


@needs_basisu
def test_ktx2_same_bytes_twice(tmp_path: Path) -> None:
    src = tm.occlusion_only(tmp_path / "in.glb")
    _run(src, tmp_path / "a.glb", texture_format="ktx2")
    _run(src, tmp_path / "b.glb", texture_format="ktx2")
    assert (tmp_path / "a.glb").read_bytes() == (tmp_path / "b.glb").read_bytes()


def test_missing_basisu_is_a_clear_options_error(suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(basisu, "find", lambda: None)
    with pytest.raises(InvalidOptions, match="basisu"):
        textures(read(suite), TexturesOptions(texture_format="ktx2"))
    textures(read(suite), TexturesOptions(texture_format="webp"))  # other formats still work


# -- sizes and limits -----------------------------------------------------------------------------


def test_resize_max_size_pow2_never_upscale(tmp_path: Path) -> None:
    src = tm.large_texture(tmp_path / "in.glb", 300)
    doc, report, _gltf = _run(src, tmp_path / "a.glb", texture_max_size=200, texture_pow2=True)
    image = doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["index"]["extensions"][
        "EXT_texture_webp"
    ]["source"]
    assert _pixels(image).shape[:2] == (128, 128)
    assert report["textures"][0]["after"]["size"] == "128x128"
    doc, _report, _gltf = _run(src, tmp_path / "b.glb", texture_max_size=4096)
    image = doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["index"]["extensions"][
        "EXT_texture_webp"
    ]["source"]
    assert _pixels(image).shape[:2] == (300, 300)


def test_normal_maps_stay_unit_length_after_resizing(suite: Path, tmp_path: Path) -> None:
    doc, _report, _gltf = _run(suite, tmp_path / "out.glb", texture_format="png", texture_scale_normal=0.5)
    image = _material(doc, "Normal")["normalTexture"]["index"]["source"]
    n = _pixels(image).astype(np.float64) * (2 / 255) - 1
    assert n.shape[:2] == (tm.SIZE // 2, tm.SIZE // 2)
    np.testing.assert_allclose(np.linalg.norm(n, axis=2), 1.0, atol=0.02)


def test_pixel_limit_names_the_image(tmp_path: Path) -> None:
    doc = read(tm.large_texture(tmp_path / "in.glb", 300), Limits(max_image_pixels=300 * 300 - 1))
    with pytest.raises(LimitExceeded, match=r"images\[0\] \(large\).*300x300"):
        textures(doc, TexturesOptions())


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    import tracemalloc

    doc = read(tm.bomb(tmp_path / "bomb.glb"))
    tracemalloc.start()
    with pytest.raises(LimitExceeded, match=r"images\[0\] \(bomb\)"):
        textures(doc, TexturesOptions())
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 1024 * 1024


def test_undecodable_image_is_left_with_a_warning(suite: Path) -> None:
    doc = read(suite)
    broken = doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"]
    broken.data = broken.data[:100]
    report = textures(doc, TexturesOptions())
    assert any("images[0]" in w for w in report["warnings"])
    assert doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"] is broken


def test_ssim_and_search() -> None:
    image = tm.colour_map()
    assert quality.ssim(image, image) == 1.0 and quality.psnr(image, image) == quality.PSNR_CAP
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    assert 0.5 < quality.ssim(image, noisy) < 0.99
    goal = quality.Goal(0.9, 0)
    calls: list[int] = []

    def measure(q: int) -> quality.Probe:
        calls.append(q)
        return quality.Probe(q, q / 100, 50, q)

    assert quality.lowest_quality(measure, goal).quality == 90
    assert len(calls) <= 8
    assert quality.lowest_quality(measure, quality.Goal(1.1, 0)) is None


def _curves() -> dict[str, Callable[[int], tuple[float, float]]]:
    """Monotone SSIM(quality) curves the search may meet: WebP-like (log error linear along
    libwebp's axis), straight, nearly flat, a sharp step, and one whose PSNR is what binds."""
    axis = encoders.quality_axis("webp")
    assert axis is not None
    x = axis.position
    return {
        "webp-like": lambda q: (1 - 0.35 * np.exp(-2.5 * x(q)), 30 + 15 * x(q)),
        "webp-steeper": lambda q: (1 - 0.5 * np.exp(-4.5 * x(q)), 30 + 15 * x(q)),
        "straight": lambda q: (q / 100, 60.0),
        "flat": lambda q: (0.9 + q * 1e-4, 60.0),
        "steep": lambda q: (0.5 if q < 63 else 0.99, 60.0),
        "psnr-bound": lambda q: (0.99, 20 + q * 0.2),
    }


def _counting(
    curve: Callable[[int], tuple[float, float]], calls: list[int]
) -> Callable[[int], quality.Probe]:
    def measure(q: int) -> quality.Probe:
        calls.append(q)
        ssim, psnr = curve(q)
        return quality.Probe(q, float(ssim), float(psnr), q)

    return measure


@pytest.mark.parametrize("name", list(_curves()))
@pytest.mark.parametrize("axis", [None, "webp"])
@pytest.mark.parametrize("start", [None, 80, 10])
def test_search_finds_the_lowest_passing_quality_in_few_probes(
    name: str, axis: str | None, start: int | None
) -> None:
    # Every goal between the curve's ends: the answer is exactly the brute-force lowest passing
    # quality, never more probes than bisection's log2(90) + SEARCH_BUDGET (each a whole
    # encode), and the quality below the answer was probed and missed. With a start, that is
    # probed first, and high only where start misses.
    curve = _curves()[name]
    scale = encoders.quality_axis(axis) if axis else None
    low, high = 10, 100
    bound = quality.SEARCH_BUDGET + 7
    counts = []
    for target in [*np.linspace(curve(low)[0], curve(high)[0], 23)[1:-1].tolist(), 0.5, 0.95]:
        for psnr in (0.0, 30.0, 34.0):
            goal = quality.Goal(target, psnr)
            calls: list[int] = []
            measure = _counting(curve, calls)
            found = quality.lowest_quality(measure, goal, low, high, axis=scale, start=start)
            passing = [q for q in range(low, high + 1) if goal.met(measure(q))]
            calls[len(calls) - (high - low + 1) :] = []  # forget the brute-force probes
            first = high if start is None else start
            assert calls[0] == first
            first_met = goal.met(quality.Probe(first, *map(float, curve(first)), first))
            assert (high in calls) == (first == high or not first_met)
            if not passing:
                assert found is None and calls == ([high] if first == high else [first, high])
                continue
            assert found is not None and found.quality == passing[0], (name, goal, calls)
            assert len(calls) <= bound and len(set(calls)) == len(calls), (name, goal, calls)
            assert found.quality == low or found.quality - 1 in calls
            counts.append(len(calls))
    if name.startswith("webp") and axis and start != 10:  # curves the axis was made for: few probes
        assert max(counts) <= 6 and sum(counts) / len(counts) < 5, counts


def test_search_ends_at_once_when_the_lowest_quality_passes_or_none_does() -> None:
    calls: list[int] = []
    measure = _counting(lambda q: (0.99, 50.0), calls)
    found = quality.lowest_quality(measure, quality.Goal(0.95, 30), low=10)
    assert found is not None and found.quality == 10 and calls == [100, 10]
    calls.clear()
    assert quality.lowest_quality(measure, quality.Goal(0.995, 30), low=10) is None and calls == [100]
    calls.clear()
    assert quality.lowest_quality(measure, quality.Goal(0.95, 30), low=100).quality == 100  # type: ignore[union-attr]
    assert calls == [100]
    # With WebP's slopes, a texture that quality 100 reproduces far beyond the goal (flat or
    # synthetic) tries the lowest quality next.
    calls.clear()
    measure = _counting(lambda q: (0.9999, 60.0), calls)
    found = quality.lowest_quality(
        measure, quality.Goal(0.95, 30), low=10, axis=encoders.quality_axis("webp")
    )
    assert found is not None and found.quality == 10 and calls == [100, 10]


@pytest.mark.parametrize("axis", [None, "webp"])
def test_search_on_a_noisy_curve_keeps_a_passing_quality_whose_neighbour_missed(axis: str | None) -> None:
    # SSIM that wobbles as it rises (as real encoders' does): the answer is a quality that met
    # the goal, the one below it was probed and missed, and the bound still holds.
    rng = np.random.default_rng(5)
    wobble = rng.normal(0, 0.01, 101)
    calls: list[int] = []
    measure = _counting(lambda q: (min(1.0, 0.6 + q * 0.0035 + wobble[q]), 50.0), calls)
    for target in np.linspace(0.7, 0.9, 21):
        calls.clear()
        goal = quality.Goal(float(target), 0)
        found = quality.lowest_quality(
            measure, goal, low=10, axis=encoders.quality_axis(axis) if axis else None
        )
        assert found is not None and goal.met(found) and len(calls) <= quality.SEARCH_BUDGET + 7
        assert found.quality == 10 or (
            found.quality - 1 in calls and not goal.met(measure(found.quality - 1))
        )


def test_samples_of_the_largest_texture_are_bounded() -> None:
    # 16383x8192, the most pixels the limits allow, as a view of one row (no memory): the search
    # encodes at most 2048x2048 of it and every figure measures at most 1024x1024.
    row = (np.arange(16383) % 251).astype(np.uint8)
    big = np.broadcast_to(row[None, :, None], (8192, 16383, 3))
    search = quality.sample(big)
    measured = quality.sample(big, quality.TILE, quality.VERIFY_GRID)
    assert search.shape == (2048, 2048, 3) and measured.shape == (1024, 1024, 3)
    # The tiles are the image's own pixels, spread to its far edge (the last starts 16-aligned).
    np.testing.assert_array_equal(search[0, 1024:, 0], row[15344:16368])
    np.testing.assert_array_equal(measured[0, -128:, 0], row[16240:16368])
    # The search's probes are measured on a million pixels too, in tiles inside its own tiles.
    part, tile = quality.measured(search, quality.SEARCH_TILE)
    assert part.shape == (1024, 1024, 3) and tile == quality.TILE
    np.testing.assert_array_equal(part[0, 512:640, 0], search[0, 1024:1152, 0])
    small = np.zeros((300, 2048, 3), np.uint8)
    assert quality.sample(small) is small and not quality.sampled(small.shape, quality.SEARCH_TILE, 2)


def test_ssim_of_a_mosaic_ignores_its_seams() -> None:
    # Two flat tiles side by side, and a copy with a little noise: across the seam SSIM sees an
    # edge the texture does not have (the only structure there is, which the noise cannot touch),
    # and would report no damage; inside the tiles the figure is the tiles' own.
    mosaic = np.concatenate([np.full((128, 128), 40, np.uint8), np.full((128, 128), 200, np.uint8)], axis=1)
    noisy = (mosaic + np.random.default_rng(0).integers(-2, 3, mosaic.shape)).astype(np.uint8)
    tiles = (
        quality.ssim(mosaic[:, :128], noisy[:, :128]) + quality.ssim(mosaic[:, 128:], noisy[:, 128:])
    ) / 2
    assert quality.ssim(mosaic, noisy) > 0.999
    assert quality.ssim(mosaic, noisy, tile=128) == pytest.approx(tiles) and tiles < 0.98


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_decoding_only_the_measured_tiles_cuts_the_same_pixels(mode: str) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (1100, 1500, 4), dtype=np.uint8)
    image = PILImage.fromarray(pixels, "RGBA").convert(mode)
    fmt = "webp" if mode in ("RGB", "RGBA") else "png"
    data = io.BytesIO()
    image.save(data, format=fmt.upper(), **({"quality": 60} if fmt == "webp" else {}))
    channels = 4 if mode == "RGBA" else 3
    whole = encoders.decode(data.getvalue(), fmt, channels)
    cut = encoders.decode_sample(data.getvalue(), fmt, channels)
    assert cut.shape == (1024, 1024, channels)
    np.testing.assert_array_equal(cut, quality.sample(whole, quality.TILE, quality.VERIFY_GRID))


def test_settle_needs_few_whole_encodes() -> None:
    goal = quality.Goal(0.93, 0)

    def mosaic(q: int) -> quality.Probe:  # rises with quality, 1.0 at 100
        return quality.Probe(q, 0.6 + q / 250, 50, q)

    chosen = quality.lowest_quality(mosaic, goal, low=10)
    assert chosen is not None and chosen.quality == 83
    encoded: list[int] = []

    def overrated(q: int) -> float:  # the whole image is 0.05 below what the mosaic promised
        encoded.append(q)
        return mosaic(q).ssim - 0.05

    settled = quality.settle(chosen.quality, overrated, mosaic, goal, 0.01)
    assert encoded == [83, settled] and mosaic(settled).ssim - 0.05 >= goal.ssim - 0.01
    encoded.clear()
    assert quality.settle(chosen.quality, lambda q: encoded.append(q) or 0.95, mosaic, goal, 0.01) == 83
    assert encoded == [83]
    encoded.clear()

    def worse_higher_up(q: int) -> float:  # the correction falls short too: the last try is 100
        encoded.append(q)
        return mosaic(q).ssim - (0.05 if q == 83 else 0.1)

    assert quality.settle(chosen.quality, worse_higher_up, mosaic, goal, 0.01) == 100
    assert len(encoded) == quality.WHOLE_TRIES == 3 and encoded[0] == 83 < encoded[1] < encoded[2] == 100


def test_search_on_a_whole_texture_picks_what_a_whole_image_metric_picks(tmp_path: Path) -> None:
    """A 1280x1280 texture is searched whole and measured on tiles: the quality is the one a
    search measuring every pixel picks, give or take the tiles' few thousandths of SSIM."""
    size = 1280
    doc = read(tm.large_texture(tmp_path / "in.glb", size))
    report = textures(doc, TexturesOptions())
    row = report["textures"][0]
    assert row["measured on"] == "64 tiles of 128x128 pixels"
    source = np.asarray(PILImage.fromarray(tm.colour_map()).resize((size, size)))

    def whole(q: int) -> quality.Probe:
        out = encoders.decode(encoders.encode(source, encoders.Encoding("webp", q)), "webp", 3)
        return quality.Probe(q, quality.ssim(source, out), quality.psnr(source, out), 0)

    goal = choose.class_goal("color", TexturesOptions())
    reference = quality.lowest_quality(whole, goal, low=choose.AUTO_LOWEST)
    assert reference is not None and abs(row["quality"] - reference.quality) <= 3, (row, reference)


def test_large_texture_is_searched_on_a_mosaic_and_reported_honestly(tmp_path: Path) -> None:
    """Larger than 2048x2048: the search encodes a 2048x2048 mosaic, the whole texture is encoded
    at the quality found, and the figure reported (on tiles) is within a hundredth of every
    pixel's."""
    size = 2560
    doc = read(tm.large_texture(tmp_path / "in.glb", size))
    report = textures(doc, TexturesOptions())
    row = report["textures"][0]
    assert row["after"]["size"] == f"{size}x{size}" and isinstance(row["quality"], int)
    assert row["measured on"] == "64 tiles of 128x128 pixels"
    source = np.asarray(PILImage.fromarray(tm.colour_map()).resize((size, size)))
    out = _pixels(doc.images[-1])
    every_pixel = quality.ssim(source, out)
    assert abs(every_pixel - row["ssim"]) < 0.01, (every_pixel, row)
    assert every_pixel >= TexturesOptions().texture_ssim - choose.SAMPLE_SLACK


# -- corpus ---------------------------------------------------------------------------------------

PUBLIC = CORPUS / "public"
CORPUS_MODELS = {
    "BoxTexturedWebp": "BoxTexturedWebp/box-textured-with-fallback.gltf",
    "TextureTransformTest": "TextureTransformTest/TextureTransformTest.gltf",
    "MultiUVTest": "MultiUVTest/MultiUVTest.gltf",
    "SpherePbrNext": "SpherePbrNext/sphere.gltf",
    "CesiumMilkTruck": "CesiumMilkTruck/CesiumMilkTruck.gltf",
    "AnisotropyBarnLamp": "AnisotropyBarnLamp/AnisotropyBarnLamp.gltf",
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(CORPUS_MODELS))
def test_corpus_model(name: str, tmp_path: Path) -> None:
    src = PUBLIC / CORPUS_MODELS[name]
    if not src.is_file():
        pytest.skip(f"{src} is absent (the shared corpus is not on this machine)")
    options = TexturesOptions()
    doc = read(src)
    from glbcompress.engine.passes.sanitize import sanitize

    sanitize(doc)
    ktx2_before = [im.data for im in doc.images if im.mime_type == "image/ktx2"]
    report = textures(doc, options)
    out = tmp_path / "out.glb"
    write_glb(doc, out)
    assert not new_errors(validate(src)[0], validate(out)[0])
    goal = {
        "color": options.texture_ssim,
        "normal": options.texture_ssim_normal,
        "data": options.texture_ssim_data,
    }
    for row in report.get("textures", []):
        if "ssim" in row and row["ssim"] < goal[row["class"]] - choose.SAMPLE_SLACK:
            # Only a lossy source may miss the target (it is then relaxed to what the codec reaches).
            assert row["before"]["format"] != "png", row
    result = read(out)
    for image in result.images:
        if image.mime_type == "image/ktx2":
            assert image.data in ktx2_before  # KTX2 inputs pass through untouched
        else:
            assert _pixels(image).size
    assert result.info["input_bytes"] <= sum(len(i.data) for i in doc.images) + out.stat().st_size


# -- through the pipeline -------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["lossless", "balanced", "max"])
def test_presets_give_valid_output_and_decoded_copy(preset: str, suite: Path, tmp_path: Path) -> None:
    from glbcompress.engine.api import compress, resolve
    from tests.tools import decoded_copy

    out = tmp_path / "out.glb"
    options = resolve(preset)
    report = compress(suite, out, options)
    textures_report = next(p for p in report.passes if p.name == "textures").changes
    before = validate(suite)[0]
    assert not new_errors(before, validate(out)[0])
    assert not new_errors(before, validate(decoded_copy(out, tmp_path / "decoded.glb"))[0])
    result = read(out)
    for image in result.images:
        assert _pixels(image).size
    if preset == "lossless":
        # Lossless: no WebP, and every kept colour texel as it was.
        assert all(im.mime_type in ("image/png", "image/jpeg") for im in result.images)
        colour = next(m for m in result.materials if m.get("name") == "Colour")
        np.testing.assert_array_equal(
            _pixels(colour["pbrMetallicRoughness"]["baseColorTexture"]["index"]["source"]), tm.colour_map()
        )
    else:
        assert report.after.textures < report.before.textures / 3
        t = options.textures
        lowest_target = min(t.texture_ssim, t.texture_ssim_normal, t.texture_ssim_data)
        assert report.fidelity["texture_min_ssim"] >= lowest_target - choose.SAMPLE_SLACK
    assert textures_report["texture slots folded into factors"] == 3


@pytest.mark.corpus
def test_keep_leaves_extension_images_beside_a_recompressed_png(tmp_path: Path) -> None:
    src = PUBLIC / CORPUS_MODELS["BoxTexturedWebp"]
    if not src.is_file():
        pytest.skip(f"{src} is absent (the shared corpus is not on this machine)")
    doc = read(src)
    webp = [im for im in doc.images if im.mime_type == "image/webp"]
    png = doc.textures[0]["source"]
    textures(doc, TexturesOptions(texture_format="keep"))
    texture = doc.textures[0]
    assert texture["extensions"]["EXT_texture_webp"]["source"] is webp[0]
    assert texture["source"] is not png and texture["source"].mime_type == "image/png"  # recompressed
    assert len(texture["source"].data) < len(png.data)


def test_images_are_started_largest_first_and_returned_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass starts the images with the most bytes first, so no worker is left alone with a
    large one at the end; results (and progress) stay by image."""
    import os
    from types import SimpleNamespace

    from glbcompress.engine.passes import textures as textures_pass

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    entries = [SimpleNamespace(image=SimpleNamespace(data=b"x" * n)) for n in (5, 50, 1, 20)]
    started: list[int] = []

    def work(entry: SimpleNamespace) -> int:
        started.append(len(entry.image.data))
        return len(entry.image.data)

    progress: list[float] = []
    results = textures_pass._parallel(work, entries, lambda fraction, _label: progress.append(fraction))
    assert started == [50, 20, 5, 1]
    assert results == [5, 50, 1, 20]
    assert progress[-1] == 1.0
