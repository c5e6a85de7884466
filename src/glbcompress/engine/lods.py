"""Levels of detail (``lods="1,0.5,0.25"``): the model at several triangle ratios, for viewers that
draw far-away objects with fewer triangles.

Two ways out:

- One GLB with ``MSFT_lod`` (the default). Each node that draws a mesh becomes the highest level;
  ``extensions.MSFT_lod.ids`` names a node per lower level, drawing a simplified copy of the mesh
  with the same materials, skin and morph weights, and ``extras.MSFT_screencoverage`` says from
  which share of the screen down each level is meant (see ``screen_coverage``). A viewer that does
  not know the extension draws the highest level. Copies share every accessor the simplifier did
  not replace, so a level costs only the vertices and indices it changed. A node with children,
  an animation, a camera, a joint role or extensions keeps its place and gets a new child holding
  the mesh and the levels (MSFT_lod replaces a node with its whole subtree); nodes with GPU
  instancing or animated morph weights, and nodes already in an MSFT_lod, keep one level.
- Separate files (``lod_files``): OUT is the highest level, OUT's name with ``.lod1.glb``,
  ``.lod2.glb``... the lower ones, each a full compression (``compress_lod_files``).

Level k is simplified towards its ratio r_k with the error bound ``simplify_error * r_0 / r_k``:
a level meant for a quarter of the triangles is meant to be seen from farther away, where a
larger error shows no more. The report gives each level's triangles and measured Hausdorff
distance (fraction of the scene's diagonal) as ``lodK_hausdorff``.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .document import Document, Pointer
from .errors import InvalidOptions
from .report import PassReport, Report, primitive_triangles

if TYPE_CHECKING:
    from .limits import Limits
    from .options import Options
    from .passes.simplify import SimplifyOptions

MSFT_LOD = "MSFT_lod"
INSTANCING = "EXT_mesh_gpu_instancing"
MAX_LEVELS = 8
FULL_DETAIL_COVERAGE = 0.5
"""Screen share (of the viewport) at and above which the highest level is wanted; a level with
ratio r of the highest level's triangles is enough below r times this (triangles per pixel)."""


def lod_ratios(text: str) -> list[float]:
    """The ratios of a ``lods`` option ("1,0.5,0.25"): numbers in (0, 1], strictly decreasing,
    at most MAX_LEVELS. Raises InvalidOptions saying what is wrong."""
    if not text.strip():
        return []
    parts = [p.strip() for p in text.split(",")]
    try:
        ratios = [float(p) for p in parts]
    except ValueError:
        raise InvalidOptions(
            f"Option 'lods' must be comma-separated ratios such as '1,0.5,0.25', not {text!r}."
        ) from None
    if len(ratios) > MAX_LEVELS:
        raise InvalidOptions(f"Option 'lods' allows at most {MAX_LEVELS} levels, not {len(ratios)}.")
    if any(not 0 < r <= 1 for r in ratios):
        raise InvalidOptions("Option 'lods': every ratio must be above 0 and at most 1.")
    if any(b >= a for a, b in pairwise(ratios)):
        raise InvalidOptions("Option 'lods': ratios must decrease from the highest level to the lowest.")
    return ratios


def level_error(options: SimplifyOptions, ratios: list[float], k: int) -> float:
    """The error bound of level k (see the module docstring), capped at the option's maximum, 1."""
    return min(options.simplify_error * ratios[0] / ratios[k], 1.0)


def screen_coverage(ratios: list[float]) -> list[float]:
    """MSFT_screencoverage: the screen share down to which each level is drawn; the lowest level
    is drawn down to 0 (never hidden)."""
    return [round(FULL_DETAIL_COVERAGE * r / ratios[0], 6) for r in ratios[1:]] + [0.0]


# -- one GLB with MSFT_lod ------------------------------------------------------------------------


def _copy_mesh(mesh: dict, k: int) -> dict:
    """A mesh sharing accessors and materials with mesh, with containers of its own for the
    simplifier to point at new accessors."""
    prims = []
    for prim in mesh.get("primitives", []):
        new = dict(prim)
        new["attributes"] = dict(prim.get("attributes", {}))
        if "targets" in prim:
            new["targets"] = [dict(t) for t in prim["targets"]]
        prims.append(new)
    out = {**mesh, "primitives": prims}
    out["name"] = f"{mesh.get('name') or 'mesh'} LOD{k}"
    return out


