"""Named option sets. Every option stays overridable (``preset("max").override({...})``)."""

from __future__ import annotations

from .errors import InvalidOptions
from .options import Options
from .pass_options import (
    AnimationOptions,
    DedupOptions,
    InstanceOptions,
    JoinOptions,
    MeshoptOptions,
    PruneOptions,
    TexturesOptions,
    WeldOptions,
)

PRESET_HELP = {
    "lossless": "No quantization and nothing that changes a vertex: unused data removed, duplicates merged, "
    "geometry compressed losslessly with Meshopt; even degenerate triangles stay; PNGs recompressed "
    "losslessly, single-colour textures become material factors.",
    "balanced": "Visually lossless (default): quantized geometry (14-bit positions), resampled animation, "
    "Draco for the meshes it makes smaller (static, dense ones; coded exactly on the quantization grid) "
    "and Meshopt for everything else, textures as WebP at the lowest quality per texture that meets an SSIM "
    "target (where no lossy quality does, near-lossless: every value within 2 levels of the source; "
    "1 for normal maps (3 where they shade only rough surfaces), 3 for data maps); colour PNGs of flat "
    "art as palette images of at most 256 colours within 4 levels where that is smaller.",
    "max": "Smallest output that stays valid and faithful: also merges named nodes and meshes, and draws "
    "repeated meshes with GPU instancing (EXT_mesh_gpu_instancing, required); lower texture SSIM "
    "targets, textures at most 2048 pixels; colour PNGs near-lossless within 4 levels and palettes within "
    "8 where that moves no area of a smooth gradient by more than 2 levels.",
}

DEFAULT_PRESET = "balanced"


def _lossless() -> Options:
    return Options(
        join=None,
        instance=None,
        quantize=None,
        weld=WeldOptions(drop_degenerate=False),
        animation=AnimationOptions(resample=False, quantize_rotations=False, quantize_weights=False),
        meshopt=MeshoptOptions(filters=False),
        draco=None,
        textures=TexturesOptions(texture_format="keep", texture_solid_tolerance=0),
        preset="lossless",
    )


def _balanced() -> Options:
    return Options(preset="balanced")


def _max() -> Options:
    return Options(
        prune=PruneOptions(keep_named_nodes=False),
        dedup=DedupOptions(keep_unique_names=False),
        join=JoinOptions(join_named=True),
        instance=InstanceOptions(instance_named=True),
        textures=TexturesOptions(
            texture_ssim=0.9,
            texture_ssim_normal=0.95,
            texture_ssim_data=0.88,
            texture_near_lossless=4,
            texture_max_size=2048,
        ),
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
