"""Encoding pixel arrays as PNG, JPEG, WebP, AVIF (Pillow) and KTX2 (basisu), and decoding the
result again to measure it.

Every encoder writes no metadata (no EXIF, ICC or text chunks: glTF ignores them) and keeps the
colour values of fully transparent pixels (WebP's `exact`), since a texture's alpha may be data
rather than coverage. Lossy encoders subsample chroma only for colour maps: in a normal or packed
data map each channel is its own signal, and 4:2:0 would blur one into another.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from . import basisu, palette, quality
from .classify import COLOR, NORMAL
from .pixels import ToolError, quiet_pillow

MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "ktx2": "image/ktx2",
}
FORMAT_OF_MIME = {mime: name for name, mime in MIME.items()}
EXTENSION = {"webp": "EXT_texture_webp", "avif": "EXT_texture_avif", "ktx2": "KHR_texture_basisu"}
AVIF_SPEED = 7
WEBP_METHOD = 4
WEBP_MAX_SIDE = 16383
"""The largest width or height a WebP image can have (its header stores 14 bits)."""


@dataclass(frozen=True)
class Encoding:
    """How to encode one image."""

    format: str
    quality: int = 100
    """1-100 for lossy formats."""
    lossless: bool = False
    """WebP only: its lossless mode."""
    kind: str = COLOR
    srgb: bool = True
    uastc: bool = False
    """KTX2 only: UASTC + Zstandard rather than ETC1S."""
    full_chroma: bool = False
    """JPEG and AVIF: no chroma subsampling even for colour (always so for normal and data maps)."""
    step: int = 1
    """WebP lossless only: above 1, near-lossless: colour values are rounded to multiples of step
    first (see posterize), so every value stays within step // 2 of the source."""
    palette: int = 0
    """WebP lossless only: above 0, the image is first reduced to at most 256 colours, each pixel
    within this many levels of the source (palette.reduce); encode() raises palette.TooManyColours
    where that cannot be done."""

    def describe(self) -> str:
        if self.lossless and self.palette:
            return f"{self.format} palette (±{self.palette})"
        if self.lossless and self.step > 1:
            return f"{self.format} near-lossless (±{self.step // 2})"
        if self.format == "png" or self.lossless:
            return f"{self.format} lossless"
        if self.format == "ktx2":
            return f"ktx2 {'uastc' if self.uastc else 'etc1s'} q{self.quality}"
        return f"{self.format} q{self.quality}"


def quality_axis(fmt: str) -> quality.Axis | None:
    """How the quality search (quality.lowest_quality) sees the format's quality scale; None
    where quality itself serves and no slopes are known."""
    return WEBP_AXIS if fmt == "webp" else None


def _webp_position(quality: float) -> float:
    """libwebp's own mapping of quality to compression (QualityToCompression, src/enc/quant_enc.c,
    before its cube root): linear in two pieces, three times steeper above 75, which is where a
    texture's SSIM bends upwards."""
    c = quality / 100
    return c * 2 / 3 if c < 0.75 else 2 * c - 1


WEBP_AXIS = quality.Axis(_webp_position, ssim_slope=-2.5, psnr_slope=13.0)
"""Slopes: the middle of corpus textures' (log(1 - SSIM) falls by 2 to 3 per unit along libwebp's
scale, PSNR rises by 10 to 16 dB; flat and synthetic textures fall faster)."""


def encode(array: np.ndarray, how: Encoding) -> bytes:
    """The image's bytes in the chosen format."""
    if how.format == "ktx2":
        settings = basisu.Ktx2Settings(how.uastc, how.srgb, how.quality, normal_map=how.kind == NORMAL)
        return basisu.encode(array, settings)
    from PIL import Image as PILImage

    if how.format == "webp" and max(array.shape[:2]) > WEBP_MAX_SIDE:
        raise ToolError(f"WebP cannot store an image wider or taller than {WEBP_MAX_SIDE} pixels.")
    if how.lossless and how.step > 1:
        array = posterize(array, how.step)
    if how.lossless and how.palette:
        array = palette.reduced(array, how.palette)
    image = PILImage.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    out = io.BytesIO()
    try:
        _save(image, array, how, out)
    except (OSError, ValueError) as exc:  # the codec library refused (a size or mode it cannot store)
        raise ToolError(f"the {how.format} encoder failed ({exc}).") from exc
    return out.getvalue()


