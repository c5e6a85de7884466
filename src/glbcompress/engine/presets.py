"""Named option sets. Every option stays overridable (``preset("max").override({...})``)."""

from __future__ import annotations

from dataclasses import replace

from .errors import InvalidOptions
from .options import Options
from .passes import animation, dedup, instance, join, meshopt, prune, weld

PRESET_HELP = {
    "lossless": "No quantization and nothing that changes a vertex: unused data removed, duplicates merged, "
    "geometry compressed losslessly with Meshopt; even degenerate triangles stay.",
    "balanced": "Visually lossless (default): quantized geometry (14-bit positions), resampled animation, "
    "Meshopt compression.",
    "max": "Smallest output that stays valid and faithful: also merges named nodes and meshes, and draws "
    "repeated meshes with GPU instancing (EXT_mesh_gpu_instancing, required).",
}

DEFAULT_PRESET = "balanced"


def _lossless() -> Options:
    return Options(
        join=None,
        instance=None,
        quantize=None,
        weld=replace(weld.DEFAULTS, drop_degenerate=False),
        animation=replace(
            animation.DEFAULTS, resample=False, quantize_rotations=False, quantize_weights=False
        ),
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
        instance=replace(instance.DEFAULTS, instance_named=True),
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
