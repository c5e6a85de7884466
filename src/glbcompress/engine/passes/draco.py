"""draco: compress triangle geometry with KHR_draco_mesh_compression.

Draco codes each triangle primitive as one stream: quantized attributes predicted along the mesh's
connectivity (edgebreaker) and entropy-coded, usually several times smaller than quantized,
meshopt-compressed buffers for dense meshes (loaders need a Draco decoder, though). The pass is the
alternative to meshopt and replaces the quantize pass: Draco quantizes on its own.

- Positions of every primitive share ONE quantization volume (the bounding box of all meshes'
  local positions), so parts that meet in the model still meet after decoding: no cracks (a mesh
  that its node scales up far beyond the rest gets a volume of its own: transforms.magnified).
- Draco quantizes only positions, normals and one more stream; everything else it stores as given,
  floats uncompressed. So the extra stream holds tangents where there are any (else the first UV
  set), and the pass turns the rest into integers itself: UV sets in [0, 1] as 16-bit normalized
  (on the UV grid), colors and skin weights as 8-bit normalized (weights summing to exactly one),
  joints as 8-bit where they fit. Integer streams are entropy-coded.
- Draco reorders, merges and may split vertices, so each accessor gets the decoded values in the
  decoded order: what a loader will see (min/max follow). Primitives with morph targets, or with an
  attribute the stream cannot hold, are coded in their own vertex order instead, so that the
  targets (and that attribute) still line up; their targets are marked to be stored sparse.
- Accessors that anything else also refers to are copied first; primitives that share all their
  accessors share one stream.
- Points, lines, strips and fans are left as they are (Draco loaders expect triangle meshes).
- Beside meshopt (the writer compresses the rest with EXT_meshopt_compression: the balanced and
  max presets), a primitive goes into Draco only where its stream is smaller than meshopt would
  make its buffers, and never with morph targets (Draco would have to keep their vertex order, and
  the targets stay outside it anyway): dense static meshes shrink, while small parts, morphing
  meshes, animation and everything else keep meshopt's compact, quick-to-decode form.
- Positions the quantize pass already put on the scene's integer grid are coded on that same grid
  (a volume whose step is exactly one unit), so Draco adds no error of its own and parts coded by
  the two codecs still meet exactly. Integer UV sets go in as they are, unquantized again.

>>> report = draco(doc, DracoOptions(draco_position_bits=12))
>>> report["primitives compressed"], report["fidelity"]["position_error"]
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from .. import accessors as acc
from ..document import Accessor, Blob, Document
from ..links import reachable, referrers
from ..pass_options import DracoOptions
from ..records import dataclass
from ..transforms import drawn_sizes, magnified

if TYPE_CHECKING:  # the codec module is imported by the functions that run it: most runs never do
    from ..codecs.draco import EncodedMesh, StreamAttribute

NAME = "draco"
EXTENSION = "KHR_draco_mesh_compression"
TRIANGLES = 4
F32 = np.dtype(np.float32)
U8, U16, U32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32)
DEFAULTS = DracoOptions()
MAX_POSITION_BITS = 24
"""Integer positions are coded exactly up to this span (float32 holds every integer to 2^24)."""
STREAM_JSON = 100
"""Bytes of JSON a Draco stream adds (its extension object and bufferView, less the byte offsets
its accessors no longer have)."""
ACCESSOR_JSON = 90
"""Bytes of JSON an accessor costs: what Draco adds for each one it must copy (shared with a
primitive left out of its stream)."""
MESHOPT_TAIL = 32
"""The fixed part of a meshopt vertex stream (its tail holds at least 32 bytes): the writer puts
many primitives' attributes in one stream, so a single primitive does not pay it."""
INDEX_FIXED = 17
"""The fixed part of a meshopt index stream (a header byte and a 16-byte table)."""


