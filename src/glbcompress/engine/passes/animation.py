"""animation: drop tracks that do nothing, remove keyframes that interpolation reproduces, store
rotations as 16-bit integers.

Exported animation is usually baked: one keyframe per frame for every bone, including bones that
never move and stretches where a bone moves in a straight line. This pass removes that redundancy
while keeping every pose within a stated tolerance:

- A track (channel) that holds its node at the node's rest value for the whole clip is dropped, but
  only when no other animation (KHR_animation_pointer channels included) moves that node
  property: players that switch clips without resetting the pose rely on such a track to put the
  node back (gltfpack uses the same rule). A LINEAR track that is constant at some other value is
  kept, and resampling leaves it its first and last keyframe.
- Resampling (``resample``) removes LINEAR keyframes that interpolating their kept neighbours
  reproduces within ``resample_tolerance``. Rotations are compared by the angle between the
  original and the slerp of the kept neighbours, which is how the glTF spec interpolates them.
  STEP and CUBICSPLINE samplers are never resampled: hand-made stepped and spline animation
  survives untouched. With ``resample`` off only exact repeats (a keyframe equal to both
  neighbours) are removed, which no player can tell apart.
- The tolerance is one number relative to the model's size: a translation error moves a node by at
  most ``resample_tolerance`` times the scene's bounding-box diagonal (measured in world space, so
  a node under a scaled parent gets a tolerance to match), a rotation error is at most
  ``resample_tolerance`` radians (which moves a point no more than tolerance x diagonal), a scale
  error is relative to the track's own scale, and a morph weight error is absolute.
- Tracks whose kept keyframes coincide share one input accessor; tracks of one time grid are
  grouped so that the JSON of extra input accessors does not cost more than the keyframes it saves.
- ``quantize_rotations`` stores rotation keyframes (LINEAR and STEP: their keyframes stay, only the
  number format changes) as normalized 16-bit integers, which core glTF allows: an angle error
  below 0.004 degrees, half the bytes. This is done whether
  or not meshopt runs afterwards (its quaternion filter then re-encodes them, adding nothing
  visible); without meshopt it is the only thing that makes rotations smaller.
  ``quantize_weights`` does the same for morph weights (unsigned when they stay in [0, 1]; weights
  outside [-1, 1] stay float): an error below 0.00001, and with meshopt about 40% smaller than
  float on MorphStressTest. gltfpack stores weights in 8 bits; 16 keeps strong morphs exact.
- Samplers no channel uses any more, and the accessors only they used, are removed. An animation
  left without tracks is removed when it has no name (a warning says so); a named one keeps one
  track so players can still find the clip by its name. Every clip keeps its time span: the
  dropped track that started first or ended last stays where the others do not reach as far.
- KHR_animation_pointer channels are left as they are.

Example::

    animation(doc, AnimationOptions(resample_tolerance=2e-4))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..document import Accessor, Document, Pointer
from ..links import references
from ..pass_options import AnimationOptions
from ..records import dataclass
from ..transforms import parents, walk_scene_nodes
from . import _keyframes as kf

NAME = "animation"

NODE_PATHS = ("translation", "rotation", "scale", "weights")
EXACT = 1e-6
"""The "tiny tolerance" of the at-rest test when resampling is off: float32 noise."""
INPUT_JSON_BYTES = 110
"""What one more input accessor costs in the GLB's JSON (measured on corpus output)."""
KEY_BYTES = {"time": 2.0, "rotation": 4.0, "translation": 6.0, "scale": 6.0, "weights": 2.0}
"""Rough compressed bytes of one keyframe (weights: per morph target), for grouping tracks."""
DEFAULTS = AnimationOptions()