class _Nodes:
    """Which nodes may take levels and which need a child to carry them."""

    def __init__(self, doc: Document):
        self.joints = {id(j) for s in doc.skins for j in s.get("joints", [])}
        self.in_lod: set[int] = set()
        for node in doc.nodes:
            lod = node.get("extensions", {}).get(MSFT_LOD)
            if isinstance(lod, dict):
                self.in_lod.add(id(node))
                self.in_lod.update(id(n) for n in lod.get("ids", []) if isinstance(n, dict))
        self.animated: set[int] = set()
        self.weights_animated: set[int] = set()
        for anim in doc.animations:
            for channel in anim.get("channels", []):
                target = channel.get("target", {})
                pointer = target.get("extensions", {}).get("KHR_animation_pointer", {}).get("pointer")
                if isinstance(pointer, Pointer) and pointer.collection == "nodes":
                    node, path = pointer.target, pointer.rest.split("/")[1:2]
                elif isinstance(target.get("node"), dict):
                    node, path = target["node"], [target.get("path")]
                else:
                    continue
                self.animated.add(id(node))
                if path == ["weights"]:
                    self.weights_animated.add(id(node))

    def eligible(self, node: dict) -> bool:
        extensions = node.get("extensions", {})
        return (
            isinstance(node.get("mesh"), dict)
            and id(node) not in self.in_lod
            and id(node) not in self.weights_animated
            and INSTANCING not in extensions
        )

    def plain(self, node: dict) -> bool:
        """True if levels can replace the node itself."""
        return not (
            node.get("children")
            or "camera" in node
            or node.get("extensions")
            or id(node) in self.animated
            or id(node) in self.joints
        )


TRANSFORM_KEYS = ("matrix", "translation", "rotation", "scale")
DRAWING_KEYS = ("mesh", "skin", "weights")


def _add_levels(doc: Document, copies: dict[int, list[dict]], ratios: list[float]) -> int:
    """Give every eligible scene node MSFT_lod with a node per lower level; returns how many nodes
    took levels."""
    nodes = _Nodes(doc)
    coverage = screen_coverage(ratios)
    done = 0
    for node, _world in list(doc.scene_nodes()):
        if not nodes.eligible(node) or id(node["mesh"]) not in copies:
            continue
        holder = node
        if not nodes.plain(node):
            holder = {key: node.pop(key) for key in DRAWING_KEYS if key in node}
            holder["name"] = f"{node.get('name') or 'node'} LOD0"
            node.setdefault("children", []).append(holder)
            doc.nodes.append(holder)
        carried = {k: holder[k] for k in (*TRANSFORM_KEYS, "skin", "weights") if k in holder}
        levels = []
        for k, mesh in enumerate(copies[id(holder["mesh"])], start=1):
            level = {"name": f"{holder.get('name') or 'node'} LOD{k}", **carried, "mesh": mesh}
            for key in ("translation", "rotation", "scale", "matrix", "weights"):
                if key in level:
                    level[key] = list(level[key])
            doc.nodes.append(level)
            levels.append(level)
        holder.setdefault("extensions", {})[MSFT_LOD] = {"ids": levels}
        extras = holder.get("extras")
        if extras is None or isinstance(extras, dict):
            holder["extras"] = {**(extras or {}), "MSFT_screencoverage": coverage}
        done += 1
    if done:
        doc.use_extension(MSFT_LOD)
    return done


