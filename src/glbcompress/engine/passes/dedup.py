"""dedup: merge identical accessors, images, samplers, textures, materials and meshes.

Exporters write one copy of the same data per use: the same texture once per material, the same
mesh once per node, the same keyframe times once per animation track. Merging them makes the file
smaller and lets later passes (instancing, join) see what is shared.

Objects are compared by content, the first in document order is kept and every reference to a
duplicate is pointed at it. Kinds are merged in dependency order, so two materials that sampled two
copies of one image compare equal once the images are merged:

- accessors: same component type, type, normalized flag and bytes, and used in the same roles
  (vertex attribute of the same kind, morph target, indices, animation times, animation values of
  the same path, inverse bind matrices, instance attribute), because the writer lays each role out
  differently (a vertex stream gets a byteStride, which animation samplers may not have) and later
  passes treat roles differently (normals are quantized unlike positions);
- images: same MIME type and bytes;
- samplers, textures, materials and meshes: equal JSON once their references are merged.

Names are ignored unless ``keep_unique_names`` (then objects merge only when their names match too);
extras and extensions must match. Objects that a KHR_animation_pointer animates are never merged:
animating one would animate the other.

After this pass one accessor may serve several primitives (e.g. two meshes with the same index
buffer but different positions); passes that edit accessor data in place must allow for that.

Example::

    changes = dedup(doc, DedupOptions())
    # {"accessors merged": 12, "images merged": 2, "materials merged": 3}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # hashlib's own BLAKE2, without hashlib loading OpenSSL (~2 ms of a small model's run)
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it
    from hashlib import blake2b

from ..document import COLLECTIONS, Accessor, Document, Image, Pointer
from ..links import replace_references
from ..pass_options import DedupOptions

NAME = "dedup"
DEFAULTS = DedupOptions()

# glTF's defaults for sampler fields that have one, so {} and {"wrapS": 10497} compare equal.
SAMPLER_DEFAULTS = {"wrapS": 10497, "wrapT": 10497}
INDEXED_MODES = {4: "triangles"}  # the writer lays triangle lists out apart from other index streams


def dedup(doc: Document, options: DedupOptions = DEFAULTS) -> dict:
    """Merge duplicates kind by kind, references before the objects holding them; returns counts."""
    merger = _Merger(doc, options)
    if options.dedup_accessors:
        merger.merge("accessors", merger.accessor_key)
    if options.dedup_textures:
        merger.merge("images", merger.image_key)
        merger.merge("samplers", merger.sampler_key)
        merger.merge("textures", merger.json_key)
    if options.dedup_materials:
        merger.merge("materials", merger.json_key)
    if options.dedup_meshes:
        merger.merge("meshes", merger.json_key)
    return {f"{kind} merged": n for kind, n in merger.merged.items() if n}


class _Merger:
    """Merges duplicates of one kind at a time. Every object is named by (kind, position in its
    list when the pass began); ``self.names`` also holds the objects, so no id is reused while the
    pass runs."""

    def __init__(self, doc: Document, options: DedupOptions):
        self.doc = doc
        self.options = options
        self.names: dict[int, tuple[str, int, Any]] = {
            id(o): (kind, i, o) for kind in COLLECTIONS for i, o in enumerate(doc.collection(kind))
        }
        self.animated = _pointer_targets(doc)
        self.roles = accessor_roles(doc)
        self.merged: dict[str, int] = {}

    def merge(self, kind: str, key_of: Callable[[Any], Any]) -> None:
        """Point every reference to a duplicate at the first equal object and drop the duplicates."""
        first: dict[Any, Any] = {}
        mapping: dict[int, Any] = {}
        for obj in self.doc.collection(kind):
            if id(obj) in self.animated:
                continue
            key = key_of(obj)
            if key is None:
                continue
            kept = first.setdefault(key, obj)
            if kept is not obj and _same_content(kept, obj):
                mapping[id(obj)] = kept
        if mapping:
            replace_references(self.doc, mapping)
            items = self.doc.collection(kind)
            items[:] = [o for o in items if id(o) not in mapping]
        self.merged[kind] = len(mapping)

    # -- keys: equal keys mean equal content (accessors and images are confirmed byte by byte) --

    def accessor_key(self, a: Accessor) -> tuple | None:
        roles = self.roles.get(id(a))
        if not roles or a.draco or a.filtered is not None:
            return None  # unused, or its data already lives in an encoded stream
        data = np.ascontiguousarray(a.data)
        digest = blake2b(data.view(np.uint8), digest_size=16).digest()
        meta = (a.type, data.dtype.str, data.shape, a.normalized, a.sparse, a.meshopt_filter)
        return (roles, meta, self.json_key(a.props), digest)

    def image_key(self, image: Image) -> tuple:
        digest = blake2b(image.data, digest_size=16).digest()
        return (image.mime_type, len(image.data), self.json_key(image.props), digest)

    def sampler_key(self, sampler: dict) -> str:
        return self.json_key({**SAMPLER_DEFAULTS, **sampler})

    def json_key(self, obj: dict) -> str:
        """obj's JSON as canonical text (without its name unless keep_unique_names)."""
        kept = {k: v for k, v in obj.items() if k != "name" or self.options.keep_unique_names}
        return self._canonical(kept) if kept else "{}"  # most accessors: no JSON of their own

    def _canonical(self, value: Any) -> str:
        return json.dumps(self._tokens(value), sort_keys=True, separators=(",", ":"))

    def _tokens(self, value: Any) -> Any:
        """value as plain JSON with each reference replaced by the name of the object."""
        name = self.names.get(id(value))
        if name is not None:
            return ["@", name[0], name[1]]
        if isinstance(value, dict):
            return {k: self._tokens(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._tokens(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return ["@unique", id(value)]  # a Blob or anything else not in the lists: never equal


def _same_content(a: Any, b: Any) -> bool:
    """Confirm a hash match on the bytes themselves."""
    if isinstance(a, Accessor):  # keys hold dtype and shape: equal bytes are equal arrays
        return np.ascontiguousarray(a.data).tobytes() == np.ascontiguousarray(b.data).tobytes()
    if isinstance(a, Image):
        return a.data == b.data
    return True


def _pointer_targets(doc: Document) -> set[int]:
    """ids of the objects KHR_animation_pointer channels animate."""
    out: set[int] = set()
    for anim in doc.animations:
        for channel in anim.get("channels", []):
            pointer = channel.get("target", {}).get("extensions", {}).get("KHR_animation_pointer")
            if isinstance(pointer, dict) and isinstance(pointer.get("pointer"), Pointer):
                out.add(id(pointer["pointer"].target))
    return out


def _semantic_kind(semantic: str) -> str:
    """TEXCOORD_1 -> TEXCOORD; application-specific semantics (_NAME) stay whole."""
    head, _, index = semantic.rpartition("_")
    return head if head and not semantic.startswith("_") and index.isdigit() else semantic


def accessor_roles(doc: Document) -> dict[int, tuple[str, ...]]:
    """id(accessor) -> the sorted roles it plays; only accessors with equal roles may merge."""
    roles: dict[int, set[str]] = {}

    def use(a: Any, role: str) -> None:
        if isinstance(a, Accessor):
            roles.setdefault(id(a), set()).add(role)

    for _mesh, prim in doc.primitives():
        use(prim.get("indices"), INDEXED_MODES.get(prim.get("mode", 4), "indices"))
        for semantic, a in prim.get("attributes", {}).items():
            use(a, "vertex:" + _semantic_kind(semantic))
        for target in prim.get("targets", []):
            for semantic, a in target.items():
                use(a, "morph:" + _semantic_kind(semantic))
    for anim in doc.animations:
        paths: dict[int, list[str]] = {}  # id(sampler) -> the paths its channels animate
        for channel in anim.get("channels", []):
            path = channel.get("target", {}).get("path", "pointer")
            paths.setdefault(id(channel.get("sampler")), []).append(path)
        for sampler in anim.get("samplers", []):
            use(sampler.get("input"), "time")
            interpolation = sampler.get("interpolation", "LINEAR")
            for path in paths.get(id(sampler), []):
                use(sampler.get("output"), f"animation:{path}:{interpolation}")
    for skin in doc.skins:
        use(skin.get("inverseBindMatrices"), "inverse-bind")
    for node in doc.nodes:
        instancing = node.get("extensions", {}).get("EXT_mesh_gpu_instancing", {})
        for semantic, a in instancing.get("attributes", {}).items():
            use(a, "instance:" + semantic)
    return {key: tuple(sorted(value)) for key, value in roles.items()}
