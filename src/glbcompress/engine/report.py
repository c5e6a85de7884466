"""The report of one compression: bytes by category before and after, scene figures, what each
pass did, fidelity figures and warnings. Serializable as plain JSON for the API and the CLI."""

from __future__ import annotations

from dataclasses import asdict, field
from typing import Any

from .breakdown import ByteBreakdown
from .document import Accessor, Document
from .links import reachable
from .records import dataclass
from .transforms import scene_graph

TRIANGLE_MODES = {4: lambda n: n // 3, 5: lambda n: max(0, n - 2), 6: lambda n: max(0, n - 2)}


@dataclass
class SceneStats:
    """Figures of a document. Triangles and draw calls count every instance the scenes draw;
    vertices count stored vertices (each primitive once)."""

    triangles: int = 0
    vertices: int = 0
    draw_calls: int = 0
    nodes: int = 0
    meshes: int = 0
    primitives: int = 0
    materials: int = 0
    textures: int = 0
    images: int = 0
    animations: int = 0
    skins: int = 0
    morph_targets: int = 0


def primitive_triangles(prim: dict) -> int:
    mode = prim.get("mode", 4)
    if mode not in TRIANGLE_MODES:
        return 0
    indices = prim.get("indices")
    position = prim.get("attributes", {}).get("POSITION")
    if isinstance(indices, Accessor):
        n = indices.count
    elif isinstance(position, Accessor):
        n = position.count
    else:
        return 0
    return TRIANGLE_MODES[mode](n)


def scene_stats(doc: Document, written: bool = False) -> SceneStats:
    """The document's figures. written: only what the writer emits (objects reachable from the
    scenes and animations), so that the figures after compression describe the output file, not
    images and accessors a pass replaced and left behind for the writer to drop."""
    keep = reachable(doc) if written else None

    def counted(items: list) -> list:
        return items if keep is None else [o for o in items if id(o) in keep]

    meshes = counted(doc.meshes)
    stats = SceneStats(
        nodes=len(counted(doc.nodes)),
        meshes=len(meshes),
        materials=len(counted(doc.materials)),
        textures=len(counted(doc.textures)),
        images=len(counted(doc.images)),
        animations=len(counted(doc.animations)),
        skins=len(counted(doc.skins)),
    )
    for mesh in meshes:
        for prim in mesh.get("primitives", []):
            stats.primitives += 1
            position = prim.get("attributes", {}).get("POSITION")
            if isinstance(position, Accessor):
                stats.vertices += position.count
            stats.morph_targets += len(prim.get("targets", []))
    for node, _parent in scene_graph(doc):
        mesh = node.get("mesh")
        if not isinstance(mesh, dict):
            continue
        instances = 1
        inst = node.get("extensions", {}).get("EXT_mesh_gpu_instancing")
        if isinstance(inst, dict):
            counts = [a.count for a in inst.get("attributes", {}).values() if isinstance(a, Accessor)]
            instances = counts[0] if counts else 1
        for prim in mesh.get("primitives", []):
            stats.draw_calls += 1
            stats.triangles += primitive_triangles(prim) * instances
    return stats


@dataclass
class PassReport:
    name: str
    seconds: float
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    input_bytes: int
    output_bytes: int
    before: ByteBreakdown
    after: ByteBreakdown
    scene_before: SceneStats
    scene_after: SceneStats
    passes: list[PassReport] = field(default_factory=list)
    fidelity: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Output bytes over input bytes (0.25 means four times smaller)."""
        return self.output_bytes / self.input_bytes if self.input_bytes else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "ratio": round(self.ratio, 6),
            "bytes_before": self.before.as_dict(),
            "bytes_after": self.after.as_dict(),
            "scene_before": asdict(self.scene_before),
            "scene_after": asdict(self.scene_after),
            "passes": [asdict(p) for p in self.passes],
            "fidelity": self.fidelity,
            "warnings": self.warnings,
            "options": self.options,
            "seconds": round(self.seconds, 4),
        }
