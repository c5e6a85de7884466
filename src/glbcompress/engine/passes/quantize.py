"""quantize: store vertex attributes as small integers (KHR_mesh_quantization).

Float vertex data carries far more precision than a screen can show. This pass snaps each attribute
to a grid and stores it in 8 or 16 bits, which halves or quarters geometry before compression and
makes what the meshopt codec sees far more regular.

- POSITION: one grid for the whole scene (``position_grid="scene"``), so parts that meet in the
  source still meet exactly: one origin and one uniform step, the largest extent of the local-space
  bounding box of every mesh divided into ``2**position_bits - 1`` steps (a mesh that its node
  scales up far beyond the rest gets a grid of its own: transforms.magnified), stored as integers
  (not normalized, so decoding is exact). The origin is the meshes' own origin (signed integers) when
  their box lies around it, so D below is a pure scale and node translations and pivots stay as
  they were; otherwise it is the box's lowest corner (unsigned integers). Positions (and morph
  deltas) that already sit on a coarser round lattice (Horse: multiples of 0.1; voxel models: half
  voxels) are stored on that lattice instead: exact, in fewer levels, often in bytes. The
  dequantization D = translate(origin) * scale(step) goes where the renderer applies it: into the
  mesh's node (T becomes T * D, its translation written to the digits the grid needs), into a new
  child node carrying the mesh when the node is animated, has children or carries something else
  (camera, light, extension), into the inverse bind matrices of a skin (copied if meshes on other
  grids share it), or into each EXT_mesh_gpu_instancing transform. Morph target deltas use the same
  step without the origin: 8- or 16-bit integers when they fit, otherwise floats divided by the step.
  KHR_materials_volume thickness, given in mesh units, is divided by the step.
- NORMAL, TANGENT: normalized signed integers with unit length kept within the validator's limit;
  tangent w stays +-1. Morph deltas: normalized signed integers when within [-1, 1].
- TEXCOORD_n: normalized unsigned integers on a grid over the set's range, decoded through
  KHR_texture_transform on every texture that samples it (composed with any transform already
  there), as KHR_mesh_quantization intends. Materials and texture-coordinate accessors that are used
  together share one range, so every primitive stays correct. A range wider than one texture repeat
  gets extra bits; coordinates on a coarser round lattice (texel centres) keep it, per axis. Sets
  that no texture samples need no transform: unorm if within [0, 1], else float.
- COLOR_n: normalized unsigned integers when within [0, 1]. WEIGHTS_n: normalized unsigned integers
  whose sum per vertex is exactly 1. JOINTS_n: 8 bits when every index fits.

Accessors shared by several primitives are converted once; an accessor used elsewhere too (say, as
an animation output) keeps its original for those uses.

Example::

    quantize(doc, QuantizeOptions(position_bits=12))
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import field
from typing import Any

import numpy as np

from .. import quantization as qz
from ..document import Accessor, Document, Pointer
from ..errors import InvalidModel
from ..links import item_slots, references, texture_info_slots
from ..pass_options import QuantizeOptions
from ..records import dataclass
from ..transforms import drawn_sizes, local_matrix, magnified, quat_to_matrix

NAME = "quantize"

TRANSFORM_PATHS = ("translation", "rotation", "scale")
TEXTURE_TRANSFORM = "KHR_texture_transform"
INSTANCING = "EXT_mesh_gpu_instancing"
F32 = np.dtype(np.float32)
DEFAULTS = QuantizeOptions()


def quantize(doc: Document, options: QuantizeOptions = DEFAULTS) -> dict:
    """Quantize doc's vertex attributes in place. Returns what changed, "fidelity" (position_error
    as a fraction of the scene's bounding-box diagonal, normal_error_degrees, texcoord_error in
    texture-coordinate units) and "warnings"."""
    if _cannot_pay(doc):
        return {"skipped": "too little vertex data to pay for declaring KHR_mesh_quantization"}
    run = _Run(doc, options)
    run.positions()
    run.texcoords()
    run.other_attributes()
    return run.finish()


DECLARATION_BYTES = 90
"""What declaring KHR_mesh_quantization costs in a file that declares no other extension:
``"extensionsUsed":["KHR_mesh_quantization"],"extensionsRequired":["KHR_mesh_quantization"],``."""


def _cannot_pay(doc: Document) -> bool:
    """True where quantizing cannot save the bytes that declaring its extension costs: even storing
    every float vertex component in one byte saves three quarters of the float data (Cameras' one
    quad: 48 bytes of positions, at most 36 saved; the model grows by 58). A file that already
    declares the extension, or another one, pays less or nothing and is left to the usual rules."""
    if doc.root.get("extensionsUsed"):
        return False
    floats: dict[int, int] = {}
    for mesh in doc.meshes:
        for prim in mesh.get("primitives", []):
            for attributes in (prim.get("attributes", {}), *prim.get("targets", [])):
                for accessor in attributes.values():
                    if isinstance(accessor, Accessor) and accessor.data.dtype == F32:
                        floats[id(accessor)] = accessor.data.nbytes
    return 0 < sum(floats.values()) * 3 / 4 < DECLARATION_BYTES  # no float data: nothing to skip


# -- The position grid ------------------------------------------------------------------------------


@dataclass(eq=False)
class Grid:
    """Positions p stored as integers q with p = origin + step * q and lowest <= q <= highest."""

    origin: np.ndarray
    step: float
    lowest: int
    highest: int
    resolution: float = 0.0
    """The step the requested bits give: what rounding elsewhere (node translations) must stay
    well within. Equal to step unless the positions sit on a coarser lattice (see on_lattice)."""

    def __post_init__(self) -> None:
        self.resolution = self.resolution or self.step

    @classmethod
    def fit(cls, lo: np.ndarray, hi: np.ndarray, bits: int) -> Grid:
        """The grid over a bounding box, with origin and step exact in float32 (what renderers use).

        Its origin is the mesh's own origin, with signed integers, when the box lies close enough
        around it for the type that `bits` needs: the dequantization is then a pure scale and node
        translations stay as they were (shorter JSON; ManyCubes' 500 nodes save 9 kB). Otherwise
        it is the box's lower corner, with unsigned integers."""
        levels = (1 << bits) - 1
        extent = float((hi - lo).max())
        step = float(np.float32(extent / levels if extent > 0 else 1.0))
        top = np.iinfo(qz.storage(bits, signed=True)).max
        span = np.round(np.concatenate([lo, hi]) / step)
        if np.abs(span).max() <= top:
            return cls(np.zeros(3), step, int(span.min()), int(span.max()))
        origin32 = lo.astype(F32)
        origin32 = np.where(origin32 > lo, np.nextafter(origin32, np.float32(-np.inf)), origin32)
        origin = origin32.astype(np.float64)
        extent = float((hi - origin).max())
        step32 = np.float32(extent / levels if extent > 0 else 1.0)
        while float(step32) * levels < extent:
            step32 = np.nextafter(step32, np.float32(np.inf))
        return cls(origin, float(step32), 0, levels)

    @property
    def dtype(self) -> np.dtype:
        """The smallest integer type that holds lowest..highest."""
        for dtype in (np.uint8, np.int8, np.uint16, np.int16) if self.lowest >= 0 else (np.int8, np.int16):
            info = np.iinfo(dtype)
            if info.min <= self.lowest and self.highest <= info.max:
                return np.dtype(dtype)
        raise AssertionError("a position grid wider than 16 bits")

    def on_lattice(self, positions: list[np.ndarray], deltas: list[np.ndarray]) -> Grid:
        """A coarser grid that every position (and morph target delta) already sits on, or this
        one. Exporters often write coordinates on a round step (Horse: 0.1 units, voxel models:
        half a voxel), finer than nothing but coarser than a 14-bit grid; storing them on that step
        keeps them exact (within a sixteenth of this grid's step) in far fewer levels. The lattice
        may run through this grid's origin or through the lowest corner of the positions (a voxel
        model's x on whole voxels and y on half voxels is a lattice of whole voxels from there)."""
        positions = [p for p in positions if len(p)]
        if not positions:
            return self
        tolerance = self.step / 16
        corner = np.min([p.min(axis=0) for p in positions], axis=0)
        extent = float((np.max([p.max(axis=0) for p in positions], axis=0) - corner).max())
        sample = _spread(positions)
        best: Grid = self
        for origin in (self.origin, corner):
            finest = self.step if best is self else best.step * (1 + 1e-6)  # only a coarser one
            for candidate in _lattice_steps(finest, extent):
                step = float(np.float32(candidate))
                if not _near_lattice(sample - origin, step, tolerance):
                    continue
                if all(_near_lattice(p - origin, step, tolerance) for p in positions) and all(
                    _near_lattice(d, step, tolerance) for d in deltas
                ):
                    low = min(int(np.round((p - origin).min(initial=0.0) / step)) for p in positions)
                    high = max(int(np.round((p - origin).max(initial=0.0) / step)) for p in positions)
                    best = Grid(origin, step, low, high, self.resolution)
                    break
        return best

    def matrix(self) -> np.ndarray:
        d = np.eye(4) * self.step
        d[:3, 3] = self.origin
        d[3, 3] = 1.0
        return d

    def is_identity(self) -> bool:
        return self.step == 1.0 and not self.origin.any()

    def positions(self, a: Accessor) -> tuple[Accessor, float]:
        """The accessor on this grid, and the largest distance a vertex moved."""
        p = a.floats().astype(np.float64)
        q = np.clip(np.round((p - self.origin) / self.step), self.lowest, self.highest)
        error = float(np.linalg.norm(self.origin + q * self.step - p, axis=1).max(initial=0.0))
        return _derived(a, q.astype(self.dtype), normalized=False), error

    def deltas(self, a: Accessor) -> tuple[Accessor, float]:
        """Morph target position deltas in grid steps: integers when they fit, floats otherwise."""
        d = a.floats().astype(np.float64)
        q = np.round(d / self.step)
        largest = float(np.abs(q).max(initial=0.0))
        if largest > 32767:
            with np.errstate(over="ignore"):  # checked just below
                scaled = (d / self.step).astype(F32)
            if not np.isfinite(scaled).all():
                raise InvalidModel(
                    "A morph target moves positions further than 32-bit floats can hold on the mesh's position grid."
                )
            return _derived(a, scaled, normalized=False, sparse=a.sparse), 0.0
        dtype = np.dtype(np.int8) if largest <= 127 else np.dtype(np.int16)
        error = float(np.linalg.norm(q * self.step - d, axis=1).max(initial=0.0))
        return _derived(a, q.astype(dtype), normalized=False, sparse=a.sparse), error


LATTICE_STEPS = sorted(
    {m * 10.0**e for e in range(-12, 13) for m in (1, 2, 5)}
    | {2.0**k for k in range(-40, 41)}
    | {1 / 255, 1 / 65535},  # normalized integers: a second run finds its own output
    reverse=True,
)


def _lattice_steps(finest: float, extent: float) -> list[float]:
    """Round steps from extent down to finest, coarsest first: 1, 2 and 5 times a power of ten,
    powers of two, and the steps of normalized bytes and shorts."""
    if not extent > finest > 0:
        return []
    return [s for s in LATTICE_STEPS if finest <= s <= extent]


def _coarsest_lattice(values: list[np.ndarray], finest: float, extent: float) -> float:
    """The coarsest round step (see _lattice_steps) whose multiples every value is within a
    sixteenth of finest of, or finest. Texture coordinates on texel centres of a power-of-two
    texture (voxel models' palettes) sit on such a lattice."""
    sample = _spread(values)
    for candidate in _lattice_steps(finest, extent):
        step = float(np.float32(candidate))
        if _near_lattice(sample, step, finest / 16) and all(
            _near_lattice(v, step, finest / 16) for v in values
        ):
            return step
    return finest


def _spread(arrays: list[np.ndarray], size: int = 1024) -> np.ndarray:
    """About size rows taken evenly from the arrays: most lattices are ruled out on these alone."""
    rows = np.concatenate(arrays) if arrays else np.zeros(0)
    return rows[:: max(1, len(rows) // size)]


def _near_lattice(values: np.ndarray, step: float, tolerance: float) -> bool:
    """True if every value is within tolerance of a multiple of step."""
    return bool(np.abs(np.round(values / step) * step - values).max(initial=0.0) <= tolerance)


def _derived(old: Accessor, data: np.ndarray, normalized: bool, sparse: bool = False) -> Accessor:
    """A new accessor that replaces old in some uses: same type and JSON fields, new data."""
    return Accessor(np.ascontiguousarray(data), old.type, normalized, copy.deepcopy(old.props), sparse=sparse)


def _bounds(accessors: list[Accessor]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.min([a.floats().min(axis=0) for a in accessors], axis=0).astype(np.float64)
    hi = np.max([a.floats().max(axis=0) for a in accessors], axis=0).astype(np.float64)
    return lo, hi


def _fit(meshes: list[tuple[dict, list[Accessor]]], bits: int) -> Grid:
    """The grid over the meshes' positions, or the coarser lattice they already sit on."""
    positions = [a for _mesh, accessors in meshes for a in accessors]
    grid = Grid.fit(*_bounds(positions), bits)
    deltas = [
        target["POSITION"].floats().astype(np.float64)
        for mesh, _accessors in meshes
        for prim in mesh["primitives"]
        for target in prim.get("targets", [])
        if isinstance(target.get("POSITION"), Accessor)
    ]
    return grid.on_lattice([a.floats().astype(np.float64) for a in positions], deltas)


# -- Nodes: where the dequantization goes -------------------------------------------------------------


@dataclass
class _NodeUses:
    """What refers to nodes in ways that forbid changing their own transform."""

    animated: set[int] = field(default_factory=set)
    joints: set[int] = field(default_factory=set)
    lod_targets: set[int] = field(default_factory=set)
    weight_targets: dict[int, list[Any]] = field(default_factory=dict)
    """id(node) -> channel targets and pointers that animate its morph weights."""

    @classmethod
    def of(cls, doc: Document) -> _NodeUses:
        uses = cls()
        for skin in doc.skins:
            uses.joints.update(id(j) for j in skin.get("joints", []))
        for node in doc.nodes:
            lod = node.get("extensions", {}).get("MSFT_lod", {})
            uses.lod_targets.update(id(n) for n in lod.get("ids", []) if isinstance(n, dict))
        for anim in doc.animations:
            for channel in anim.get("channels", []):
                target = channel.get("target", {})
                pointer = target.get("extensions", {}).get("KHR_animation_pointer", {}).get("pointer")
                if isinstance(pointer, Pointer) and pointer.collection == "nodes":
                    uses._note(id(pointer.target), pointer.rest.split("/")[1:2], pointer)
                elif isinstance(target.get("node"), dict):
                    uses._note(id(target["node"]), [target.get("path")], target)
        return uses

    def _note(self, node: int, path: list, holder: Any) -> None:
        if path and path[0] == "weights":
            self.weight_targets.setdefault(node, []).append(holder)
        elif path and path[0] in (*TRANSFORM_PATHS, "matrix"):
            self.animated.add(node)

    def can_fold(self, node: dict) -> bool:
        """True if D can join the node's own transform without changing anything else it carries."""
        return not (
            node.get("children")
            or "camera" in node
            or node.get("extensions")
            or id(node) in self.animated
            or id(node) in self.joints
            or id(node) in self.lod_targets
        )


def _fold_into_node(node: dict, grid: Grid) -> None:
    """Node transform T becomes T * D, kept as TRS when it was (D is a uniform scale and a shift).
    The new translation keeps the digits that matter at the grid's resolution (a georeferenced
    model's large offsets need more than float32)."""
    if "matrix" in node:
        m = local_matrix(node) @ grid.matrix()
        tolerance = float(np.linalg.norm(m[:3, :3], 2)) * grid.resolution / grid.step / 64
        columns = [[*_floats(m[:3, i]), 0.0] for i in range(3)]
        node["matrix"] = [*columns[0], *columns[1], *columns[2], *_rounded(m[:3, 3], tolerance), 1.0]
        return
    rotation = quat_to_matrix(np.asarray(node.get("rotation", (0, 0, 0, 1)), np.float64))
    scale = np.asarray(node.get("scale", (1, 1, 1)), np.float64)
    translation = np.asarray(node.get("translation", (0, 0, 0)), np.float64)
    tolerance = grid.resolution * float(np.abs(scale).max()) / 64
    node["translation"] = _rounded(translation + rotation @ (scale * grid.origin), tolerance)
    node["scale"] = _floats(scale * grid.step)


def _floats(values: np.ndarray) -> list[float]:
    """Numbers for the JSON, rounded to float32 (what renderers use) and written in the fewest
    digits that read back as that float32."""
    return [float(np.format_float_positional(np.float32(v), unique=True, trim="0")) for v in values]


def _rounded(values: np.ndarray, tolerance: float) -> list[float]:
    """Numbers for the JSON in the fewest significant digits that stay within tolerance."""
    out = []
    for value in (float(v) for v in values):
        digits = next((d for d in range(1, 17) if abs(float(f"{value:.{d}g}") - value) <= tolerance), 17)
        out.append(float(f"{value:.{digits}g}"))
    return out


def _clone(doc: Document, kind: str, item: dict) -> dict:
    """A copy of a glTF object that still refers to the same objects (textures, nodes, accessors)."""
    memo = {id(container[key]): container[key] for container, key, _target in item_slots(kind, item)}
    twin = copy.deepcopy(item, memo)
    doc.collection(kind).append(twin)
    return twin


def _specialize(
    doc: Document,
    kind: str,
    original: dict,
    uses: list[tuple[Any, Any, Grid | None]],
    adapt: Callable[[dict, Grid], None],
) -> int:
    """Point every use (container, key, grid) of original at a version adapted to its grid: uses
    without a grid (or with the identity grid) keep the original; each other grid gets one version
    (the original itself if no use needs it as it was). Returns how many copies were made."""
    groups: dict[int | None, list[tuple[Any, Any, Grid | None]]] = {}
    for use in uses:
        grid = use[2]
        groups.setdefault(None if grid is None or grid.is_identity() else id(grid), []).append(use)
    adapted = [members for key, members in groups.items() if key is not None]
    # Copies are taken before the original is adapted.
    reuse = None not in groups
    targets = [original if reuse and i == 0 else _clone(doc, kind, original) for i in range(len(adapted))]
    for target, members in zip(targets, adapted, strict=True):
        grid = members[0][2]
        assert grid is not None
        adapt(target, grid)
        for container, slot, _grid in members:
            container[slot] = target
    return len(adapted) - (1 if reuse and adapted else 0)


# -- Texture coordinates ------------------------------------------------------------------------------


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[tuple, tuple] = {}

    def find(self, key: tuple) -> tuple:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: tuple, b: tuple) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass
class _UvSet:
    """Texture coordinates that must share one range: the accessors used together with one
    (material, set) pair, transitively. Slots are where each accessor is used."""

    accessors: list[Accessor] = field(default_factory=list)
    slots: list[tuple[dict, str]] = field(default_factory=list)
    morph_slots: list[tuple[dict, str]] = field(default_factory=list)
    infos: list[dict] = field(default_factory=list)
    """textureInfos that sample this set."""
    animated: bool = False
    """A KHR_animation_pointer animates a texture transform on these textureInfos."""


def _texcoord_set(info: dict) -> int:
    ext = info.get("extensions", {}).get(TEXTURE_TRANSFORM, {})
    return int(ext.get("texCoord", info.get("texCoord", 0)))


def _prim_materials(prim: dict) -> list[dict]:
    materials = [prim["material"]] if isinstance(prim.get("material"), dict) else []
    for mapping in prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", []):
        if isinstance(mapping.get("material"), dict):
            materials.append(mapping["material"])
    return materials


def _uv_sets(doc: Document) -> list[_UvSet]:
    """Group TEXCOORD accessors with the (material, set) pairs they feed, in document order."""
    uf = _UnionFind()
    for _mesh, prim in doc.primitives():
        for semantic, a in prim.get("attributes", {}).items():
            if semantic.startswith("TEXCOORD_") and isinstance(a, Accessor) and a.type == "VEC2":
                uf.find(("a", id(a)))
                if not semantic[9:].isdigit():
                    continue  # not a set any textureInfo can name ("TEXCOORD_x")
                for material in _prim_materials(prim):
                    uf.union(("a", id(a)), ("m", id(material), int(semantic[9:])))
    groups: dict[tuple, _UvSet] = {}
    seen: set[int] = set()
    for _mesh, prim in doc.primitives():
        for semantic, a in prim.get("attributes", {}).items():
            if not (semantic.startswith("TEXCOORD_") and isinstance(a, Accessor) and a.type == "VEC2"):
                continue
            group = groups.setdefault(uf.find(("a", id(a))), _UvSet())
            if id(a) not in seen:
                seen.add(id(a))
                group.accessors.append(a)
            group.slots.append((prim["attributes"], semantic))
            group.morph_slots.extend(
                (t, semantic) for t in prim.get("targets", []) if isinstance(t.get(semantic), Accessor)
            )
    animated = _animated_texture_transforms(doc)
    for material in doc.materials:
        for info, _key in texture_info_slots(material):
            key = ("m", id(material), _texcoord_set(info))
            if key in uf.parent:
                group = groups[uf.find(key)]
                group.infos.append(info)
                group.animated |= id(material) in animated
    return list(groups.values())


def _animated_texture_transforms(doc: Document) -> set[int]:
    """ids of materials whose texture transforms an animation drives."""
    out: set[int] = set()
    for anim in doc.animations:
        for channel in anim.get("channels", []):
            pointer = (
                channel.get("target", {})
                .get("extensions", {})
                .get("KHR_animation_pointer", {})
                .get("pointer")
            )
            if (
                isinstance(pointer, Pointer)
                and pointer.collection == "materials"
                and TEXTURE_TRANSFORM in pointer.rest
            ):
                out.add(id(pointer.target))
    return out


def _texture_scale(info: dict) -> float:
    """How many texture repeats one unit of texture coordinate covers on this textureInfo."""
    scale = info.get("extensions", {}).get(TEXTURE_TRANSFORM, {}).get("scale", (1.0, 1.0))
    return float(np.abs(np.asarray(scale, np.float64)).max())


def _compose_texture_transform(
    info: dict, offset: np.ndarray, scale: np.ndarray, tolerance: float = 0.0
) -> None:
    """Make info decode stored coordinates a as (a * scale + offset) before its own transform:
    with T * R * S the existing transform, the new one is T' = T + R * S * offset, S' = S * scale.
    The offset is written to within tolerance."""
    ext = info.setdefault("extensions", {}).setdefault(TEXTURE_TRANSFORM, {})
    old_offset = np.asarray(ext.get("offset", (0.0, 0.0)), np.float64)
    old_scale = np.asarray(ext.get("scale", (1.0, 1.0)), np.float64)
    angle = float(ext.get("rotation", 0.0))
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, s], [-s, c]])
    ext["offset"] = _rounded(old_offset + rotation @ (old_scale * offset), tolerance)
    ext["scale"] = _floats(old_scale * scale)


