"""Where glTF objects refer to each other by index, in one table.

The reader uses it to replace indices by objects (checking each index), passes use `references`
to find and rewrite every reference to an object, and the writer walks the object graph to emit only
what is reachable. Extensions the engine knows that carry references are listed here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from .document import Document, Pointer
from .errors import InvalidModel

# collection -> [(path inside one item, target collection)]. Path steps: a key, "[]" for each list
# item, "*" for each dict value.
LINKS: dict[str, list[tuple[str, str]]] = {
    "scenes": [("nodes.[]", "nodes")],
    "nodes": [
        ("children.[]", "nodes"),
        ("mesh", "meshes"),
        ("skin", "skins"),
        ("camera", "cameras"),
        ("extensions.EXT_mesh_gpu_instancing.attributes.*", "accessors"),
        ("extensions.MSFT_lod.ids.[]", "nodes"),
    ],
    "meshes": [
        ("primitives.[].attributes.*", "accessors"),
        ("primitives.[].indices", "accessors"),
        ("primitives.[].material", "materials"),
        ("primitives.[].targets.[].*", "accessors"),
        ("primitives.[].extensions.KHR_materials_variants.mappings.[].material", "materials"),
    ],
    "materials": [("extensions.MSFT_lod.ids.[]", "materials")],
    "textures": [("source", "images"), ("sampler", "samplers"), ("extensions.*.source", "images")],
    "skins": [("joints.[]", "nodes"), ("skeleton", "nodes"), ("inverseBindMatrices", "accessors")],
    "animations": [
        ("channels.[].target.node", "nodes"),
        ("samplers.[].input", "accessors"),
        ("samplers.[].output", "accessors"),
    ],
    "root": [
        ("scene", "scenes"),
        ("extensions.EXT_lights_image_based.lights.[].specularImages.[].[]", "images"),
    ],
}

SINGULAR = {
    "scenes": "scene",
    "nodes": "node",
    "meshes": "mesh",
    "materials": "material",
    "textures": "texture",
    "images": "image",
    "samplers": "sampler",
    "accessors": "accessor",
    "cameras": "camera",
    "skins": "skin",
    "animations": "animation",
}

POINTER_RE = re.compile(r"^/(nodes|meshes|materials|textures|images|samplers|cameras|skins)/(\d+)(/.*)?$")


def _steps(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


Walker = Callable[[Any], list[tuple[Any, Any]]]


def slots(obj: Any, path: str) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every place the path reaches in obj that holds a value."""
    return iter(_walker(_steps(path))(obj))


def _walker(steps: tuple[str, ...]) -> Walker:
    """A function that does what slots() does for one path, built once per path: every reference
    walk of the engine comes through here, and nested small functions cost far less than reading
    the path again for every object."""
    step, rest = steps[0], steps[1:]
    if not rest:
        if step == "[]":
            return lambda obj: [(obj, i) for i in range(len(obj))] if isinstance(obj, list) else []
        if step == "*":
            return lambda obj: [(obj, key) for key in obj] if isinstance(obj, dict) else []
        return lambda obj: [(obj, step)] if isinstance(obj, dict) and step in obj else []
    inner = _walker(rest)
    if step == "[]":
        return lambda obj: [slot for value in obj for slot in inner(value)] if isinstance(obj, list) else []
    if step == "*":
        return lambda obj: (
            [slot for value in obj.values() for slot in inner(value)] if isinstance(obj, dict) else []
        )
    return lambda obj: inner(obj[step]) if isinstance(obj, dict) and step in obj else []


# LINKS as walkers: collection -> [(walker, target collection)].
WALKERS: dict[str, list[tuple[Walker, str]]] = {
    kind: [(_walker(_steps(path)), target) for path, target in links] for kind, links in LINKS.items()
}


def texture_info_slots(material: dict) -> Iterator[tuple[dict, str]]:
    """Every textureInfo in a material, core or extension: a dict under a key ending in "Texture"
    with an "index" (the convention every KHR_materials_* extension follows)."""
    stack: list[Any] = [material]
    while stack:
        obj = stack.pop()
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key.endswith("Texture") and isinstance(value, dict) and "index" in value:
                    yield value, "index"
                elif isinstance(value, dict):
                    stack.append(value)


