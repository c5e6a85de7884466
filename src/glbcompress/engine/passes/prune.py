"""prune: remove what nothing uses.

Exporters leave a lot behind: empty helper nodes, materials and meshes no node draws, UV sets no
texture samples, skin weights on meshes no skin deforms, tangents without a normal map. Each costs
bytes in the file and work in every loader. The pass removes, in this order:

1. ``extras`` everywhere, only when ``keep_extras`` is off;
2. primitives that draw nothing (no POSITION, or too few vertices for one point, line or triangle),
   and meshes left without primitives (their nodes lose the mesh, skin, weights and instancing);
3. animation channels whose target is gone, samplers no channel plays, animations left empty;
4. empty leaf nodes, repeatedly, so parents that end up empty go too. A node stays if it carries a
   mesh, camera, skin or any extension (lights, instancing, ...), if anything but the hierarchy
   refers to it (skin joints and skeleton, animation targets, KHR_animation_pointer, MSFT_lod), if it
   has a name and ``keep_named_nodes`` is on, or if it has extras and ``keep_extras`` is on;
5. vertex attributes nothing reads, unless ``keep_unused_attributes``: TEXCOORD_n no texture of the
   primitive's materials samples (the sets left are renumbered from 0 where every primitive of those
   materials allows it), an all-white COLOR_0, JOINTS_n/WEIGHTS_n on meshes no skinned node uses, and
   TANGENT where no material needs a tangent frame; the matching morph-target attributes go too;
6. everything no longer reachable from the scenes and animations leaves the document's lists, so
   the report's counts are right.

Example::

    changes = prune(doc, PruneOptions(keep_named_nodes=False))
    # {"attributes removed": 3, "nodes removed": 2, "accessors removed": 3}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..document import COLLECTIONS, Accessor, Document, Image, Pointer
from ..links import item_slots, reachable, references
from ..pass_options import PruneOptions

NAME = "prune"
DEFAULTS = PruneOptions()

# Fewest vertices that draw anything, by primitive mode.
MIN_VERTICES = {0: 1, 1: 2, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3}
WHITE_TOLERANCE = 1e-6
TEXCOORD = "TEXCOORD_"


def prune(doc: Document, options: PruneOptions = DEFAULTS) -> dict:
    """Remove what nothing uses (see the module docstring for the order); returns counts by kind."""
    before = {name: len(doc.collection(name)) for name in COLLECTIONS}
    changes: dict[str, Any] = {}
    if not options.keep_extras:
        changes["extras removed"] = strip_extras(doc)
    changes["primitives removed"] = drop_undrawable(doc)
    changes["animation channels removed"] = drop_dead_channels(doc)
    drop_unreachable(doc)
    prune_nodes(doc, options)
    if not options.keep_unused_attributes:
        changes["attributes removed"] = prune_attributes(doc)
        changes["texture coordinate sets renumbered"] = renumber_texcoords(doc)
    drop_unreachable(doc)
    for name in COLLECTIONS:
        changes[f"{name} removed"] = before[name] - len(doc.collection(name))
    return {key: value for key, value in changes.items() if value}


# -- walking JSON ---------------------------------------------------------------------------------


def _all_objects(doc: Document) -> set[int]:
    return {id(o) for name in COLLECTIONS for o in doc.collection(name)}


def inline_dicts(item: Any, objects: set[int]) -> Iterator[dict]:
    """Every dict inside item's own JSON (item included), without entering the objects it refers
    to (ids in objects)."""
    stack = [item]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            values: Any = cur.values()
        elif isinstance(cur, list):
            values = cur
        else:
            continue
        stack.extend(v for v in values if isinstance(v, (dict, list)) and id(v) not in objects)


def _json_of(obj: Any) -> Any:
    """The JSON part of a collection item (accessors and images keep theirs in props)."""
    return obj.props if isinstance(obj, (Accessor, Image)) else obj


def strip_extras(doc: Document) -> int:
    """Delete every ``extras``; returns how many."""
    objects = _all_objects(doc)
    removed = 0
    items = [doc.root, *(_json_of(o) for name in COLLECTIONS for o in doc.collection(name))]
    for item in items:
        for d in inline_dicts(item, objects):
            if "extras" in d:
                del d["extras"]
                removed += 1
    return removed


# -- primitives, animations, reachability ---------------------------------------------------------


def _drawable(prim: dict) -> bool:
    if prim.get("extensions"):
        return True  # an extension may supply the geometry
    position = prim["attributes"].get("POSITION")
    if not isinstance(position, Accessor):
        return False
    indices = prim.get("indices")
    count = indices.count if isinstance(indices, Accessor) else position.count
    return count >= MIN_VERTICES.get(prim.get("mode", 4), 1)


def drop_undrawable(doc: Document) -> int:
    """Remove primitives that draw nothing and meshes left without any; returns primitives removed."""
    removed = 0
    emptied: set[int] = set()
    for mesh in doc.meshes:
        prims = mesh.get("primitives", [])
        kept = [p for p in prims if _drawable(p)]
        removed += len(prims) - len(kept)
        if not kept:
            emptied.add(id(mesh))
        elif len(kept) != len(prims):
            mesh["primitives"] = kept
    if emptied:
        for node in doc.nodes:
            if id(node.get("mesh")) in emptied:
                _detach_mesh(node)
        doc.meshes[:] = [m for m in doc.meshes if id(m) not in emptied]
    return removed


def _detach_mesh(node: dict) -> None:
    """A node without a mesh may not keep what only a mesh gives meaning to."""
    for key in ("mesh", "skin", "weights"):
        node.pop(key, None)
    extensions = node.get("extensions", {})
    extensions.pop("EXT_mesh_gpu_instancing", None)
    if "extensions" in node and not extensions:
        del node["extensions"]


def _channel_alive(channel: dict, alive: set[int]) -> bool:
    target = channel.get("target", {})
    node = target.get("node")
    if node is not None:
        if id(node) not in alive:
            return False
        return target.get("path") != "weights" or isinstance(node.get("mesh"), dict)
    pointer = target.get("extensions", {}).get("KHR_animation_pointer")
    if isinstance(pointer, dict) and isinstance(pointer.get("pointer"), Pointer):
        return id(pointer["pointer"].target) in alive
    return bool(target.get("extensions"))


def drop_dead_channels(doc: Document) -> int:
    """Remove channels whose target is gone, samplers no channel uses and animations left without
    channels; returns channels removed."""
    alive = _all_objects(doc)
    removed = 0
    for anim in doc.animations:
        channels = anim.get("channels", [])
        kept = [c for c in channels if _channel_alive(c, alive)]
        removed += len(channels) - len(kept)
        anim["channels"] = kept
        used = {id(c.get("sampler")) for c in kept}
        anim["samplers"] = [s for s in anim.get("samplers", []) if id(s) in used]
    doc.animations[:] = [a for a in doc.animations if a["channels"]]
    return removed


def drop_unreachable(doc: Document) -> None:
    """Remove from the lists what the scenes and animations no longer reach."""
    keep = reachable(doc)
    for name in COLLECTIONS:
        items = doc.collection(name)
        items[:] = [o for o in items if id(o) in keep]


# -- nodes ----------------------------------------------------------------------------------------


def _referenced_nodes(doc: Document) -> set[int]:
    """ids of nodes something other than a scene's or a parent's node list refers to: skins,
    animation channels, KHR_animation_pointer, MSFT_lod."""
    hierarchy = {id(s["nodes"]) for s in doc.scenes if isinstance(s.get("nodes"), list)}
    hierarchy |= {id(n["children"]) for n in doc.nodes if isinstance(n.get("children"), list)}
    return {id(value) for container, _key, value in references(doc) if id(container) not in hierarchy}


def _is_empty(node: dict, options: PruneOptions) -> bool:
    if any(node.get(key) is not None for key in ("children", "mesh", "camera", "skin")) or node.get(
        "extensions"
    ):
        return False
    if options.keep_named_nodes and node.get("name"):
        return False
    return not (options.keep_extras and node.get("extras"))


def _children_first(doc: Document) -> list[dict]:
    """Every node, each after all of its descendants."""
    children = {id(c) for n in doc.nodes for c in n.get("children", [])}
    order: list[dict] = []
    stack = [n for n in doc.nodes if id(n) not in children]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.get("children", []))
    return order[::-1]


def prune_nodes(doc: Document, options: PruneOptions) -> None:
    """Remove empty leaf nodes, children before parents so that parents left empty go too."""
    referenced = _referenced_nodes(doc)
    removed: set[int] = set()
    for node in _children_first(doc):
        if "children" in node:
            kept = [c for c in node["children"] if id(c) not in removed]
            if kept:
                node["children"] = kept
            else:
                del node["children"]
        if id(node) not in referenced and _is_empty(node, options):
            removed.add(id(node))
    if not removed:
        return
    for scene in doc.scenes:
        if "nodes" in scene:
            scene["nodes"] = [n for n in scene["nodes"] if id(n) not in removed]
            if not scene["nodes"]:
                del scene["nodes"]
    doc.nodes[:] = [n for n in doc.nodes if id(n) not in removed]


# -- attributes -----------------------------------------------------------------------------------


def materials_of(prim: dict) -> list[dict]:
    """The materials a primitive may be drawn with: its own, KHR_materials_variants mappings and
    MSFT_lod alternatives of those, in document order without repeats."""
    found: list[dict] = []
    stack = [prim.get("material")]
    mappings = prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", [])
    stack += [m.get("material") for m in mappings if isinstance(m, dict)]
    stack.reverse()
    while stack:
        material = stack.pop()
        if isinstance(material, dict) and all(m is not material for m in found):
            found.append(material)
            stack.extend(reversed(material.get("extensions", {}).get("MSFT_lod", {}).get("ids", [])))
    return found


def _texture_infos(material: dict) -> Iterator[tuple[str, dict]]:
    """(key, textureInfo) of every texture slot in a material, core or extension."""
    for d in _material_dicts(material):
        for key, value in d.items():
            if key.endswith("Texture") and isinstance(value, dict) and "index" in value:
                yield key, value


def _material_dicts(material: dict) -> Iterator[dict]:
    """The dicts of a material's own JSON, not of the textures and materials it refers to."""
    refs = {id(container[key]) for container, key, _kind in item_slots("materials", material)}
    return inline_dicts(material, refs)


