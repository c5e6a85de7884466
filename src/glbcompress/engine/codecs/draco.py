"""KHR_draco_mesh_compression streams through DracoPy: decoding what the reader finds, encoding
what the draco pass writes.

DracoPy (2.2) has five kinds of attribute: POSITION (quantized within a volume the caller may fix),
NORMAL and TEX_COORD (quantized floats, one of each), COLOR (one set of uint8) and any number of
GENERIC ones (float32 stored losslessly, or uint8/uint16/uint32 entropy-coded). A glTF loader finds
each attribute by its unique id and reads it as its accessor's component type says, so the kind
only decides how well an attribute compresses.

>>> encoded = encode_mesh(faces, [StreamAttribute("POSITION", "position", positions)], settings)
>>> encoded.ids["POSITION"], encoded.values["POSITION"]  # unique id and the decoded values
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..document import COMPONENT_DTYPES, Accessor, Blob, Document
from ..errors import InvalidModel, LimitExceeded
from ..limits import DecodeBudget, Limits
from ..records import dataclass

Kind = Literal["position", "normal", "tex_coord", "color", "generic"]

# DracoPy's attribute_type of each kind that has one stream per mesh.
ATTRIBUTE_TYPES: dict[str, int] = {"position": 0, "normal": 1, "color": 2, "tex_coord": 3}
# Draco data types (draco::DataType) of integer attributes -> numpy dtype.
DRACO_INTEGER_TYPES: dict[int, np.dtype] = {
    1: np.dtype(np.int8),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int16),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int32),
    6: np.dtype(np.uint32),
}


class DracoError(Exception):
    """DracoPy failed to encode a mesh (the caller keeps the primitive uncompressed)."""


def _dracopy() -> Any:
    """The DracoPy module, imported when Draco data is first read or written: most runs do
    neither, and the command line starts quicker without it."""
    import DracoPy

    return DracoPy


# -- encoding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamAttribute:
    """One vertex attribute to put in a stream: its glTF semantic, the Draco kind it goes in as,
    and its values (float64 for normal and tex_coord, uint8 for color: what DracoPy accepts)."""

    semantic: str
    kind: Kind
    values: np.ndarray


@dataclass(frozen=True)
class EncodeSettings:
    position_bits: int
    normal_bits: int
    texcoord_bits: int
    compression_level: int
    origin: tuple[float, float, float]
    """Corner of the position quantization volume, the same for every stream of a scene."""
    extent: float
    """Edge length of the (cubic) quantization volume."""
    preserve_order: bool = False
    """Keep vertices and triangles in their order (sequential coding, larger): needed when
    something outside the stream (a morph target) must stay aligned with the vertices."""


@dataclass
class EncodedMesh:
    """A Draco stream and what a decoder reads back from it."""

    data: bytes
    ids: dict[str, int]
    """semantic -> the attribute's unique id in the stream."""
    values: dict[str, np.ndarray]
    """semantic -> decoded values, one row per decoded vertex."""
    faces: np.ndarray
    """(triangles, 3) uint32 indices into the decoded vertices."""

    @property
    def count(self) -> int:
        return int(next(iter(self.values.values())).shape[0])


def encode_mesh(
    faces: np.ndarray, attributes: list[StreamAttribute], settings: EncodeSettings
) -> EncodedMesh:
    """Encode one triangle mesh and decode it again, so the caller learns the vertex order, count
    and values a loader will see. Raises DracoError if DracoPy refuses the mesh."""
    kwargs: dict = {}
    generic: dict[int, np.ndarray] = {}
    generic_ids: dict[str, int] = {}
    positions = None
    for attribute in attributes:
        if attribute.kind == "position":
            positions = np.ascontiguousarray(attribute.values, np.float32)
        elif attribute.kind == "normal":
            kwargs["normals"] = np.ascontiguousarray(attribute.values, np.float64)
        elif attribute.kind == "tex_coord":
            kwargs["tex_coord"] = np.ascontiguousarray(attribute.values, np.float64)
        elif attribute.kind == "color":
            kwargs["colors"] = np.ascontiguousarray(attribute.values, np.uint8)
        else:
            generic_ids[attribute.semantic] = len(generic)
            generic[len(generic)] = np.ascontiguousarray(attribute.values)
    if positions is None:
        raise DracoError("a Draco mesh needs positions")
    dracopy = _dracopy()
    try:
        data = dracopy.encode(
            positions,
            np.ascontiguousarray(faces, np.uint32).reshape(-1),
            quantization_bits=settings.position_bits,
            compression_level=settings.compression_level,
            quantization_range=settings.extent,
            quantization_origin=np.asarray(settings.origin, np.float32),
            preserve_order=settings.preserve_order,
            generic_attributes=generic or None,
            tex_coord_quantization_bits=settings.texcoord_bits,
            normal_quantization_bits=settings.normal_bits,
            **kwargs,
        )
        mesh = dracopy.decode(data)
    except Exception as exc:  # DracoPy raises its own exception types, ValueError and AssertionError
        raise DracoError(str(exc) or type(exc).__name__) from exc
    faces_out = getattr(mesh, "faces", None)
    if faces_out is None:
        raise DracoError("the encoder wrote a point cloud")
    ids: dict[str, int] = {}
    values: dict[str, np.ndarray] = {}
    for attribute in attributes:
        if attribute.kind == "generic":
            decoded = mesh.get_attribute_by_unique_id(generic_ids[attribute.semantic])
        else:
            decoded = mesh.get_attribute_by_type(ATTRIBUTE_TYPES[attribute.kind])
        if decoded is None or decoded["data"] is None:
            raise DracoError(f"{attribute.semantic} is missing from the encoded stream")
        ids[attribute.semantic] = int(decoded["unique_id"])
        values[attribute.semantic] = decoded["data"]
    return EncodedMesh(bytes(data), ids, values, np.asarray(faces_out, np.uint32).reshape(-1, 3))


