"""Node transforms: local matrices from TRS or matrix, world matrices through the hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidModel

if TYPE_CHECKING:
    from .document import Document


def _rotation_rows(x: Any, y: Any, z: Any, w: Any) -> tuple[tuple[Any, Any, Any], ...]:
    """The rows of the rotation matrix of the unit quaternion (x, y, z, w), whose parts are numbers
    or arrays: one formula, and so the same bits, for one quaternion and for many."""
    return (
        (1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)),
    )


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation matrices of unit quaternions (x, y, z, w), shape (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    rows = _rotation_rows(q[..., 0], q[..., 1], q[..., 2], q[..., 3])
    return np.stack([np.stack(row, -1) for row in rows], -2)


def local_matrix(node: dict) -> np.ndarray:
    """4x4 local transform of a node (row-major numpy; glTF stores matrices column-major).
    Built from Python floats: numpy's per-call overhead would cost more than the arithmetic, and
    scenes have thousands of nodes."""
    if "matrix" in node:
        m = np.asarray(node["matrix"], dtype=np.float64)
        if m.shape != (16,):
            raise InvalidModel("A node's matrix must have 16 numbers.")
        return m.reshape(4, 4).T
    t = np.asarray(node.get("translation", (0, 0, 0)), dtype=np.float64)
    r = np.asarray(node.get("rotation", (0, 0, 0, 1)), dtype=np.float64)
    s = np.asarray(node.get("scale", (1, 1, 1)), dtype=np.float64)
    if t.shape != (3,) or r.shape != (4,) or s.shape != (3,):
        raise InvalidModel("A node's translation, rotation or scale has the wrong number of values.")
    scale = s.tolist()
    rows = [
        [*(value * k for value, k in zip(row, scale, strict=True)), offset]
        for row, offset in zip(_rotation_rows(*r.tolist()), t.tolist(), strict=True)
    ]
    return np.array([*rows, [0.0, 0.0, 0.0, 1.0]])


def check_hierarchy(doc: Document) -> None:
    """Refuse node cycles and nodes with two parents (glTF requires a forest)."""
    parent: dict[int, int] = {}
    for node in doc.nodes:
        for child in node.get("children", []):
            if id(child) in parent:
                raise InvalidModel(f"Node {child.get('name', '')!r} has more than one parent.")
            parent[id(child)] = id(node)
    # Each node has at most one parent, so walking up from every node finds any cycle; nodes whose
    # ancestry is already known to end at a root are not walked again (linear, even for a chain of
    # a hundred thousand nodes).
    rooted: set[int] = set()
    for node in doc.nodes:
        path: set[int] = set()
        cur: int | None = id(node)
        while cur is not None and cur not in rooted:
            if cur in path:
                raise InvalidModel("The node hierarchy has a cycle (a node is its own ancestor).")
            path.add(cur)
            cur = parent.get(cur)
        rooted |= path


def parents(doc: Document) -> dict[int, dict]:
    """id(node) -> its parent node."""
    return {id(child): node for node in doc.nodes for child in node.get("children", [])}


def scene_graph(doc: Document) -> Iterator[tuple[dict, dict | None]]:
    """(node, parent) for every node of every scene, parents before children, each node once (by
    the first path found); the parent is None for the scenes' own nodes."""
    seen: set[int] = set()
    for scene in doc.scenes:
        stack: list[tuple[dict, dict | None]] = [(n, None) for n in reversed(scene.get("nodes", []))]
        while stack:
            node, parent = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node, parent
            stack.extend((c, node) for c in reversed(node.get("children", [])))


def walk_scene_nodes(doc: Document) -> Iterator[tuple[dict, np.ndarray]]:
    """(node, world matrix) for every node of every scene, parents before children."""
    world: dict[int, np.ndarray] = {}
    for node, parent in scene_graph(doc):
        parent_matrix = np.eye(4) if parent is None else world[id(parent)]
        world[id(node)] = parent_matrix @ local_matrix(node)
        yield node, world[id(node)]


MAGNIFIED = 8.0
"""How much coarser a mesh's position grid step may be, as drawn, than the scene's drawn extent
divided into the grid's levels: 8 leaves a 14-bit grid's steps within 1/2048 of the scene, half a
pixel in a 1024-pixel view of it (meshes whose local spaces lie apart and are brought together by
their nodes make a shared grid a few times coarser than that ideal: 3x for the XR controller
below)."""


def drawn_sizes(
    doc: Document, boxes: dict[int, tuple[np.ndarray, np.ndarray]]
) -> tuple[dict[int, float], float]:
    """For meshes with these local bounding boxes (by id): the largest scale (of any axis) at which
    the scenes' nodes draw each, and the largest extent of the box that they fill as drawn."""
    keys, worlds = [], []
    for node, world in walk_scene_nodes(doc):
        mesh = node.get("mesh")
        if isinstance(mesh, dict) and id(mesh) in boxes:
            keys.append(id(mesh))
            worlds.append(world)
    if not keys:
        return {}, 0.0
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    which = np.array([index[key] for key in keys])
    corners = np.array(
        [
            np.array(np.meshgrid(*zip(*boxes[key], strict=True), indexing="ij")).reshape(3, -1).T
            for key in index
        ]
    )  # (meshes, 8, 3): every corner of every local box
    matrices = np.array(worlds)
    placed = np.einsum("nij,ncj->nci", matrices[:, :3, :3], corners[which]) + matrices[:, None, :3, 3]
    extent = float((placed.max(axis=(0, 1)) - placed.min(axis=(0, 1))).max())
    largest = np.zeros(len(index))  # per mesh: the largest column norm of any node's matrix
    np.maximum.at(largest, which, np.linalg.norm(matrices[:, :3, :3], axis=1).max(axis=1))
    return dict(zip(index, largest.tolist(), strict=True)), extent


def magnified(scales: dict[int, float], extent: float, step: float, levels: int) -> set[int]:
    """The meshes (keys of scales, from drawn_sizes) that one position grid of this step would
    leave visibly coarse: as their nodes draw them, the step is over MAGNIFIED times the scene's
    drawn extent divided into the grid's levels. Each needs a grid of its own. An XR controller's
    button is modelled 1/125 the size of its body and drawn 125x larger: on the body's grid it
    spans a dozen steps and renders as an octagon. A mesh that is small as drawn keeps the shared grid:
    its steps are no larger on screen than anyone's."""
    coarsest = MAGNIFIED * extent / levels
    return {key for key, scale in scales.items() if step * scale > coarsest}