def draco(doc: Document, options: DracoOptions = DEFAULTS) -> dict:
    """Compress every triangle primitive of doc with Draco, in place (beside meshopt: those whose
    stream is smaller than meshopt's buffers)."""
    warnings: list[str] = []
    beside_meshopt = bool(doc.info.get("meshopt"))
    groups = _groups(doc, warnings, beside_meshopt)
    if not groups:
        return {"primitives compressed": 0, **({"warnings": warnings} if warnings else {})}
    volumes, apart = _volumes(doc, groups, options.draco_position_bits)
    refs = referrers(doc)
    compressed = streams = stream_bytes = left = 0
    for prims in groups:
        plan = _plan(prims[0], options)
        saving = _meshopt_saving(prims, plan, refs) if beside_meshopt else None
        if saving is not None and saving <= STREAM_JSON:
            left += len(prims)  # no stream could be smaller (and Draco is not even loaded)
            continue
        volume = volumes[_volume_key(prims[0], apart)]
        encoded, problem = _encode(plan, volume, options)
        if saving is not None and (encoded is None or len(encoded.data) + STREAM_JSON >= saving):
            left += len(prims)  # meshopt keeps it, no worse off
            continue
        if encoded is None:
            warnings.append(f"{_name(doc, prims[0])} was left uncompressed: {problem}.")
            continue
        _apply(doc, prims, plan, encoded, refs)
        compressed += len(prims)
        streams += 1
        stream_bytes += len(encoded.data)
    report: dict = {"primitives compressed": compressed, "streams": streams, "stream bytes": stream_bytes}
    if left:
        report["primitives left to meshopt (smaller)"] = left
    if compressed:
        error = max(v.error / v.diagonal if v.diagonal > 0 else 0.0 for v in volumes.values())
        report["fidelity"] = {"position_error": error}  # as the quantize pass reports it
    if warnings:
        report["warnings"] = warnings
    return report


def _encode(plan: _Plan, volume: _Volume, options: DracoOptions) -> tuple[EncodedMesh | None, str]:
    """The primitive's Draco stream, or None and why not."""
    from ..codecs.draco import DracoError, EncodeSettings, encode_mesh

    settings = EncodeSettings(
        volume.bits,
        options.draco_normal_bits,
        plan.slot_bits,
        options.draco_compression_level,
        volume.origin,
        volume.extent,
        plan.preserve_order,
    )
    try:
        encoded = encode_mesh(plan.faces, plan.stream, settings)
    except DracoError as exc:
        return None, f"Draco could not encode it ({exc})"
    if plan.preserve_order and not _kept_order(plan, encoded):
        return None, "Draco did not keep its vertex order"
    return encoded, ""


# -- which primitives, grouped by the stream they can share --------------------------------------


def _groups(doc: Document, warnings: list[str], beside_meshopt: bool = False) -> list[list[dict]]:
    """Triangle primitives of the scene to compress, grouped so that primitives with the same
    accessors (and the same need to keep their vertex order) share one stream; in document order.
    Beside meshopt, primitives with morph targets are left to it."""
    groups: dict[tuple, list[dict]] = {}
    keep = reachable(doc)
    for mesh, prim in doc.primitives():
        if id(mesh) not in keep or (beside_meshopt and prim.get("targets")):
            continue  # not written: neither worth encoding nor part of the quantization volume
        reason = _unsuitable(prim)
        if reason == "":
            continue
        if reason:
            warnings.append(f"{_name(doc, prim)} was left uncompressed: {reason}.")
            continue
        attributes = tuple((s, id(a)) for s, a in sorted(prim["attributes"].items()))
        indices = prim.get("indices")
        key = (attributes, id(indices) if indices is not None else None, bool(prim.get("targets")))
        groups.setdefault(key, []).append(prim)
    return list(groups.values())


def _unsuitable(prim: dict) -> str | None:
    """Why a primitive cannot be compressed: None if it can, "" if it is simply not a triangle
    mesh (nothing to report), otherwise a reason for the user."""
    if prim.get("mode", TRIANGLES) != TRIANGLES or EXTENSION in prim.get("extensions", {}):
        return ""
    attributes = prim.get("attributes", {})
    position = attributes.get("POSITION")
    if not isinstance(position, Accessor) or position.type != "VEC3" or not position.count:
        return ""
    if not all(isinstance(a, Accessor) and a.count == position.count for a in attributes.values()):
        return "its attributes have different lengths"
    indices = prim.get("indices")
    count = indices.count if isinstance(indices, Accessor) else position.count
    if count == 0 or count % 3:
        return "its index count is not a whole number of triangles"
    if isinstance(indices, Accessor) and int(indices.data.max()) >= position.count:
        return "it has indices past its vertices"
    for semantic, a in attributes.items():
        if a.data.dtype == F32 and not np.isfinite(a.data).all():
            return f"its {semantic} has values that are not finite numbers"
    return None


