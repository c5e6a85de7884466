"""meshopt: prepare accessors for EXT_meshopt_compression's filters.

The writer compresses every bufferView with EXT_meshopt_compression (codec version 0, with a
fallback buffer) whenever this pass is enabled; that compression is lossless. Filters are lossy
transforms a decoder undoes after decompression, storing some data in a form that is both smaller
and more compressible. This pass picks a filter per accessor, encodes the filtered rows
(``accessor.filtered``, what the writer compresses) and replaces ``accessor.data`` by exactly what
a decoder yields, so min/max and every later step see what loaders see:

- NORMAL and TANGENT stored as normalized 8- or 16-bit integers (after quantize): OCTAHEDRAL, two
  components at the storage's precision (8 bits for bytes; for shorts the precision the values
  were quantized to, up to 16) instead of three, and tangent w kept as a sign. Morph target
  normals are deltas, not unit vectors, so they are left as they are.
- Animation rotations (LINEAR and STEP; cubic-spline tangents are not unit quaternions):
  QUATERNION with ``rotation_bits``, stored as normalized 16-bit VEC4.
- Animation translations and scales (float): EXPONENTIAL with ``translation_bits`` /
  ``scale_bits``, a mantissa of that many bits with one exponent per keyframe; used only where
  the compressed filtered stream is smaller than the compressed floats (it usually is; a track
  that compresses well as floats stays exact).

Positions, UVs and colours get no filter: quantize already stores them as the smallest integers
the tolerance allows. With ``filters`` off (the lossless preset) the pass changes nothing and
compression stays lossless. The writer stores a stream plain (its decoded ``data``) where
compressing it would not save more than its JSON costs. Decoders of other meshoptimizer versions
(gltf-transform's JavaScript one) may round a few octahedral components one unit the other way.

Example::

    meshopt(doc, MeshoptOptions(rotation_bits=14))
"""

from __future__ import annotations

import meshopt as mo
import numpy as np

from ..document import Accessor, Document
from ..pass_options import MeshoptOptions

NAME = "meshopt"
DEFAULTS = MeshoptOptions()


def meshopt(doc: Document, options: MeshoptOptions = DEFAULTS) -> dict:
    if not options.filters:
        return {}
    counts: dict[str, int] = {}
    worst: dict[str, float] = {}
    roles = [(a, role) for a, role in _roles(doc) if a.meshopt_filter is None]
    for a, role in roles:
        if role in ("NORMAL", "TANGENT"):
            _count(counts, worst, "normal", _octahedral(a))
        elif role == "rotation":
            _count(counts, worst, "rotation", _quaternion(a, options.rotation_bits))
    for path, bits in (("translation", options.translation_bits), ("scale", options.scale_bits)):
        for error in _exponential([a for a, role in roles if role == path], bits):
            _count(counts, worst, path, error)
    changes: dict = {f"{k} accessors filtered": n for k, n in counts.items()}
    fidelity = {}
    for key, unit in (
        ("normal", "degrees"),
        ("rotation", "degrees"),
        ("translation", "relative"),
        ("scale", "relative"),
    ):
        if key in worst:
            fidelity[f"meshopt {key} error ({unit})"] = float(f"{worst[key]:.3g}")
    if fidelity:
        changes["fidelity"] = fidelity
    return changes


def _count(counts: dict[str, int], worst: dict[str, float], key: str, error: float | None) -> None:
    if error is not None:
        counts[key] = counts.get(key, 0) + 1
        worst[key] = max(worst.get(key, 0.0), error)


# -- which accessors ----------------------------------------------------------------------------


def _roles(doc: Document) -> list[tuple[Accessor, str]]:
    """(accessor, role) for every accessor with exactly one kind of use that a filter fits: a
    NORMAL or TANGENT vertex attribute, or the output of LINEAR/STEP rotation samplers or of
    translation/scale samplers. Document order."""
    uses: dict[int, set[str]] = {}

    def use(a: object, role: str) -> None:
        if isinstance(a, Accessor):
            uses.setdefault(id(a), set()).add(role)

    for node in doc.nodes:
        for a in node.get("extensions", {}).get("EXT_mesh_gpu_instancing", {}).get("attributes", {}).values():
            use(a, "other")
    for skin in doc.skins:
        use(skin.get("inverseBindMatrices"), "other")
    for _mesh, prim in doc.primitives():
        use(prim.get("indices"), "other")
        for semantic, a in prim.get("attributes", {}).items():
            use(a, semantic if semantic in ("NORMAL", "TANGENT") else "other")
        for target in prim.get("targets", []):
            for a in target.values():
                use(a, "other")
    for anim in doc.animations:
        paths: dict[int, set[str]] = {}
        for channel in anim.get("channels", []):
            paths.setdefault(id(channel.get("sampler")), set()).add(
                str(channel.get("target", {}).get("path"))
            )
        for sampler in anim.get("samplers", []):
            use(sampler.get("input"), "other")
            path = paths.get(id(sampler), {"other"})
            role = path.pop() if len(path) == 1 else "other"
            if role == "rotation" and sampler.get("interpolation") == "CUBICSPLINE":
                role = "other"
            use(sampler.get("output"), role)
    return [(a, next(iter(uses[id(a)]))) for a in doc.accessors if len(uses.get(id(a), ())) == 1]


