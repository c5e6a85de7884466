"""The shape of glTF JSON: every property the engine reads has the JSON type glTF 2.0 gives it.

Checked once, right after parsing and before anything is linked or decoded, so that a model whose
``children`` is a number or whose ``translation`` holds a string is refused with a message naming
the property, instead of surfacing later as a TypeError deep inside some pass. Properties the
engine does not read (and unknown ones) pass untouched; ``extras`` may hold anything.

>>> check_structure({"asset": {"version": "2.0"}, "nodes": [{"children": 3}]})
Traceback (most recent call last):
InvalidModel: nodes[0].children must be a list of indices, not 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import InvalidModel

Where = str | tuple[Any, str | int]
"""Where a value is: a top-level name, or (where its parent is, its key or list index). The text
("nodes[3].children") is built only for the message of a failed check: building it for every
property checked took a tenth of the time of reading a model with thousands of nodes."""
Check = Callable[[Any, Where], None]
Spec = dict[str, Any]
"""property name -> a Check, or a nested Spec for an object property."""


def _text(where: Where) -> str:
    parts: list[str] = []
    while isinstance(where, tuple):
        where, part = where
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return where + "".join(reversed(parts))


def _fail(where: Where, what: str, value: Any) -> None:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    raise InvalidModel(f"{_text(where)} must be {what}, not {shown}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def index(value: Any, where: Where) -> None:
    if not _is_int(value) or value < 0:
        _fail(where, "an index (an integer of at least 0)", value)


def number(value: Any, where: Where) -> None:
    if not _is_number(value):
        _fail(where, "a finite number", value)


def string(value: Any, where: Where) -> None:
    if not isinstance(value, str):
        _fail(where, "a string", value)


def boolean(value: Any, where: Where) -> None:
    if not isinstance(value, bool):
        _fail(where, "true or false", value)


def obj(value: Any, where: Where) -> None:
    if not isinstance(value, dict):
        _fail(where, "an object", value)


def one_of(*choices: Any) -> Check:
    def check(value: Any, where: Where) -> None:
        if value not in choices or isinstance(value, bool):
            listed = ", ".join(repr(c) for c in choices)
            _fail(where, f"one of {listed}", value)

    return check


def numbers(length: int | None = None) -> Check:
    """A list of finite numbers (of exactly length, if given)."""

    def check(value: Any, where: Where) -> None:
        if (
            not isinstance(value, list)
            or (length is not None and len(value) != length)
            or not all(_is_number(v) for v in value)
        ):
            _fail(where, f"a list of {length or 'finite'} numbers", value)

    return check


def indices(value: Any, where: Where) -> None:
    if not isinstance(value, list) or not all(_is_int(v) and v >= 0 for v in value):
        _fail(where, "a list of indices", value)


def index_map(value: Any, where: Where) -> None:
    """An object whose every value is an index (primitive attributes, morph targets)."""
    if not isinstance(value, dict) or not all(_is_int(v) and v >= 0 for v in value.values()):
        _fail(where, "an object of indices", value)


def list_of(spec: Spec) -> Check:
    """A list of objects, each checked against spec."""

    def check(value: Any, where: Where) -> None:
        if not isinstance(value, list):
            _fail(where, "a list of objects", value)
        for i, item in enumerate(value):
            _check_object(item, spec, (where, i))

    return check


def extensions(value: Any, where: Where) -> None:
    """Each extension's value is an object (the schema of every glTF extension)."""
    if not isinstance(value, dict):
        _fail(where, "an object", value)
    for name, ext in value.items():
        if not isinstance(ext, dict):
            _fail((where, name), "an object", ext)


TEXTURE_TRANSFORM: Spec = {
    "offset": numbers(2),
    "rotation": number,
    "scale": numbers(2),
    "texCoord": index,
}
TEXTURE_INFO: Spec = {
    "index": index,
    "texCoord": index,
    "scale": number,
    "strength": number,
    "extensions": {"KHR_texture_transform": TEXTURE_TRANSFORM},
}

