"""The Compress page's preset choice and "Advanced" panel, generated from the engine's option schema
(``engine.options.schema()``), so an option the engine gains appears here without a change.

Each pass is a group with its on/off switch and its fields; every control carries its value under
each preset, so the page can show what a preset means and send only what the user changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..jobs.manager import ONE_GLB_PER_JOB

LABELS = {
    "prune": "Remove unused data",
    "dedup": "Merge duplicates",
    "join": "Merge meshes",
    "instance": "GPU instancing",
    "animation": "Animation",
    "simplify": "Simplification",
    "quantize": "Quantization",
    "weld": "Weld vertices",
    "reorder": "Reorder for the GPU",
    "textures": "Textures",
    "meshopt": "Meshopt compression",
    "draco": "Draco compression",
}
"""Headings for the passes; a pass missing here is titled from its name."""


NOT_IN_JOBS = {"lod_files": ONE_GLB_PER_JOB}
"""Options a job cannot honour (it stores and serves one GLB), left out of the panel; a job that
asks for one is refused with this message."""


def label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def sentence(text: str) -> str:
    """The schema's help as a sentence: first letter up (the rest as written), a full stop."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


@dataclass(frozen=True)
class Control:
    name: str
    label: str
    kind: str  # bool | int | float | choice
    help: str
    presets: str
    """JSON: the value under each preset ({"balanced": 14, ...})."""
    value: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"

    @property
    def range_text(self) -> str:
        if self.minimum is None or self.maximum is None:
            return ""
        return f"{self.minimum:g} to {self.maximum:g}"


@dataclass(frozen=True)
class Group:
    name: str
    label: str
    help: str
    switch: Control
    fields: list[Control] = field(default_factory=list)
    turns_off: str = ""


@dataclass(frozen=True)
class Panel:
    presets: list[dict[str, Any]]
    default: str
    groups: list[Group]


@lru_cache(maxsize=1)
def panel() -> Panel:
    from glbcompress.engine.options import CODEC_ALONE, schema
    from glbcompress.engine.presets import DEFAULT_PRESET, PRESET_HELP, PRESETS, preset

    flats = {name: preset(name).flat() for name in PRESETS}

    def values(name: str) -> tuple[str, Any]:
        return json.dumps({p: flats[p].get(name) for p in PRESETS}), flats[DEFAULT_PRESET].get(name)

    groups: dict[str, Group] = {}
    for entry in schema():
        if entry["name"] in NOT_IN_JOBS:
            continue
        presets_json, value = values(entry["name"])
        if entry["name"] == entry["pass"]:
            switch = Control(
                entry["name"],
                label(entry["name"]),
                "bool",
                sentence(entry.get("help", "")),
                presets_json,
                value,
            )
            groups[entry["name"]] = Group(
                entry["name"],
                label(entry["name"]),
                sentence(entry.get("help", "")),
                switch,
                # Switching a mesh codec on turns off what the engine's options turn off with it.
                turns_off=" ".join(CODEC_ALONE.get(entry["name"], {})),
            )
            continue
        kind = entry["type"] if entry["type"] in ("bool", "int", "float", "choice") else "text"
        groups[entry["pass"]].fields.append(
            Control(
                entry["name"],
                label(entry["name"]),
                kind,
                sentence(entry.get("help", "")),
                presets_json,
                value,
                entry.get("min"),
                entry.get("max"),
                tuple(str(c) for c in entry.get("choices", ())),
            )
        )
    presets = [
        {"name": name, "help": PRESET_HELP.get(name, ""), "default": name == DEFAULT_PRESET}
        for name in PRESETS
    ]
    return Panel(presets, DEFAULT_PRESET, list(groups.values()))
