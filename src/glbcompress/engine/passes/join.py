"""join: merge compatible primitives and meshes where it cannot change the scene.

Every primitive is a draw call, and every node and mesh costs JSON and loader work. Two merges:

- Within a mesh: primitives with the same material, mode (points, lines or triangle lists),
  attribute set (names, types, normalization), morph-target layout, extensions (e.g. equal
  KHR_materials_variants mappings) and extras become one primitive. Parts of one vertex buffer
  stay one vertex buffer; separate ones are appended. Indices grow to 32 bits when needed.
- Across nodes (``join_meshes``): under each parent (or scene), the primitives of sibling nodes
  that would merge with a sibling's move into one new mesh on one new node, their vertices
  transformed into the parent's space (normals by the inverse transpose, tangents keeping w; a
  mirroring transform also reverses triangle winding). Primitives with nothing to merge with stay
  where they are: transforming them would gain nothing, and rotated vertices compress worse.
  Only nodes nothing else can notice take part: not animated, no children, not a skin, joint or
  LOD, not referred to by anything else, a mesh of their own without morph targets, and neither
  node nor mesh named or with extras unless ``join_named`` (the max preset). A node that also
  holds a camera or a light stays, without the primitives that left.

Names of merged nodes and meshes are lost, which is why ``join_named`` is off unless asked for.
Meshes used by several nodes are not merged across nodes (that would copy their vertices; the
instance pass handles those). Measured: ManyCubes with ``join_named`` goes from 501 draw calls to
1 and from 390 kB to 195 kB (weld, reorder and meshopt after it, no quantization).

Example::

    join(doc, JoinOptions(join_named=True))
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..document import Accessor, Document, Pointer
from ..links import references, referrers
from ..pass_options import JoinOptions
from ..transforms import local_matrix
from .vertex_streams import (
    TRIANGLES,
    Replacement,
    derived,
    index_accessor,
    index_values,
    order_free,
    place_new_accessors,
    stream_slots,
    vertex_count,
)

NAME = "join"
POINTS, LINES = 0, 1
MERGEABLE_MODES = (POINTS, LINES, TRIANGLES)
# Node extensions that describe the node itself, not its mesh: the node keeps them when its mesh leaves.
NODE_EXTENSIONS_THAT_STAY = frozenset({"KHR_lights_punctual"})
TRANSFORMED = frozenset({"POSITION", "NORMAL", "TANGENT"})
DEFAULTS = JoinOptions()


def join(doc: Document, options: JoinOptions = DEFAULTS) -> dict:
    pairs: list[Replacement] = []
    nodes_before, meshes_before = len(doc.nodes), len(doc.meshes)
    moved = _join_siblings(doc, options, pairs) if options.join_meshes else 0
    merged = _join_primitives(doc, pairs)
    place_new_accessors(doc, pairs)
    out: dict[str, Any] = {}
    if moved:
        out["primitives moved to a sibling's merged mesh"] = moved
        out["nodes removed"] = nodes_before - len(doc.nodes)
        out["meshes removed"] = meshes_before - len(doc.meshes)
    if merged:
        out["primitives merged"] = merged
    return out


# -- across nodes ------------------------------------------------------------------------------


def _join_siblings(doc: Document, options: JoinOptions, pairs: list[Replacement]) -> int:
    """Under each parent, move the primitives of joinable siblings that can be drawn together
    (same merge key, from two nodes or more) into one new mesh on one new node. Moving the others
    would only transform their vertices for nothing (and rotated vertices compress worse).
    Returns how many primitives moved."""
    refs = {key: len(slots) for key, slots in referrers(doc).items()}
    moved = 0
    for siblings in sibling_lists(doc):
        matrices = {id(n): local_matrix(n) for n in siblings if _joinable(n, refs, options)}
        candidates = [n for n in siblings if id(n) in matrices and _transformable(n, matrices[id(n)])]
        if len(candidates) < 2:
            continue
        groups: dict[Any, list[tuple[dict, dict]]] = {}
        for node in candidates:
            floats = frozenset() if _is_identity(matrices[id(node)]) else TRANSFORMED
            for i, prim in enumerate(node["mesh"]["primitives"]):
                groups.setdefault(_merge_key(prim, (id(node), i), floats), []).append((node, prim))
        taken = [members for members in groups.values() if len({id(n) for n, _p in members}) > 1]
        if not taken:
            continue
        moving = [prim for members in taken for _node, prim in members]
        moving_ids = {id(p) for p in moving}
        copies: dict[int, dict] = {}
        for node in candidates:
            prims = [p for p in node["mesh"]["primitives"] if id(p) in moving_ids]
            copies.update(_in_parent_space(prims, matrices[id(node)], pairs))
        mesh = {"primitives": [copies[id(p)] for p in moving]}
        new_node = {"mesh": mesh}
        first = next(n for n in candidates if any(id(p) in copies for p in n["mesh"]["primitives"]))
        siblings.insert(siblings.index(first), new_node)
        doc.meshes.append(mesh)
        doc.nodes.append(new_node)
        _leave_behind(doc, siblings, candidates, copies)
        moved += len(moving)
    return moved


def _leave_behind(doc: Document, siblings: list[dict], nodes: list[dict], moved: dict[int, dict]) -> None:
    """Take moved primitives off their old meshes; drop meshes left empty, and nodes left with
    nothing to hold."""
    gone_meshes, gone_nodes = set(), set()
    for node in nodes:
        mesh = node["mesh"]
        rest = [p for p in mesh["primitives"] if id(p) not in moved]
        if rest:
            mesh["primitives"] = rest
            continue
        gone_meshes.add(id(mesh))
        del node["mesh"]
        if not _keeps_meaning(node):
            gone_nodes.add(id(node))
    doc.meshes[:] = [m for m in doc.meshes if id(m) not in gone_meshes]
    siblings[:] = [n for n in siblings if id(n) not in gone_nodes]
    doc.nodes[:] = [n for n in doc.nodes if id(n) not in gone_nodes]


def sibling_lists(doc: Document) -> Iterator[list[dict]]:
    """Each scene's root list and each node's children list (the lists themselves, to edit)."""
    for scene in doc.scenes:
        if isinstance(scene.get("nodes"), list):
            yield scene["nodes"]
    for node in list(doc.nodes):
        if isinstance(node.get("children"), list):
            yield node["children"]


def _joinable(node: dict, refs: dict[int, int], options: JoinOptions) -> bool:
    """True if nothing but its mesh's draw calls would notice the node's mesh moving elsewhere."""
    mesh = node.get("mesh")
    if not isinstance(mesh, dict) or node.get("children") or "skin" in node:
        return False
    # One reference each: the parent's (or scene's) list, and this node's mesh slot. Animation
    # channels, skins, LODs and animation pointers all count as further references.
    if refs.get(id(node), 0) != 1 or refs.get(id(mesh), 0) != 1:
        return False
    if not set(node.get("extensions", {})) <= NODE_EXTENSIONS_THAT_STAY or mesh.get("extensions"):
        return False
    if not options.join_named and any(o.get("name") or "extras" in o for o in (node, mesh)):
        return False
    return not any(p.get("targets") or not order_free(p) for p in mesh.get("primitives", []))


def _transformable(node: dict, matrix: np.ndarray) -> bool:
    """True if the node's mesh can be baked into its parent's space exactly enough."""
    prims = node["mesh"].get("primitives", [])
    linear = matrix[:3, :3]
    det = float(np.linalg.det(linear))
    if abs(det) < 1e-12 * max(1.0, float(np.abs(linear).max()) ** 3):
        return False  # flattened: normals have no inverse transpose
    rigid = np.allclose(linear.T @ linear, np.eye(3), atol=1e-6)
    # KHR_materials_volume thickness is measured in the mesh's own units: scaling would change it.
    return rigid or not any(_has_volume(p) for p in prims)


def _has_volume(prim: dict) -> bool:
    material = prim.get("material")
    return isinstance(material, dict) and "KHR_materials_volume" in material.get("extensions", {})


def _keeps_meaning(node: dict) -> bool:
    """True if a node whose mesh has left still holds something (a camera or a light)."""
    return "camera" in node or bool(node.get("extensions"))


def _is_identity(matrix: np.ndarray) -> bool:
    return bool(np.array_equal(matrix, np.eye(4)))


def _in_parent_space(prims: list[dict], matrix: np.ndarray, pairs: list[Replacement]) -> dict[int, dict]:
    """id(primitive) -> a copy of it with its vertices transformed by matrix (the node's local
    transform), so that it draws the same from the parent."""
    if _is_identity(matrix):
        return {id(p): dict(p) for p in prims}
    linear = matrix[:3, :3]
    normal_matrix = np.linalg.inv(linear).T
    mirrored = np.linalg.det(linear) < 0
    done: dict[int, Accessor] = {}
    flips: dict[int, Accessor] = {}

    def flipped(prim: dict) -> Accessor:
        """Indices with each triangle's winding reversed (a mirroring transform is being baked in)."""
        old = prim.get("indices") if isinstance(prim.get("indices"), Accessor) else None
        key = id(old) if old is not None else id(prim)
        if key not in flips:
            values = index_values(prim).reshape(-1, 3)[:, [0, 2, 1]].reshape(-1)
            flips[key] = index_accessor(values, vertex_count(prim), old)
            pairs.append((old, flips[key]))
        return flips[key]

    def moved(semantic: str, a: Accessor) -> Accessor:
        if id(a) not in done:
            new = _transform(semantic, a, matrix, normal_matrix)
            if new is not a:
                pairs.append((a, new))
            done[id(a)] = new
        return done[id(a)]

    out = {}
    for prim in prims:
        copy = dict(prim)
        copy["attributes"] = {s: moved(s, a) for s, a in prim["attributes"].items()}
        if mirrored and prim.get("mode", TRIANGLES) == TRIANGLES:
            copy["indices"] = flipped(prim)
        out[id(prim)] = copy
    return out


