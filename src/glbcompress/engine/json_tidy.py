"""The output JSON in fewer bytes, meaning the same thing.

On small models the JSON chunk is most of the file (RhinoSite: 2.7 of 3.4 kB), and on rigs with
hundreds of joints it is tens of kilobytes. Three things make it shorter without changing what a
loader sees:

- Values equal to the glTF schema default are left out (``"mode": 4``, ``"metallicFactor": 1``,
  identity node transforms, ``"wrapS": 10497``, ``"byteOffset": 0``, ...): the schema says a
  missing property has its default value. A node matrix that only shifts becomes a translation.
- Floats with an integral value are written as integers (``1`` for ``1.0``): JSON has one number
  type, so they are the same number.
- With ``float32=True``, numbers that every renderer uses as float32 are written in the fewest
  digits that read back as the same float32 (``0.70710677`` for ``0.7071067690849304``): node
  rotations, scales and matrix rotation/scale columns, morph weights, material factors, texture
  transforms, cameras and punctual lights. The difference is below half a float32 unit in the last
  place, applies to a whole subtree alike (a rotation or scale never opens a crack between
  siblings) and vanishes entirely in a float32 renderer. Translations keep every digit: two
  siblings' offsets rounded apart would open a gap in a float64 renderer (a georeferenced model's
  offsets are millions of units).

Extras and extensions this module does not know are written exactly as they came, and objects an
animation pointer (KHR_animation_pointer) targets keep their properties, so the pointer always
finds what it animates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
NODE_DEFAULTS = {"translation": [0, 0, 0], "rotation": [0, 0, 0, 1], "scale": [1, 1, 1], "matrix": IDENTITY}
PRIMITIVE_DEFAULTS = {"mode": 4}
MATERIAL_DEFAULTS = {
    "emissiveFactor": [0, 0, 0],
    "alphaMode": "OPAQUE",
    "alphaCutoff": 0.5,
    "doubleSided": False,
}
PBR_DEFAULTS = {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 1, "roughnessFactor": 1}
TEXTURE_INFO_DEFAULTS = {"texCoord": 0}
TEXTURE_INFO_EXTRA_DEFAULTS = {"normalTexture": {"scale": 1}, "occlusionTexture": {"strength": 1}}
TEXTURE_TRANSFORM_DEFAULTS = {"offset": [0, 0], "rotation": 0, "scale": [1, 1]}
SAMPLER_DEFAULTS = {"wrapS": 10497, "wrapT": 10497}
OFFSET_DEFAULTS = {"byteOffset": 0}
"""Of buffer views, accessors and a sparse accessor's indices and values."""
ANIMATION_SAMPLER_DEFAULTS = {"interpolation": "LINEAR"}
MATERIAL_EXTENSION_DEFAULTS = {
    "KHR_materials_anisotropy": {"anisotropyStrength": 0, "anisotropyRotation": 0},
    "KHR_materials_clearcoat": {"clearcoatFactor": 0, "clearcoatRoughnessFactor": 0},
    "KHR_materials_dispersion": {"dispersion": 0},
    "KHR_materials_emissive_strength": {"emissiveStrength": 1},
    "KHR_materials_ior": {"ior": 1.5},
    "KHR_materials_iridescence": {
        "iridescenceFactor": 0,
        "iridescenceIor": 1.3,
        "iridescenceThicknessMinimum": 100,
        "iridescenceThicknessMaximum": 400,
    },
    "KHR_materials_pbrSpecularGlossiness": {
        "diffuseFactor": [1, 1, 1, 1],
        "specularFactor": [1, 1, 1],
        "glossinessFactor": 1,
    },
    "KHR_materials_sheen": {"sheenColorFactor": [0, 0, 0], "sheenRoughnessFactor": 0},
    "KHR_materials_specular": {"specularFactor": 1, "specularColorFactor": [1, 1, 1]},
    "KHR_materials_transmission": {"transmissionFactor": 0},
    "KHR_materials_volume": {"thicknessFactor": 0, "attenuationColor": [1, 1, 1]},
}
"""Defaults of the ratified material extensions' factors (their specifications' schemas)."""