def posterize(array: np.ndarray, step: int) -> np.ndarray:
    """The colour channels rounded to the nearest multiple of step (255 where that would pass it);
    alpha, which may be a cut-out mask, stays exact. Fewer distinct values make a lossless encoding
    much smaller (a 512x512 normal map at step 4: about two thirds of its exact size) while every
    value stays within step // 2 levels of the source, far closer than any lossy encoding."""
    colour = min(array.shape[2], 3)
    rounded = (array[..., :colour].astype(np.uint16) + step // 2) // step * step
    out = array.copy()
    out[..., :colour] = np.minimum(rounded, 255)
    return out


def _save(image, array: np.ndarray, how: Encoding, out: io.BytesIO) -> None:
    if how.format == "png":
        _png(image, array).save(out, format="PNG", optimize=True)
    elif how.format == "jpeg":
        subsampling = 2 if how.kind == COLOR and not how.full_chroma else 0
        image.save(out, format="JPEG", quality=how.quality, optimize=True, subsampling=subsampling)
    elif how.format == "webp":
        if how.lossless:
            image.save(out, format="WEBP", lossless=True, quality=80, method=WEBP_METHOD, exact=True)
        else:
            image.save(
                out, format="WEBP", quality=how.quality, method=WEBP_METHOD, exact=True, alpha_quality=100
            )
    elif how.format == "avif":
        subsampling = "4:2:0" if how.kind == COLOR and not how.full_chroma else "4:4:4"
        if array.shape[2] == 1:
            subsampling = "4:0:0"
        image.save(out, format="AVIF", quality=how.quality, speed=AVIF_SPEED, subsampling=subsampling)
    else:
        raise TypeError(f"unknown texture format {how.format!r}")


def _png(image, array: np.ndarray):  # -> PIL.Image.Image
    """An RGB image of at most 256 colours as an exact palette image (often much smaller)."""
    from PIL import Image as PILImage

    if array.shape[2] != 3:
        return image
    colors = image.getcolors(maxcolors=256)
    if colors is None:
        return image
    colours = np.array(sorted(c for _n, c in colors), np.uint8)  # sorted as their keys are
    indices = palette.mapped(array, palette.colour_keys(colours), np.arange(len(colours), dtype=np.uint8))
    out = PILImage.fromarray(indices, mode="P")
    out.putpalette(colours.reshape(-1).tolist())
    return out


def decode(data: bytes, fmt: str, channels: int) -> np.ndarray:
    """Decoded pixels with the given channel count (what a viewer samples)."""
    if fmt == "ktx2":
        return conform(basisu.decode(data), channels)
    with _open(data) as image:
        return conform(_array(image), channels)


def decode_sample(data: bytes, fmt: str, channels: int) -> np.ndarray:
    """quality.measured(decode(data, fmt, channels))[0], the part of the image a figure is
    measured on, without making an array of the whole image: the tiles are cut from the decoder's
    image. For a 16383x8192 texture that saves two 400 MB copies (and their time) when a million
    pixels are measured."""
    tile, grid = quality.TILE, quality.VERIFY_GRID
    if fmt == "ktx2":
        return quality.sample(decode(data, fmt, channels), tile, grid)
    with _open(data) as image:
        width, height = image.size
        if not quality.sampled((height, width), tile, grid):
            return conform(_array(image), channels)
        image.load()

        def cut(top: int, left: int) -> np.ndarray:
            box = (left, top, min(width, left + tile), min(height, top + tile))
            return conform(_array(image.crop(box)), channels)

        return quality.mosaic(cut, (height, width), tile, grid)


def _open(data: bytes):  # -> PIL.Image.Image
    from PIL import Image as PILImage

    quiet_pillow()  # our own output, of an image whose size was checked
    return PILImage.open(io.BytesIO(data))


def _array(image) -> np.ndarray:
    """The image's pixels as grey, RGB or RGBA (a palette as RGB or RGBA); no conversion, and so
    no copy of the image, where it already is one of those."""
    mode = image.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
    if mode not in ("L", "RGB", "RGBA"):
        mode = "RGBA" if "A" in mode else "RGB"
    return np.asarray(image if image.mode == mode else image.convert(mode))


def conform(array: np.ndarray, channels: int) -> np.ndarray:
    """array with exactly `channels` channels: grey (also as a 2D array) widened to RGB, a missing
    alpha as opaque, extra channels dropped."""
    if array.ndim == 2:
        array = array[..., None]
    have = array.shape[2]
    if have == channels:
        return array
    if have == 1:
        array = np.repeat(array, 3, axis=2)
    if channels == 1:
        return array[..., :1]
    if array.shape[2] == 3 and channels == 4:
        return np.concatenate([array, np.full((*array.shape[:2], 1), 255, np.uint8)], axis=2)
    return array[..., :channels]
