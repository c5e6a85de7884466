"""What a viewer draws, as numbers: world-space vertex positions of every drawn primitive
(instances expanded, skinned meshes in their bind pose), to compare a model with its compressed copy."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.transforms import quat_to_matrix


def _skinned(prim: dict, skin: dict, worlds: dict[int, np.ndarray], pos: np.ndarray) -> np.ndarray:
    joints = [worlds.get(id(j), np.eye(4)) for j in skin["joints"]]
    ibm = skin.get("inverseBindMatrices")
    ibms = (
        ibm.floats().reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
        if isinstance(ibm, Accessor)
        else np.tile(np.eye(4), (len(joints), 1, 1))
    )
    mats = np.stack(joints) @ ibms
    homo = np.concatenate([pos, np.ones((len(pos), 1))], 1)
    out = np.zeros((len(pos), 3))
    total = np.zeros((len(pos), 1))
    for set_index in range(4):
        j = prim["attributes"].get(f"JOINTS_{set_index}")
        w = prim["attributes"].get(f"WEIGHTS_{set_index}")
        if j is None or w is None:
            break
        jd = j.data.astype(np.int64)
        wd = w.floats().astype(np.float64)
        for k in range(jd.shape[1]):
            m = mats[np.clip(jd[:, k], 0, len(mats) - 1)]
            out += wd[:, k : k + 1] * np.einsum("nij,nj->ni", m, homo)[:, :3]
            total += wd[:, k : k + 1]
    return out / np.where(total == 0, 1, total)


def instance_matrices(node: dict) -> np.ndarray:
    """World-from-instance matrices of a node's EXT_mesh_gpu_instancing (one identity without it)."""
    inst = node.get("extensions", {}).get("EXT_mesh_gpu_instancing")
    if not isinstance(inst, dict):
        return np.eye(4)[None]
    attrs = inst.get("attributes", {})
    n = next(a.count for a in attrs.values())
    t = attrs["TRANSLATION"].floats().astype(np.float64) if "TRANSLATION" in attrs else np.zeros((n, 3))
    r = (
        attrs["ROTATION"].floats().astype(np.float64)
        if "ROTATION" in attrs
        else np.tile([0, 0, 0, 1.0], (n, 1))
    )
    s = attrs["SCALE"].floats().astype(np.float64) if "SCALE" in attrs else np.ones((n, 3))
    m = np.tile(np.eye(4), (n, 1, 1))
    m[:, :3, :3] = quat_to_matrix(r) * s[:, None, :]
    m[:, :3, 3] = t
    return m


def _drawn(doc: Document) -> list[tuple[np.ndarray, dict]]:
    """(world-space positions, primitive) for every primitive instance the scenes draw."""
    nodes = list(doc.scene_nodes())
    worlds = {id(n): w for n, w in nodes}
    out = []
    for node, world in nodes:
        mesh = node.get("mesh")
        if not isinstance(mesh, dict):
            continue
        for prim in mesh.get("primitives", []):
            pos = prim["attributes"].get("POSITION")
            if not isinstance(pos, Accessor):
                continue
            p = pos.floats().astype(np.float64)
            if node.get("skin") is not None and "JOINTS_0" in prim["attributes"]:
                out.append((_skinned(prim, node["skin"], worlds, p), prim))
                continue
            homo = np.concatenate([p, np.ones((len(p), 1))], 1)
            out.extend(((homo @ (world @ inst).T)[:, :3], prim) for inst in instance_matrices(node))
    return out


def drawn_points(doc: Document) -> np.ndarray:
    """World-space positions of every vertex every scene draws."""
    return np.concatenate([np.zeros((0, 3))] + [p for p, _prim in _drawn(doc)])


def drawn_area(doc: Document) -> float:
    """Total world-space area of the triangle lists the scenes draw (degenerate triangles add 0)."""
    total = 0.0
    for points, prim in _drawn(doc):
        if prim.get("mode", 4) != 4:
            continue
        indices = prim.get("indices")
        order = (
            indices.data.reshape(-1).astype(np.int64)
            if isinstance(indices, Accessor)
            else np.arange(len(points))
        )
        tri = points[order[: len(order) // 3 * 3]].reshape(-1, 3, 3)
        total += 0.5 * float(
            np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
        )
    return total


def max_deviation(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric largest nearest-neighbour distance between two point sets (vertex Hausdorff)."""
    if not len(a) or not len(b):
        return 0.0 if len(a) == len(b) else float("inf")
    d1, _ = cKDTree(b).query(a, k=1)
    d2, _ = cKDTree(a).query(b, k=1)
    return float(max(d1.max(), d2.max()))


def diagonal(points: np.ndarray) -> float:
    return float(np.linalg.norm(points.max(0) - points.min(0))) if len(points) else 0.0