def quantize_grid(values: np.ndarray, origin: np.ndarray, extent: float, bits: int) -> np.ndarray:
    """Where Draco's position quantization puts values (as float64): the nearest point of a grid
    of 2^bits - 1 steps over [origin, origin + extent]. Used to bound the error before encoding."""
    steps = (1 << bits) - 1
    scale = np.float32(steps) / np.float32(extent)
    q = np.floor((values.astype(np.float32) - origin.astype(np.float32)) * scale + np.float32(0.5))
    return origin.astype(np.float64) + q.astype(np.float64) * (float(np.float32(extent)) / steps)


# -- decoding ---------------------------------------------------------------------------------


def decode_draco_primitives(doc: Document, limits: Limits, budget: DecodeBudget | None = None) -> None:
    """Replace each Draco-compressed primitive's accessors by the decoded data and drop the
    extension from the primitive, so passes see plain geometry.

    Primitives that share one stream (same bufferView and accessors, as encoders write for repeated
    geometry) are decoded once; an accessor that two different streams claim is split."""
    decoded_by: dict[int, tuple[bytes, int]] = {}  # id(accessor) -> (stream, unique id) it holds
    decoded_bytes = 0
    for m, mesh in enumerate(doc.meshes):
        for p, prim in enumerate(mesh.get("primitives", [])):
            ext = prim.get("extensions", {}).get("KHR_draco_mesh_compression")
            if not isinstance(ext, dict):
                continue
            where = f"meshes[{m}].primitives[{p}]: KHR_draco_mesh_compression"
            nbytes = _decode_primitive(doc, prim, ext, where, decoded_by)
            decoded_bytes += nbytes
            if budget is not None:
                budget.take(nbytes, where)
            if decoded_bytes > limits.max_decoded_bytes:
                raise LimitExceeded(
                    f"{where}: the Draco data decodes to more than {limits.max_decoded_bytes} bytes."
                )
            del prim["extensions"]["KHR_draco_mesh_compression"]
            if not prim["extensions"]:
                del prim["extensions"]


def _decode_primitive(
    doc: Document, prim: dict, ext: dict, where: str, decoded_by: dict[int, tuple[bytes, int]]
) -> int:
    """Decode one primitive's stream into its accessors; returns the bytes decoded."""
    blob = ext.get("bufferView")
    if not isinstance(blob, Blob):
        raise InvalidModel(f"{where} has no bufferView.")
    mapping = ext.get("attributes")
    if not isinstance(mapping, dict) or not mapping:
        raise InvalidModel(f"{where} lists no attributes.")
    try:
        mesh = _dracopy().decode(blob.data)
    except Exception as exc:  # DracoPy raises its own types and RuntimeError
        raise InvalidModel(f"{where}: the Draco data is corrupt or not Draco data at all ({exc}).") from exc
    by_id = {a["unique_id"]: a for a in mesh.attributes}
    count: int | None = None
    nbytes = 0
    for semantic, uid in mapping.items():
        accessor = prim.get("attributes", {}).get(semantic)
        attribute = by_id.get(uid) if isinstance(uid, int) and not isinstance(uid, bool) else None
        if not isinstance(accessor, Accessor):
            raise InvalidModel(f"{where} maps {semantic}, which the primitive does not have.")
        if attribute is None:
            raise InvalidModel(f"{where}: attribute {semantic} (id {uid!r}) is missing from the Draco data.")
        values = _attribute_values(attribute, accessor, where, semantic)
        if count is not None and len(values) != count:
            raise InvalidModel(f"{where}: attribute {semantic} has {len(values)} values, the others {count}.")
        count = len(values)
        target = _own(doc, prim, semantic, accessor, (blob.data, uid), decoded_by)
        target.data = values
        target.sparse = False
        nbytes += values.nbytes
    assert count is not None
    if count == 0:
        raise InvalidModel(f"{where}: the Draco data has no vertices.")
    _check_uncompressed_counts(prim, mapping, count, where)
    faces = getattr(mesh, "faces", None)
    if faces is not None:
        nbytes += _set_indices(doc, prim, np.asarray(faces), count, where)
    return nbytes


