"""How far apart two triangle surfaces are: a sampled, vectorised Hausdorff distance.

Passes that move or remove geometry (simplify) report their error as the largest distance between
the original and the new surface. Points are sampled on each surface (its vertices and triangle
centroids, thinned to a bounded count) and measured against the other surface exactly: the nearest
triangles by centroid (scipy's cKDTree) are candidates and the closest point on each is computed in
closed form. Missing the truly nearest triangle can only overestimate, so the figure is an upper
bound of the sampled points' distances.

>>> hausdorff(Surface(positions, triangles), Surface(new_positions, new_triangles))
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

MAX_SAMPLES = 25_000
"""Points measured per direction; larger surfaces are thinned with a fixed stride (deterministic)."""
CANDIDATES = 6
"""Nearest anchor points (each on a triangle) whose triangles a point is measured against."""
ANCHORS_PER_TRIANGLE = 2
MAX_ANCHORS_PER_TRIANGLE = 4096
REFINE_BATCH = 16
REFINE_ROUNDS = 8
"""The farthest points are re-measured exactly, REFINE_BATCH at a time, for at most this many rounds."""


def closest_points(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The point of each triangle (a, b, c) closest to p; all arrays (n, 3) float64. Follows the
    Voronoi-region case analysis of Ericson, Real-Time Collision Detection, 5.1.5."""
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        out = a + ab * v[:, None] + ac * w[:, None]  # inside the face
        # Later regions override earlier ones: Ericson's tests in reverse order (his first match wins).
        t_bc = np.clip((d4 - d3) / ((d4 - d3) + (d5 - d6)), 0, 1)
        on_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
        out = np.where(on_bc[:, None], b + (c - b) * t_bc[:, None], out)
        t_ac = np.clip(d2 / (d2 - d6), 0, 1)
        on_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        out = np.where(on_ac[:, None], a + ac * t_ac[:, None], out)
        out = np.where(((d6 >= 0) & (d5 <= d6))[:, None], c, out)
        t_ab = np.clip(d1 / (d1 - d3), 0, 1)
        on_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        out = np.where(on_ab[:, None], a + ab * t_ab[:, None], out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[:, None], b, out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[:, None], a, out)
    # Degenerate triangles (no area) fall back to their nearest corner.
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        corners = np.stack([a[bad], b[bad], c[bad]], 1)
        nearest = np.linalg.norm(corners - p[bad, None], axis=2).argmin(1)
        out[bad] = corners[np.arange(len(corners)), nearest]
    return out


class Surface:
    """A triangle surface, with the search structures built once and kept for every question."""

    def __init__(self, positions: np.ndarray, triangles: np.ndarray):
        self.positions = np.asarray(positions, np.float64)
        self.triangles = np.asarray(triangles, np.int64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self.triangles)

    @cached_property
    def corners(self) -> np.ndarray:
        return self.positions[self.triangles]  # (m, 3, 3)

    @cached_property
    def _search(self) -> tuple[object, np.ndarray]:
        from scipy.spatial import cKDTree

        anchors, owner = _anchors(self.corners)
        return cKDTree(anchors), owner

    @cached_property
    def _spheres(self) -> tuple[np.ndarray, np.ndarray]:
        centers = self.corners.mean(axis=1)
        return centers, np.linalg.norm(self.corners - centers[:, None], axis=2).max(axis=1)

    def samples(self, limit: int = MAX_SAMPLES) -> np.ndarray:
        """Points on the surface: the vertices its triangles use and the triangles' centroids,
        thinned to at most limit with a fixed stride."""
        if not len(self):
            return np.zeros((0, 3))
        points = np.concatenate([self.positions[np.unique(self.triangles)], self.corners.mean(axis=1)])
        if len(points) > limit:
            points = points[:: -(-len(points) // limit)]
        return points

    def distances(self, points: np.ndarray) -> np.ndarray:
        """Distance of each point to the surface: exact against the candidate triangles (those of
        the nearest anchors), so never less than the true distance."""
        points = np.asarray(points, np.float64)
        if not len(points):
            return np.zeros(0)
        if not len(self):
            return np.full(len(points), np.inf)
        tree, owner = self._search
        k = min(CANDIDATES, len(owner))
        _d, nearest = tree.query(points, k=k)
        candidates = owner[nearest.reshape(len(points), k)]
        best = np.full(len(points), np.inf)
        for j in range(k):
            tri = self.corners[candidates[:, j]]
            q = closest_points(points, tri[:, 0], tri[:, 1], tri[:, 2])
            np.minimum(best, np.linalg.norm(points - q, axis=1), out=best)
        return best

    def largest_distance(self, points: np.ndarray) -> float:
        """The largest distance of any of the points to the surface. The anchor search can only
        overestimate a distance, so the points that come out farthest are measured again exactly
        (against every triangle whose bounding sphere reaches nearer), until the farthest is exact."""
        if not len(points):
            return 0.0
        if not len(self):
            return float("inf")
        points = np.asarray(points, np.float64)
        d = self.distances(points)
        centers, radii = self._spheres
        exact = np.zeros(len(points), bool)
        for _round in range(REFINE_ROUNDS):
            order = np.argsort(-d, kind="stable")
            if exact[order[0]]:
                break
            for i in order[~exact[order]][:REFINE_BATCH]:
                near = np.flatnonzero(np.linalg.norm(centers - points[i], axis=1) - radii <= d[i])
                if len(near):
                    tri = self.corners[near]
                    p = np.broadcast_to(points[i], (len(near), 3))
                    q = closest_points(p, tri[:, 0], tri[:, 1], tri[:, 2])
                    d[i] = min(d[i], float(np.linalg.norm(q - p, axis=1).min()))
                exact[i] = True
        return float(d.max())


def _anchors(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points spread over every triangle (large ones get more, about ANCHORS_PER_TRIANGLE per
    triangle overall) and the triangle each lies on: the nearest anchors of a point lead to the
    triangles nearest to it even where small triangles sit beside large ones."""
    u, v = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    area = 0.5 * np.linalg.norm(np.cross(u, v), axis=1)
    total = float(area.sum())
    m = len(corners)
    per = np.ones(m, np.int64)
    if total > 0:
        per = np.maximum(1, np.ceil(area * (ANCHORS_PER_TRIANGLE * m / total)).astype(np.int64))
        per = np.minimum(per, MAX_ANCHORS_PER_TRIANGLE)
    owner = np.repeat(np.arange(m), per)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(per) - per, per)  # sample number on its triangle
    # A fixed low-discrepancy sequence (R2) folded into the triangle; sample 0 is the centroid.
    a = (0.5 + j * 0.7548776662466927) % 1.0
    b = (0.5 + j * 0.5698402909980532) % 1.0
    fold = a + b > 1
    a, b = np.where(fold, 1 - a, a), np.where(fold, 1 - b, b)
    a = np.where(j == 0, 1 / 3, a)
    b = np.where(j == 0, 1 / 3, b)
    points = corners[owner, 0] + u[owner] * a[:, None] + v[owner] * b[:, None]
    return points, owner


def hausdorff(a: Surface, b: Surface) -> float:
    """Symmetric sampled Hausdorff distance between two surfaces, in position units."""
    if not len(a) and not len(b):
        return 0.0
    return max(b.largest_distance(a.samples()), a.largest_distance(b.samples()))