SCHEMA: dict[str, Spec] = {
    "scenes": {"nodes": indices},
    "nodes": {
        "children": indices,
        "mesh": index,
        "skin": index,
        "camera": index,
        "matrix": numbers(16),
        "translation": numbers(3),
        "rotation": numbers(4),
        "scale": numbers(3),
        "weights": numbers(),
        "extensions": {
            "EXT_mesh_gpu_instancing": {"attributes": index_map},
            "MSFT_lod": {"ids": indices},
            "KHR_lights_punctual": {"light": index},
        },
    },
    "meshes": {
        "primitives": list_of(
            {
                "attributes": index_map,
                "indices": index,
                "material": index,
                "mode": one_of(0, 1, 2, 3, 4, 5, 6),
                "targets": lambda value, where: _targets(value, where),
                "extensions": {
                    "KHR_draco_mesh_compression": {"bufferView": index, "attributes": index_map},
                    "KHR_materials_variants": {"mappings": list_of({"material": index, "variants": indices})},
                },
            }
        ),
        "weights": numbers(),
    },
    "materials": {
        "pbrMetallicRoughness": {
            "baseColorFactor": numbers(4),
            "metallicFactor": number,
            "roughnessFactor": number,
        },
        "emissiveFactor": numbers(3),
        "alphaMode": one_of("OPAQUE", "MASK", "BLEND"),
        "alphaCutoff": number,
        "doubleSided": boolean,
        "extensions": {"MSFT_lod": {"ids": indices}},
    },
    "textures": {"source": index, "sampler": index},
    "images": {"uri": string, "bufferView": index, "mimeType": string},
    "samplers": {"magFilter": index, "minFilter": index, "wrapS": index, "wrapT": index},
    "accessors": {
        "bufferView": index,
        "byteOffset": index,
        "componentType": index,
        "count": index,
        "type": string,
        "normalized": boolean,
        "min": numbers(),
        "max": numbers(),
        "sparse": {
            "count": index,
            "indices": {"bufferView": index, "byteOffset": index, "componentType": index},
            "values": {"bufferView": index, "byteOffset": index},
        },
    },
    "cameras": {
        "type": one_of("perspective", "orthographic"),
        "perspective": {"aspectRatio": number, "yfov": number, "znear": number, "zfar": number},
        "orthographic": {"xmag": number, "ymag": number, "znear": number, "zfar": number},
    },
    "skins": {"joints": indices, "skeleton": index, "inverseBindMatrices": index},
    "animations": {
        "channels": list_of(
            {
                "sampler": index,
                "target": {
                    "node": index,
                    "path": string,
                    "extensions": {"KHR_animation_pointer": {"pointer": string}},
                },
            }
        ),
        "samplers": list_of(
            {"input": index, "output": index, "interpolation": one_of("LINEAR", "STEP", "CUBICSPLINE")}
        ),
    },
    "buffers": {"byteLength": index, "uri": string},
    "bufferViews": {
        "buffer": index,
        "byteOffset": index,
        "byteLength": index,
        "byteStride": index,
        "target": index,
    },
}

ROOT: Spec = {
    "asset": {"version": string, "minVersion": string, "generator": string},
    "scene": index,
    "extensionsUsed": lambda value, where: _strings(value, where),
    "extensionsRequired": lambda value, where: _strings(value, where),
    "extensions": {
        "KHR_lights_punctual": {
            "lights": list_of({"type": string, "color": numbers(3), "intensity": number, "range": number})
        },
        "KHR_materials_variants": {"variants": list_of({})},
    },
}


def _strings(value: Any, where: Where) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, "a list of strings", value)


def _targets(value: Any, where: Where) -> None:
    if not isinstance(value, list):
        _fail(where, "a list of objects", value)
    for i, target in enumerate(value):
        index_map(target, (where, i))


def _check_object(value: Any, spec: Spec, where: Where) -> None:
    if not isinstance(value, dict):
        _fail(where, "an object", value)
    for key, rule in spec.items():
        if key not in value:
            continue
        inner = (where, key) if where else key
        if isinstance(rule, dict):
            if key == "extensions":
                extensions(value[key], inner)
            _check_object(value[key], rule, inner)
        else:
            rule(value[key], inner)
    if "extensions" in value and "extensions" not in spec:
        extensions(value["extensions"], (where, "extensions") if where else "extensions")


def _check_texture_infos(material: dict, where: Where) -> None:
    """Every textureInfo in a material, core or KHR_materials_* (a key ending in "Texture")."""
    stack: list[tuple[Any, Where]] = [(material, where)]
    while stack:
        node, path = stack.pop()
        for key, value in node.items():
            if key == "extras":
                continue
            if key.endswith("Texture"):
                _check_object(value, TEXTURE_INFO, (path, key))
                if "index" not in value:
                    raise InvalidModel(f"{_text((path, key))} has no texture index.")
            elif isinstance(value, dict):
                stack.append((value, (path, key)))


def check_structure(gltf: dict) -> None:
    """Raise InvalidModel naming the first property whose JSON type is not what glTF defines."""
    _check_object(gltf, ROOT, "")
    for key, spec in SCHEMA.items():
        items = gltf.get(key, [])
        list_of(spec)(items, key)
        if key == "materials":
            for i, material in enumerate(items):
                _check_texture_infos(material, ("materials", i))
