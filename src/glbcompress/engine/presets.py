"""Named option sets. Every option stays overridable (``preset("max").override({...})``)."""

from __future__ import annotations

from dataclasses import replace

from .errors import InvalidOptions
from .options import Options
from .passes import animation, dedup, join, meshopt, prune

PRESET_HELP = {
    "lossless": "No quantization and nothing that changes a vertex: unused data removed, duplicates merged, "
    "geometry compressed losslessly with Meshopt.",
    "balanced": "Visually lossless (default): quantized geometry (14-bit positions), resampled animation, "
    "Meshopt compression.",
    "max": "Smallest output that stays valid and faithful: also merges named nodes and meshes and uses GPU "
    "instancing.",
}

DEFAULT_PRESET = "balanced"


def _lossless() -> Options:
    return Options(
        join=None,
        instance=None,
        quantize=None,
        animation=replace(animation.DEFAULTS, resample=False, quantize_rotations=False),
        meshopt=replace(meshopt.DEFAULTS, filters=False),
        preset="lossless",
    )


def _balanced() -> Options:
    return Options(preset="balanced")


def _max() -> Options:
    return Options(
        prune=replace(prune.DEFAULTS, keep_named_nodes=False),
        dedup=replace(dedup.DEFAULTS, keep_unique_names=False),
        join=replace(join.DEFAULTS, join_named=True),
        instance=None,
        preset="max",
    )


PRESETS = {"lossless": _lossless, "balanced": _balanced, "max": _max}


def preset(name: str = DEFAULT_PRESET) -> Options:
    try:
        return PRESETS[name]()
    except KeyError:
        raise InvalidOptions(f"Unknown preset '{name}'; choose one of {', '.join(PRESETS)}.") from None


def resolve(preset_name: str | None = None, overrides: dict | None = None) -> Options:
    """A preset (default balanced) with flat-named overrides applied."""
    options = preset(preset_name or DEFAULT_PRESET)
    return options.override(overrides or {}) if overrides else options