def needs_tangents(material: dict) -> bool:
    """A normal map of any kind, anisotropy, or an extension we do not know may use tangents."""
    for name in material.get("extensions", {}):
        if not name.startswith("KHR_materials_") or name == "KHR_materials_anisotropy":
            return True
    return any("normal" in key.lower() for key, _info in _texture_infos(material))


def _is_white(prim: dict) -> bool:
    """COLOR_0 is all white and no morph target changes it: dropping it changes nothing."""
    attributes = prim["attributes"]
    color = attributes.get("COLOR_0")
    if not isinstance(color, Accessor) or "COLOR_1" in attributes:
        return False
    if not np.all(np.abs(color.floats() - 1.0) <= WHITE_TOLERANCE):
        return False
    deltas = [t.get("COLOR_0") for t in prim.get("targets", [])]
    return not any(isinstance(d, Accessor) and np.any(d.floats() != 0) for d in deltas)


def _drop(prim: dict, semantics: list[str]) -> int:
    """Remove semantics from a primitive and its morph targets; returns how many the primitive lost."""
    attributes = prim["attributes"]
    removed = sum(1 for s in semantics if attributes.pop(s, None) is not None)
    for target in prim.get("targets", []):
        for s in semantics:
            target.pop(s, None)
    return removed


def prune_attributes(doc: Document) -> int:
    """Remove attributes nothing reads; returns how many (morph-target copies not counted)."""
    skinned = {
        id(n["mesh"]) for n in doc.nodes if isinstance(n.get("mesh"), dict) and n.get("skin") is not None
    }
    removed = 0
    for mesh, prim in doc.primitives():
        attributes = prim["attributes"]
        drop: list[str] = []
        if id(mesh) not in skinned:
            drop += [s for s in attributes if s.startswith(("JOINTS_", "WEIGHTS_"))]
        if "TANGENT" in attributes and not any(needs_tangents(m) for m in materials_of(prim)):
            drop.append("TANGENT")
        if _is_white(prim):
            drop.append("COLOR_0")
        removed += _drop(prim, drop)
    for prims, materials in material_groups(doc):
        removed += _prune_texcoord_group(prims, materials)
    return removed


