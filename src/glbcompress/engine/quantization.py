"""What glTF core allows for each vertex attribute, and what needs KHR_mesh_quantization."""

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