def _name(doc: Document, prim: dict) -> str:
    for m, mesh in enumerate(doc.meshes):
        for p, other in enumerate(mesh.get("primitives", [])):
            if other is prim:
                label = f" '{mesh['name']}'" if isinstance(mesh.get("name"), str) else ""
                return f"Mesh {m}{label} primitive {p}"
    return "A primitive"


@dataclass(frozen=True)
class _Volume:
    """A position quantization volume: a cube at origin with edge extent."""

    origin: tuple[float, float, float]
    extent: float
    diagonal: float
    """Of the positions' bounding box."""
    error: float
    """The largest distance a position moves to the quantization grid."""
    bits: int
    """Draco's position precision in this volume."""


def _volumes(
    doc: Document, groups: list[list[dict]], bits: int
) -> tuple[dict[tuple[bool, int], _Volume], set[int]]:
    """The quantization volumes of the scene, keyed by _volume_key, and the float positions (by
    id) that have a volume of their own.

    Every float-position mesh shares one volume, so parts that meet stay together, except a mesh
    that its node scales up so far beyond the rest that the shared volume's step would leave it
    visibly coarse (transforms.magnified): it gets one of its own. Integer positions
    (KHR_mesh_quantization input, scaled back by node transforms) live in the units of their own
    grid, which has nothing to do with the model's units: they get a volume of their own rather
    than one that would waste the float meshes' precision (or the other way round)."""
    mesh_of = {id(prim): mesh for mesh, prim in doc.primitives()}
    seen: set[int] = set()
    positions: dict[bool, dict[int, np.ndarray]] = {}
    meshes: dict[int, int] = {}  # id(float positions) -> id(mesh)
    for prims in groups:
        a = prims[0]["attributes"]["POSITION"]
        if id(a) not in seen:
            seen.add(id(a))
            positions.setdefault(a.data.dtype != F32, {})[id(a)] = a.floats()
            meshes[id(a)] = id(mesh_of[id(prims[0])])
    volumes = {
        (integer, 0): (_grid_volume(list(arrays.values()), bits) if integer else None)
        or _volume(list(arrays.values()), bits)
        for integer, arrays in positions.items()
    }
    floats = positions.get(False, {})
    if not floats:
        return volumes, set()
    boxes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for key, p in floats.items():
        lo, hi = p.min(axis=0), p.max(axis=0)
        if meshes[key] in boxes:
            lo, hi = np.minimum(lo, boxes[meshes[key]][0]), np.maximum(hi, boxes[meshes[key]][1])
        boxes[meshes[key]] = (lo, hi)
    scales, extent = drawn_sizes(doc, boxes)
    levels = (1 << bits) - 1
    apart_meshes = magnified(scales, extent, volumes[(False, 0)].extent / levels, levels)
    apart = {key for key in floats if meshes[key] in apart_meshes}
    if apart:
        shared = [p for key, p in floats.items() if key not in apart]
        volumes[(False, 0)] = _volume(shared, bits) if shared else volumes[(False, 0)]
        volumes.update({(False, key): _volume([floats[key]], bits) for key in apart})
    return volumes, apart


def _volume_key(prim: dict, apart: set[int]) -> tuple[bool, int]:
    """(positions stored as integers, the id of float positions with a volume of their own, or 0)."""
    a = prim["attributes"]["POSITION"]
    return a.data.dtype != F32, id(a) if id(a) in apart else 0


def _grid_volume(positions: list[np.ndarray], bits: int) -> _Volume | None:
    """For integer positions (the quantize pass's grid): the volume whose quantization step is
    exactly one unit (edge 2^bits - 1 from the lowest corner, with bits raised to what the span
    needs, at most MAX_POSITION_BITS), in which every position is coded and decoded exactly; the
    grid's own precision was chosen by the quantize pass. None where the span is too wide."""
    lo = np.min([p.min(axis=0) for p in positions], axis=0).astype(np.float64)
    hi = np.max([p.max(axis=0) for p in positions], axis=0).astype(np.float64)
    bits = max(bits, int(np.max(hi - lo)).bit_length())
    if bits > MAX_POSITION_BITS or any(not np.array_equal(p, np.round(p)) for p in positions):
        return None
    steps = float((1 << bits) - 1)
    return _Volume(tuple(float(v) for v in lo), steps, float(np.linalg.norm(hi - lo)), 0.0, bits)


