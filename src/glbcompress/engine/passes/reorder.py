"""reorder: put triangles in the order a GPU's vertex cache likes and vertices in the order they are
first used (meshoptimizer), and points in spatial order.

Both orders make the data more regular, which is what EXT_meshopt_compression feeds on: with
vertex-fetch order, consecutive indices mostly grow by one and neighbouring vertices are near in
space, so the index and attribute codecs shrink them much further. ``strip_order`` asks meshoptimizer
for a strip-like triangle order, which costs a little vertex-cache efficiency and compresses
better still (measured on the corpus: see tests/engine/test_reorder.py). Vertices no primitive
draws are dropped. Renumbering is applied to every attribute and morph target; primitives that
share vertex accessors are renumbered together.

Triangle lists get both orders; indexed points, lines and strips get vertex-fetch order (their
primitive order is kept); unindexed point clouds are sorted spatially. Unindexed triangle lists
are left to weld, which indexes them.

A group keeps its current order when that encodes smaller with the meshopt codec (some
inputs come optimized already, or with one vertex per corner in scan order, where a vertex cache
has nothing to gain): on FusionSketchfab meshoptimizer's order would cost 10% more bytes.

Example::

    reorder(doc, ReorderOptions(strip_order=True))
"""

from __future__ import annotations

import meshopt
import numpy as np

from .. import accessors as acc
from ..document import Accessor, Document
from ..pass_options import ReorderOptions
from .vertex_streams import (
    TRIANGLES,
    IndexCache,
    Replacement,
    StreamGroup,
    derived,
    index_values,
    place_new_accessors,
    stream_groups,
    stream_slots,
)

NAME = "reorder"
POINTS = 0
DEFAULTS = ReorderOptions()


def reorder(doc: Document, options: ReorderOptions = DEFAULTS) -> dict:
    reordered = kept = dropped = 0
    pairs: list[Replacement] = []
    shared: IndexCache = {}
    for group in stream_groups(prim for _mesh, prim in doc.primitives()):
        if not group.editable() or not group.count:
            continue
        plan = _plan(group, options)
        if plan is None:
            continue
        order, indices = plan
        if not _smaller(group, order, indices):
            kept += len(group.prims)
            continue
        reordered += len(group.prims)
        dropped += group.count - len(order)
        if indices is None:  # unindexed points: only the vertices move
            _permute_unindexed(group, order, pairs)
        else:
            pairs += group.renumber(order, indices, shared)
    place_new_accessors(doc, pairs)
    out = {"primitives reordered": reordered} if reordered else {}
    if kept:
        out["primitives kept in their order (it compresses better)"] = kept
    if dropped:
        out["unused vertices removed"] = dropped
    return out


def _plan(group: StreamGroup, options: ReorderOptions) -> tuple[np.ndarray, list[np.ndarray] | None] | None:
    """(old vertex of each new vertex, new indices per primitive or None for unindexed points)."""
    unindexed = [p for p in group.prims if not isinstance(p.get("indices"), Accessor)]
    if unindexed:
        if len(unindexed) == len(group.prims) and all(p.get("mode", TRIANGLES) == POINTS for p in unindexed):
            return _spatial_order(group), None
        return None
    # Cache order per triangle list, then one fetch order over every primitive's indices in turn.
    lists = [_cache_order(p, options.strip_order) for p in group.prims]
    lengths = [len(v) for v in lists]
    joined = np.concatenate(lists).astype(np.uint32)
    if not len(joined):
        return None
    new, remap, unique = meshopt.reorder_mesh(joined, False, False)
    order = np.empty(unique, np.int64)
    used = joined.astype(np.int64)
    order[remap[used]] = used
    return order, np.split(new.astype(np.int64), np.cumsum(lengths)[:-1])


def _cache_order(prim: dict, strip: bool) -> np.ndarray:
    """The primitive's indices, triangles in vertex-cache (or strip-like) order for triangle lists."""
    values = index_values(prim)
    if prim.get("mode", TRIANGLES) != TRIANGLES or len(values) < 3 or len(values) % 3:
        return values
    new, remap, unique = meshopt.reorder_mesh(values.astype(np.uint32), True, strip)
    # reorder_mesh also renumbers; undo that here so all primitives are renumbered at once.
    inverse = np.empty(unique, np.int64)
    inverse[remap[values]] = values
    return inverse[new]


def _spatial_order(group: StreamGroup) -> np.ndarray:
    """Old vertex of each new place, nearby points next to each other."""
    position = next((p["attributes"].get("POSITION") for p in group.prims), None)
    if not isinstance(position, Accessor) or position.type != "VEC3":
        return np.arange(group.count)
    place = meshopt.reorder_points(position.floats()).astype(np.int64)  # old point -> new place
    order = np.empty_like(place)
    order[place] = np.arange(len(place))
    return order


def _smaller(group: StreamGroup, order: np.ndarray, indices: list[np.ndarray] | None) -> bool:
    """True if the new order compresses to fewer bytes than the current one, measured with the
    codec the meshopt pass uses. Some inputs come in an order that already compresses better (an
    earlier optimizer's, or one vertex per corner in scan order), and keeping it costs no GPU cache
    efficiency where no vertex is shared anyway."""
    current = None if indices is None else [index_values(p) for p in group.prims]
    before = _encoded_size(group.streams, None, current, group.prims)
    after = _encoded_size(group.streams, order, indices, group.prims)
    return after <= before


def _encoded_size(
    streams: list[Accessor], order: np.ndarray | None, indices: list[np.ndarray] | None, prims: list[dict]
) -> int:
    size = 0
    for a in streams:
        data = a.data if order is None else a.data[order]
        stride = acc.vertex_stride(a.type, data.dtype.itemsize)
        rows = np.frombuffer(acc.encode(data, a.type, stride), np.uint8).reshape(len(data), stride)
        if len(rows):
            size += len(meshopt.encode_vertex_buffer(rows))
    for prim, values in zip(prims, indices or [], strict=False):
        if not len(values):
            continue
        codec = meshopt.encode_index_buffer
        if prim.get("mode", TRIANGLES) != TRIANGLES or len(values) % 3:
            codec = meshopt.encode_index_sequence
        size += len(codec(values.astype(np.uint32)))
    return size


def _permute_unindexed(group: StreamGroup, order: np.ndarray, pairs: list[Replacement]) -> None:
    new_of = {id(a): derived(a, a.data[order]) for a in group.streams}
    pairs += [(a, new_of[id(a)]) for a in group.streams]
    for prim in group.prims:
        for container, semantic, a in stream_slots(prim):
            container[semantic] = new_of[id(a)]
