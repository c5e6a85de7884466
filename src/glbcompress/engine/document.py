"""Document: a glTF asset held as a graph of Python objects.

Every glTF object (node, mesh, material, ...) is kept as its JSON dict, but index references are
replaced by the referenced object itself, accessors hold numpy arrays, and images hold their encoded
bytes. Passes therefore edit the graph directly (swap a reference, drop an object) without index
bookkeeping; the writer assigns indices again and emits only what is reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import field
from typing import Any

import numpy as np

from .records import dataclass

COMPONENT_DTYPES: dict[int, np.dtype] = {
    5120: np.dtype(np.int8),
    5121: np.dtype(np.uint8),
    5122: np.dtype(np.int16),
    5123: np.dtype(np.uint16),
    5125: np.dtype(np.uint32),
    5126: np.dtype(np.float32),
}
DTYPE_COMPONENTS: dict[np.dtype, int] = {v: k for k, v in COMPONENT_DTYPES.items()}
TYPE_SIZES: dict[str, int] = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
SIZE_TYPES: dict[int, str] = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}

# The collections a Document keeps as object lists; buffers and bufferViews are not kept: the
# reader turns them into accessor arrays and image bytes, the writer builds them anew.
COLLECTIONS = (
    "scenes",
    "nodes",
    "meshes",
    "materials",
    "textures",
    "images",
    "samplers",
    "accessors",
    "cameras",
    "skins",
    "animations",
)


@dataclass(eq=False)
class Accessor:
    """A typed array. ``data`` has one row per element, columns are the components in the stored
    component type (matrices column-major, without the column padding of the binary layout)."""

    data: np.ndarray
    type: str
    normalized: bool = False
    props: dict[str, Any] = field(default_factory=dict)
    """Other JSON fields kept as they were (name, extras, extensions)."""
    sparse: bool = False
    """Write hint: store as a sparse accessor over zeros when that is smaller."""
    meshopt_filter: str | None = None
    """Set by the meshopt pass: the EXT_meshopt_compression filter for this accessor."""
    filtered: np.ndarray | None = None
    """Set with meshopt_filter: the filter's encoded rows; ``data`` then holds what a decoder yields."""
    draco: bool = False
    """Set by the draco pass: the data lives in a KHR_draco_mesh_compression stream."""

    @property
    def count(self) -> int:
        return int(self.data.shape[0])

    @property
    def component_type(self) -> int:
        return DTYPE_COMPONENTS[self.data.dtype]

    @property
    def name(self) -> str | None:
        return self.props.get("name")

    def floats(self) -> np.ndarray:
        """Values as float32, normalized integers mapped to [0, 1] or [-1, 1] as glTF defines."""
        return to_float(self.data, self.normalized)


def to_float(data: np.ndarray, normalized: bool) -> np.ndarray:
    """Dequantize an array of stored components as a glTF loader would."""
    if data.dtype == np.float32:
        return data
    out = data.astype(np.float32)
    if normalized:
        info = np.iinfo(data.dtype)
        out /= np.float32(info.max)
        if info.min < 0:
            np.maximum(out, -1.0, out=out)
    return out


@dataclass(eq=False)
class Image:
    """An encoded image (PNG, JPEG, WebP, KTX2, ...) and its JSON fields besides the data's location."""

    data: bytes
    mime_type: str
    props: dict[str, Any] = field(default_factory=dict)
    """name, extras, extensions."""
    source_name: str | None = None
    """The file name it came from, if it was an external file; for reports only."""

    @property
    def name(self) -> str | None:
        return self.props.get("name")


@dataclass(eq=False)
class Blob:
    """Raw bytes that the writer stores as a bufferView of their own (e.g. a Draco stream)."""

    data: bytes


@dataclass(eq=False)
class Pointer:
    """A KHR_animation_pointer target linked to the object it points into."""

    target: Any
    collection: str
    rest: str


@dataclass
class Document:
    """The asset. ``root`` holds the top-level JSON fields that are not collections (asset, scene,
    extensionsUsed, extensions, extras, ...); each collection is a list of objects."""

    root: dict[str, Any] = field(default_factory=dict)
    scenes: list[dict] = field(default_factory=list)
    nodes: list[dict] = field(default_factory=list)
    meshes: list[dict] = field(default_factory=list)
    materials: list[dict] = field(default_factory=list)
    textures: list[dict] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    samplers: list[dict] = field(default_factory=list)
    accessors: list[Accessor] = field(default_factory=list)
    cameras: list[dict] = field(default_factory=list)
    skins: list[dict] = field(default_factory=list)
    animations: list[dict] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    """What the reader learned about the source (input bytes and their breakdown)."""

    def collection(self, name: str) -> list:
        return getattr(self, name)

    @property
    def extensions_used(self) -> list[str]:
        return self.root.setdefault("extensionsUsed", [])

    @property
    def extensions_required(self) -> list[str]:
        return self.root.setdefault("extensionsRequired", [])

    def use_extension(self, name: str, required: bool = False) -> None:
        if name not in self.extensions_used:
            self.extensions_used.append(name)
        if required and name not in self.extensions_required:
            self.extensions_required.append(name)

    def drop_extension(self, name: str) -> None:
        for key in ("extensionsUsed", "extensionsRequired"):
            if name in self.root.get(key, []):
                self.root[key].remove(name)

    def primitives(self) -> Iterator[tuple[dict, dict]]:
        """Every (mesh, primitive) pair."""
        for mesh in self.meshes:
            for prim in mesh.get("primitives", []):
                yield mesh, prim

    def scene_nodes(self) -> Iterator[tuple[dict, np.ndarray]]:
        """Nodes reachable from the scenes with their world matrices (the first path found)."""
        from .transforms import walk_scene_nodes

        yield from walk_scene_nodes(self)