TEXTURE_TRANSFORM = "KHR_texture_transform"
LIGHTS = "KHR_lights_punctual"
FLOAT32_NODE_FIELDS = ("rotation", "scale", "weights")
MATRIX_TRANSLATION = (12, 13, 14)
FLOAT32_RANGE = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))
"""The magnitudes a normal float32 holds."""


def tidy(gltf: dict, float32: bool = False) -> None:
    """Shorten gltf (JSON with indices, as the writer emits it) in place; see the module docstring."""
    pinned = _pointer_targets(gltf)
    for i, node in enumerate(gltf.get("nodes", [])):
        if ("nodes", i) not in pinned:
            _node(node, float32)
    for i, mesh in enumerate(gltf.get("meshes", [])):
        if ("meshes", i) in pinned:
            continue
        for prim in mesh.get("primitives", []):
            _drop_defaults(prim, PRIMITIVE_DEFAULTS)
        if float32 and "weights" in mesh:
            mesh["weights"] = _float32(mesh["weights"])
    for i, material in enumerate(gltf.get("materials", [])):
        if ("materials", i) not in pinned:
            _material(material, float32)
    for sampler in gltf.get("samplers", []):
        _drop_defaults(sampler, SAMPLER_DEFAULTS)
    for view in gltf.get("bufferViews", []):
        _drop_defaults(view, OFFSET_DEFAULTS)
    for accessor in gltf.get("accessors", []):
        _drop_defaults(accessor, OFFSET_DEFAULTS)
        sparse = accessor.get("sparse")
        if isinstance(sparse, dict):
            for part in ("indices", "values"):
                _drop_defaults(sparse.get(part), OFFSET_DEFAULTS)
    for animation in gltf.get("animations", []):
        for sampler in animation.get("samplers", []):
            _drop_defaults(sampler, ANIMATION_SAMPLER_DEFAULTS)
    if float32:
        for i, camera in enumerate(gltf.get("cameras", [])):
            if ("cameras", i) not in pinned:
                for key in ("perspective", "orthographic"):
                    if isinstance(camera.get(key), dict):
                        camera[key] = {k: _float32(v) for k, v in camera[key].items()}
        if ("extensions", 0) not in pinned:
            _lights(gltf.get("extensions", {}).get(LIGHTS, {}))
    _integral_floats(gltf)


def _pointer_targets(gltf: dict) -> set[tuple[str, int]]:
    """(collection, index) of every object a KHR_animation_pointer animates; ("extensions", 0)
    for anything under the root's extensions (lights)."""
    out: set[tuple[str, int]] = set()
    for animation in gltf.get("animations", []):
        for channel in animation.get("channels", []):
            target = channel.get("target", {})
            pointer = target.get("extensions", {}).get("KHR_animation_pointer", {}).get("pointer")
            if not isinstance(pointer, str):
                continue
            parts = pointer.split("/")
            if len(parts) > 2 and parts[1] == "extensions":
                out.add(("extensions", 0))
            elif len(parts) > 2 and parts[2].isdigit():
                out.add((parts[1], int(parts[2])))
    return out


def _node(node: dict, float32: bool) -> None:
    matrix = node.get("matrix")
    if (
        isinstance(matrix, list)
        and len(matrix) == 16
        and _same([*matrix[:12], matrix[15]], [*IDENTITY[:12], 1])
    ):
        del node["matrix"]  # a pure shift is shorter as a translation
        node["translation"] = matrix[12:15]
    if float32:
        for key in FLOAT32_NODE_FIELDS:
            if key in node:
                node[key] = _float32(node[key])
        matrix = node.get("matrix")
        if isinstance(matrix, list) and len(matrix) == 16:
            node["matrix"] = [v if i in MATRIX_TRANSLATION else _float32(v) for i, v in enumerate(matrix)]
    _drop_defaults(node, NODE_DEFAULTS)


def _material(material: dict, float32: bool) -> None:
    """float32 factors in the core material, KHR_materials_* extensions and texture transforms
    (extras and other extensions stay); then the defaults out."""
    if float32:
        _float32_tree(material)
    drop_material_defaults(material)


