"""Which extensions the engine understands, and the check that refuses what it cannot handle."""

from __future__ import annotations

from .errors import UnsupportedModel

MESHOPT_EXTENSIONS = ("EXT_meshopt_compression", "KHR_meshopt_compression")

# Extensions whose data the engine decodes, rewrites or carries through intact. A required extension
# outside this set may change how buffers are to be read, so such a model is refused.
UNDERSTOOD = {
    *MESHOPT_EXTENSIONS,
    "KHR_draco_mesh_compression",
    "KHR_mesh_quantization",
    "KHR_texture_transform",
    "KHR_texture_basisu",
    "EXT_texture_webp",
    "EXT_texture_avif",
    "MSFT_texture_dds",
    "KHR_lights_punctual",
    "KHR_materials_variants",
    "KHR_animation_pointer",
    "KHR_xmp_json_ld",
    "EXT_mesh_gpu_instancing",
    "MSFT_lod",
    "EXT_lights_image_based",
}


def understood(name: str) -> bool:
    """Material extensions only add factors and textureInfos, which survive any pass untouched."""
    return name in UNDERSTOOD or name.startswith("KHR_materials_")


def check_required(gltf: dict) -> None:
    required = gltf.get("extensionsRequired", [])
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        raise UnsupportedModel("extensionsRequired must be a list of extension names.")
    unknown = sorted(n for n in required if not understood(n))
    if unknown:
        names = ", ".join(unknown)
        raise UnsupportedModel(
            f"The model requires the extension{'s' if len(unknown) > 1 else ''} {names}, "
            "which glbcompress cannot process."
        )