def _volume(positions: list[np.ndarray], bits: int) -> _Volume:
    from ..codecs.draco import quantize_grid

    lo = np.min([p.min(axis=0) for p in positions], axis=0).astype(np.float64)
    hi = np.max([p.max(axis=0) for p in positions], axis=0).astype(np.float64)
    # Draco takes the corner and edge as float32: round them outwards so every position is inside.
    origin = np.where(np.float32(lo) > lo, np.nextafter(np.float32(lo), np.float32(-np.inf)), np.float32(lo))
    extent = np.float32(np.max(hi - origin.astype(np.float64)))
    extent = np.nextafter(extent, np.float32(np.inf)) if extent > 0 else np.float32(1.0)
    error = max(
        float(np.linalg.norm(quantize_grid(p, origin, float(extent), bits) - p, axis=1).max())
        for p in positions
    )
    return _Volume(
        tuple(float(v) for v in origin), float(extent), float(np.linalg.norm(hi - lo)), error, bits
    )


# -- what goes into a stream and how --------------------------------------------------------------


@dataclass
class _Plan:
    stream: list[StreamAttribute]
    formats: dict[str, tuple[np.dtype, bool]]
    """semantic -> (component type, normalized) of its accessor after compression."""
    faces: np.ndarray
    preserve_order: bool
    slot_bits: int
    """Precision of Draco's quantized tex_coord stream (tangents or the first UV set)."""


def _plan(prim: dict, options: DracoOptions) -> _Plan:
    """Decide, for each attribute of a primitive, how it goes into the stream (or stays out)."""
    from ..codecs.draco import StreamAttribute

    attributes: dict[str, Accessor] = prim["attributes"]
    weights = _weights_u8({s: a for s, a in attributes.items() if s.startswith("WEIGHTS_")})
    quantized = _quantized_slot(attributes)
    first_color = _first(attributes, "COLOR_")
    stream: list[StreamAttribute] = []
    formats: dict[str, tuple[np.dtype, bool]] = {}
    for semantic, a in attributes.items():
        if semantic in weights:
            kind, values, fmt = "generic", weights[semantic], (U8, True)
        else:
            form = _form(semantic, a, semantic == quantized, semantic == first_color, options)
            if form is None:
                continue
            kind, values, fmt = form
        stream.append(StreamAttribute(semantic, kind, values))
        formats[semantic] = fmt
    indices = prim.get("indices")
    count = attributes["POSITION"].count
    faces = indices.data[:, 0] if isinstance(indices, Accessor) else np.arange(count)
    preserve = bool(prim.get("targets")) or len(formats) < len(attributes)
    bits = options.draco_generic_bits if quantized == "TANGENT" else options.draco_texcoord_bits
    return _Plan(stream, formats, faces.astype(np.uint32).reshape(-1, 3), preserve, bits)


def _quantized_slot(attributes: dict[str, Accessor]) -> str | None:
    """The attribute for Draco's one quantized stream besides position and normal: tangents if
    there are any (stored otherwise they would stay 16-byte floats; UVs have a good 16-bit
    integer form), else the first UV set."""
    tangent = attributes.get("TANGENT")
    if (
        tangent is not None
        and tangent.type == "VEC4"
        and (tangent.data.dtype == F32 or tangent.data.dtype.kind == "i")
    ):
        return "TANGENT"
    first = _first(attributes, "TEXCOORD_")
    # Integer UVs (quantized already) go in exactly, as generic integers: quantizing them again
    # would move them off their grid (and off a palette texture's texel centres).
    return first if first is not None and attributes[first].data.dtype == F32 else None


def _first(attributes: dict[str, Accessor], prefix: str) -> str | None:
    sets = sorted(
        (int(s[len(prefix) :]), s) for s in attributes if s.startswith(prefix) and s[len(prefix) :].isdigit()
    )
    return sets[0][1] if sets else None