def _transform(semantic: str, a: Accessor, matrix: np.ndarray, normal_matrix: np.ndarray) -> Accessor:
    """The attribute in the parent's space (float32), or a itself if the transform leaves it alone."""
    if semantic == "POSITION" and a.type == "VEC3":
        values = a.floats().astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    elif semantic == "NORMAL" and a.type == "VEC3":
        values = _unit(a.floats().astype(np.float64) @ normal_matrix.T)
    elif semantic == "TANGENT" and a.type == "VEC4":
        floats = a.floats().astype(np.float64)
        values = np.hstack([_unit(floats[:, :3] @ matrix[:3, :3].T), floats[:, 3:]])
    else:
        return a
    new = derived(a, values.astype(np.float32))
    new.normalized = False
    return new


def _unit(v: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, length, out=np.zeros_like(v), where=length > 0)


# -- within a mesh -----------------------------------------------------------------------------


def _join_primitives(doc: Document, pairs: list[Replacement]) -> int:
    """Merge compatible primitives inside each mesh; returns how many primitives went."""
    pinned = _meshes_with_primitive_pointers(doc)
    merged = 0
    for mesh in doc.meshes:
        prims = mesh.get("primitives", [])
        if id(mesh) in pinned or len(prims) < 2:
            continue
        groups: dict[Any, list[dict]] = {}
        for n, prim in enumerate(prims):
            groups.setdefault(_merge_key(prim, n), []).append(prim)
        if len(groups) == len(prims):
            continue
        out = []
        for members in groups.values():
            out.append(_merge(members, pairs) if len(members) > 1 else members[0])
            merged += len(members) - 1
        mesh["primitives"] = out
    return merged