def _own(
    doc: Document,
    prim: dict,
    semantic: str,
    accessor: Accessor,
    source: tuple[bytes, int],
    decoded_by: dict[int, tuple[bytes, int]],
) -> Accessor:
    """The accessor to hold one decoded attribute: the primitive's own, unless another stream or
    attribute already filled it (then a copy that this primitive refers to instead)."""
    owner = decoded_by.setdefault(id(accessor), source)
    if owner == source:
        return accessor
    copy = Accessor(accessor.data, accessor.type, accessor.normalized, dict(accessor.props))
    doc.accessors.append(copy)
    prim["attributes"][semantic] = copy
    decoded_by[id(copy)] = source
    return copy


def _attribute_values(attribute: dict, accessor: Accessor, where: str, semantic: str) -> np.ndarray:
    """A decoded attribute in its accessor's component type, as a glTF loader reads it."""
    data = attribute.get("data")
    ncomp = accessor.data.shape[1]
    if data is None:
        return np.zeros((0, ncomp), accessor.data.dtype)
    values = np.asarray(data)
    values = values.reshape(len(values), -1)
    if values.shape[1] != ncomp:
        raise InvalidModel(
            f"{where}: attribute {semantic} has {values.shape[1]} components in the Draco data, "
            f"its accessor {ncomp}."
        )
    return _convert(
        values, attribute.get("data_type"), accessor.data.dtype, accessor.normalized, where, semantic
    )


def _convert(
    values: np.ndarray, draco_type: int | None, dtype: np.dtype, normalized: bool, where: str, semantic: str
) -> np.ndarray:
    """Store decoded values in the accessor's component type. Draco yields floats for float
    attributes (quantized or not) and integers for integer ones; a loader converts them to the
    accessor's type, normalizing integers for float accessors of normalized semantics."""
    source = DRACO_INTEGER_TYPES.get(draco_type) if isinstance(draco_type, int) else None
    if dtype == np.float32:
        out = values.astype(np.float32)
        if source is not None and semantic.split("_")[0] in ("COLOR", "WEIGHTS", "TEXCOORD"):
            out /= np.float32(np.iinfo(source).max)
        return out
    if dtype not in COMPONENT_DTYPES.values():
        raise InvalidModel(f"{where}: attribute {semantic} has an unsupported component type.")
    info = np.iinfo(dtype)
    if values.dtype.kind == "f":
        scaled = values * info.max if normalized else values
        return np.clip(np.round(scaled), info.min, info.max).astype(dtype)
    if values.size and (int(values.min()) < info.min or int(values.max()) > info.max):
        raise InvalidModel(
            f"{where}: attribute {semantic} has values its accessor's component type cannot hold."
        )
    return values.astype(dtype)


def _check_uncompressed_counts(prim: dict, mapping: dict, count: int, where: str) -> None:
    """Attributes and morph targets outside the stream must line up with the decoded vertices."""
    others = [(s, a) for s, a in prim.get("attributes", {}).items() if s not in mapping]
    for i, target in enumerate(prim.get("targets", []) or []):
        others += [(f"target {i} {s}", a) for s, a in target.items()]
    for name, a in others:
        if isinstance(a, Accessor) and a.count != count:
            raise InvalidModel(
                f"{where}: {name} has {a.count} values but the Draco data decodes to {count} vertices."
            )


def _set_indices(doc: Document, prim: dict, faces: np.ndarray, count: int, where: str) -> int:
    """Put the decoded triangles in the primitive's indices (creating them for a primitive that
    declared none: a Draco mesh is always indexed). Returns the bytes decoded."""
    flat = faces.astype(np.uint32).reshape(-1, 1)
    if flat.size and int(flat.max()) >= count:
        raise InvalidModel(f"{where}: the Draco data has indices out of range.")
    indices = prim.get("indices")
    dtype = np.dtype(np.uint16) if count <= 65535 else np.dtype(np.uint32)
    if isinstance(indices, Accessor) and indices.data.dtype.itemsize > dtype.itemsize:
        dtype = indices.data.dtype
    data = flat.astype(dtype)
    if isinstance(indices, Accessor):
        indices.data = data
        indices.sparse = False
    elif len(flat) != count or not np.array_equal(flat[:, 0], np.arange(count)):
        created = Accessor(data, "SCALAR")
        doc.accessors.append(created)
        prim["indices"] = created
    return data.nbytes
