"""simplify: fewer triangles where they do not show, with meshoptimizer's simplifier.

Scans and CAD exports carry millions of triangles a viewer cannot tell apart from far fewer. Each
mesh is reduced towards ``simplify_ratio`` of its triangles, stopping early where the geometric
error would pass ``simplify_error`` (a fraction of the scene's bounding-box diagonal, or of each
mesh's own with ``simplify_error_scale="mesh"``). So ratio 0 with a tiny error removes only what is
invisible (coplanar triangles, flat strips of a CAD export), and ratio 0.25 with error 1 makes a
quarter-size LOD whatever it costs.

What it keeps, and how:

- Seams. All triangle primitives of a mesh with the same vertex layout are simplified together,
  each with vertices of its own (welded: identical vertices merged), so material boundaries,
  UV seams and hard normals are vertices at the same place with different data; the simplifier
  moves such seams only along themselves, on both sides at once, and nothing tears.
- Appearance. Normals, texture coordinates (weighted by their density) and vertex colours count
  in the error, not only positions (``simplify_attributes``).
- Borders. ``lock_borders`` pins every open edge of a mesh, so meshes that touch (separate nodes)
  cannot open gaps between them; otherwise disconnected bits smaller than the error may go.
- Skins and morph targets. The simplifier only picks which of the original vertices to keep, so
  joints, weights and every morph target stay attached to their vertices. Skin weights and
  morph-target displacements also count in the error (projected to fewer numbers when there are
  many joints or targets), so a vertex a pose or a target moves is not removed just because the
  rest pose is flat there; and the result is measured at every target's full weight too.
- Faceted meshes. Where every triangle carries its own face normal at its corners (scans
  exported as triangle soup), the normals are dropped: viewers compute the same flat normals
  themselves, and without them the corners weld and the mesh can be simplified at all.
- Points are thinned as points (meshoptimizer's point simplifier, colours considered), as far as
  the ratio asks and the error allows; lines are left alone.

``simplify_sloppy`` reaches the ratio where the careful simplifier stops short, by merging
vertices on a grid regardless of seams and topology: for far-away LODs only.

It runs before quantize (as gltfpack does): the simplifier works on float positions, and the
quantization grid is then fitted to what is left. The report gives triangles before and after
and the sampled Hausdorff distance between old and new surfaces (and, for morph-target meshes,
at each target's full weight), as a fraction of the scene's diagonal.

Example::

    simplify(doc, SimplifyOptions(simplify_ratio=0.25, simplify_error=0.01))
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..document import Accessor, Document
from ..pass_options import SimplifyOptions
from ..surface import Surface, hausdorff
from .vertex_streams import (
    TRIANGLES,
    Replacement,
    derived,
    index_accessor,
    index_values,
    order_free,
    place_new_accessors,
    stream_slots,
)

NAME = "simplify"
POINTS, STRIP, FAN = 0, 5, 6
NORMAL_WEIGHT = 0.5
"""Weight of each normal component in the error (gltfpack uses the same)."""
COLOR_WEIGHT = 1.0
UV_FACTOR = 0.25
"""Texture coordinates weigh 1 / (their typical triangle's size in UV space), times this."""
BOUND_ATTEMPTS = 4
"""Simplifications tried with a tighter limit before a mesh that keeps passing the bound is left alone."""
VANISH_ATTEMPTS = 4
"""Times the target is doubled for a mesh of small parts that would otherwise vanish whole."""
POINT_SEARCH_STEPS = 8
"""Bisection steps to find how many points the error bound allows."""
MAX_METRIC_COLUMNS = 32
"""meshopt_simplifyWithAttributes takes at most 32 attribute columns."""
SKIN_COLUMNS = 16
"""At most this many columns describe skin weights (more joints are projected to this many)."""
SKIN_REACH = 0.05
"""How far a pose may move a vertex, as a fraction of the mesh's extent: a vertex whose skin weights
differ by 1 from its neighbours' counts like one that far off the surface. Enough to keep the rings
of a bending joint (tests/engine/test_simplify.py); more costs rest-pose fidelity on real characters
(Fox, Soldier at 50%: 0.5 lowered rendered SSIM by up to 0.08, 0.05 by 0.02-0.06)."""
PROJECTION_SEED = 5
"""Seed of the fixed random projections of many joints or morph targets (same output every run)."""
DEFAULTS = SimplifyOptions()


def simplify(doc: Document, options: SimplifyOptions = DEFAULTS) -> dict:
    """Simplify every mesh in place; reports triangles (and points) before and after, and the
    measured Hausdorff distance as a fraction of the scene's diagonal. With ``lods``, adds the
    lower levels of detail too (see engine/lods.py)."""
    if options.lods:
        from ..lods import simplify_levels

        return simplify_levels(doc, options)
    return _Run(doc, options).apply()


# -- the scene's scale --------------------------------------------------------------------------


def _mesh_bounds(mesh: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Local bounding box of a mesh's positions (rest pose), or None if it has none."""
    boxes = []
    for prim in mesh.get("primitives", []):
        position = prim.get("attributes", {}).get("POSITION")
        if isinstance(position, Accessor) and position.count and position.type == "VEC3":
            values = position.floats()
            boxes.append((values.min(axis=0), values.max(axis=0)))
    if not boxes:
        return None
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def _instance_matrices(node: dict) -> np.ndarray:
    """Translation and scale of each GPU instance (rotation does not change a bounding sphere)."""
    inst = node.get("extensions", {}).get("EXT_mesh_gpu_instancing")
    attrs = inst.get("attributes", {}) if isinstance(inst, dict) else {}
    counts = [a.count for a in attrs.values() if isinstance(a, Accessor)]
    if not counts:
        return np.eye(4)[None]
    n = counts[0]
    out = np.tile(np.eye(4), (n, 1, 1))
    if isinstance(attrs.get("SCALE"), Accessor):
        out[:, :3, :3] *= np.abs(attrs["SCALE"].floats().astype(np.float64)).max(axis=1)[:, None, None]
    if isinstance(attrs.get("TRANSLATION"), Accessor):
        out[:, :3, 3] = attrs["TRANSLATION"].floats()
    return out


@dataclass
class SceneScale:
    """The scene's bounding-box diagonal and, per mesh, the largest scale a node draws it at."""

    diagonal: float
    mesh_scale: dict[int, float]

    @classmethod
    def of(cls, doc: Document) -> SceneScale:
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        scales: dict[int, float] = {}
        bounds: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}
        for node, world in doc.scene_nodes():
            mesh = node.get("mesh")
            if not isinstance(mesh, dict):
                continue
            if id(mesh) not in bounds:
                bounds[id(mesh)] = _mesh_bounds(mesh)
            box = bounds[id(mesh)]
            if box is None:
                continue
            corners = _corners(*box)
            matrices = world @ _instance_matrices(node)
            placed = np.einsum("nij,kj->nki", matrices, corners)[..., :3].reshape(-1, 3)
            lo, hi = np.minimum(lo, placed.min(axis=0)), np.maximum(hi, placed.max(axis=0))
            scale = float(np.linalg.norm(matrices[:, :3, :3], axis=1).max())
            scales[id(mesh)] = max(scales.get(id(mesh), 0.0), scale)
        diagonal = float(np.linalg.norm(hi - lo)) if np.isfinite(lo).all() else 0.0
        return cls(diagonal, scales)


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The 8 corners of a box, homogeneous (8, 4)."""
    pick = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], bool)
    return np.concatenate([np.where(pick, hi, lo), np.ones((8, 1))], axis=1).astype(np.float64)


# -- one primitive, welded ----------------------------------------------------------------------


def _triangle_list(prim: dict) -> np.ndarray:
    """The primitive's triangles as (m, 3) vertex numbers; strips and fans unrolled (keeping the
    winding glTF defines for them)."""
    values = index_values(prim)
    mode = prim.get("mode", TRIANGLES)
    if mode == TRIANGLES:
        return values[: len(values) // 3 * 3].reshape(-1, 3)
    n = max(len(values) - 2, 0)
    i = np.arange(n)
    if mode == STRIP:
        odd = (i % 2).astype(bool)
        a, b, c = values[i], values[i + 1], values[i + 2]
        return np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1)
    return np.stack([np.full(n, values[0] if len(values) else 0), values[i + 1], values[i + 2]], axis=1)


@dataclass
class _Part:
    """A triangle primitive with its own welded vertices: ``source[v]`` is the primitive's vertex
    that welded vertex v stands for, ``triangles`` index welded vertices."""

    prim: dict
    source: np.ndarray
    triangles: np.ndarray

    @classmethod
    def of(cls, prim: dict) -> _Part:
        tri = _triangle_list(prim)
        used = np.unique(tri)
        parts = [
            np.ascontiguousarray(a.data[used]).view(np.uint8).reshape(len(used), -1)
            for _c, _s, a in stream_slots(prim)
        ]
        rows = np.ascontiguousarray(np.hstack(parts))
        keys = rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1)
        _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        welded = inverse.reshape(-1)[np.searchsorted(used, tri)]
        keep = (
            (welded[:, 0] != welded[:, 1]) & (welded[:, 1] != welded[:, 2]) & (welded[:, 0] != welded[:, 2])
        )
        return cls(prim, used[first], welded[keep])

    def stream(self, semantic: str, target: int | None = None) -> np.ndarray | None:
        """Float values of one attribute (or one morph target's) at the welded vertices."""
        container = self.prim["attributes"] if target is None else self.prim["targets"][target]
        a = container.get(semantic)
        return a.floats()[self.source].astype(np.float32) if isinstance(a, Accessor) else None


def _layout(prim: dict) -> tuple:
    """What must match for primitives to share one simplification: attribute and target layout."""

    def of(container: dict) -> tuple:
        return tuple(
            sorted(
                (k, a.type, a.data.dtype.str, a.normalized)
                for k, a in container.items()
                if isinstance(a, Accessor)
            )
        )

    return of(prim.get("attributes", {})), tuple(of(t) for t in prim.get("targets", []))


def _simplifiable(prim: dict) -> bool:
    position = prim.get("attributes", {}).get("POSITION")
    return (
        prim.get("mode", TRIANGLES) in (TRIANGLES, STRIP, FAN)
        and isinstance(position, Accessor)
        and position.type == "VEC3"
        and position.count > 0
        and order_free(prim)
    )


FLAT_COSINE = 0.9999
"""A corner's normal this close to its triangle's own (cosine) counts as the face normal."""


def _flat_normals(prim: dict) -> bool:
    """True if every triangle carries its own face normal at its three corners: a faceted model
    (often a scan exported as triangle soup, three vertices per triangle). Such normals hold
    nothing a viewer does not compute itself (glTF: without normals, flat normals), yet they keep
    every triangle's corners apart, so nothing could be simplified. Tangents and morph-target
    normals need the normals: then False."""
    attributes = prim.get("attributes", {})
    normal, position = attributes.get("NORMAL"), attributes.get("POSITION")
    if (
        not isinstance(normal, Accessor)
        or normal.type != "VEC3"
        or "TANGENT" in attributes
        or any("NORMAL" in t for t in prim.get("targets", []))
    ):
        return False
    tri = _triangle_list(prim)
    if not len(tri):
        return False
    corners = position.floats()[tri].astype(np.float64)
    face = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(face, axis=1)
    valid = length > 0
    if not valid.any():
        return False
    face = face[valid] / length[valid, None]
    normals = normal.floats()[tri[valid]].astype(np.float64)
    normals /= np.maximum(np.linalg.norm(normals, axis=2, keepdims=True), 1e-12)
    return bool((np.einsum("tcj,tj->tc", normals, face) > FLAT_COSINE).all())


# -- the metric ---------------------------------------------------------------------------------


def _mean_size(values: np.ndarray, triangles: np.ndarray) -> float:
    """Square root of the mean triangle area, for 2D (UV) or 3D values."""
    if not len(triangles):
        return 0.0
    corners = values[triangles].astype(np.float64)
    u, v = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    if values.shape[1] == 2:
        area = 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    else:
        area = 0.5 * np.linalg.norm(np.cross(u, v), axis=1)
    return float(np.sqrt(area.mean()))


def _metric(
    parts: list[_Part], positions: np.ndarray, triangles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex attributes the error weighs and their weights. A weighted attribute changing by
    1 over a distance d costs about as much as moving a vertex by d, so unnormalized values are
    weighed by the inverse of their typical change across a triangle."""
    columns: list[np.ndarray] = []
    weights: list[float] = []

    normal = _gathered(parts, "NORMAL", (3,))
    if normal is not None:
        columns.append(normal)
        weights += [NORMAL_WEIGHT] * 3
    color = _gathered(parts, "COLOR_0", (3, 4))
    if color is not None:
        rgb = color[:, :3] * (color[:, 3:4] if color.shape[1] == 4 else 1.0)
        columns.append(rgb)
        weights += [COLOR_WEIGHT] * 3
    uv = _gathered(parts, "TEXCOORD_0", (2,))
    if uv is not None:
        size = _mean_size(uv, triangles)
        if size > 0:
            columns.append(uv[:, :2])
            weights += [UV_FACTOR / size] * 2
    edge = _mean_size(positions, triangles)
    if edge > 0:
        room = MAX_METRIC_COLUMNS - sum(c.shape[1] for c in columns)
        skin = _skin_columns(parts, min(room // 2, SKIN_COLUMNS))
        morph = _fit(_morph_columns(parts), room - (skin.shape[1] if skin is not None else 0))
        if morph is not None:
            columns.append(morph)
            weights += [1.0 / edge] * morph.shape[1]
        if skin is not None:
            columns.append(skin)
            extent = float(np.ptp(positions, axis=0).max())
            weights += [SKIN_REACH * extent / edge] * skin.shape[1]
    if not columns:
        return np.zeros((len(positions), 0), np.float32), np.zeros(0, np.float32)
    return np.hstack(columns).astype(np.float32), np.asarray(weights, np.float32)


def _fit(matrix: np.ndarray | None, room: int) -> np.ndarray | None:
    """The matrix as it is if its columns fit the room, else a fixed random projection to room
    columns, which keeps the distances between rows roughly (Johnson-Lindenstrauss) and commutes
    with the linear interpolation the metric assumes."""
    if matrix is None or room < 1:
        return None
    if matrix.shape[1] <= room:
        return matrix
    rng = np.random.default_rng(PROJECTION_SEED)
    return (matrix @ rng.normal(0, 1 / np.sqrt(room), (matrix.shape[1], room))).astype(np.float32)


def _morph_columns(parts: list[_Part]) -> np.ndarray | None:
    """Every morph target's position displacement, side by side (3 columns per target)."""
    targets = len(parts[0].prim.get("targets", []))
    out = [d for d in (_gathered(parts, "POSITION", (3,), t) for t in range(targets)) if d is not None]
    return np.hstack(out) if out else None


def _gathered(
    parts: list[_Part], semantic: str, widths: tuple[int, ...], target: int | None = None
) -> np.ndarray | None:
    """An attribute (or one morph target's) over all parts; None where a part has none, or where
    it has not one of the widths glTF gives it (an invalid model may declare a NORMAL as SCALAR,
    say: then it is left out of the metric and of the shapes measured)."""
    values = [p.stream(semantic, target) for p in parts]
    if any(v is None or v.ndim != 2 or v.shape[1] not in widths for v in values):
        return None
    return np.concatenate(values)


def _skin_columns(parts: list[_Part], room: int) -> np.ndarray | None:
    """Each vertex's skin weights as a dense vector over the joints the parts use (where two
    vertices differ, a pose moves them apart), projected to fit the room if need be."""
    rows: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for part in parts:
        sets = []
        k = 0
        while True:
            joints, weights = part.stream(f"JOINTS_{k}"), part.stream(f"WEIGHTS_{k}")
            if joints is None or weights is None or joints.shape != weights.shape:
                break  # absent, or (an invalid model) a set whose weights do not pair with its joints
            sets.append((joints.astype(np.int64), weights))
            k += 1
        if not sets:
            return None
        rows.append(sets)
    used = np.unique(np.concatenate([j[w > 0] for sets in rows for j, w in sets]))
    if len(used) < 2:
        return None
    dense = []
    for sets, part in zip(rows, parts, strict=True):
        out = np.zeros((len(part.source), len(used)), np.float32)
        for joints, weights in sets:
            column = np.searchsorted(used, joints)
            valid = (weights > 0) & (column < len(used))
            row = np.broadcast_to(np.arange(len(out))[:, None], joints.shape)
            np.add.at(out, (row[valid], column[valid]), weights[valid])
        dense.append(out)
    return _fit(np.concatenate(dense), room)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class _Unit:
    """Primitives simplified together: their welded vertices side by side (part i's vertices
    start at offsets[i]), the metric's attributes, and the original surface at rest and at each
    morph target's full weight (to measure results against)."""

    parts: list[_Part]
    offsets: np.ndarray
    positions: np.ndarray
    triangles: np.ndarray
    attributes: np.ndarray
    weights: np.ndarray
    shapes: list[Surface]

    @classmethod
    def of(cls, parts: list[_Part], attribute_aware: bool) -> _Unit:
        offsets = np.cumsum([0] + [len(p.source) for p in parts])
        positions = np.concatenate([p.stream("POSITION") for p in parts])
        triangles = np.concatenate([p.triangles + o for p, o in zip(parts, offsets, strict=False)])
        if attribute_aware:
            attributes, weights = _metric(parts, positions, triangles)
        else:
            attributes, weights = np.zeros((len(positions), 0), np.float32), np.zeros(0, np.float32)
        shapes = [Surface(positions, triangles)]
        for t in range(len(parts[0].prim.get("targets", []))):
            deltas = _gathered(parts, "POSITION", (3,), t)
            if deltas is not None:
                shapes.append(Surface(positions + deltas, triangles))
        return cls(parts, offsets, positions, triangles, attributes, weights, shapes)


@dataclass
class _Outcome:
    """Triangles kept per part (indices of the part's welded vertices) and the errors reached."""

    kept: list[np.ndarray]
    estimate: float
    hausdorff: float
    morph_hausdorff: float


class _Run:
    def __init__(self, doc: Document, options: SimplifyOptions):
        self.doc = doc
        self.options = options
        self.pairs: list[Replacement] = []
        self.made: dict[tuple[int, bytes], Accessor] = {}
        self.counts: Counter[str] = Counter()
        self.fidelity: dict[str, float] = {}

    def apply(self, meshes: list[dict] | None = None, scale: SceneScale | None = None) -> dict:
        """Simplify the given meshes (default: all), measured against the scene's scale."""
        if self.options.simplify_ratio >= 1:
            return {}
        from ..codecs import simplifier

        self.lib = simplifier
        self.scale = scale or SceneScale.of(self.doc)
        for mesh in self.doc.meshes if meshes is None else meshes:
            self._mesh(mesh)
        place_new_accessors(self.doc, self.pairs)
        return self._report()

    def _report(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in self.counts.items() if v}
        if self.counts["meshes simplified"]:
            out["fidelity"] = {k: float(f"{v:.6g}") for k, v in self.fidelity.items()}
        return out

    def _error(self, metric: str, value: float) -> None:
        self.fidelity[metric] = max(self.fidelity.get(metric, 0.0), value)

    def _limits(self, mesh: dict) -> tuple[float, float]:
        """(error limit in the mesh's units, factor from mesh units to fractions of the scene's
        diagonal, the unit every figure is reported in)."""
        box = _mesh_bounds(mesh)
        mesh_diagonal = float(np.linalg.norm(box[1] - box[0])) if box else 0.0
        scale = self.scale.mesh_scale.get(id(mesh), 0.0)
        drawn = scale > 0 and self.scale.diagonal > 0
        to_scene = scale / self.scale.diagonal if drawn else (1.0 / mesh_diagonal if mesh_diagonal else 0.0)
        if self.options.simplify_error_scale == "mesh" or not drawn:
            return self.options.simplify_error * mesh_diagonal, to_scene
        return self.options.simplify_error * self.scale.diagonal / scale, to_scene

    def _mesh(self, mesh: dict) -> None:
        prims = mesh.get("primitives", [])
        limit, to_scene = self._limits(mesh)
        units: dict[tuple, list[dict]] = {}
        for prim in prims:
            if _simplifiable(prim) and _flat_normals(prim):
                del prim["attributes"]["NORMAL"]
                self.counts["flat normals dropped (viewers compute them)"] += 1
            if _simplifiable(prim):
                units.setdefault(_layout(prim), []).append(prim)
            elif prim.get("mode", TRIANGLES) == POINTS and order_free(prim):
                self._points(prim, limit, to_scene)
        triangles = {id(p): len(_triangle_list(p)) for unit in units.values() for p in unit}
        total = sum(triangles.values())
        vanished: list[dict] = []
        for unit in units.values():
            share = sum(triangles[id(p)] for p in unit)
            floor = -(-self.options.simplify_min_triangles * share // total) if total else 0
            vanished += self._unit(unit, limit, to_scene, floor)
        if vanished and len(vanished) < len(prims):
            gone = {id(p) for p in vanished}
            mesh["primitives"] = [p for p in prims if id(p) not in gone]
            self.counts["primitives removed (smaller than the error)"] += len(vanished)

    def _unit(self, prims: list[dict], limit: float, to_scene: float, floor: int) -> list[dict]:
        """Simplify primitives of one layout together; returns those left with no triangle (they
        are not rewritten: the caller drops them if the mesh keeps others)."""
        parts = [p for p in (_Part.of(prim) for prim in prims) if len(p.triangles)]
        if not parts:
            return []
        before = sum(len(_triangle_list(p.prim)) for p in parts)
        total = sum(len(p.triangles) for p in parts)
        target = min(max(int(total * self.options.simplify_ratio), floor), total)
        if target >= total:
            return []
        outcome = self._within_bound(parts, target, limit)
        if outcome is None:
            self.counts["meshes left as they were"] += 1
            return []
        outcome.hausdorff *= to_scene
        outcome.morph_hausdorff *= to_scene
        after = sum(len(k) for k in outcome.kept)
        if after == total:  # nothing could go within the bound
            return []
        vanished = [part.prim for part, kept in zip(parts, outcome.kept, strict=True) if not len(kept)]
        for part, kept in zip(parts, outcome.kept, strict=True):
            if len(kept):
                self._rewrite(part, kept)
        self.counts["meshes simplified"] += 1
        self.counts["triangles before"] += before
        self.counts["triangles after"] += after
        self._error("simplify_hausdorff", outcome.hausdorff)
        self._error("simplify_error_estimate", outcome.estimate * to_scene)
        if len(parts[0].prim.get("targets", [])):
            self._error("simplify_morph_hausdorff", outcome.morph_hausdorff)
        return vanished

    def _within_bound(self, parts: list[_Part], target: int, limit: float) -> _Outcome | None:
        """Simplify, then hold the result to the bound by measuring: the simplifier's own error is
        an estimate (distances to planes), and the surface can stray farther between the vertices
        it keeps. While the measured distance (at rest and at every morph target) passes the
        limit, simplify again with the limit tightened in proportion. None to keep the unit as it
        was: if that never fits, or if nothing would be left of it."""
        unit = _Unit.of(parts, self.options.simplify_attributes)
        total = len(unit.triangles)
        asked = limit
        for _attempt in range(BOUND_ATTEMPTS + VANISH_ATTEMPTS):
            outcome = self._simplify(unit, target, asked, prune=not self.options.lock_borders)
            if not any(len(kept) for kept in outcome.kept):
                # Small separate bits that would all be pruned to reach the ratio: aim higher.
                target = min(2 * target + 3, total)
                if target >= total:
                    return None
                continue
            worst = max(outcome.hausdorff, outcome.morph_hausdorff)
            if worst <= limit:
                return outcome
            asked *= 0.8 * limit / worst
        return None

    def _simplify(self, unit: _Unit, target: int, limit: float, prune: bool) -> _Outcome:
        """Run the simplifier over the unit; with prune, disconnected bits smaller than the error
        may go. Measures the result against the original at rest and at each morph target."""
        lib = self.lib
        flags = (
            lib.ERROR_ABSOLUTE
            | (lib.LOCK_BORDER if self.options.lock_borders else 0)
            | (lib.PRUNE if prune else 0)
        )
        result, estimate = lib.simplify(
            unit.triangles, unit.positions, 3 * target, limit, flags, unit.attributes, unit.weights
        )
        result = result.reshape(-1, 3).astype(np.int64)
        owner = np.searchsorted(unit.offsets, result, side="right") - 1
        if not ((owner[:, 0] == owner[:, 1]) & (owner[:, 1] == owner[:, 2])).all():  # never seen
            return _Outcome([p.triangles for p in unit.parts], 0.0, 0.0, 0.0)
        kept = [result[owner[:, 0] == i] - unit.offsets[i] for i in range(len(unit.parts))]
        if self.options.simplify_sloppy and len(result) > target:
            kept = [
                self._sloppy(p, k, target * len(p.triangles) / len(unit.triangles), limit)
                for p, k in zip(unit.parts, kept, strict=True)
            ]
        new = np.concatenate([k + o for k, o in zip(kept, unit.offsets, strict=False)])
        errors = [hausdorff(before, Surface(before.positions, new)) for before in unit.shapes]
        return _Outcome(kept, estimate, errors[0], max(errors[1:], default=0.0))

    def _sloppy(self, part: _Part, kept: np.ndarray, target: float, limit: float) -> np.ndarray:
        """Reach a part's share of the target by merging vertices regardless of topology."""
        goal = max(int(target), 1)
        if len(kept) <= goal:
            return kept
        positions = part.stream("POSITION")
        scale = self.lib.simplify_scale(positions) or 1.0
        result, _error = self.lib.simplify_sloppy(kept, positions, 3 * goal, limit / scale)
        return result.reshape(-1, 3).astype(np.int64) if len(result) else kept

    def _rewrite(self, part: _Part, kept: np.ndarray) -> None:
        """Point the primitive at new streams holding the vertices it still draws, and new indices."""
        used, local = np.unique(kept, return_inverse=True)
        rows = part.source[used]
        self._take(part.prim, rows)
        old = part.prim.get("indices")
        old = old if isinstance(old, Accessor) else None
        indices = index_accessor(local.reshape(-1), len(used), old)
        self.pairs.append((old, indices))
        part.prim["indices"] = indices
        part.prim.pop("mode", None)  # strips and fans became a triangle list

    def _take(self, prim: dict, rows: np.ndarray) -> None:
        """Give the primitive's streams only the given rows (shared with any other primitive that
        takes the same rows of the same accessor)."""
        digest = hashlib.blake2b(rows.astype(np.int64).tobytes(), digest_size=16).digest()
        for container, semantic, a in stream_slots(prim):
            key = (id(a), digest)
            if key not in self.made:
                self.made[key] = derived(a, a.data[rows])
                self.pairs.append((a, self.made[key]))
            container[semantic] = self.made[key]

    # -- points --

    def _points(self, prim: dict, limit: float, to_scene: float) -> None:
        """Thin a point cloud to the ratio, or as far towards it as the error bound allows."""
        position = prim["attributes"].get("POSITION")
        if not isinstance(position, Accessor) or position.type != "VEC3":
            return
        ids = np.unique(index_values(prim))
        n = len(ids)
        target = min(max(int(n * self.options.simplify_ratio), self.options.simplify_min_triangles, 1), n)
        if target >= n:
            return
        from scipy.spatial import cKDTree

        positions = position.floats()[ids].astype(np.float32)
        color = prim["attributes"].get("COLOR_0")
        colors = color.floats()[ids][:, :3].astype(np.float32) if isinstance(color, Accessor) else None

        def attempt(count: int) -> tuple[np.ndarray, float]:
            keep = np.sort(self.lib.simplify_points(positions, count, colors))
            if not len(keep):
                return keep, float("inf")
            distance, _ = cKDTree(positions[keep]).query(positions, k=1)
            return keep, float(distance.max())

        keep, error = attempt(target)
        if error > limit:  # bisect on the count for the fewest points within the bound
            lo, hi = target, n
            best: tuple[np.ndarray, float] = (np.arange(n), 0.0)
            for _ in range(POINT_SEARCH_STEPS):
                if hi - lo <= 1:
                    break
                mid = (lo + hi) // 2
                candidate = attempt(mid)
                if candidate[1] <= limit:
                    hi, best = mid, candidate
                else:
                    lo = mid
            keep, error = best
        if len(keep) >= n:
            return
        self._take(prim, ids[keep])
        if isinstance(prim.get("indices"), Accessor):
            del prim["indices"]
        self.counts["meshes simplified"] += 1
        self.counts["points before"] += n
        self.counts["points after"] += len(keep)
        self._error("simplify_hausdorff", error * to_scene)