def _meshes_with_primitive_pointers(doc: Document) -> set[int]:
    """Meshes an animation pointer reaches into by primitive number: their list must not change."""
    out = set()
    for container, _key, value in references(doc):
        pointer = container if isinstance(container, Pointer) else None
        if pointer and pointer.collection == "meshes" and pointer.rest.startswith("/primitives"):
            out.add(id(value))
    return out


def _merge_key(prim: dict, position: Any, floats: frozenset[str] = frozenset()) -> Any:
    """Primitives with equal keys can be drawn as one; unmergeable ones get a key of their own.
    floats: attributes that will have been rewritten as float32 by the time they merge."""
    mode = prim.get("mode", TRIANGLES)
    if mode not in MERGEABLE_MODES or not order_free(prim):
        return ("alone", position)
    return (
        id(prim.get("material")),
        mode,
        _layout(prim.get("attributes", {}), floats),
        tuple(_layout(t) for t in prim.get("targets", [])),
        _canonical(prim.get("extensions")),
        _canonical(prim.get("extras")),
    )


def _layout(streams: dict, floats: frozenset[str] = frozenset()) -> tuple:
    """(semantic, stored type, normalized, element type) of each stream, sorted."""
    out = []
    for s, a in streams.items():
        if isinstance(a, Accessor):
            stored = ("<f4", False) if s in floats else (a.data.dtype.str, a.normalized)
            out.append((s, *stored, a.type))
    return tuple(sorted(out))