@dataclass(eq=False)
class Track:
    """One sampler with the channels that play it: its keyframes as float64 and its tolerance."""

    sampler: dict
    channels: list[dict]
    path: str
    interpolation: str
    times: np.ndarray
    values: np.ndarray
    """(keys, width); CUBICSPLINE: (keys, 3, width) as in-tangent, value, out-tangent."""
    tolerance: float = 0.0
    """Largest error in the path's units (see _keyframes.error)."""
    keep: np.ndarray | None = None
    """After resampling: which keyframes stay."""

    @property
    def points(self) -> np.ndarray:
        """The keyframe values, without cubic-spline tangents."""
        return self.values[:, 1] if self.interpolation == "CUBICSPLINE" else self.values

    @property
    def norm(self) -> float:
        """Scale errors are relative to the track's largest scale; weight errors are absolute."""
        return max(float(np.abs(self.points).max(initial=0)), 1e-12) if self.path == "scale" else 1.0

    @property
    def resamplable(self) -> bool:
        return (
            self.interpolation == "LINEAR" and len(self.times) > 2 and bool(np.all(np.diff(self.times) > 0))
        )

    def curve(self) -> kf.Curve:
        return kf.Curve(self.path, self.times, self.values, self.tolerance, self.norm)


def animation(doc: Document, options: AnimationOptions = DEFAULTS) -> dict:
    if not doc.animations:
        return {}
    before = _animation_accessors(doc)
    tracks = _tracks(doc, options)
    dropped = _drop_idle_channels(doc, tracks)
    live = [t for t in tracks if t.channels]
    _resample(live, exact=not options.resample)
    pool = _Pool(doc)
    errors = _rebuild(live, pool)
    paths = ("rotation",) * options.quantize_rotations + ("weights",) * options.quantize_weights
    quantized = _quantize(live, paths, pool)
    removed_animations = _remove_empty(doc)
    _forget_unused(doc, before)
    changes: dict[str, Any] = {}
    if dropped:
        changes["tracks dropped"] = dropped
    if removed_animations:
        changes["animations removed"] = removed_animations
        changes["warnings"] = [f"Removed {removed_animations} unnamed animation(s) that moved nothing."]
    removed = sum(a.count for a in before) - sum(a.count for a in _animation_accessors(doc))
    if removed > 0:
        changes["keyframe values removed"] = removed
    for path, n in quantized.items():
        changes[f"{path} tracks quantized"] = n
    if errors and options.resample:
        changes["fidelity"] = {"animation error": float(f"{max(errors) * options.resample_tolerance:.3g}")}
    return changes


# -- reading tracks -----------------------------------------------------------------------------


def _tracks(doc: Document, options: AnimationOptions) -> list[Track]:
    """Every sampler that plays node properties, as a Track with its tolerance; other samplers
    (KHR_animation_pointer, malformed or oddly shared ones) are left alone."""
    world = {id(node): m for node, m in walk_scene_nodes(doc)}
    size = _scene_size(doc, world)
    parent_scale = _parent_world_scales(doc, world)
    tol = options.resample_tolerance if options.resample else 0.0
    out: list[Track] = []
    for anim in doc.animations:
        by_sampler: dict[int, list[dict]] = {}
        for channel in anim.get("channels", []):
            target = channel.get("target", {})
            if target.get("path") in NODE_PATHS and isinstance(target.get("node"), dict):
                by_sampler.setdefault(id(channel.get("sampler")), []).append(channel)
        for sampler in anim.get("samplers", []):
            channels = by_sampler.get(id(sampler), [])
            paths = {c["target"]["path"] for c in channels}
            track = _track(sampler, channels, paths.pop()) if len(paths) == 1 else None
            if track is None:
                continue
            track.tolerance = tol
            if track.path == "translation":
                track.tolerance *= size / max(
                    parent_scale.get(id(c["target"]["node"]), 1.0) for c in channels
                )
            out.append(track)
    return out


def _track(sampler: dict, channels: list[dict], path: str) -> Track | None:
    inp, outp = sampler.get("input"), sampler.get("output")
    if not isinstance(inp, Accessor) or not isinstance(outp, Accessor) or inp.data.dtype != np.float32:
        return None
    interpolation = sampler.get("interpolation", "LINEAR")
    per_key = 3 if interpolation == "CUBICSPLINE" else 1
    n = inp.count
    values = outp.floats().astype(np.float64)
    if (
        n == 0
        or values.size % (n * per_key)
        or (path != "weights" and values.shape[1] != (4 if path == "rotation" else 3))
    ):
        return None
    width = values.size // (n * per_key)
    shape = (n, 3, width) if per_key == 3 else (n, width)
    return Track(
        sampler, channels, path, interpolation, inp.data[:, 0].astype(np.float64), values.reshape(shape)
    )