# -- The pass -------------------------------------------------------------------------------------------


class _Run:
    """One run of the pass: converted accessors (each converted once per meaning), counts, errors."""

    def __init__(self, doc: Document, options: QuantizeOptions):
        self.doc = doc
        self.options = options
        self.converted: dict[tuple, Accessor] = {}
        self.replaced: dict[int, Accessor] = {}
        self.counts: Counter[str] = Counter()
        self.fidelity: dict[str, float] = {}
        self.warnings: list[str] = []

    # -- bookkeeping --

    def _swap(
        self, container: dict, slot: str, key: tuple, convert: Callable[[Accessor], Accessor | None]
    ) -> None:
        """Replace container[slot] by its conversion, made once per (accessor, key)."""
        old = container.get(slot)
        if not isinstance(old, Accessor):
            return
        cache_key = (id(old), *key)
        if cache_key not in self.converted:
            new = convert(old)
            self.converted[cache_key] = new if new is not None else old
            if new is not None:
                self.doc.accessors.append(new)
                self.replaced[id(old)] = old
                self.counts["accessors quantized"] += 1
        container[slot] = self.converted[cache_key]

    def _replace(self, container: dict, slot: str, new: Accessor) -> None:
        """Put a new accessor in one place (the old one is dropped at the end if nothing uses it)."""
        old = container.get(slot)
        if isinstance(old, Accessor):
            self.replaced[id(old)] = old
        self.doc.accessors.append(new)
        container[slot] = new

    def _error(self, metric: str, value: float) -> None:
        self.fidelity[metric] = max(self.fidelity.get(metric, 0.0), value)

    def finish(self) -> dict:
        """Drop the accessors that no longer have a use and report."""
        used = {id(value) for _c, _k, value in references(self.doc)}
        self.doc.accessors[:] = [a for a in self.doc.accessors if id(a) in used or id(a) not in self.replaced]
        out: dict[str, Any] = {k: v for k, v in self.counts.items() if v}
        if self.fidelity:
            out["fidelity"] = {k: float(f"{v:.6g}") for k, v in self.fidelity.items()}
        if self.warnings:
            out["warnings"] = self.warnings
        return out

    # -- positions --

    def positions(self) -> None:
        meshes = self._positioned_meshes()
        if not meshes:
            return
        grids = self._grids(meshes)
        lo, hi = _bounds([p for _m, positions in meshes for p in positions])
        diagonal = float(np.linalg.norm(hi - lo)) or 1.0
        error = 0.0
        for mesh, _positions in meshes:
            grid = grids[id(mesh)]
            for prim in mesh["primitives"]:
                error = max(error, self._quantize_positions(prim, grid))
        self._error("position_error", error / diagonal)
        self._warn_coarse(meshes, grids)
        self._place_dequantization(grids)
        self._adapt_volume_materials(grids)

    def _positioned_meshes(self) -> list[tuple[dict, list[Accessor]]]:
        """Meshes that nodes draw and whose every primitive has float-decodable VEC3 positions."""
        drawn = {id(n["mesh"]) for n in self.doc.nodes if isinstance(n.get("mesh"), dict)}
        out = []
        for mesh in self.doc.meshes:
            prims = mesh.get("primitives", [])
            positions = [p.get("attributes", {}).get("POSITION") for p in prims]
            if (
                id(mesh) in drawn
                and prims
                and all(isinstance(a, Accessor) and a.type == "VEC3" for a in positions)
            ):
                out.append((mesh, positions))
        return out

    def _grids(self, meshes: list[tuple[dict, list[Accessor]]]) -> dict[int, Grid]:
        bits = self.options.position_bits
        if self.options.position_grid == "mesh":
            return {id(mesh): _fit([(mesh, positions)], bits) for mesh, positions in meshes}
        grid = _fit(meshes, bits)
        scales, extent = drawn_sizes(self.doc, {id(mesh): _bounds(positions) for mesh, positions in meshes})
        apart = magnified(scales, extent, grid.resolution, (1 << bits) - 1)
        if not apart:
            return {id(mesh): grid for mesh, _positions in meshes}
        shared = [(mesh, positions) for mesh, positions in meshes if id(mesh) not in apart]
        grid = _fit(shared, bits) if shared else grid
        own = {id(mesh): _fit([(mesh, positions)], bits) for mesh, positions in meshes if id(mesh) in apart}
        return {id(mesh): own.get(id(mesh), grid) for mesh, _positions in meshes}

    def _quantize_positions(self, prim: dict, grid: Grid) -> float:
        errors = [0.0]

        def base(a: Accessor) -> Accessor:
            new, error = grid.positions(a)
            errors.append(error)
            return new

        def delta(a: Accessor) -> Accessor:
            new, error = grid.deltas(a)
            errors.append(error)
            return new

        self._swap(prim["attributes"], "POSITION", ("POSITION", id(grid)), base)
        for target in prim.get("targets", []):
            self._swap(target, "POSITION", ("MORPH_POSITION", id(grid)), delta)
        return max(errors)

    def _warn_coarse(self, meshes: list[tuple[dict, list[Accessor]]], grids: dict[int, Grid]) -> None:
        """Name meshes that span so few grid steps that their shape visibly suffers (as gltfpack does)."""
        index = {id(mesh): i for i, mesh in enumerate(self.doc.meshes)}
        coarse = []
        for mesh, positions in meshes:
            lo, hi = _bounds(positions)
            extent = float((hi - lo).max())
            if extent > 0 and grids[id(mesh)].resolution / 2 / extent > 0.01:
                coarse.append(mesh.get("name") or f"#{index[id(mesh)]}")
        if coarse:
            names = ", ".join(coarse[:5]) + (f" and {len(coarse) - 5} more" if len(coarse) > 5 else "")
            self.warnings.append(
                f"Meshes {names} are small next to the scene and lose detail on its position grid; "
                "use more position_bits or position_grid='mesh'."
            )

    def _place_dequantization(self, grids: dict[int, Grid]) -> None:
        """Put each mesh's D where the renderer applies it (see the module docstring)."""
        uses = _NodeUses.of(self.doc)
        skin_uses: dict[int, tuple[dict, list[tuple[Any, Any, Grid | None]]]] = {}
        for node in list(self.doc.nodes):
            mesh = node.get("mesh")
            if not isinstance(mesh, dict):
                continue
            grid = grids.get(id(mesh))
            if isinstance(node.get("skin"), dict):
                skin_uses.setdefault(id(node["skin"]), (node["skin"], []))[1].append((node, "skin", grid))
            elif grid is None:
                continue
            elif uses.can_fold(node) and not self._instanced(node):
                _fold_into_node(node, grid)  # with the identity grid, only rounds the translation
            elif grid.is_identity():
                continue
            elif self._instanced(node):
                self._fold_into_instances(node, grid)
            else:
                self._move_mesh_to_child(node, grid, uses)
        for skin, skin_grids in skin_uses.values():
            self.counts["skins copied"] += _specialize(
                self.doc, "skins", skin, skin_grids, self._fold_into_skin
            )

    @staticmethod
    def _instanced(node: dict) -> bool:
        attributes = node.get("extensions", {}).get(INSTANCING, {}).get("attributes", {})
        return any(isinstance(a, Accessor) for a in attributes.values())

    def _fold_into_instances(self, node: dict, grid: Grid) -> None:
        """Instance transforms T_i become T_i * D; TRS stays TRS because D is uniform."""
        attributes = node["extensions"][INSTANCING]["attributes"]
        count = next(a.count for a in attributes.values() if isinstance(a, Accessor))
        t = attributes["TRANSLATION"].floats() if "TRANSLATION" in attributes else np.zeros((count, 3))
        r = (
            attributes["ROTATION"].floats()
            if "ROTATION" in attributes
            else np.tile([0.0, 0, 0, 1], (count, 1))
        )
        s = attributes["SCALE"].floats() if "SCALE" in attributes else np.ones((count, 3))
        shift = np.einsum("nij,nj->ni", quat_to_matrix(r), s * grid.origin)
        for name, values in (("TRANSLATION", t + shift), ("SCALE", s * grid.step)):
            self._replace(attributes, name, Accessor(np.asarray(values, F32), "VEC3"))

    def _move_mesh_to_child(self, node: dict, grid: Grid, uses: _NodeUses) -> None:
        """A new child node draws the mesh with D; morph weights and their animation move along."""
        child: dict[str, Any] = {"mesh": node.pop("mesh")}
        if "weights" in node:
            child["weights"] = node.pop("weights")
        _fold_into_node(child, grid)
        for holder in uses.weight_targets.get(id(node), []):
            if isinstance(holder, Pointer):
                holder.target = child
            else:
                holder["node"] = child
        node.setdefault("children", []).append(child)
        self.doc.nodes.append(child)
        self.counts["nodes added"] += 1

    def _fold_into_skin(self, skin: dict, grid: Grid) -> None:
        """Skinned vertices ignore the node transform; D goes into every inverse bind matrix."""
        joints = len(skin.get("joints", []))
        ibm = skin.get("inverseBindMatrices")
        if isinstance(ibm, Accessor):
            matrices = ibm.floats().astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
        else:
            matrices = np.tile(np.eye(4), (joints, 1, 1))
        if not len(matrices):
            return  # a skin without joints (an invalid model): nothing to fold into, nor to write
        folded = (matrices @ grid.matrix()).transpose(0, 2, 1).reshape(-1, 16)
        props = copy.deepcopy(ibm.props) if isinstance(ibm, Accessor) else {}
        self._replace(skin, "inverseBindMatrices", Accessor(folded.astype(F32), "MAT4", props=props))

    def _adapt_volume_materials(self, grids: dict[int, Grid]) -> None:
        """KHR_materials_volume thickness is measured in mesh units, which are now grid steps."""
        uses: dict[int, tuple[dict, list[tuple[Any, Any, Grid | None]]]] = {}
        for mesh in self.doc.meshes:
            grid = grids.get(id(mesh))
            for prim in mesh.get("primitives", []):
                for container, slot in _material_slots(prim):
                    material = container[slot]
                    if _thickness(material) > 0:
                        uses.setdefault(id(material), (material, []))[1].append((container, slot, grid))
        for material, material_uses in uses.values():
            self.counts["materials copied"] += _specialize(
                self.doc, "materials", material, material_uses, _scale_thickness
            )

    # -- texture coordinates --

    def texcoords(self) -> None:
        """Sampled sets go through KHR_texture_transform, which lets the grid cover just their range
        (5-8% smaller geometry after meshopt than a [0, 1] grid, as gltfpack found); sets that no
        texture samples stay core-valid unorm if they fit [0, 1], else float."""
        for uv_set in _uv_sets(self.doc):
            lo, hi = _bounds(uv_set.accessors)
            if uv_set.infos and not uv_set.animated:
                self._texcoords_through_transform(uv_set, lo, hi)
            elif lo.min() >= 0 and hi.max() <= 1:
                self._texcoords_in_unit_square(uv_set)

    def _texcoords_in_unit_square(self, uv_set: _UvSet) -> None:
        bits = self.options.texcoord_bits
        dtype = qz.storage(bits, signed=False)

        def convert(a: Accessor) -> Accessor | None:
            if _compact(a, dtype, signed=False):
                return None
            stored = qz.unorm(a.floats().astype(np.float64), bits, dtype)
            self._error("texcoord_error", float(np.abs(qz.decode(stored) - a.floats()).max(initial=0.0)))
            return _derived(a, stored, normalized=True)

        for container, slot in uv_set.slots:
            self._swap(container, slot, ("TEXCOORD",), convert)

    def _texcoords_through_transform(self, uv_set: _UvSet, lo: np.ndarray, hi: np.ndarray) -> None:
        """Store (uv - lo) / step as integers and decode through KHR_texture_transform. A range
        that covers more than one texture repeat (after the existing transform's scale) gets extra
        bits, up to 16, so the precision per repeat stays texcoord_bits; wider still, the set stays
        float. Coordinates already on such a grid (a second run) are left as they are."""
        repeats = float((hi - lo).max()) * max(_texture_scale(info) for info in uv_set.infos)
        bits = self.options.texcoord_bits + max(0, int(np.ceil(np.log2(max(repeats, 1.0)))))
        if bits > 16:
            self.warnings.append("Texture coordinates spanning thousands of repeats were kept as floats.")
            return
        levels = (1 << bits) - 1
        step = np.where(hi > lo, (hi - lo) / levels, 1.0)
        resolution = float(step.min())
        uvs = [a.floats().astype(np.float64) for a in uv_set.accessors]
        step = np.array(
            [_coarsest_lattice([uv[:, k] - lo[k] for uv in uvs], step[k], hi[k] - lo[k]) for k in (0, 1)]
        )
        levels = int(np.round((hi - lo) / step).max())
        dtype = qz.storage(max(1, levels.bit_length()), signed=False)
        top = np.iinfo(dtype).max
        if not lo.any() and np.allclose(step * top, 1.0, rtol=1e-6, atol=0):
            step = np.full(2, 1.0 / top)

        def convert(a: Accessor) -> Accessor:
            uv = a.floats().astype(np.float64)
            q = np.clip(np.round((uv - lo) / step), 0, levels)
            self._error("texcoord_error", float(np.abs(q * step + lo - uv).max(initial=0.0)))
            return _derived(a, q.astype(dtype), normalized=True)

        def rescale_delta(a: Accessor) -> Accessor:
            return _derived(a, (a.floats() / (step * top)).astype(F32), normalized=False, sparse=a.sparse)

        key = ("TEXCOORD", id(uv_set))
        for container, slot in uv_set.slots:
            self._swap(container, slot, key, convert)
        for container, slot in uv_set.morph_slots:
            self._swap(container, slot, ("MORPH_TEXCOORD", id(uv_set)), rescale_delta)
        if lo.any() or (step * top != 1.0).any():
            for info in uv_set.infos:
                _compose_texture_transform(info, lo, step * top, resolution * _texture_scale(info) / 64)
            self.doc.use_extension(TEXTURE_TRANSFORM, required=True)
            self.counts["texture transforms"] += len(uv_set.infos)

    # -- normals, tangents, colours, skin weights and joints --

    def other_attributes(self) -> None:
        for _mesh, prim in self.doc.primitives():
            attributes = prim.get("attributes", {})
            self._weights(attributes)
            for semantic in list(attributes):
                base = semantic.split("_")[0]
                if semantic == "NORMAL":
                    self._swap(attributes, semantic, ("NORMAL",), self._normals)
                elif semantic == "TANGENT":
                    self._swap(attributes, semantic, ("TANGENT",), self._tangents)
                elif base == "COLOR" and semantic.startswith("COLOR_"):
                    self._swap(attributes, semantic, ("COLOR",), self._colors)
                elif base == "JOINTS" and semantic.startswith("JOINTS_"):
                    self._swap(attributes, semantic, ("JOINTS",), _narrow_joints)
            for target in prim.get("targets", []):
                for semantic, bits in (
                    ("NORMAL", self.options.normal_bits),
                    ("TANGENT", self.options.tangent_bits),
                ):
                    self._swap(
                        target, semantic, ("MORPH", semantic), lambda a, bits=bits: _vector_deltas(a, bits)
                    )

    def _normals(self, a: Accessor) -> Accessor | None:
        dtype = qz.storage(self.options.normal_bits, signed=True)
        if a.type != "VEC3" or _compact(a, dtype, signed=True):
            return None
        source = a.floats().astype(np.float64)
        stored = qz.unit_vectors(source, self.options.normal_bits, dtype)
        self._error("normal_error_degrees", _max_angle(source, qz.decode(stored)))
        return _derived(a, stored, normalized=True)

    def _tangents(self, a: Accessor) -> Accessor | None:
        dtype = qz.storage(self.options.tangent_bits, signed=True)
        if a.type != "VEC4" or _compact(a, dtype, signed=True):
            return None
        source = a.floats()
        stored = np.empty(source.shape, dtype)
        stored[:, :3] = qz.unit_vectors(source[:, :3], self.options.tangent_bits, dtype)
        stored[:, 3] = np.where(source[:, 3] < 0, -np.iinfo(dtype).max, np.iinfo(dtype).max)
        return _derived(a, stored, normalized=True)

    def _colors(self, a: Accessor) -> Accessor | None:
        dtype = qz.storage(self.options.color_bits, signed=False)
        values = a.floats()
        if (
            _compact(a, dtype, signed=False)
            or values.min(initial=0) < -1e-4
            or values.max(initial=0) > 1 + 1e-4
        ):
            return None
        return _derived(
            a, qz.unorm(values.astype(np.float64), self.options.color_bits, dtype), normalized=True
        )

    def _weights(self, attributes: dict) -> None:
        """All WEIGHTS_n of a primitive together sum to 1, so they are rounded together."""
        names = sorted((s for s in attributes if s.startswith("WEIGHTS_")), key=lambda s: int(s[8:] or 0))
        sets = [attributes[s] for s in names]
        if not sets or not all(isinstance(a, Accessor) and a.type == "VEC4" for a in sets):
            return
        dtype = qz.storage(self.options.weight_bits, signed=False)
        if all(_compact(a, dtype, signed=False) for a in sets):
            return
        values = np.concatenate([a.floats() for a in sets], axis=1)
        if values.min(initial=0) < 0 or len({a.count for a in sets}) > 1:
            return
        key = ("WEIGHTS", *(id(a) for a in sets))
        parts: list[np.ndarray] = []

        def rounded(i: int) -> np.ndarray:
            if not parts:
                parts.extend(np.split(qz.unit_sum(values, dtype), len(sets), axis=1))
            return parts[i]

        for i, name in enumerate(names):
            self._swap(attributes, name, key, lambda a, i=i: _derived(a, rounded(i), normalized=True))
            joints = "JOINTS_" + name[8:]
            self._swap(attributes, joints, key, lambda a, i=i: _clear_unused_joints(a, rounded(i)))