def _form(
    semantic: str, a: Accessor, quantized: bool, first_color: bool, options: DracoOptions
) -> tuple[str, np.ndarray, tuple[np.dtype, bool]] | None:
    """(Draco kind, values to encode, accessor format afterwards) of one attribute, or None if the
    stream cannot hold it."""
    base = semantic.split("_")[0]
    dtype = a.data.dtype
    if semantic == "POSITION":
        return "position", a.floats(), (F32, False)
    if semantic == "NORMAL" and a.type == "VEC3":
        return "normal", a.floats().astype(np.float64), (F32, False)
    if quantized:
        return "tex_coord", a.floats().astype(np.float64), (F32, False)
    if base == "TEXCOORD" and dtype in (U8, U16):
        return "generic", a.data, (dtype, a.normalized)
    if base == "TEXCOORD":
        values = a.floats()
        if values.min() >= 0 and values.max() <= 1:
            return "generic", _unorm(values, min(options.draco_texcoord_bits, 16), 16), (U16, True)
        return "generic", values, (F32, False)
    if base == "COLOR":
        return _color(a, first_color, options.draco_color_bits)
    if base == "JOINTS" and dtype.kind == "u":
        top = int(a.data.max(initial=0))
        small = U8 if top <= 255 else U16 if top <= 65535 else dtype
        return "generic", a.data.astype(small), (small, False)
    if dtype == F32 or (dtype.kind == "i" and a.normalized):
        return "generic", a.floats(), (F32, False)
    if dtype.kind == "u":
        return "generic", a.data, (dtype, a.normalized)
    return None


def _color(a: Accessor, first: bool, bits: int) -> tuple[str, np.ndarray, tuple[np.dtype, bool]]:
    """Colors as normalized integers: 8-bit (the first set in Draco's color stream) or, for more
    than 8 bits, 16-bit. Values already stored that way are kept as they are."""
    if bits <= 8:
        values = (
            a.data if (a.data.dtype == U8 and a.normalized and bits == 8) else _unorm(a.floats(), bits, 8)
        )
        return ("color" if first else "generic"), values, (U8, True)
    values = (
        a.data
        if (a.data.dtype == U16 and a.normalized and bits >= 16)
        else _unorm(a.floats(), min(bits, 16), 16)
    )
    return "generic", values, (U16, True)


def _unorm(values: np.ndarray, bits: int, storage: int) -> np.ndarray:
    """Values in [0, 1] rounded to a grid of 2^bits - 1 steps and stored as normalized integers
    of storage (8 or 16) bits."""
    steps = (1 << bits) - 1
    top = (1 << storage) - 1
    grid = np.round(np.clip(values.astype(np.float64), 0.0, 1.0) * steps)
    return np.round(grid * (top / steps)).astype(U8 if storage == 8 else U16)


def _weights_u8(sets: dict[str, Accessor]) -> dict[str, np.ndarray]:
    """All WEIGHTS_n sets of a primitive as 8-bit normalized integers whose rows sum to exactly
    255 (weights are normalized first; rounding error goes to the largest remainders)."""
    if not sets or any(a.type != "VEC4" for a in sets.values()):
        return {}
    names = sorted(sets, key=lambda s: int(s.split("_")[1]) if s.split("_")[1].isdigit() else 0)
    w = np.clip(np.concatenate([sets[s].floats() for s in names], axis=1).astype(np.float64), 0.0, None)
    total = w.sum(axis=1, keepdims=True)
    scaled = w * np.divide(255.0, total, out=np.zeros_like(total), where=total > 0)
    q = np.floor(scaled)
    short = np.where(total[:, 0] > 0, np.round(255.0 - q.sum(axis=1)), 0).astype(np.int64)
    order = np.argsort(-(scaled - q), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(w.shape[1]), w.shape).copy(), axis=1)
    q += rank < short[:, None]
    q = q.astype(U8)
    return {s: np.ascontiguousarray(q[:, 4 * i : 4 * i + 4]) for i, s in enumerate(names)}