def item_slots(kind: str, item: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, target collection) of every reference an item of a collection holds."""
    for walker, target in WALKERS.get(kind, ()):
        for container, key in walker(item):
            yield container, key, target
    if kind == "materials":
        for container, key in texture_info_slots(item):
            yield container, key, "textures"


def link(doc: Document) -> None:
    """Replace every index reference by the object it names; raise InvalidModel for bad indices."""
    items: list[tuple[str, int, Any]] = [("root", 0, doc.root)]
    for kind in LINKS:
        if kind != "root":
            items.extend((kind, i, item) for i, item in enumerate(doc.collection(kind)))
    for kind, i, item in items:
        for container, key, target in item_slots(kind, item):
            _link_slot(doc, container, key, target, f"{kind}[{i}]" if kind != "root" else "scene")
        if kind == "animations":
            _link_animation(doc, item, i)


def _link_slot(doc: Document, container: Any, key: Any, target: str, where: str) -> None:
    value = container[key]
    objects = doc.collection(target)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(objects):
        raise InvalidModel(
            f"{where} refers to {SINGULAR[target]} {value!r}, but the model has {len(objects)} {target}."
        )
    container[key] = objects[value]


def _link_animation(doc: Document, animation: dict, index: int) -> None:
    samplers = animation.get("samplers", [])
    for channel in animation.get("channels", []):
        value = channel.get("sampler")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(samplers):
            raise InvalidModel(
                f"animations[{index}] has a channel that refers to a missing sampler {value!r}."
            )
        channel["sampler"] = samplers[value]
        pointer = channel.get("target", {}).get("extensions", {}).get("KHR_animation_pointer")
        if isinstance(pointer, dict) and isinstance(pointer.get("pointer"), str):
            match = POINTER_RE.match(pointer["pointer"])
            if match:
                objects = doc.collection(match.group(1))
                j = int(match.group(2))
                if j >= len(objects):
                    raise InvalidModel(
                        f"animations[{index}] points at {pointer['pointer']}, which does not exist."
                    )
                pointer["pointer"] = Pointer(objects[j], match.group(1), match.group(3) or "")


def references(doc: Document) -> Iterator[tuple[Any, Any, Any]]:
    """(container, key, referenced object) for every reference in the document, including the
    channel -> sampler references inside animations."""
    yield from _refs_of("root", doc.root)
    for kind in LINKS:
        if kind == "root":
            continue
        for item in doc.collection(kind):
            yield from _refs_of(kind, item)
            if kind == "animations":
                for channel in item.get("channels", []):
                    yield channel, "sampler", channel.get("sampler")
                    pointer = channel.get("target", {}).get("extensions", {}).get("KHR_animation_pointer")
                    if isinstance(pointer, dict) and isinstance(pointer.get("pointer"), Pointer):
                        yield pointer["pointer"], "target", pointer["pointer"].target


def _refs_of(kind: str, item: Any) -> list[tuple[Any, Any, Any]]:
    """(container, key, referenced object) of every reference item holds (as item_slots)."""
    found = [(c, k, c[k]) for walker, _target in WALKERS.get(kind, ()) for c, k in walker(item)]
    if kind == "materials":
        found += [(c, k, c[k]) for c, k in texture_info_slots(item)]
    return found


def replace_references(doc: Document, mapping: dict[int, Any]) -> int:
    """Point every reference to an object whose id() is in mapping at its replacement instead.
    Returns how many references changed."""
    changed = 0
    for container, key, value in list(references(doc)):
        new = mapping.get(id(value))
        if new is not None:
            if isinstance(container, Pointer):
                container.target = new
            else:
                container[key] = new
            changed += 1
    return changed


def referrers(doc: Document) -> dict[int, list[tuple[Any, Any]]]:
    """id(object) -> the (container, key) slots that refer to it."""
    out: dict[int, list[tuple[Any, Any]]] = {}
    for container, key, value in references(doc):
        out.setdefault(id(value), []).append((container, key))
    return out


def reachable(doc: Document) -> set[int]:
    """ids of every object reachable from the root, the scenes and the animations."""
    seen: set[int] = set()
    owner = {id(o): kind for kind in LINKS if kind != "root" for o in doc.collection(kind)}
    stack: list[tuple[str, Any]] = [("root", doc.root)]
    stack += [("scenes", s) for s in doc.scenes]
    stack += [("animations", a) for a in doc.animations]
    for _kind, obj in stack:
        seen.add(id(obj))
    while stack:
        kind, obj = stack.pop()
        for _container, _key, value in _refs_of(kind, obj):
            if id(value) not in seen:
                seen.add(id(value))
                target_kind = owner.get(id(value))
                if target_kind is not None:
                    stack.append((target_kind, value))
        if kind == "animations":
            for channel in obj.get("channels", []):
                pointer = channel.get("target", {}).get("extensions", {}).get("KHR_animation_pointer")
                if isinstance(pointer, dict) and isinstance(pointer.get("pointer"), Pointer):
                    target = pointer["pointer"].target
                    if id(target) not in seen:
                        seen.add(id(target))
                        stack.append((pointer["pointer"].collection, target))
    return seen