def simplify_levels(doc: Document, options: SimplifyOptions) -> dict[str, Any]:
    """The simplify pass with ``lods``: level 0 in place, lower levels as MSFT_lod nodes (or, with
    lod_files, level 0 only: engine.api writes the other files)."""
    from .passes.simplify import SceneScale, _Run

    ratios = lod_ratios(options.lods)
    level0 = replace(options, lods="", simplify_ratio=ratios[0])
    if len(ratios) == 1 or options.lod_files:
        return _Run(doc, level0).apply()
    scale = SceneScale.of(doc)
    originals = list(doc.meshes)
    drawn = {id(n["mesh"]) for n, _w in doc.scene_nodes() if isinstance(n.get("mesh"), dict)}
    copies: dict[int, list[dict]] = {}
    for mesh in originals:
        if id(mesh) not in drawn:
            continue
        copies[id(mesh)] = [_copy_mesh(mesh, k) for k in range(1, len(ratios))]
        for copy in copies[id(mesh)]:
            scale.mesh_scale[id(copy)] = scale.mesh_scale.get(id(mesh), 0.0)
            doc.meshes.append(copy)
    changes = _Run(doc, level0).apply(originals, scale)
    fidelity: dict[str, float] = dict(changes.pop("fidelity", {}))
    changes["levels of detail"] = len(ratios)
    changes["lod0 triangles"] = _triangles(originals, drawn)
    for k in range(1, len(ratios)):
        level = [c[k - 1] for c in copies.values()]
        options_k = replace(level0, simplify_ratio=ratios[k], simplify_error=level_error(options, ratios, k))
        done = _Run(doc, options_k).apply(level, scale)
        for key, value in done.get("fidelity", {}).items():
            fidelity[key.replace("simplify_", f"lod{k}_")] = value
        changes[f"lod{k} triangles"] = _triangles(level, None)
    changes["nodes with levels"] = _add_levels(doc, copies, ratios)
    if not changes["nodes with levels"]:  # nothing took the copies: drop them
        gone = {id(c) for cs in copies.values() for c in cs}
        doc.meshes[:] = [m for m in doc.meshes if id(m) not in gone]
    if fidelity:
        changes["fidelity"] = fidelity
    return changes


def _triangles(meshes: list[dict], only: set[int] | None) -> int:
    return sum(
        primitive_triangles(p)
        for m in meshes
        if only is None or id(m) in only
        for p in m.get("primitives", [])
    )


# -- separate files -------------------------------------------------------------------------------


def lod_path(dst: Path, k: int) -> Path:
    """Where level k goes: dst itself for level 0, else dst's name with .lodK before .glb."""
    if k == 0:
        return dst
    stem = dst.name[: -len(dst.suffix)] if dst.suffix else dst.name
    return dst.with_name(f"{stem}.lod{k}{dst.suffix or '.glb'}")


def wants_files(options: Options) -> bool:
    s = options.simplify
    return s is not None and s.lod_files and len(lod_ratios(s.lods)) > 1


def compress_lod_files(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    options: Options,
    progress: Any = None,
    limits: Limits | None = None,
) -> Report:
    """Write each level of detail to its own GLB (see lod_path); returns level 0's report with a
    "levels of detail" entry listing every file, its bytes, triangles and error."""
    from . import pipeline
    from .limits import DEFAULT_LIMITS

    assert options.simplify is not None
    started = time.perf_counter()
    dst = Path(dst)
    ratios = lod_ratios(options.simplify.lods)
    reports: list[Report] = []
    written: list[Path] = []
    try:
        for k, ratio in enumerate(ratios):
            simplify = replace(
                options.simplify,
                lods="",
                lod_files=False,
                simplify_ratio=ratio,
                simplify_error=level_error(options.simplify, ratios, k),
            )
            target = lod_path(dst, k)
            partial = target.with_name(f".{target.name}.{os.urandom(4).hex()}.part")
            level_progress = None
            if progress is not None:
                share = 1 / len(ratios)

                def level_progress(step: str, fraction: float, k: int = k, share: float = share) -> None:
                    progress(f"LOD{k}: {step}", (k + fraction) * share)

            try:
                report = pipeline.compress(
                    src,
                    partial,
                    replace(options, simplify=simplify),
                    level_progress,
                    limits or DEFAULT_LIMITS,
                )
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            reports.append(report)
            written.append(target)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    first = reports[0]
    levels = []
    for k, (report, path) in enumerate(zip(reports, written, strict=True)):
        entry = {
            "file": path.name,
            "ratio": ratios[k],
            "bytes": report.output_bytes,
            "triangles": report.scene_after.triangles,
        }
        for key, value in report.fidelity.items():
            if key.startswith("simplify_"):
                entry[key.removeprefix("simplify_")] = value
                if k:
                    first.fidelity[key.replace("simplify_", f"lod{k}_")] = value
        levels.append(entry)
    first.passes.append(
        PassReport("levels of detail", round(time.perf_counter() - started, 4), {"files": levels})
    )
    first.seconds = time.perf_counter() - started
    return first
