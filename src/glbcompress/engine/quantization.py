"""What glTF core allows for each vertex attribute, what needs KHR_mesh_quantization, and the
integer grids the quantize pass stores attributes on (normalized integers, unit vectors that stay
unit length, weights that sum exactly to one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .document import Accessor, Document

F32 = np.dtype(np.float32)
UNORM = (np.dtype(np.uint8), np.dtype(np.uint16))


def core_allows(semantic: str, a: Accessor, morph: bool = False) -> bool:
    """True if the attribute's storage is valid glTF without KHR_mesh_quantization."""
    dtype = a.data.dtype
    if semantic.startswith("_") or dtype == F32:
        return True
    if morph:
        return False
    base = semantic.split("_")[0]
    if base in ("TEXCOORD", "COLOR", "WEIGHTS"):
        return dtype in UNORM and a.normalized
    if base == "JOINTS":
        return dtype in UNORM and not a.normalized
    return False


def needs_mesh_quantization(doc: Document, emitted: dict[str, list[Any]]) -> bool:
    for mesh in emitted["meshes"]:
        for prim in mesh.get("primitives", []):
            for semantic, a in prim.get("attributes", {}).items():
                if isinstance(a, Accessor) and not core_allows(semantic, a):
                    return True
            for target in prim.get("targets", []):
                for semantic, a in target.items():
                    if isinstance(a, Accessor) and not core_allows(semantic, a, morph=True):
                        return True
    return False


# -- Integer grids ---------------------------------------------------------------------------------
#
# A grid of `bits` bits stored in a wider integer type is expanded to the type's full range
# (q * max / levels, rounded), so a normalized accessor decodes to q / levels within half a unit of
# the storage type; with bits equal to the storage width the expansion is the identity.

UNIT_TOLERANCE = 0.005
"""How far a quantized unit vector's length may stray from 1 (the glTF-Validator's limit is 0.00674)."""


def storage(bits: int, signed: bool) -> np.dtype:
    """The smallest integer type that holds a grid of `bits` bits."""
    if signed:
        return np.dtype(np.int8) if bits <= 8 else np.dtype(np.int16)
    return np.dtype(np.uint8) if bits <= 8 else np.dtype(np.uint16)


def decode(stored: np.ndarray) -> np.ndarray:
    """What a loader reads from a normalized integer array, in float64."""
    return np.maximum(stored.astype(np.float64) / np.iinfo(stored.dtype).max, -1.0)


def _expand(q: np.ndarray, levels: int, dtype: np.dtype) -> np.ndarray:
    top = np.iinfo(dtype).max
    if levels == top:
        return q.astype(dtype)
    return np.round(q * (top / levels)).astype(dtype)


def unorm(values: np.ndarray, bits: int, dtype: np.dtype) -> np.ndarray:
    """Values in [0, 1] on a grid of `bits` bits, as normalized unsigned integers of dtype."""
    levels = (1 << min(bits, dtype.itemsize * 8)) - 1
    q = np.round(np.clip(values, 0.0, 1.0) * levels)
    return _expand(q, levels, dtype)


def snorm(values: np.ndarray, bits: int, dtype: np.dtype) -> np.ndarray:
    """Values in [-1, 1] on a grid of `bits` bits (sign included), as normalized signed integers."""
    levels = (1 << (max(2, min(bits, dtype.itemsize * 8)) - 1)) - 1
    q = np.round(np.clip(values, -1.0, 1.0) * levels)
    return _expand(q, levels, dtype)


def unit_vectors(vectors: np.ndarray, bits: int, dtype: np.dtype) -> np.ndarray:
    """Directions as normalized signed integers whose decoded length stays within UNIT_TOLERANCE of
    1, so the validator accepts them. Zero vectors stay zero. Rows that the `bits` grid cannot keep
    unit length (few bits) fall back to the full precision of the storage type."""
    v = np.asarray(vectors, np.float64)
    length = np.linalg.norm(v, axis=1, keepdims=True)
    unit = np.divide(v, length, out=np.zeros_like(v), where=length > 0)
    out = snorm(unit, bits, dtype)
    bad = _off_unit(out) & (length[:, 0] > 0)
    if bad.any():
        out[bad] = _best_corner(unit[bad], bits, dtype)
        still = _off_unit(out) & (length[:, 0] > 0)
        if still.any():
            out[still] = _best_corner(unit[still], dtype.itemsize * 8, dtype)
    return out


def _off_unit(stored: np.ndarray) -> np.ndarray:
    return np.abs(np.linalg.norm(decode(stored), axis=1) - 1.0) > UNIT_TOLERANCE


def _best_corner(unit: np.ndarray, bits: int, dtype: np.dtype) -> np.ndarray:
    """For each direction, the grid point among the corners of its grid cell that is closest in
    angle while keeping unit length (or, if none does, the one closest to unit length)."""
    levels = (1 << (min(bits, dtype.itemsize * 8) - 1)) - 1
    dims = unit.shape[1]
    corners = (np.arange(1 << dims)[:, None] >> np.arange(dims)[None, :]) & 1
    cells = np.floor(unit * levels)[:, None, :] + corners[None, :, :]
    stored = _expand(np.clip(cells, -levels, levels), levels, dtype)
    decoded = decode(stored)
    length = np.linalg.norm(decoded, axis=2)
    cosine = np.einsum("nkd,nd->nk", decoded, unit) / np.maximum(length, 1e-12)
    valid = np.abs(length - 1.0) <= UNIT_TOLERANCE
    score = np.where(valid, 2.0 + cosine, -np.abs(length - 1.0))
    best = np.argmax(score, axis=1)
    return stored[np.arange(len(unit)), best]


def unit_sum(weights: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Non-negative weights as normalized unsigned integers whose rows sum exactly to the type's
    maximum (1.0 decoded): each row is scaled to sum 1 and rounded down, and the missing units go to
    the entries with the largest remainders (never to a zero weight). All-zero rows stay zero."""
    w = np.asarray(weights, np.float64)
    top = np.iinfo(dtype).max
    total = w.sum(axis=1, keepdims=True)
    scaled = np.divide(w, total, out=np.zeros_like(w), where=total > 0) * top
    floor = np.floor(scaled)
    missing = np.where(total[:, 0] > 0, top - floor.sum(axis=1), 0).clip(0, w.shape[1])
    remainder = np.where(w > 0, scaled - floor, -1.0)
    order = np.argsort(-remainder, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(w.shape[1]), w.shape), axis=1)
    return (floor + (rank < missing[:, None])).astype(dtype)
