"""Node transforms: local matrices from TRS or matrix, world matrices through the hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .errors import InvalidModel

if TYPE_CHECKING:
    from .document import Document


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrices of unit quaternions (x, y, z, w), shape (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def local_matrix(node: dict) -> np.ndarray:
    """4x4 local transform of a node (row-major numpy; glTF stores matrices column-major)."""
    if "matrix" in node:
        m = np.asarray(node["matrix"], dtype=np.float64)
        if m.shape != (16,):
            raise InvalidModel("A node's matrix must have 16 numbers.")
        return m.reshape(4, 4).T
    out = np.eye(4)
    t = np.asarray(node.get("translation", (0, 0, 0)), dtype=np.float64)
    r = np.asarray(node.get("rotation", (0, 0, 0, 1)), dtype=np.float64)
    s = np.asarray(node.get("scale", (1, 1, 1)), dtype=np.float64)
    if t.shape != (3,) or r.shape != (4,) or s.shape != (3,):
        raise InvalidModel("A node's translation, rotation or scale has the wrong number of values.")
    out[:3, :3] = quat_to_matrix(r) * s[None, :]
    out[:3, 3] = t
    return out


def check_hierarchy(doc: Document) -> None:
    """Refuse node cycles and nodes with two parents (glTF requires a forest)."""
    parent: dict[int, int] = {}
    for node in doc.nodes:
        for child in node.get("children", []):
            if id(child) in parent:
                raise InvalidModel(f"Node {child.get('name', '')!r} has more than one parent.")
            parent[id(child)] = id(node)
    for node in doc.nodes:
        seen = {id(node)}
        cur = parent.get(id(node))
        while cur is not None:
            if cur in seen:
                raise InvalidModel("The node hierarchy has a cycle (a node is its own ancestor).")
            seen.add(cur)
            cur = parent.get(cur)


def parents(doc: Document) -> dict[int, dict]:
    """id(node) -> its parent node."""
    return {id(child): node for node in doc.nodes for child in node.get("children", [])}


def walk_scene_nodes(doc: Document) -> Iterator[tuple[dict, np.ndarray]]:
    """(node, world matrix) for every node of every scene, parents before children."""
    seen: set[int] = set()
    for scene in doc.scenes:
        stack = [(n, np.eye(4)) for n in reversed(scene.get("nodes", []))]
        while stack:
            node, parent_matrix = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            world = parent_matrix @ local_matrix(node)
            yield node, world
            stack.extend((c, world) for c in reversed(node.get("children", [])))
