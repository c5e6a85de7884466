"""Keyframe reduction for LINEAR animation curves: which keyframes interpolating the others
reproduces within a tolerance. Plain numpy, no glTF; the animation pass decides what a curve is.

A curve is a strictly increasing time grid with one value row per keyframe. Rotations interpolate
by slerp along the shorter arc (as glTF defines LINEAR rotations) and compare by angle, translations
by lerp and Euclidean distance, everything else by lerp and the largest component difference
divided by the curve's ``norm``.

Reduction works in rounds of parallel removal rather than a loop over keyframes: each round
measures, for every kept keyframe, the largest error its removal would cause over all original
keyframes between its kept neighbours, then removes removable keyframes no two of which are
neighbours (so each measured error stays true). Curves of one path are laid end to end with their
first and last keyframes pinned, so one round handles them all at once.
"""

from __future__ import annotations

import numpy as np

from ..records import dataclass

MAX_ROUNDS = 64
"""Each round removes at least half of every removable run, so smooth curves need about log2(n)."""


@dataclass(eq=False)
class Curve:
    path: str
    """"rotation", "translation", or anything else (compared component-wise)."""
    times: np.ndarray
    """(n,) float64, strictly increasing."""
    values: np.ndarray
    """(n, width) float64."""
    tolerance: float
    """Largest error allowed, in the units of `error`."""
    norm: float = 1.0
    """Component differences (paths other than rotation and translation) are divided by this."""


def error(path: str, original: np.ndarray, approx: np.ndarray, norm: np.ndarray | float = 1.0) -> np.ndarray:
    """Per-row error of approx (rows, or one row for all) against original in the path's units."""
    approx = np.broadcast_to(approx, original.shape)
    if path == "rotation":
        return angle(original, approx)
    if path == "translation":
        return _length(original - approx)
    return np.abs(original - approx).max(axis=-1) / norm


