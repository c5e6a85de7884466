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

from dataclasses import dataclass

import numpy as np

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
    b, half = _half_angle(a, unit(b))
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
    if exact:
        masks = [_exact_repeats(c) for c in curves]
        return [np.logical_or.reduce(masks)] * len(curves) if joint else masks
    batches = [
        _Batch([c for c in curves if c.path == path]) for path in dict.fromkeys(c.path for c in curves)
    ]
    if joint:
        return _reduce_joint(batches, curves)
    keeps: dict[int, np.ndarray] = {}
    for batch in batches:
        keeps.update(zip(map(id, batch.curves), batch.split(_reduce_batch(batch)), strict=True))
    return [keeps[id(c)] for c in curves]


def max_error(curve: Curve, keep: np.ndarray) -> float:
    """The largest error of the reduced curve over its original keyframes, relative to its tolerance."""
    kept = np.flatnonzero(keep)
    j = np.flatnonzero(~keep)
    if not len(j) or curve.tolerance <= 0:
        return 0.0
    s = np.searchsorted(kept, j) - 1
    approx = interpolate(curve.path, curve.times, curve.values, kept[s], kept[s + 1], j)
    return float(error(curve.path, curve.values[j], approx, curve.norm).max()) / curve.tolerance


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

    def split(self, mask: np.ndarray) -> list[np.ndarray]:
        return np.split(mask, self.ends[:-1])

    def removal_cost(self, kept: np.ndarray) -> np.ndarray:
        """For each kept keyframe (by position in `kept`), the largest error, relative to its
        curve's tolerance, over the original keyframes between its kept neighbours if it were
        removed; 0 for pinned keyframes (never removed)."""
        j = np.arange(len(self.times))
        s = np.searchsorted(kept, j, side="right") - 1  # the last kept keyframe at or before j
        free = ~self.pinned[kept]
        is_kept = kept[s] == j
        # j is affected by removing kept[s] (j itself or after it) and kept[s + 1] (j strictly before it).
        first = free[s]
        second = ~is_kept & free[np.minimum(s + 1, len(kept) - 1)]
        cand = np.concatenate([s[first], s[second] + 1])
        at = np.concatenate([j[first], j[second]])
        approx = interpolate(self.path, self.times, self.values, kept[cand - 1], kept[cand + 1], at)
        errors = error(self.path, self.values[at], approx, self.norm[at]) * self.scale[at]
        cost = np.zeros(len(kept))
        np.maximum.at(cost, cand, errors)
        return cost


def _reduce_batch(batch: _Batch) -> np.ndarray:
    """Reduce every curve of a batch on its own."""
    keep = np.ones(len(batch.times), bool)
    for _round in range(MAX_ROUNDS):
        kept = np.flatnonzero(keep)
        removable = (batch.removal_cost(kept) <= 1.0) & ~batch.pinned[kept]
        chosen = _every_other(removable)
        if not chosen.any():
            break
        keep[kept[chosen]] = False
    return keep


def _reduce_joint(batches: list[_Batch], curves: list[Curve]) -> list[np.ndarray]:
    """Reduce curves sharing one time grid to one common set of keyframes."""
    n = len(curves[0].times)
    keep = np.ones(n, bool)
    pinned = np.zeros(n, bool)
    pinned[[0, -1]] = True
    for _round in range(MAX_ROUNDS):
        kept = np.flatnonzero(keep)
        cost = np.zeros(len(kept))
        for batch in batches:
            offsets = np.repeat(batch.ends - n, len(kept))
            per_curve = batch.removal_cost(np.tile(kept, len(batch.curves)) + offsets)
            cost = np.maximum(cost, per_curve.reshape(len(batch.curves), len(kept)).max(axis=0))
        chosen = _every_other((cost <= 1.0) & ~pinned[kept])
        if not chosen.any():
            break
        keep[kept[chosen]] = False
    return [keep] * len(curves)


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
