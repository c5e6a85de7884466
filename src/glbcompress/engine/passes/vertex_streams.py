"""What the geometry passes (weld, reorder, join) share: a primitive's vertex streams, the groups of
primitives that index the same streams, and rewriting streams without disturbing other users.

A vertex stream is an accessor a primitive reads per vertex: an attribute or a morph target's
attribute. Accessors may be shared (after dedup, or by exporters that split one vertex buffer into
several primitives), so a pass that renumbers vertices must renumber every primitive that reads
those streams together, and must write new accessors rather than edit shared ones in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import field

import numpy as np

from ..document import Accessor, Document
from ..links import references
from ..records import dataclass

TRIANGLES = 4
# Extensions a primitive may carry that do not depend on its vertex order or count.
ORDER_FREE_EXTENSIONS = frozenset({"KHR_materials_variants"})

Replacement = tuple[Accessor | None, Accessor]
"""(old accessor or None, new accessor): what a pass made and what it replaces."""
IndexCache = dict[tuple[int, str, bytes], Accessor]
"""(id of the old index accessor or 0, new index type, new index bytes) -> the new accessor."""


def stream_slots(prim: dict) -> Iterator[tuple[dict, str, Accessor]]:
    """(container, semantic, accessor) of every vertex stream: attributes, then each morph target's."""
    for container in (prim.get("attributes", {}), *prim.get("targets", [])):
        for semantic, a in container.items():
            if isinstance(a, Accessor):
                yield container, semantic, a


def vertex_count(prim: dict) -> int:
    for _container, _semantic, a in stream_slots(prim):
        return a.count
    return 0


def order_free(prim: dict) -> bool:
    """True if renumbering the primitive's vertices cannot break an extension it carries."""
    return set(prim.get("extensions", {})) <= ORDER_FREE_EXTENSIONS


def index_dtype(count: int) -> np.dtype:
    """The smallest index type for count vertices (glTF reserves each type's maximum value)."""
    return np.dtype(np.uint16) if count <= 0xFFFF else np.dtype(np.uint32)


def index_values(prim: dict) -> np.ndarray:
    """The primitive's vertex indices as int64 (0..n-1 when it has none)."""
    indices = prim.get("indices")
    if isinstance(indices, Accessor):
        return indices.data.reshape(-1).astype(np.int64)
    return np.arange(vertex_count(prim), dtype=np.int64)


def index_accessor(values: np.ndarray, count: int, like: Accessor | None = None) -> Accessor:
    """A SCALAR index accessor of the smallest type for count vertices, keeping like's name/extras."""
    props = dict(like.props) if like is not None else {}
    return Accessor(
        np.ascontiguousarray(values, dtype=index_dtype(count)).reshape(-1, 1), "SCALAR", props=props
    )


def derived(a: Accessor, data: np.ndarray) -> Accessor:
    """A new accessor like a (type, normalization, name, extras, sparse hint) holding data."""
    return Accessor(np.ascontiguousarray(data), a.type, a.normalized, dict(a.props), a.sparse)


@dataclass
class StreamGroup:
    """Primitives that share vertex streams, directly or through each other; they all have the
    same vertex count and must be renumbered together."""

    prims: list[dict] = field(default_factory=list)
    streams: list[Accessor] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.streams[0].count if self.streams else 0

    @property
    def vertex_bytes(self) -> int:
        """Bytes one vertex takes across all streams."""
        return sum(a.data.dtype.itemsize * a.data.shape[1] for a in self.streams)

    def used(self) -> np.ndarray:
        """Mask of the vertices any primitive of the group draws."""
        mask = np.zeros(self.count, bool)
        for prim in self.prims:
            if isinstance(prim.get("indices"), Accessor):
                mask[prim["indices"].data.reshape(-1)] = True
            else:
                mask[:] = True
        return mask

    def rows(self) -> np.ndarray:
        """Every stream's bytes side by side: one row of bytes per vertex."""
        parts = [np.ascontiguousarray(a.data).view(np.uint8).reshape(a.count, -1) for a in self.streams]
        return np.hstack(parts) if parts else np.zeros((0, 0), np.uint8)

    def editable(self) -> bool:
        return bool(self.streams) and all(order_free(p) for p in self.prims)

    def renumber(
        self, order: np.ndarray, indices: list[np.ndarray], shared: IndexCache | None = None
    ) -> list[Replacement]:
        """Give the primitives new streams holding rows `order` of the old ones and the new
        per-primitive indices (into those rows). Returns the (old, new) accessor pairs.

        shared: new index accessors made so far in this pass. Primitives that shared an index
        accessor (dedup merges equal ones across meshes) share the new one when their new
        indices agree, here or in an earlier group."""
        count = len(order)
        new_of: dict[int, Accessor] = {}
        pairs: list[Replacement] = []
        for a in self.streams:
            new_of[id(a)] = derived(a, a.data[order])
            pairs.append((a, new_of[id(a)]))
        shared = {} if shared is None else shared
        for prim, values in zip(self.prims, indices, strict=True):
            for container, semantic, a in stream_slots(prim):
                container[semantic] = new_of[id(a)]
            old = prim.get("indices") if isinstance(prim.get("indices"), Accessor) else None
            dtype = index_dtype(count)
            key = (id(old) if old is not None else 0, dtype.str, values.astype(dtype).tobytes())
            if key not in shared:
                shared[key] = index_accessor(values, count, old)
                pairs.append((old, shared[key]))
            prim["indices"] = shared[key]
        return pairs


def stream_groups(prims: Iterable[dict]) -> list[StreamGroup]:
    """Primitives grouped by shared vertex streams (connected through any shared accessor), in the
    order they come; streams in the order first seen."""
    owner: dict[int, int] = {}  # id(accessor) -> group number
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prim_list = list(prims)
    for n, prim in enumerate(prim_list):
        parent.append(n)
        for _c, _s, a in stream_slots(prim):
            if id(a) in owner:
                root, mine = find(owner[id(a)]), find(n)
                parent[max(root, mine)] = min(root, mine)
            else:
                owner[id(a)] = n
    groups: dict[int, StreamGroup] = {}
    for n, prim in enumerate(prim_list):
        groups.setdefault(find(n), StreamGroup()).prims.append(prim)
    for group in groups.values():
        seen: set[int] = set()
        for prim in group.prims:
            for _c, _s, a in stream_slots(prim):
                if id(a) not in seen:
                    seen.add(id(a))
                    group.streams.append(a)
    return [groups[k] for k in sorted(groups)]


def place_new_accessors(doc: Document, pairs: list[Replacement]) -> None:
    """Put each new accessor in doc.accessors right after the one it replaces (so the file keeps its
    order; new ones that replace nothing go last), and drop replaced accessors that nothing refers
    to any more."""
    after: dict[int, list[Accessor]] = {}
    for old, new in pairs:
        if old is not None:
            after.setdefault(id(old), []).append(new)
    referenced = {id(value) for _container, _key, value in references(doc)}
    out: list[Accessor] = []
    placed: set[int] = set()

    def put(new: Accessor) -> None:
        if id(new) not in placed:
            placed.add(id(new))
            out.append(new)

    for a in doc.accessors:
        # Accessors this pass did not replace stay even if unused: that is prune's business.
        if id(a) in referenced or id(a) not in after:
            out.append(a)
        for new in after.get(id(a), []):
            put(new)
    for _old, new in pairs:
        put(new)
    doc.accessors[:] = out
