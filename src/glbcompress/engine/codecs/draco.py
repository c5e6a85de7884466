"""KHR_draco_mesh_compression primitives, through DracoPy."""

from __future__ import annotations

import DracoPy
import numpy as np

from ..document import COMPONENT_DTYPES, Blob, Document
from ..errors import InvalidModel
from ..limits import Limits


def decode_draco_primitives(doc: Document, limits: Limits) -> None:
    """Replace each Draco-compressed primitive's accessors by the decoded data and drop the
    extension from the primitive, so passes see plain geometry."""
    for m, (_mesh, prim) in enumerate(doc.primitives()):
        ext = prim.get("extensions", {}).get("KHR_draco_mesh_compression")
        if not isinstance(ext, dict):
            continue
        where = f"primitive {m}: KHR_draco_mesh_compression"
        blob = ext.get("bufferView")
        if not isinstance(blob, Blob):
            raise InvalidModel(f"{where} has no bufferView.")
        try:
            mesh = DracoPy.decode(blob.data)
        except Exception as exc:  # DracoPy raises its own types and RuntimeError
            raise InvalidModel(f"{where}: the Draco data cannot be decoded ({exc}).") from exc
        by_id = {a["unique_id"]: a for a in mesh.attributes}
        count = None
        for semantic, uid in (ext.get("attributes") or {}).items():
            accessor = prim.get("attributes", {}).get(semantic)
            attribute = by_id.get(uid) if isinstance(uid, int) else None
            if accessor is None or attribute is None:
                raise InvalidModel(f"{where}: attribute {semantic} is missing from the Draco data.")
            values = np.asarray(attribute["data"]).reshape(len(attribute["data"]), -1)
            if values.shape[1] != accessor.data.shape[1]:
                raise InvalidModel(f"{where}: attribute {semantic} has the wrong number of components.")
            accessor.data = _convert(values, accessor.data.dtype, accessor.normalized)
            count = len(values) if count is None else count
        faces = getattr(mesh, "faces", None)
        indices = prim.get("indices")
        if faces is not None and indices is not None:
            flat = np.asarray(faces, dtype=np.uint32).reshape(-1, 1)
            if count is not None and flat.size and int(flat.max()) >= count:
                raise InvalidModel(f"{where}: the Draco data has indices out of range.")
            dtype = np.uint32 if count is None or count > 65535 else indices.data.dtype
            if dtype == np.uint8:
                dtype = np.uint16 if count and count > 255 else np.uint8
            indices.data = flat.astype(dtype)
        prim["extensions"].pop("KHR_draco_mesh_compression")
        if not prim["extensions"]:
            del prim["extensions"]


def _convert(values: np.ndarray, dtype: np.dtype, normalized: bool) -> np.ndarray:
    """Draco yields floats for quantized attributes and integers for integer ones; store them in
    the accessor's declared component type."""
    if dtype == np.float32:
        return values.astype(np.float32)
    if values.dtype.kind == "f" and normalized:
        info = np.iinfo(dtype)
        return np.clip(np.round(values * info.max), info.min, info.max).astype(dtype)
    if dtype not in COMPONENT_DTYPES.values():
        raise InvalidModel("Draco attribute has an unsupported component type.")
    return values.astype(dtype)