# -- filters ------------------------------------------------------------------------------------


def _apply(a: Accessor, filter_: str, rows: np.ndarray, dtype: np.dtype, normalized: bool) -> None:
    """Store filtered rows and, as data, what a decoder makes of them (decoded by meshopt itself)."""
    count, stride = rows.shape
    decoded = mo.decode_vertex_buffer(mo.encode_vertex_buffer_level(rows, 0, 0), count, stride, filter_)
    width = a.data.shape[1]
    a.data = np.ascontiguousarray(decoded.view(dtype)[:, :width])
    a.normalized = normalized
    a.filtered = rows
    a.meshopt_filter = filter_


def _octahedral(a: Accessor) -> float | None:
    """Unit vectors in octahedral form; returns the largest angle change in degrees."""
    if not a.normalized or a.data.dtype not in (np.int8, np.int16) or a.count == 0:
        return None
    before = a.floats().astype(np.float64)
    stride = 4 if a.data.dtype == np.int8 else 8
    bits = 8 if stride == 4 else _effective_bits(a.data)
    values = np.zeros((a.count, 4), np.float32)
    values[:, : a.data.shape[1]] = before
    _apply(a, "OCTAHEDRAL", mo.encode_filter_oct(values, stride, bits), a.data.dtype, True)
    return _max_angle(before[:, :3], a.floats()[:, :3].astype(np.float64))


def _effective_bits(data: np.ndarray) -> int:
    """The precision 16-bit normalized data was quantized to: values quantized to b bits sit about
    32767 / (2^(b-1) - 1) apart, so the smallest gap between distinct values tells b (9 to 16)."""
    levels = np.unique(np.abs(data.astype(np.int32)))
    if len(levels) < 32:  # too few values to tell; keep all the precision
        return 16
    gap = int(np.diff(levels).min())
    return int(np.clip(16 - np.floor(np.log2(gap)), 9, 16))


def _max_angle(a: np.ndarray, b: np.ndarray) -> float:
    la, lb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (la > 0) & (lb > 0)
    if not ok.any():
        return 0.0
    cos = np.sum(a[ok] * b[ok], axis=1) / (la[ok] * lb[ok])
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())


def _quaternion(a: Accessor, bits: int) -> float | None:
    """Unit quaternions as three components and an index; returns the largest angle change in degrees."""
    if a.type != "VEC4" or a.count == 0 or (a.data.dtype != np.float32 and not a.normalized):
        return None
    before = a.floats().astype(np.float64)
    length = np.linalg.norm(before, axis=1, keepdims=True)
    if not np.all(length > 0):
        return None
    unit = before / length
    _apply(a, "QUATERNION", mo.encode_filter_quat(unit.astype(np.float32), 8, bits), np.dtype(np.int16), True)
    after = a.floats().astype(np.float64)
    after /= np.linalg.norm(after, axis=1, keepdims=True)
    dot = np.abs(np.sum(unit * after, axis=1))
    return float(np.degrees(2 * np.arccos(np.clip(dot, 0, 1))).max())


def _exponential(accessors: list[Accessor], bits: int) -> list[float]:
    """Floats as mantissa and shared exponent, for all the accessors or none: the writer puts them
    in one stream, filtered or not, and filtering must make that stream smaller (exact floats that
    compress well stay exact). Returns each one's largest change relative to its largest magnitude."""
    accessors = [a for a in accessors if a.data.dtype == np.float32 and a.count and a.type == "VEC3"]
    if not accessors:
        return []
    rows = [mo.encode_filter_exp(a.data, bits, "SharedVector") for a in accessors]
    plain = np.concatenate([np.ascontiguousarray(a.data).view(np.uint8) for a in accessors])
    if len(mo.encode_vertex_buffer_level(np.concatenate(rows), 2, 0)) >= len(
        mo.encode_vertex_buffer_level(plain, 2, 0)
    ):
        return []
    errors = []
    for a, filtered in zip(accessors, rows, strict=True):
        before = a.data.astype(np.float64)
        _apply(a, "EXPONENTIAL", filtered, np.dtype(np.float32), a.normalized)
        errors.append(float(np.abs(a.data - before).max()) / (float(np.abs(before).max()) or 1.0))
    return errors
