"""Decoding images to pixel arrays, with the pixel limit checked before any pixel is decoded,
and resizing.

Pillow reads PNG, JPEG, WebP and AVIF; its header parse gives the dimensions without decoding, so
a 100,000 x 100,000 PNG of a few kilobytes (a decompression bomb) is refused by name before it can
take memory. KTX2 images are decoded only on request, with the Basis Universal tool (basisu.py).
Pixels are uint8 arrays of shape (height, width, channels) with 1 (grey), 3 (RGB) or 4 (RGBA)
channels; 16-bit images are reduced to 8 bits (every target format stores 8).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidModel, LimitExceeded, UnsupportedModel


class ToolError(RuntimeError):
    """An external encoder or decoder (basisu) failed on an image."""


PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/avif": "AVIF"}


@dataclass
class Pixels:
    array: np.ndarray
    """uint8, (height, width, channels)."""
    bits: int = 8
    """Bits per channel of the source (16 for a 16-bit PNG)."""
    orientation: int = 1
    """The source's EXIF orientation (1 where it has none; 2 to 8 turn or mirror it: see
    exif_orientation)."""

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def channels(self) -> int:
        return int(self.array.shape[2])


def open_image(data: bytes, mime: str, where: str, max_pixels: int):  # -> PIL.Image.Image
    """Parse an image's header (no pixels decoded yet) and check its size against the limit."""
    from PIL import Image as PILImage

    if mime not in PILLOW_FORMATS:
        raise UnsupportedModel(f"{where}: cannot decode {mime} images.")
    quiet_pillow()
    try:
        image = PILImage.open(io.BytesIO(data), formats=[PILLOW_FORMATS[mime]])
    except PILImage.DecompressionBombError as exc:
        bound = 2 * (PILImage.MAX_IMAGE_PIXELS or 0)
        raise LimitExceeded(
            f"{where}: the image declares more than {bound:,} pixels; the limit is {max_pixels:,}."
        ) from exc
    except Exception as exc:
        raise InvalidModel(f"{where}: the {mime} image cannot be read ({exc}).") from exc
    check_pixels(*image.size, where, max_pixels)
    return image


def quiet_pillow() -> None:
    """Silence Pillow's decompression-bomb *warning* (process-wide: warning filters are global, and
    images are decoded in threads): our own limit, checked from the header before any pixel is
    decoded, decides, and Pillow's hard stop (DecompressionBombError) stays as a backstop."""
    from PIL import Image as PILImage

    warnings.filterwarnings("ignore", category=PILImage.DecompressionBombWarning)


def check_pixels(width: int, height: int, where: str, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise LimitExceeded(
            f"{where}: the image is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}."
        )


def decode(data: bytes, mime: str, where: str, max_pixels: int) -> Pixels:
    """The image's pixels (first frame), as grey, RGB or RGBA."""
    image = open_image(data, mime, where, max_pixels)
    bits = 16 if image.mode.startswith("I;16") or image.mode == "I" or _png_bit_depth(data) == 16 else 8
    orientation = exif_orientation(image)
    try:
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = (np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8)
            return Pixels(array[..., None], bits, orientation)
        if image.mode in ("1", "L"):
            target = "L"
        elif image.mode == "LA" or (image.mode in ("P", "PA", "RGBA", "La", "RGBa") and _has_alpha(image)):
            target = "RGBA" if image.mode != "LA" else "LA"
        else:
            target = "RGB"
        # convert() to the image's own mode would copy it whole (half a gigabyte at the limit).
        array = np.asarray(image if image.mode == target else image.convert(target))
    except LimitExceeded:
        raise
    except Exception as exc:
        raise InvalidModel(f"{where}: the {mime} image cannot be decoded ({exc}).") from exc
    if array.ndim == 2:
        array = array[..., None]
    if target == "LA":  # grey + alpha: keep as RGBA, which every encoder takes
        grey = array[..., :1]
        array = np.concatenate([grey, grey, grey, array[..., 1:]], axis=2)
    return Pixels(np.ascontiguousarray(array), bits, orientation)


EXIF_ORIENTATION = 0x0112


def exif_orientation(image) -> int:  # image: PIL.Image.Image, opened
    """The EXIF orientation tag of an opened image (JPEG, PNG's eXIf, WebP), 1 where it has none or
    an invalid one. Web browsers apply it to textures (three.js's GLTFLoader in Chromium shows a
    JPEG tagged 6 turned a quarter); engines that decode pixels themselves do not, and a re-encoded
    image carries no tag: so a tagged image is left as it is (passes/textures.py)."""
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF: a viewer cannot read it either
        return 1
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "PA", "La", "RGBa") or "transparency" in image.info


def _png_bit_depth(data: bytes) -> int:
    return data[24] if data[:4] == b"\x89PNG" and len(data) > 24 else 8


def target_size(width: int, height: int, scale: float, max_size: int, pow2: bool) -> tuple[int, int]:
    """Dimensions after scale, max_size (0: none) and rounding down to powers of two; never larger
    than the source, never below one pixel; the aspect ratio is kept except for power-of-two
    rounding, which rounds each side down on its own."""
    factor = min(1.0, scale)
    if max_size and max(width, height) * factor > max_size:
        factor = max_size / max(width, height)
    w = max(1, round(width * factor))
    h = max(1, round(height * factor))
    if pow2:
        w, h = 1 << int(math.log2(w)), 1 << int(math.log2(h))
    return min(w, width), min(h, height)


def resize(pixels: Pixels, width: int, height: int, normal_map: bool) -> Pixels:
    """A high-quality (Lanczos) resize; normal vectors are renormalized after filtering shortened
    them."""
    from PIL import Image as PILImage

    if (width, height) == (pixels.width, pixels.height):
        return pixels
    array = pixels.array
    planes = [array[..., c] for c in range(array.shape[2])]
    resized = [
        np.asarray(PILImage.fromarray(p).resize((width, height), PILImage.Resampling.LANCZOS)) for p in planes
    ]
    out = np.stack(resized, axis=2)
    if normal_map and out.shape[2] >= 3:
        out = renormalize(out)
    return Pixels(np.ascontiguousarray(out), pixels.bits)


def renormalize(array: np.ndarray) -> np.ndarray:
    """Normal-map texels scaled back to unit vectors (RGB as [-1, 1]; alpha untouched)."""
    xyz = array[..., :3].astype(np.float32) * (2 / 255) - 1
    length = np.linalg.norm(xyz, axis=2, keepdims=True)
    xyz = np.where(length > 1e-6, xyz / np.maximum(length, 1e-6), xyz)
    out = array.copy()
    out[..., :3] = np.clip(np.rint((xyz + 1) * 127.5), 0, 255).astype(np.uint8)
    return out
