"""EXT_meshopt_compression / KHR_meshopt_compression bufferViews, through the meshopt package."""

from __future__ import annotations

import meshopt

from ..errors import InvalidModel

MODES = ("ATTRIBUTES", "TRIANGLES", "INDICES")
FILTERS = ("NONE", "OCTAHEDRAL", "QUATERNION", "EXPONENTIAL", "COLOR")
FILTER_STRIDES = {"OCTAHEDRAL": (4, 8), "QUATERNION": (8,), "COLOR": (4, 8)}
"""The row sizes each filter is defined for (EXPONENTIAL takes any multiple of 4)."""


def decode_view(source: memoryview, ext: dict, count: int, size: int, where: str) -> bytes:
    """The plain bytes of a compressed bufferView (count rows of size bytes)."""
    mode = ext.get("mode")
    filter_ = ext.get("filter", "NONE")
    if mode not in MODES:
        raise InvalidModel(f"{where}: unknown meshopt mode {mode!r}.")
    if filter_ not in FILTERS:
        raise InvalidModel(f"{where}: unknown meshopt filter {filter_!r}.")
    if mode != "ATTRIBUTES" and size not in (2, 4):
        raise InvalidModel(f"{where}: meshopt index data must have a byteStride of 2 or 4.")
    if mode == "ATTRIBUTES" and (size % 4 or size > 256):
        raise InvalidModel(
            f"{where}: meshopt attribute data must have a byteStride that is a multiple of 4, at most 256."
        )
    if filter_ != "NONE" and mode != "ATTRIBUTES":
        raise InvalidModel(f"{where}: the meshopt {filter_} filter only applies to attribute data.")
    if size not in FILTER_STRIDES.get(filter_, (size,)):
        allowed = " or ".join(str(s) for s in FILTER_STRIDES[filter_])
        raise InvalidModel(
            f"{where}: the meshopt {filter_} filter needs a byteStride of {allowed}, not {size}."
        )
    if mode == "TRIANGLES" and count % 3:
        raise InvalidModel(f"{where}: meshopt triangle data must have a count divisible by 3.")
    if count == 0:
        return b""
    try:
        out = meshopt.decode_gltf_buffer(bytes(source), count, size, mode, filter_)
    except (ValueError, RuntimeError) as exc:
        raise InvalidModel(f"{where}: the meshopt-compressed data is corrupt ({exc}).") from exc
    return out.tobytes()


def encode_stream(kind: str, stride: int, filter_: str | None, data: bytes) -> tuple[bytes, dict] | None:
    """Compress one bufferView's bytes in the mode its role calls for, with codec version 0 (the
    version every EXT_meshopt_compression loader accepts). None if the layout cannot be compressed
    (rows that are not a multiple of four bytes, or too wide)."""
    import numpy as np

    if not data:
        return None
    if kind in ("triangles", "indices"):
        if stride not in (2, 4):
            return None
        indices = np.frombuffer(data, dtype=np.uint16 if stride == 2 else np.uint32)
        count = len(indices)
        if kind == "triangles" and count % 3 == 0:
            return meshopt.encode_gltf_buffer(indices.astype(np.uint32), "TRIANGLES", 0), {
                "mode": "TRIANGLES",
                "count": count,
            }
        return meshopt.encode_gltf_buffer(indices.astype(np.uint32), "INDICES", 0), {
            "mode": "INDICES",
            "count": count,
        }
    if stride % 4 or stride > 256 or len(data) % stride:
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, stride)
    ext: dict = {"mode": "ATTRIBUTES", "count": len(rows)}
    if filter_ and filter_ != "NONE":
        ext["filter"] = filter_
    return meshopt.encode_vertex_buffer_level(rows, 2, 0), ext
