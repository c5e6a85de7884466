"""Solid-colour textures become material factors.

A texture whose every texel has the same value (within a tolerance, in the channels its slots
read) multiplies the material's factor by a constant, so the constant can go into the factor and
the texture can go. glTF multiplies texture and factor in linear space, and colour textures are
sRGB, so their value is converted first. Slots with no factor to fold into (occlusion other than
white, a tilted constant normal, or an extension this table does not know) keep the texture; it
is then stored as one pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .classify import Use

# slot key -> (factor key beside it, the factor's default, the channels it multiplies)
FACTORS: dict[str, tuple[str, Any, tuple[int, ...]]] = {
    "baseColorTexture": ("baseColorFactor", [1.0, 1.0, 1.0, 1.0], (0, 1, 2, 3)),
    "emissiveTexture": ("emissiveFactor", [0.0, 0.0, 0.0], (0, 1, 2)),
    "clearcoatTexture": ("clearcoatFactor", 0.0, (0,)),
    "clearcoatRoughnessTexture": ("clearcoatRoughnessFactor", 0.0, (1,)),
    "sheenColorTexture": ("sheenColorFactor", [0.0, 0.0, 0.0], (0, 1, 2)),
    "sheenRoughnessTexture": ("sheenRoughnessFactor", 0.0, (3,)),
    "transmissionTexture": ("transmissionFactor", 0.0, (0,)),
    "thicknessTexture": ("thicknessFactor", 0.0, (1,)),
    "specularTexture": ("specularFactor", 1.0, (3,)),
    "specularColorTexture": ("specularColorFactor", [1.0, 1.0, 1.0], (0, 1, 2)),
    "iridescenceTexture": ("iridescenceFactor", 0.0, (0,)),
    "diffuseTransmissionTexture": ("diffuseTransmissionFactor", 0.0, (3,)),
    "diffuseTransmissionColorTexture": ("diffuseTransmissionColorFactor", [1.0, 1.0, 1.0], (0, 1, 2)),
    "diffuseTexture": ("diffuseFactor", [1.0, 1.0, 1.0, 1.0], (0, 1, 2, 3)),
}


@dataclass(frozen=True)
class Solid:
    value: np.ndarray
    """The texel every pixel has (uint8 per channel of the image)."""


def solid_value(array: np.ndarray, channels: tuple[int, ...], tolerance: int) -> Solid | None:
    """The image's one value if, in every channel read (indices into array), all texels lie
    within tolerance of each other (0: exactly equal); the mean is taken."""
    flat = array.reshape(-1, array.shape[2])
    read = [c for c in channels if c < flat.shape[1]]
    if not read:  # the slots read only an alpha the image does not store: opaque everywhere
        return Solid(flat[0].copy())
    probe = flat[:: max(1, len(flat) // 4096), read]  # most textures differ within a few texels
    if int((probe.max(axis=0).astype(np.int32) - probe.min(axis=0)).max()) > tolerance:
        return None
    lo, hi = flat[:, read].min(axis=0), flat[:, read].max(axis=0)
    if int((hi.astype(np.int32) - lo).max()) > tolerance:
        return None
    if tolerance == 0:
        return Solid(flat[0].copy())
    return Solid(np.rint(flat.mean(axis=0)).astype(np.uint8))


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    c = values.astype(np.float64) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _texel(solid: Solid, channel: int, srgb: bool) -> float:
    value = solid.value
    if channel >= len(value):  # an image without alpha reads as opaque
        return 1.0
    if channel < 3 and len(value) == 1:
        channel = 0
    raw = np.array([value[channel]])
    return float(srgb_to_linear(raw)[0] if srgb and channel < 3 else raw[0] / 255)


def fold(use: Use, solid: Solid, tolerance: int) -> bool:
    """Replace the use's texture by its constant value where that is exact; True if done."""
    key, holder = use.key, use.holder
    if key == "normalTexture" or key == "clearcoatNormalTexture":
        if _flat_normal(solid, tolerance):
            del holder[key]
            return True
        return False
    if key == "occlusionTexture":
        if _texel(solid, 0, False) >= 1.0 - tolerance / 255:
            del holder[key]
            return True
        return False
    if key == "metallicRoughnessTexture":
        holder["roughnessFactor"] = _f(holder.get("roughnessFactor", 1.0) * _texel(solid, 1, False))
        holder["metallicFactor"] = _f(holder.get("metallicFactor", 1.0) * _texel(solid, 2, False))
        del holder[key]
        return True
    if key == "specularGlossinessTexture":
        specular = holder.get("specularFactor", [1.0, 1.0, 1.0])
        holder["specularFactor"] = [_f(specular[c] * _texel(solid, c, True)) for c in range(3)]
        holder["glossinessFactor"] = _f(holder.get("glossinessFactor", 1.0) * _texel(solid, 3, False))
        del holder[key]
        return True
    if key not in FACTORS:
        return False
    factor_key, default, channels = FACTORS[key]
    srgb = use.slot.srgb
    factor = holder.get(factor_key, default)
    if isinstance(factor, list):
        read = use.slot.channels  # an opaque material's alpha is not read: its factor stays
        holder[factor_key] = [
            _f(factor[i] * _texel(solid, c, srgb)) if c in read else factor[i] for i, c in enumerate(channels)
        ]
    else:
        holder[factor_key] = _f(factor * _texel(solid, channels[0], False))
    del holder[key]
    return True


def _flat_normal(solid: Solid, tolerance: int) -> bool:
    """(127.5, 127.5, 255) up to 8-bit rounding and the tolerance: the unperturbed normal."""
    value = solid.value.astype(np.float64)
    if len(value) < 3:
        return False
    slack = 0.5 + tolerance
    return abs(value[0] - 127.5) <= slack and abs(value[1] - 127.5) <= slack and value[2] >= 255 - tolerance


def _f(value: float) -> float:
    return float(round(value, 9))
