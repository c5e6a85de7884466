"""Bytes of a stored glTF asset by category (geometry, textures, animation, other), read from its
JSON with indices, so input and output are measured the same way."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .records import dataclass

CATEGORIES = ("geometry", "textures", "animation", "other")


@dataclass
class ByteBreakdown:
    geometry: int = 0
    textures: int = 0
    animation: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.geometry + self.textures + self.animation + self.other

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def _ints(values: Any) -> list[int]:
    if isinstance(values, dict):
        values = list(values.values())
    if not isinstance(values, list):
        values = [values]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def accessor_categories(gltf: dict) -> dict[int, str]:
    """accessor index -> category by what uses it."""
    out: dict[int, str] = {}
    for anim in gltf.get("animations", []) or []:
        for sampler in anim.get("samplers", []) if isinstance(anim, dict) else []:
            if isinstance(sampler, dict):
                for a in _ints([sampler.get("input"), sampler.get("output")]):
                    out[a] = "animation"
    for mesh in gltf.get("meshes", []) or []:
        for prim in mesh.get("primitives", []) if isinstance(mesh, dict) else []:
            if not isinstance(prim, dict):
                continue
            found = _ints(prim.get("attributes", {})) + _ints(prim.get("indices"))
            for target in prim.get("targets", []) or []:
                found += _ints(target)
            for a in found:
                out[a] = "geometry"
    for skin in gltf.get("skins", []) or []:
        if isinstance(skin, dict):
            for a in _ints(skin.get("inverseBindMatrices")):
                out[a] = "geometry"
    for node in gltf.get("nodes", []) or []:
        inst = node.get("extensions", {}).get("EXT_mesh_gpu_instancing") if isinstance(node, dict) else None
        if isinstance(inst, dict):
            for a in _ints(inst.get("attributes", {})):
                out[a] = "geometry"
    return out


def breakdown(gltf: dict, total: int, external_image_bytes: int = 0) -> ByteBreakdown:
    """Split total (every byte of the asset: file plus external files) into categories; images in
    external files count external_image_bytes."""
    result = ByteBreakdown()
    views = gltf.get("bufferViews", []) or []
    buffers = gltf.get("buffers", []) or []
    view_cat: dict[int, str] = {}
    acc_cat = accessor_categories(gltf)
    for i, a in enumerate(gltf.get("accessors", []) or []):
        if not isinstance(a, dict):
            continue
        cat = acc_cat.get(i, "other")
        sparse = a.get("sparse") if isinstance(a.get("sparse"), dict) else {}
        for v in _ints([a.get("bufferView")]) + [
            x
            for part in ("indices", "values")
            if isinstance(sparse.get(part), dict)
            for x in _ints(sparse[part].get("bufferView"))
        ]:
            view_cat.setdefault(v, cat)
    for mesh in gltf.get("meshes", []) or []:
        for prim in mesh.get("primitives", []) if isinstance(mesh, dict) else []:
            ext = (
                prim.get("extensions", {}).get("KHR_draco_mesh_compression")
                if isinstance(prim, dict)
                else None
            )
            if isinstance(ext, dict):
                for v in _ints(ext.get("bufferView")):
                    view_cat[v] = "geometry"
    for im in gltf.get("images", []) or []:
        if isinstance(im, dict):
            for v in _ints(im.get("bufferView")):
                view_cat[v] = "textures"
            uri = im.get("uri")
            if isinstance(uri, str) and uri.startswith("data:"):
                result.textures += len(uri)
    # A meshopt-compressed view's bytes live where its extension says; its own range is a fallback.
    scale = []
    for b in buffers:
        uri = b.get("uri") if isinstance(b, dict) else None
        length = b.get("byteLength", 0) if isinstance(b, dict) else 0
        stored = len(uri) if isinstance(uri, str) and uri.startswith("data:") else length
        exts = b.get("extensions", {}) if isinstance(b, dict) else {}
        fallback = (
            any(isinstance(e, dict) and e.get("fallback") for e in exts.values())
            if isinstance(exts, dict)
            else False
        )
        scale.append(0.0 if fallback or not length else stored / length)
    for i, v in enumerate(views):
        if not isinstance(v, dict):
            continue
        exts = v.get("extensions", {}) if isinstance(v.get("extensions"), dict) else {}
        comp = next((e for e in exts.values() if isinstance(e, dict) and "mode" in e), None)
        src = comp if comp is not None else v
        b = src.get("buffer")
        length = src.get("byteLength", 0)
        if not isinstance(b, int) or not 0 <= b < len(scale) or not isinstance(length, int):
            continue
        setattr(
            result,
            view_cat.get(i, "other"),
            getattr(result, view_cat.get(i, "other")) + int(length * scale[b]),
        )
    result.textures += external_image_bytes
    counted = result.geometry + result.textures + result.animation
    result.other = max(0, total - counted)
    return result
