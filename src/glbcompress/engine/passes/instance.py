"""instance: draw a mesh that many sibling nodes share as one node with EXT_mesh_gpu_instancing.

A forest of 500 nodes that all show the same tree costs 500 draw calls and 500 nodes of JSON. With
EXT_mesh_gpu_instancing one node keeps the mesh and lists each copy's translation, rotation and
scale in accessors; loaders draw them in one instanced call. Attributes that are the identity for
every copy are left out.

The nodes replaced must be siblings (same parent, or roots of the same scene) sharing the mesh,
with no children, no skin, no camera, extension or extras, no animation (channels or
KHR_animation_pointer) and nothing else referring to them (skins, LODs); their transforms must be
plain translation/rotation/positive scale (no shear, no mirroring: instanced draws cannot flip
winding per copy). Named nodes are kept unless ``instance_named``. Meshes whose material has
KHR_materials_volume are only instanced without scale (thickness is in mesh units). Node morph
weights must agree; the new node carries them.

Like gltfpack, the extension is marked required: a loader without it would draw a single copy at
the parent's origin, which is not the model. Off in every preset; switch it on with ``instance``.

Example::

    instance(doc, InstanceOptions(min_instances=4))
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..document import Accessor, Document
from ..links import referrers
from ..pass_options import InstanceOptions
from ..transforms import local_matrix
from .join import sibling_lists

NAME = "instance"
EXTENSION = "EXT_mesh_gpu_instancing"
IDENTITY = {"TRANSLATION": (0.0, 0.0, 0.0), "ROTATION": (0.0, 0.0, 0.0, 1.0), "SCALE": (1.0, 1.0, 1.0)}
DEFAULTS = InstanceOptions()


def instance(doc: Document, options: InstanceOptions = DEFAULTS) -> dict:
    refs = {key: len(slots) for key, slots in referrers(doc).items()}
    batches = instances = 0
    for siblings in sibling_lists(doc):
        groups: dict[tuple[int, str], list[tuple[dict, dict[str, np.ndarray]]]] = {}
        for node in siblings:
            trs = _instanceable(node, refs, options)
            if trs is not None:
                groups.setdefault((id(node["mesh"]), json.dumps(node.get("weights"))), []).append((node, trs))
        for members in groups.values():
            if len(members) < options.min_instances:
                continue
            batch = _batch(doc, members)
            if batch is None:
                continue
            gone = {id(n) for n, _trs in members}
            siblings.insert(siblings.index(members[0][0]), batch)
            siblings[:] = [n for n in siblings if id(n) not in gone]
            doc.nodes[:] = [n for n in doc.nodes if id(n) not in gone]
            doc.nodes.append(batch)
            batches += 1
            instances += len(members)
    if not batches:
        return {}
    doc.use_extension(EXTENSION, required=True)
    return {"instanced meshes": batches, "nodes replaced by instances": instances}


def _instanceable(node: dict, refs: dict[int, int], options: InstanceOptions) -> dict[str, np.ndarray] | None:
    """The node's translation, rotation and scale if it can become one instance, else None."""
    mesh = node.get("mesh")
    if not isinstance(mesh, dict) or node.get("children") or "skin" in node or "camera" in node:
        return None
    if node.get("extensions") or "extras" in node or (node.get("name") and not options.instance_named):
        return None
    # Its one reference is its parent's (or scene's) list: animation channels, pointers, skins and
    # LODs would all be further references.
    if refs.get(id(node), 0) != 1:
        return None
    trs = decompose(local_matrix(node))
    if trs is None:
        return None
    if not np.allclose(trs["SCALE"], 1.0, atol=1e-6) and _has_volume(mesh):
        return None
    return trs


def _has_volume(mesh: dict) -> bool:
    for prim in mesh.get("primitives", []):
        material = prim.get("material")
        if isinstance(material, dict) and "KHR_materials_volume" in material.get("extensions", {}):
            return True
    return False


def decompose(matrix: np.ndarray) -> dict[str, np.ndarray] | None:
    """Translation, rotation (unit quaternion x, y, z, w) and scale of a 4x4 matrix, or None if it
    has shear, a projection, mirroring or a zero scale."""
    if not np.allclose(matrix[3], (0, 0, 0, 1), atol=1e-9):
        return None
    linear = matrix[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    if np.linalg.det(linear) <= 0 or scale.min() <= 1e-12 * max(1.0, scale.max()):
        return None
    rotation = linear / scale
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-5):
        return None
    return {"TRANSLATION": matrix[:3, 3].copy(), "ROTATION": matrix_to_quat(rotation), "SCALE": scale}


def matrix_to_quat(r: np.ndarray) -> np.ndarray:
    """The unit quaternion (x, y, z, w), w >= 0, of a rotation matrix."""
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4, (r[1, 0] - r[0, 1]) / s]
    quat = np.asarray(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0 else quat


def _batch(doc: Document, members: list[tuple[dict, dict[str, np.ndarray]]]) -> dict | None:
    """The node that draws every member as an instance, or None if every copy sits at the
    identity (nothing to store, and the extension needs at least one attribute)."""
    attributes: dict[str, Any] = {}
    for semantic, identity in IDENTITY.items():
        values = np.stack([trs[semantic] for _node, trs in members])
        if np.allclose(values, identity, atol=1e-7, rtol=0):
            continue
        accessor = Accessor(values.astype(np.float32), "VEC3" if len(identity) == 3 else "VEC4")
        doc.accessors.append(accessor)
        attributes[semantic] = accessor
    if not attributes:
        return None
    first = members[0][0]
    batch: dict[str, Any] = {"mesh": first["mesh"], "extensions": {EXTENSION: {"attributes": attributes}}}
    if "weights" in first:
        batch["weights"] = first["weights"]
    return batch