def _material_slots(prim: dict) -> Iterator[tuple[dict, str]]:
    if isinstance(prim.get("material"), dict):
        yield prim, "material"
    for mapping in prim.get("extensions", {}).get("KHR_materials_variants", {}).get("mappings", []):
        if isinstance(mapping.get("material"), dict):
            yield mapping, "material"


def _thickness(material: dict) -> float:
    volume = material.get("extensions", {}).get("KHR_materials_volume", {})
    return float(volume.get("thicknessFactor", 0.0)) if isinstance(volume, dict) else 0.0


def _scale_thickness(material: dict, grid: Grid) -> None:
    volume = material["extensions"]["KHR_materials_volume"]
    volume["thicknessFactor"] = float(volume["thicknessFactor"]) / grid.step


def _compact(a: Accessor, dtype: np.dtype, signed: bool) -> bool:
    """True if a is already normalized integer data no wider than dtype (quantizing gains nothing)."""
    kind = a.data.dtype.kind
    return a.normalized and kind == ("i" if signed else "u") and a.data.dtype.itemsize <= dtype.itemsize


def _clear_unused_joints(a: Accessor, weights: np.ndarray) -> Accessor | None:
    """Joint indices whose weight is zero are set to 0, as the validator recommends (rounding can
    zero a tiny weight)."""
    if a.type != "VEC4" or a.count != len(weights) or a.data.dtype.kind != "u":
        return None
    unused = (weights == 0) & (a.data != 0)
    if not unused.any():
        return None
    return _derived(a, np.where(unused, 0, a.data).astype(a.data.dtype), normalized=False)