def _parent_world_scales(doc: Document, world: dict[int, np.ndarray]) -> dict[int, float]:
    """id(node) -> the largest axis scale of its parent's world transform at rest (1 for roots and
    under degenerate parents, whose scale is likely animated up from zero)."""
    parent_of = parents(doc)
    out: dict[int, float] = {}
    for node in doc.nodes:
        m = world.get(id(parent_of.get(id(node))))
        scale = float(np.linalg.norm(m[:3, :3], axis=0).max()) if m is not None else 1.0
        out[id(node)] = scale if scale > 1e-6 else 1.0
    return out


def _scene_size(doc: Document, world: dict[int, np.ndarray]) -> float:
    """The diagonal of the scene's bounding box at rest (skinned meshes posed by their joints), or
    1 when the scene has no geometry."""
    corners: list[np.ndarray] = []
    for node in doc.nodes:
        box = _mesh_corners(node.get("mesh")) if id(node) in world else None
        if box is not None:
            for m in _skin_matrices(node, world) or [world[id(node)]]:
                corners.append(box @ m[:3, :3].T + m[:3, 3])
    if not corners:
        return 1.0
    points = np.concatenate(corners)
    return float(np.linalg.norm(points.max(0) - points.min(0))) or 1.0


def _mesh_corners(mesh: Any) -> np.ndarray | None:
    """The eight corners of a mesh's POSITION bounds."""
    if not isinstance(mesh, dict):
        return None
    positions = [prim.get("attributes", {}).get("POSITION") for prim in mesh.get("primitives", [])]
    boxes = [p.floats() for p in positions if isinstance(p, Accessor) and p.count and p.data.shape[1] == 3]
    if not boxes:
        return None
    lo = np.min([b.min(0) for b in boxes], axis=0).astype(np.float64)
    hi = np.max([b.max(0) for b in boxes], axis=0).astype(np.float64)
    pick = np.array([[i >> k & 1 for k in range(3)] for i in range(8)], bool)
    return np.where(pick, hi, lo)


