"""Finding the models of a corpus folder, and how many bytes each one is made of.

A corpus folder holds models either directly (`Fox.glb`) or one folder per model (`Fox/Fox.glb`,
`FlightHelmet/FlightHelmet.gltf` with its .bin and textures beside it). A model's input bytes are
the file plus every external file it references, so .gltf and .glb inputs compare fairly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

MODEL_SUFFIXES = (".glb", ".gltf")

# A handful of small models covering skins, morph targets, node animation, many nodes and a
# Draco input, for quick runs during development.
QUICK = ("Fox", "Horse", "CesiumMilkTruck", "2CylinderEngine", "BoxTexturedDraco")


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    input_bytes: int


def _is_model(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MODEL_SUFFIXES


def _referenced_files(gltf: Path) -> list[Path]:
    """External files (buffers and images) a .gltf names, inside its own folder, that exist."""
    try:
        data = json.loads(gltf.read_bytes())
    except (ValueError, OSError):
        return []
    if not isinstance(data, dict):
        return []
    folder = gltf.parent.resolve()
    found: list[Path] = []
    for key in ("buffers", "images"):
        for item in data.get(key) or []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:") or ":" in uri.split("/")[0]:
                continue
            path = (folder / unquote(uri)).resolve()
            if path.is_relative_to(folder) and path.is_file() and path not in found:
                found.append(path)
    return found


def input_bytes(model: Path) -> int:
    """Size of the model file plus the external files it references."""
    extra = _referenced_files(model) if model.suffix.lower() == ".gltf" else []
    return model.stat().st_size + sum(p.stat().st_size for p in extra)


def discover(folder: Path) -> list[Model]:
    """Every model in folder, sorted by name: top-level files, and the models in each subfolder."""
    models: list[Model] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if _is_model(entry):
            models.append(Model(entry.stem, entry, input_bytes(entry)))
        elif entry.is_dir():
            inside = sorted((p for p in entry.iterdir() if _is_model(p)), key=lambda p: p.name.lower())
            for path in inside:
                name = entry.name if len(inside) == 1 else f"{entry.name}/{path.stem}"
                models.append(Model(name, path, input_bytes(path)))
    return models


def select(models: list[Model], names: list[str] | None = None, quick: bool = False) -> list[Model]:
    """Models by name (case-insensitive), or the quick set (the first five if none of it is here)."""
    if names:
        wanted = {n.lower() for n in names}
        return [m for m in models if m.name.lower() in wanted]
    if quick:
        chosen = [m for m in models if m.name in QUICK]
        return chosen or models[:5]
    return models