def _narrow_joints(a: Accessor) -> Accessor | None:
    """Joint indices that all fit in 8 bits are stored in 8 bits (lossless)."""
    if a.data.dtype.kind != "u" or a.data.dtype.itemsize == 1 or a.data.max(initial=0) > 255:
        return None
    return _derived(a, a.data.astype(np.uint8), normalized=False)


def _vector_deltas(a: Accessor, bits: int) -> Accessor | None:
    """Morph normal/tangent deltas as normalized signed integers when they stay within [-1, 1]."""
    values = a.floats()
    dtype = qz.storage(bits, signed=True)
    if a.type != "VEC3" or _compact(a, dtype, signed=True) or np.abs(values).max(initial=0) > 1:
        return None
    return _derived(a, qz.snorm(values.astype(np.float64), bits, dtype), normalized=True, sparse=a.sparse)


def _max_angle(source: np.ndarray, decoded: np.ndarray) -> float:
    """Largest angle in degrees between source directions and their decoded versions."""
    a = np.linalg.norm(source, axis=1)
    b = np.linalg.norm(decoded, axis=1)
    ok = (a > 0) & (b > 0)
    if not ok.any():
        return 0.0
    cosine = np.einsum("nd,nd->n", source[ok], decoded[ok]) / (a[ok] * b[ok])
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))).max())