def drop_material_defaults(material: dict) -> None:
    """Leave out of a material (JSON, or a Document's linked dict) every property equal to its
    default: core, texture infos, texture transforms and the ratified KHR_materials_* factors."""
    pbr = material.get("pbrMetallicRoughness")
    if isinstance(pbr, dict):
        _drop_defaults(pbr, PBR_DEFAULTS)
        if not pbr:
            del material["pbrMetallicRoughness"]
    _drop_defaults(material, MATERIAL_DEFAULTS)
    for info in _texture_infos(material):
        _drop_defaults(info, TEXTURE_INFO_DEFAULTS)
        transform = info.get("extensions", {}).get(TEXTURE_TRANSFORM)
        if isinstance(transform, dict):
            _drop_defaults(transform, TEXTURE_TRANSFORM_DEFAULTS)
    for key, defaults in TEXTURE_INFO_EXTRA_DEFAULTS.items():
        if isinstance(material.get(key), dict):
            _drop_defaults(material[key], defaults)
    for name, defaults in MATERIAL_EXTENSION_DEFAULTS.items():
        _drop_defaults(material.get("extensions", {}).get(name), defaults)


def _texture_infos(material: dict) -> list[dict]:
    """The textureInfos of the core material and of KHR_materials_* extensions."""
    holders = [material, material.get("pbrMetallicRoughness", {})]
    holders += [
        ext for name, ext in material.get("extensions", {}).items() if name.startswith("KHR_materials_")
    ]
    return [
        value
        for holder in holders
        if isinstance(holder, dict)
        for key, value in holder.items()
        if key.endswith("Texture") and isinstance(value, dict) and "index" in value
    ]


def _float32_tree(obj: dict) -> None:
    """float32 numbers in a material, its known extensions and texture transforms; not extras."""
    for key, value in obj.items():
        if key == "extras":
            continue
        if key == "extensions" and isinstance(value, dict):
            for name, ext in value.items():
                if isinstance(ext, dict) and (name.startswith("KHR_materials_") or name == TEXTURE_TRANSFORM):
                    _float32_tree(ext)
        elif isinstance(value, dict):
            _float32_tree(value)
        elif isinstance(value, (list, float)):
            obj[key] = _float32(value)


def _lights(lights_ext: Any) -> None:
    lights = lights_ext.get("lights") if isinstance(lights_ext, dict) else None
    for light in lights if isinstance(lights, list) else []:
        if not isinstance(light, dict):
            continue
        for key in ("color", "intensity", "range"):
            if key in light:
                light[key] = _float32(light[key])
        if isinstance(light.get("spot"), dict):
            light["spot"] = {k: _float32(v) for k, v in light["spot"].items()}


def _drop_defaults(obj: Any, defaults: dict[str, Any]) -> None:
    if not isinstance(obj, dict):
        return
    for key, default in defaults.items():
        if key in obj and _same(obj[key], default):
            del obj[key]


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, list):
        return (
            isinstance(value, list)
            and len(value) == len(default)
            and all(_same(v, d) for v, d in zip(value, default, strict=True))
        )
    if isinstance(default, bool) or isinstance(value, bool):
        return value is default
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and value == default
    return value == default


def _float32(value: Any) -> Any:
    """value (a number or a list of numbers) in the fewest digits that read back as the same
    float32. Integers, and floats that float32 cannot hold (overflow, underflow, subnormal), stay."""
    if isinstance(value, list):
        return [_float32(v) for v in value]
    if not isinstance(value, float) or not FLOAT32_RANGE[0] <= abs(value) <= FLOAT32_RANGE[1]:
        return value
    return float(str(np.float32(value)))


def _integral_floats(obj: Any) -> None:
    """Floats with an integral value become integers, everywhere but in extras."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        items = cur.items() if isinstance(cur, dict) else enumerate(cur)
        for key, value in items:
            if isinstance(value, float):
                if value.is_integer() and abs(value) < 2**53:
                    cur[key] = int(value)
            elif isinstance(value, (dict, list)) and key != "extras":
                stack.append(value)
