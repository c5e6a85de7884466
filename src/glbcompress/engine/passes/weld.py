"""weld: merge vertices that are identical in every attribute and morph target, and index
unindexed triangle primitives.

Exporters often write one vertex per triangle corner (Fox: 1728 vertices, 434 distinct) or split
vertices along seams that are not seams at all. Merging vertices whose bytes are identical in every stream changes
nothing a renderer can see and makes the vertex data up to three times smaller; the index buffer it
adds compresses to almost nothing with EXT_meshopt_compression. Comparison is bit-exact, so the pass
is lossless; vertices no primitive draws are dropped on the way. With ``drop_degenerate`` so are
triangles that use one vertex twice: they have no area and draw nothing, and some exporters write
thousands (2CylinderEngine: 10,413 of 75,730, 3.7% of its balanced output; gltfpack drops them too).
It is off by default only because it changes the triangle count a report shows.

Primitives that share vertex accessors are welded together (one renumbering for all of them), so a
shared accessor is never rewritten under one primitive and left stale under another. Unindexed
points, lines and strips are indexed only when that makes them smaller; triangle lists always are.

Example::

    weld(doc, WeldOptions())
"""

from __future__ import annotations

import numpy as np

from ..document import Accessor, Document
from ..pass_options import WeldOptions
from ..records import dataclass
from .vertex_streams import (
    TRIANGLES,
    IndexCache,
    Replacement,
    StreamGroup,
    index_dtype,
    index_values,
    place_new_accessors,
    stream_groups,
)

NAME = "weld"
DEFAULTS = WeldOptions()


@dataclass
class _Plan:
    order: np.ndarray
    """Old vertex of each new vertex."""
    indices: list[np.ndarray]
    """New indices of each primitive of the group."""
    degenerate: int
    """Triangles dropped."""


def weld(doc: Document, options: WeldOptions = DEFAULTS) -> dict:
    removed = indexed = degenerate = 0
    pairs: list[Replacement] = []
    shared: IndexCache = {}
    for group in stream_groups(prim for _mesh, prim in doc.primitives()):
        if not group.editable():
            continue
        plan = _plan(group, options)
        if plan is None:
            continue
        indexed += sum(1 for p in group.prims if not isinstance(p.get("indices"), Accessor))
        removed += group.count - len(plan.order)
        degenerate += plan.degenerate
        pairs += group.renumber(plan.order, plan.indices, shared)
    place_new_accessors(doc, pairs)
    out = {}
    if removed:
        out["vertices removed"] = removed
    if indexed:
        out["primitives indexed"] = indexed
    if degenerate:
        out["degenerate triangles removed"] = degenerate
    return out


def _plan(group: StreamGroup, options: WeldOptions) -> _Plan | None:
    """How to renumber the group, or None to leave it as it is. New vertices keep the order in
    which their first copy came."""
    candidates = np.flatnonzero(group.used())
    rows = np.ascontiguousarray(group.rows()[candidates])
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1)
    _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    welded = np.zeros(group.count, np.int64)  # old vertex -> number of its distinct value
    welded[candidates] = inverse.reshape(-1)
    indices, degenerate = [], 0
    for prim in group.prims:
        values = welded[index_values(prim)]
        if options.drop_degenerate and prim.get("mode", TRIANGLES) == TRIANGLES:
            kept = _without_degenerate(values)
            degenerate += (len(values) - len(kept)) // 3
            values = kept
        indices.append(values)
    # Number the distinct values still drawn by where their first copy was.
    drawn = np.zeros(len(first), bool)
    for values in indices:
        drawn[values] = True
    ids = np.flatnonzero(drawn)
    ids = ids[np.argsort(first[ids], kind="stable")]
    rank = np.zeros(len(first), np.int64)
    rank[ids] = np.arange(len(ids))
    plan = _Plan(candidates[first[ids]], [rank[v] for v in indices], degenerate)
    return plan if _worth_it(group, plan) else None


def _without_degenerate(values: np.ndarray) -> np.ndarray:
    """Triangle-list indices without the triangles that repeat a vertex; all of them if none
    would be left (a primitive needs at least one index)."""
    if len(values) % 3:
        return values
    tri = values.reshape(-1, 3)
    keep = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
    return tri[keep].reshape(-1) if keep.any() else values


def _worth_it(group: StreamGroup, plan: _Plan) -> bool:
    """Weld when it drops vertices or triangles or indexes a triangle list; unindexed points,
    lines and strips only when the vertices saved outweigh the index buffer they then need."""
    unindexed = [p for p in group.prims if not isinstance(p.get("indices"), Accessor)]
    if plan.degenerate or any(p.get("mode", TRIANGLES) == TRIANGLES for p in unindexed):
        return True
    unique = len(plan.order)
    if unique == group.count:
        return False
    if not unindexed:
        return True
    index_bytes = index_dtype(unique).itemsize * group.count * len(unindexed)
    return (group.count - unique) * group.vertex_bytes > index_bytes