def _canonical(value: Any) -> str:
    """JSON text of value with objects (materials, ...) standing for themselves by identity."""
    return json.dumps(value, sort_keys=True, default=lambda o: f"#object{id(o)}")


def _merge(members: list[dict], pairs: list[Replacement]) -> dict:
    """One primitive drawing what all members drew, in their order."""
    # Members that index the same vertex streams share one copy of those vertices.
    sets: dict[tuple, int] = {}  # stream ids -> first vertex in the merged streams
    sources: list[dict] = []
    total = 0
    for prim in members:
        key = tuple(id(a) for _c, _s, a in stream_slots(prim))
        if key not in sets:
            sets[key] = total
            sources.append(prim)
            total += vertex_count(prim)
    first = members[0]
    merged = {k: v for k, v in first.items() if k not in ("attributes", "targets", "indices")}
    if len(sources) == 1:  # one vertex buffer split into parts: keep sharing it
        merged["attributes"] = dict(first["attributes"])
        if first.get("targets"):
            merged["targets"] = [dict(t) for t in first["targets"]]
    else:
        merged["attributes"] = _concatenated(first["attributes"], [p["attributes"] for p in sources], pairs)
        if first.get("targets"):
            merged["targets"] = [
                _concatenated(target, [p["targets"][i] for p in sources], pairs)
                for i, target in enumerate(first["targets"])
            ]
    unindexed = all(not isinstance(p.get("indices"), Accessor) for p in members)
    if not (unindexed and len(sources) == len(members)):
        offsets = [sets[tuple(id(a) for _c, _s, a in stream_slots(p))] for p in members]
        values = np.concatenate([index_values(p) + o for p, o in zip(members, offsets, strict=True)])
        old = next((p["indices"] for p in members if isinstance(p.get("indices"), Accessor)), None)
        merged["indices"] = index_accessor(values, total, old)
        pairs.append((old, merged["indices"]))
    return merged


def _concatenated(
    layout: dict[str, Accessor], sources: list[dict[str, Accessor]], pairs: list[Replacement]
) -> dict[str, Accessor]:
    out = {}
    for semantic, a in layout.items():
        new = derived(a, np.concatenate([s[semantic].data for s in sources]))
        pairs.append((a, new))
        out[semantic] = new
    return out