def _skin_matrices(node: dict, world: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Joint world matrix x inverse bind matrix for each joint of the node's skin."""
    skin = node.get("skin")
    if not isinstance(skin, dict):
        return []
    joints = skin.get("joints", [])
    ibm = skin.get("inverseBindMatrices")
    if isinstance(ibm, Accessor) and ibm.count == len(joints) and ibm.type == "MAT4":
        inverse = ibm.floats().astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
    else:
        inverse = np.tile(np.eye(4), (len(joints), 1, 1))
    return [world[id(j)] @ inverse[i] for i, j in enumerate(joints) if id(j) in world]


# -- tracks that do nothing ---------------------------------------------------------------------


def _rest_value(node: dict, path: str, width: int) -> np.ndarray | None:
    """The value a node property has when no animation plays, or None if unknown (matrix nodes)."""
    if path == "weights":
        mesh = node.get("mesh")
        weights = node.get("weights", mesh.get("weights") if isinstance(mesh, dict) else None)
        value = np.zeros(width) if weights is None else np.asarray(weights, np.float64)
    elif "matrix" in node:
        return None
    else:
        default = {"translation": (0, 0, 0), "rotation": (0, 0, 0, 1), "scale": (1, 1, 1)}[path]
        value = np.asarray(node.get(path, default), np.float64)
    return value if value.shape == (width,) else None


def _idle_channels(tracks: list[Track]) -> set[int]:
    """ids of the channels whose track holds their node at its rest value throughout: every
    keyframe within tolerance of it (float32 noise when resampling is off), and cubic-spline
    tangents zero. The errors of all tracks of one path are measured in one go."""
    cases: dict[tuple[str, int], list[tuple[Track, dict, np.ndarray]]] = {}
    for t in tracks:
        if t.interpolation == "CUBICSPLINE" and np.any(t.values[:, [0, 2]]):
            continue
        width = t.points.shape[1]
        for c in t.channels:
            rest = _rest_value(c["target"]["node"], t.path, width)
            if rest is not None:
                cases.setdefault((t.path, width), []).append((t, c, rest))
    idle: set[int] = set()
    for (path, _width), found in cases.items():
        counts = [len(t.times) for t, _c, _rest in found]
        rows = np.cumsum(counts)[:-1]
        points = np.concatenate([t.points for t, _c, _rest in found])
        rest = np.repeat([r for _t, _c, r in found], counts, axis=0)
        norm = np.repeat([t.norm for t, _c, _rest in found], counts)
        bound = np.repeat([max(t.tolerance, EXACT) for t, _c, _rest in found], counts)
        within = kf.error(path, points, rest, norm) <= bound
        idle.update(
            id(c) for (_t, c, _rest), ok in zip(found, np.split(within, rows), strict=True) if ok.all()
        )
    return idle


def _moved(doc: Document, tracks: list[Track], idle: set[int]) -> set[tuple[int, str]]:
    """(id(node), path) of every node property some channel other than the idle ones changes,
    KHR_animation_pointer channels included."""
    out = {(id(c["target"]["node"]), t.path) for t in tracks for c in t.channels if id(c) not in idle}
    known = {id(c) for t in tracks for c in t.channels}
    for anim in doc.animations:
        for channel in anim.get("channels", []):
            target = channel.get("target", {})
            pointer = target.get("extensions", {}).get("KHR_animation_pointer", {}).get("pointer")
            if id(channel) in known:
                continue
            if isinstance(pointer, Pointer) and pointer.collection == "nodes":
                out.add((id(pointer.target), pointer.rest.strip("/").split("/")[0]))
            elif isinstance(target.get("node"), dict):
                out.add((id(target["node"]), str(target.get("path"))))
    return out


def _drop_idle_channels(doc: Document, tracks: list[Track]) -> int:
    """Remove channels that hold a node at rest where no other channel moves that node property,
    keeping those a clip needs to keep its duration or (if named) to exist. Returns how many went."""
    idle = _idle_channels(tracks)
    moved = _moved(doc, tracks, idle)
    drop = {
        id(c)
        for t in tracks
        for c in t.channels
        if id(c) in idle and (id(c["target"]["node"]), t.path) not in moved
    }
    dropped = 0
    for anim in doc.animations:
        channels = anim.get("channels", [])
        kept = [c for c in channels if id(c) not in drop]
        if kept or anim.get("name"):
            kept = _keep_duration(channels, kept)
        dropped += len(channels) - len(kept)
        anim["channels"] = kept
    remaining = {id(c) for anim in doc.animations for c in anim["channels"]}
    for t in tracks:
        t.channels = [c for c in t.channels if id(c) in remaining]
    return dropped


def _keep_duration(channels: list[dict], kept: list[dict]) -> list[dict]:
    """kept plus, where needed, the dropped channels that start first and end last, so the clip
    keeps its time span (players loop and scrub over it). Document order is kept."""
    if not channels:
        return kept
    start, end = _time_span(channels)
    have = _time_span(kept) if kept else (np.inf, -np.inf)
    wanted = {id(c) for c in kept}
    if have[0] > start:
        wanted.add(id(next(c for c in channels if _time_span([c])[0] == start)))
    if have[1] < end:
        wanted.add(id(next(c for c in channels if _time_span([c])[1] == end)))
    return [c for c in channels if id(c) in wanted]


def _time_span(channels: list[dict]) -> tuple[float, float]:
    """First and last keyframe time over the channels."""
    spans = [
        (float(inp.data[0, 0]), float(inp.data[-1, 0]))
        for c in channels
        if isinstance(inp := c.get("sampler", {}).get("input"), Accessor) and inp.count
    ]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else (0.0, 0.0)


# -- which tracks share keyframes ---------------------------------------------------------------


def _grids(tracks: list[Track]) -> list[list[Track]]:
    """Resamplable tracks grouped by their time grid (equal input values), in document order."""
    grids: dict[bytes, list[Track]] = {}
    for t in tracks:
        if t.resamplable:
            grids.setdefault(t.times.tobytes(), []).append(t)
    return list(grids.values())


def _resample(tracks: list[Track], exact: bool) -> None:
    """Set each resamplable track's kept keyframes: tracks are reduced each on its own, grouped
    (see _groups), and each group reduced to one set of keyframes. Every step handles all tracks
    at once: per grid, numpy's per-call overhead would cost more than the arithmetic."""
    grids = _grids(tracks)
    alone = iter(kf.reduce([t.curve() for grid in grids for t in grid], joint=False, exact=exact))
    groups = [group for grid in grids for group in _groups(grid, [next(alone) for _ in grid])]
    shared = kf.reduce_shared([[t.curve() for t in group] for group in groups], exact=exact)
    for group, keep in zip(groups, shared, strict=True):
        for t in group:
            t.keep = keep


def _groups(grid: list[Track], alone: list[np.ndarray]) -> list[list[Track]]:
    """Split the tracks of one time grid into groups that will share one reduced set of keyframes
    (and so one input accessor); alone: which keyframes each track keeps when reduced on its own.

    Every track alone keeps fewest keyframes, but each distinct set of kept times costs an input
    accessor whose JSON can outweigh the keyframes saved. Starting from one group per distinct
    single-track result, the two groups whose merge saves the most estimated bytes are merged
    until no merge saves any: a group costs (its kept keyframes) x (a time value + every member's
    keyframe bytes) + one accessor's JSON, a merged group's keyframes estimated by the union."""
    by_mask: dict[bytes, tuple[np.ndarray, list[Track]]] = {}
    for t, keep in zip(grid, alone, strict=True):
        by_mask.setdefault(keep.tobytes(), (keep, []))[1].append(t)
    mask = np.array([keep for keep, _ in by_mask.values()], dtype=np.float64)
    members = [group for _, group in by_mask.values()]
    weight = np.array([sum(_key_bytes(t) for t in g) for g in members])
    alive = np.ones(len(members), bool)
    while alive.sum() > 1:
        kept = mask.sum(1)
        union = kept[:, None] + kept[None, :] - mask @ mask.T
        cost = kept * (KEY_BYTES["time"] + weight) + INPUT_JSON_BYTES
        merged = union * (KEY_BYTES["time"] + weight[:, None] + weight[None, :]) + INPUT_JSON_BYTES
        gain = cost[:, None] + cost[None, :] - merged
        gain[~alive, :] = gain[:, ~alive] = -np.inf
        np.fill_diagonal(gain, -np.inf)
        a, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if gain[a, b] <= 0:
            break
        mask[a] = np.maximum(mask[a], mask[b])
        weight[a] += weight[b]
        members[a] += members[b]
        alive[b] = False
        mask[b] = 0
    return [members[i] for i in np.flatnonzero(alive)]


def _key_bytes(track: Track) -> float:
    return KEY_BYTES[track.path] * (track.points.shape[1] if track.path == "weights" else 1)


# -- new accessors ------------------------------------------------------------------------------


class _Pool:
    """Accessors the pass creates, one per distinct content and use (inputs need min/max, outputs
    must not be shared with an input); existing animation accessors are reused where equal."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.items: dict[tuple, Accessor] = {}
        for anim in doc.animations:
            for sampler in anim.get("samplers", []):
                for use in ("input", "output"):
                    if isinstance(a := sampler.get(use), Accessor):
                        self.items.setdefault(self._key(use, a.data, a.type, a.normalized), a)

    @staticmethod
    def _key(use: str, data: np.ndarray, type_: str, normalized: bool) -> tuple:
        return (use, type_, normalized, data.dtype.str, data.shape, data.tobytes())

    def get(self, use: str, data: np.ndarray, like: Accessor, normalized: bool | None = None) -> Accessor:
        normalized = like.normalized if normalized is None else normalized
        key = self._key(use, data, like.type, normalized)
        if key not in self.items:
            self.items[key] = Accessor(np.ascontiguousarray(data), like.type, normalized, dict(like.props))
            self.doc.accessors.append(self.items[key])
        return self.items[key]


def _rebuild(tracks: list[Track], pool: _Pool) -> list[float]:
    """Point every track whose keyframes changed at accessors holding only the kept ones. Returns
    the largest remaining error of each such track relative to its tolerance."""
    changed = [t for t in tracks if t.keep is not None and not t.keep.all()]
    for t in changed:
        inp, out = t.sampler["input"], t.sampler["output"]
        rows = out.data.reshape(len(t.times), -1)[t.keep].reshape(-1, out.data.shape[1])
        t.sampler["input"] = pool.get("input", inp.data[t.keep], inp)
        t.sampler["output"] = pool.get("output", rows, out)
    return kf.max_errors([t.curve() for t in changed], [t.keep for t in changed])


def _quantize(tracks: list[Track], paths: tuple[str, ...], pool: _Pool) -> dict[str, int]:
    """Store float rotation (LINEAR, STEP) and morph weight outputs as normalized 16-bit integers,
    rounded as glTF decodes them: unsigned where all values lie in [0, 1], signed in [-1, 1]; other
    outputs stay float. Returns how many tracks of each path changed."""
    counts: dict[str, int] = {}
    for t in tracks:
        out = t.sampler["output"]
        if t.path not in paths or out.data.dtype != np.float32:
            continue
        if t.path == "rotation" and t.interpolation == "CUBICSPLINE":
            continue  # tangents are not unit quaternions
        rows = _to_int16(out.data)
        if rows is not None:
            t.sampler["output"] = pool.get("output", rows, out, normalized=True)
            counts[t.path] = counts.get(t.path, 0) + 1
    return counts


def _to_int16(values: np.ndarray) -> np.ndarray | None:
    v = values.astype(np.float64)
    lo, hi = float(v.min(initial=0)), float(v.max(initial=0))
    if lo >= 0 and hi <= 1:
        return np.round(v * 65535).astype(np.uint16)
    if lo >= -1.000001 and hi <= 1.000001:
        return np.round(np.clip(v, -1, 1) * 32767).astype(np.int16)
    return None


# -- clean-up -----------------------------------------------------------------------------------


def _remove_empty(doc: Document) -> int:
    """Drop samplers no channel plays and animations without channels; leave out the default
    LINEAR interpolation (24 bytes of JSON per sampler). Returns how many animations went."""
    kept = []
    for anim in doc.animations:
        channels = anim.get("channels", [])
        if not channels:
            continue
        used = {id(c.get("sampler")) for c in channels}
        anim["samplers"] = [s for s in anim.get("samplers", []) if id(s) in used]
        for sampler in anim["samplers"]:
            if sampler.get("interpolation") == "LINEAR":
                del sampler["interpolation"]
        kept.append(anim)
    removed = len(doc.animations) - len(kept)
    doc.animations[:] = kept
    return removed


def _animation_accessors(doc: Document) -> list[Accessor]:
    """Input and output accessors of every sampler, each once, in document order."""
    seen: dict[int, Accessor] = {}
    for anim in doc.animations:
        for sampler in anim.get("samplers", []):
            for key in ("input", "output"):
                if isinstance(a := sampler.get(key), Accessor):
                    seen.setdefault(id(a), a)
    return list(seen.values())


def _forget_unused(doc: Document, candidates: list[Accessor]) -> None:
    """Remove from doc.accessors the candidates nothing refers to any more."""
    used = {id(v) for _c, _k, v in references(doc)}
    gone = {id(a) for a in candidates if id(a) not in used}
    if gone:
        doc.accessors[:] = [a for a in doc.accessors if id(a) not in gone]