def _length(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", v, v))


def unit(q: np.ndarray) -> np.ndarray:
    length = _length(q)[:, None]
    return q / np.where(length > 0, length, 1.0)


def _half_angle(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """b turned to a's hemisphere, and the angle between the unit quaternions a and b (half the
    rotation angle), computed with atan2 so that small angles stay accurate."""
    b = np.where(np.einsum("ij,ij->i", a, b)[:, None] < 0, -b, b)
    return b, 2 * np.arctan2(_length(a - b), _length(a + b))


def angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (radians) between quaternions of either sign."""
    return 2 * _half_angle(unit(a), unit(b))[1]


def slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation of quaternion rows along the shorter arc, u in [0, 1] per row."""
    a = unit(a)
    return _slerp_on(a, *_half_angle(a, unit(b)), u)


def _slerp_on(a: np.ndarray, b: np.ndarray, half: np.ndarray, u: np.ndarray) -> np.ndarray:
    """slerp from unit quaternions a to b (on a's hemisphere), half the angle between them apart."""
    half, u = half[:, None], u[:, None]
    small = half < 1e-7
    sin = np.sin(np.where(small, 1.0, half))
    wa = np.where(small, 1 - u, np.sin((1 - u) * half) / sin)
    wb = np.where(small, u, np.sin(u * half) / sin)
    return unit(wa * a + wb * b)


def interpolate(
    path: str, times: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """Values at keyframes `at` interpolated between keyframes `left` and `right` (index arrays)."""
    u = (times[at] - times[left]) / (times[right] - times[left])
    a, b = values[left], values[right]
    if path == "rotation":
        return slerp(a, b, u)
    return a + (b - a) * u[:, None]


def reduce(curves: list[Curve], joint: bool, exact: bool = False) -> list[np.ndarray]:
    """Which keyframes of each curve must stay. joint: the curves share one time grid and get one
    common answer (every curve within its tolerance). exact: only remove keyframes equal to both
    neighbours, which no interpolation can tell apart."""
    if not curves:
        return []
    if joint:
        return reduce_shared([curves], exact) * len(curves)
    if exact:
        return [_exact_repeats(c) for c in curves]
    keeps: dict[int, np.ndarray] = {}
    for batch in _batches(curves):
        keeps.update(zip(map(id, batch.curves), batch.split(_reduce_batch(batch)), strict=True))
    return [keeps[id(c)] for c in curves]


def reduce_shared(groups: list[list[Curve]], exact: bool = False) -> list[np.ndarray]:
    """For each group of curves that share one time grid, the keyframes that must stay for every
    curve of the group to stay within its tolerance. All groups are reduced together, in the same
    few numpy calls per round: a rig has hundreds of tracks in dozens of groups."""
    if exact:
        return [np.logical_or.reduce([_exact_repeats(c) for c in group]) for group in groups]
    return _reduce_shared(groups) if groups else []


def _batches(curves: list[Curve]) -> list[_Batch]:
    """The curves in one batch per kind (path and width: morph weights come in any number), kinds
    in order of first appearance."""
    kinds: dict[tuple[str, int], list[Curve]] = {}
    for c in curves:
        kinds.setdefault((c.path, c.values.shape[1]), []).append(c)
    return [_Batch(same) for same in kinds.values()]


def max_error(curve: Curve, keep: np.ndarray) -> float:
    """The largest error of the reduced curve over its original keyframes, relative to its tolerance."""
    kept = np.flatnonzero(keep)
    j = np.flatnonzero(~keep)
    if not len(j) or curve.tolerance <= 0:
        return 0.0
    s = np.searchsorted(kept, j) - 1
    approx = interpolate(curve.path, curve.times, curve.values, kept[s], kept[s + 1], j)
    return float(error(curve.path, curve.values[j], approx, curve.norm).max()) / curve.tolerance


def max_errors(curves: list[Curve], keeps: list[np.ndarray]) -> list[float]:
    """max_error of each curve with its keep mask, measured for all curves of a kind at once."""
    keep_of = {id(c): keep for c, keep in zip(curves, keeps, strict=True)}
    found: dict[int, float] = {}
    for batch in _batches(curves):
        keep = np.concatenate([keep_of[id(c)] for c in batch.curves])
        kept, j = np.flatnonzero(keep), np.flatnonzero(~keep)
        s = np.searchsorted(kept, j) - 1  # every curve keeps its ends: neighbours are its own
        approx = interpolate(batch.path, batch.times, batch.values, kept[s], kept[s + 1], j)
        errors = error(batch.path, batch.values[j], approx, batch.norm[j])
        largest = np.full(len(batch.curves), -np.inf)
        np.maximum.at(largest, np.searchsorted(batch.ends, j, side="right"), errors)
        for c, value in zip(batch.curves, largest, strict=True):
            found[id(c)] = float(value) / c.tolerance if value > -np.inf and c.tolerance > 0 else 0.0
    return [found[id(c)] for c in curves]


def _exact_repeats(curve: Curve) -> np.ndarray:
    same = np.all(curve.values[1:] == curve.values[:-1], axis=1)
    keep = np.ones(len(curve.times), bool)
    keep[1:-1] = ~(same[:-1] & same[1:])
    return keep


class _Batch:
    """Curves of one path laid end to end; their first and last keyframes are pinned."""

    def __init__(self, curves: list[Curve]):
        self.curves = curves
        self.path = curves[0].path
        sizes = [len(c.times) for c in curves]
        self.ends = np.cumsum(sizes)
        self.times = np.concatenate([c.times for c in curves])
        self.values = np.concatenate([c.values for c in curves])
        self.scale = np.repeat([1.0 / max(c.tolerance, 1e-300) for c in curves], sizes)
        self.norm = np.repeat([c.norm for c in curves], sizes)
        self.pinned = np.zeros(len(self.times), bool)
        self.pinned[self.ends - 1] = True
        self.pinned[self.ends - np.array(sizes)] = True
        self.units = unit(self.values) if self.path == "rotation" else self.values

    def split(self, mask: np.ndarray) -> list[np.ndarray]:
        return np.split(mask, self.ends[:-1])

    def removal_cost(self, kept: np.ndarray, which: np.ndarray) -> np.ndarray:
        """For the kept keyframes at positions `which` in `kept` (none of them pinned), the largest
        error, relative to its curve's tolerance, over the original keyframes between its kept
        neighbours if it were removed."""
        left, right = kept[which - 1], kept[which + 1]
        n = right - left - 1  # the original keyframes strictly between the neighbours
        owner = np.repeat(np.arange(len(which)), n)
        at = np.repeat(left + 1 - (np.cumsum(n) - n), n) + np.arange(n.sum())
        approx = self._interpolate(left, right, owner, at)
        if self.path == "rotation":  # error(), with the originals' unit quaternions from __init__
            errors = 2 * _half_angle(self.units[at], unit(approx))[1]
        else:
            errors = error(self.path, self.values[at], approx, self.norm[at])
        cost = np.zeros(len(which))
        np.maximum.at(cost, owner, errors * self.scale[at])
        return cost

    def _interpolate(
        self, left: np.ndarray, right: np.ndarray, owner: np.ndarray, at: np.ndarray
    ) -> np.ndarray:
        """interpolate() at the original keyframes `at` between keyframes left[owner] and
        right[owner]. A rotation's arc between two keyframes is worked out once, not once per
        original keyframe it spans (the same numbers, for less work)."""
        if self.path != "rotation":
            return interpolate(self.path, self.times, self.values, left[owner], right[owner], at)
        u = (self.times[at] - self.times[left[owner]]) / (self.times[right[owner]] - self.times[left[owner]])
        a = self.units[left]
        b, half = _half_angle(a, self.units[right])
        return _slerp_on(a[owner], b[owner], half[owner], u)


def _reduce_batch(batch: _Batch) -> np.ndarray:
    """Reduce every curve of a batch on its own."""
    keep = np.ones(len(batch.times), bool)
    kept = np.arange(len(keep))
    cost = np.zeros(len(kept))
    which = np.flatnonzero(~batch.pinned)
    for _round in range(MAX_ROUNDS):
        cost[which] = batch.removal_cost(kept, which)
        chosen = _every_other((cost <= 1.0) & ~batch.pinned[kept])
        if not chosen.any():
            break
        keep[kept[chosen]] = False
        kept, cost, which = _without(kept, cost, chosen, batch.pinned)
    return keep


def _without(
    kept: np.ndarray, cost: np.ndarray, chosen: np.ndarray, pinned: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kept and cost without the chosen keyframes, and the positions whose cost must be measured
    again: the free keyframes next to a removed one, which now have a new neighbour. Every other
    keyframe keeps its neighbours and so its cost, which makes later rounds cheap."""
    near = np.zeros(len(kept), bool)
    near[1:] |= chosen[:-1]
    near[:-1] |= chosen[1:]
    stay = ~chosen
    kept, cost, near = kept[stay], cost[stay], near[stay]
    return kept, cost, np.flatnonzero(near & ~pinned[kept])


def _reduce_shared(groups: list[list[Curve]]) -> list[np.ndarray]:
    """reduce_shared: the groups' time grids laid end to end, each one's first and last keyframe
    pinned; a keyframe's removal cost is the largest over its group's curves."""
    sizes = np.array([len(group[0].times) for group in groups])
    starts = np.cumsum(sizes) - sizes
    keep = np.ones(int(sizes.sum()), bool)
    pinned = np.zeros(len(keep), bool)
    pinned[starts] = pinned[starts + sizes - 1] = True
    group_of = {id(c): g for g, group in enumerate(groups) for c in group}
    batches = _batches([c for group in groups for c in group])
    owners = [np.array([group_of[id(c)] for c in batch.curves]) for batch in batches]
    kept = np.arange(len(keep))
    cost = np.zeros(len(kept))
    which = np.flatnonzero(~pinned)
    for _round in range(MAX_ROUNDS):
        cost[which] = _group_cost(batches, owners, starts, sizes, kept, which)
        chosen = _every_other((cost <= 1.0) & ~pinned[kept])
        if not chosen.any():
            break
        keep[kept[chosen]] = False
        kept, cost, which = _without(kept, cost, chosen, pinned)
    return np.split(keep, starts[1:])


def _group_cost(
    batches: list[_Batch],
    owners: list[np.ndarray],
    starts: np.ndarray,
    sizes: np.ndarray,
    kept: np.ndarray,
    which: np.ndarray,
) -> np.ndarray:
    """For the kept keyframes at positions `which` (none pinned) of the groups laid end to end,
    the largest removal cost over the curves of their group. owners: each batch curve's group (a
    batch lists its curves group by group)."""
    first = np.searchsorted(kept, starts)
    count = np.searchsorted(kept, starts + sizes) - first
    group = np.searchsorted(starts, kept[which], side="right") - 1
    cost = np.zeros(len(which))
    for batch, owner in zip(batches, owners, strict=True):
        # Each curve keeps its group's keyframes: laid out curve after curve, as the batch is.
        n = count[owner]
        block = np.cumsum(n) - n
        at = np.repeat(first[owner] - block, n) + np.arange(n.sum())
        curve_kept = kept[at] + np.repeat(batch.ends - sizes[owner] - starts[owner], n)
        # Each position of `which` once for every curve of its group in this batch.
        lo = np.searchsorted(owner, group)
        m = np.searchsorted(owner, group, side="right") - lo
        curve = np.repeat(lo - (np.cumsum(m) - m), m) + np.arange(m.sum())
        slot = np.repeat(np.arange(len(which)), m)
        position = block[curve] + which[slot] - first[group[slot]]
        np.maximum.at(cost, slot, batch.removal_cost(curve_kept, position))
    return cost


def _every_other(mask: np.ndarray) -> np.ndarray:
    """The True entries of mask at even offsets within each run of consecutive Trues, so that no
    two chosen entries are neighbours."""
    idx = np.flatnonzero(mask)
    out = np.zeros_like(mask)
    if not len(idx):
        return out
    starts = np.ones(len(idx), bool)
    starts[1:] = np.diff(idx) > 1
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(idx)), 0))
    out[idx[(np.arange(len(idx)) - run_start) % 2 == 0]] = True
    return out