# -- texture coordinates --------------------------------------------------------------------------


def material_groups(doc: Document) -> list[tuple[list[dict], list[dict]]]:
    """Primitives and materials that must agree on texture coordinate set numbers: connected
    through primitive -> material links. Each group as (primitives, materials) in document order."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    prim_materials = [(prim, materials_of(prim)) for _mesh, prim in doc.primitives()]
    for prim, materials in prim_materials:
        for material in materials:
            parent[find(id(material))] = find(id(prim))
    groups: dict[int, tuple[list[dict], list[dict]]] = {}
    for prim, materials in prim_materials:
        prims, group_materials = groups.setdefault(find(id(prim)), ([], []))
        prims.append(prim)
        group_materials.extend(m for m in materials if all(m is not g for g in group_materials))
    return list(groups.values())


def _texcoord_holders(material: dict) -> tuple[set[int], list[dict]]:
    """(sets the material samples, the dicts whose "texCoord" names one). A textureInfo without
    texCoord samples set 0; KHR_texture_transform's texCoord override counts as well."""
    used: set[int] = set()
    holders: list[dict] = []
    for _key, info in _texture_infos(material):
        if "texCoord" not in info:
            used.add(0)
    for d in _material_dicts(material):
        if isinstance(d.get("texCoord"), int):
            used.add(d["texCoord"])
            holders.append(d)
    return used, holders