def _meshopt_saving(prims: list[dict], plan: _Plan, refs: dict) -> int:
    """About how many bytes of meshopt-compressed buffers (and JSON) putting these primitives in a
    Draco stream saves: the accessors only they use, compressed as the writer would (its vertex
    strides, filtered rows where the meshopt pass set a filter; indices as triangles), less the JSON of
    a copy of each accessor that other primitives share (which meshopt still stores for them)."""
    from ..codecs.meshopt_codec import encode_stream

    total = 0
    slots = [
        (p["attributes"], semantic, p["attributes"][semantic]) for semantic in plan.formats for p in prims
    ]
    slots += [(p, "indices", p["indices"]) for p in prims if isinstance(p.get("indices"), Accessor)]
    mine = {(id(container), key) for container, key, _a in slots}
    seen: set[int] = set()
    for _container, key, a in slots:
        if id(a) in seen:
            continue
        seen.add(id(a))
        if not all((id(c), k) in mine for c, k in refs.get(id(a), [])):
            total -= ACCESSOR_JSON
        elif key == "indices":
            faces = a.data[:, 0]
            encoded = encode_stream("triangles", faces.itemsize, None, faces.tobytes())
            total += len(encoded[0]) - INDEX_FIXED if encoded else faces.nbytes
        else:
            stride = acc.vertex_stride(a.type, a.data.dtype.itemsize)
            raw = a.filtered.tobytes() if a.filtered is not None else acc.encode(a.data, a.type, stride)
            encoded = encode_stream("vertex", stride, a.meshopt_filter, raw)
            total += len(encoded[0]) - 1 - max(stride, MESHOPT_TAIL) if encoded else len(raw)
    return total


# -- writing the result back ------------------------------------------------------------------------


def _kept_order(plan: _Plan, encoded: EncodedMesh) -> bool:
    """For streams that must keep their order: the same vertices and triangles in the same order."""
    count = plan.stream[0].values.shape[0]
    return encoded.count == count and np.array_equal(encoded.faces, plan.faces)


def _apply(doc: Document, prims: list[dict], plan: _Plan, encoded: EncodedMesh, refs: dict) -> None:
    """Point the primitives at accessors holding the decoded stream and add the extension."""
    for semantic, (dtype, normalized) in plan.formats.items():
        original = prims[0]["attributes"][semantic]
        target = _owned(doc, original, [(p["attributes"], semantic) for p in prims], refs)
        _fill(target, encoded.values[semantic].astype(dtype), normalized)
        for prim in prims:
            prim["attributes"][semantic] = target
    index_type = U16 if encoded.count <= 65535 else U32
    indices = prims[0].get("indices")
    if isinstance(indices, Accessor):
        target = _owned(doc, indices, [(p, "indices") for p in prims], refs)
    else:
        target = Accessor(np.zeros((0, 1), index_type), "SCALAR")
        doc.accessors.append(target)
    _fill(target, encoded.faces.reshape(-1, 1).astype(index_type), False)
    blob = Blob(encoded.data)
    for prim in prims:
        prim["indices"] = target
        for morph in prim.get("targets", []):
            for a in morph.values():
                a.sparse = True  # Draco leaves targets out; mostly-zero ones are smaller stored sparse
        ids = {s: encoded.ids[s] for s in prim["attributes"] if s in encoded.ids}
        prim.setdefault("extensions", {})[EXTENSION] = {"bufferView": blob, "attributes": ids}


def _owned(doc: Document, accessor: Accessor, slots: list[tuple[dict, str]], refs: dict) -> Accessor:
    """accessor itself if only these slots refer to it, else a copy (added to the document) so
    that the other users keep the original."""
    allowed = {(id(container), key) for container, key in slots}
    users = refs.get(id(accessor), [])
    if all((id(container), key) in allowed for container, key in users):
        return accessor
    refs[id(accessor)] = [(c, k) for c, k in users if (id(c), k) not in allowed]
    twin = Accessor(accessor.data, accessor.type, accessor.normalized, copy.deepcopy(accessor.props))
    doc.accessors.append(twin)
    return twin


def _fill(accessor: Accessor, data: np.ndarray, normalized: bool) -> None:
    accessor.data = np.ascontiguousarray(data)
    accessor.normalized = normalized
    accessor.draco = True
    accessor.sparse = False
    accessor.meshopt_filter = None
    accessor.filtered = None