def _sets(attributes: dict) -> list[int]:
    return sorted(
        int(s[len(TEXCOORD) :]) for s in attributes if s.startswith(TEXCOORD) and s[len(TEXCOORD) :].isdigit()
    )


def _prune_texcoord_group(prims: list[dict], materials: list[dict]) -> int:
    """Drop the sets none of the group's materials sample, keeping each primitive's sets numbered
    without gaps (the validator requires TEXCOORD_0..n-1): where a primitive lacks a sampled set,
    only sets above every sampled one go."""
    if _names_sets_elsewhere(prims):
        return 0
    used: set[int] = set()
    for material in materials:
        used |= _texcoord_holders(material)[0]
    removed = 0
    for prim in prims:
        present = _sets(prim["attributes"])
        if used <= set(present):
            drop = [n for n in present if n not in used]
        else:  # bad input: a material samples a set the primitive lacks; only drop sets above all used
            drop = [n for n in present if n > max(used)]
        removed += _drop(prim, [f"{TEXCOORD}{n}" for n in drop])
    return removed


def _names_sets_elsewhere(prims: list[dict]) -> bool:
    """A primitive extension we do not know may name texture coordinate sets (EXT_mesh_features
    does), so such primitives keep theirs as they are."""
    return any(set(p.get("extensions", {})) - {"KHR_materials_variants"} for p in prims)


def renumber_texcoords(doc: Document) -> int:
    """After pruning, renumber the sets of each group from 0 (TEXCOORD_1 -> TEXCOORD_0) where every
    primitive has exactly the sets its materials sample; returns primitives renumbered."""
    renumbered = 0
    for prims, materials in material_groups(doc):
        if _names_sets_elsewhere(prims):
            continue
        used: set[int] = set()
        holders: list[dict] = []
        for material in materials:
            sets, found = _texcoord_holders(material)
            used |= sets
            holders += found
        order = sorted(used)
        if order == list(range(len(order))) or any(_sets(p["attributes"]) != order for p in prims):
            continue
        mapping = {old: new for new, old in enumerate(order)}
        for holder in holders:
            holder["texCoord"] = mapping[holder["texCoord"]]
        for prim in prims:
            for attributes in (prim["attributes"], *prim.get("targets", [])):
                _rename_sets(attributes, mapping)
            renumbered += 1
    return renumbered


def _rename_sets(attributes: dict, mapping: dict[int, int]) -> None:
    """Rename TEXCOORD_old -> TEXCOORD_new in place, keeping the attributes' order."""
    renamed = {}
    for semantic, accessor in attributes.items():
        suffix = semantic[len(TEXCOORD) :]
        if semantic.startswith(TEXCOORD) and suffix.isdigit() and int(suffix) in mapping:
            semantic = f"{TEXCOORD}{mapping[int(suffix)]}"
        renamed[semantic] = accessor
    attributes.clear()
    attributes.update(renamed)
