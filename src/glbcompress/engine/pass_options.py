"""The options of every pass: one frozen dataclass per pass, each field a flat option name with its
default and help (``engine.options`` turns them into the CLI's flags, the API's schema and the
dashboard's form).

They live here rather than beside each pass so that building the flags and reading a preset imports
no pass: a run imports only the passes it runs (``pipeline.optimize``), which keeps the command
line's start-up short. Each pass module re-exports its class (``passes.weld.WeldOptions``) with its
``DEFAULTS``.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from .errors import InvalidOptions
from .records import dataclass

TextureFormat = Literal["keep", "webp", "avif", "ktx2", "png", "jpeg"]


@dataclass(frozen=True)
class PruneOptions:
    """Options of the prune pass (passes/prune.py)."""

    keep_named_nodes: bool = field(default=True, metadata={"help": "keep empty nodes that have a name"})
    keep_extras: bool = field(
        default=True, metadata={"help": "keep application data (extras) on every object"}
    )
    keep_unused_attributes: bool = field(
        default=False,
        metadata={"help": "keep vertex attributes nothing reads (unsampled UV sets, white colors, ...)"},
    )


@dataclass(frozen=True)
class DedupOptions:
    """Options of the dedup pass (passes/dedup.py)."""

    keep_unique_names: bool = field(
        default=False, metadata={"help": "merge identical objects only when their names are equal too"}
    )
    dedup_accessors: bool = field(default=True, metadata={"help": "merge identical accessors"})
    dedup_textures: bool = field(
        default=True, metadata={"help": "merge identical images, samplers and textures"}
    )
    dedup_materials: bool = field(default=True, metadata={"help": "merge identical materials"})
    dedup_meshes: bool = field(default=True, metadata={"help": "merge identical meshes"})


@dataclass(frozen=True)
class JoinOptions:
    """Options of the join pass (passes/join.py)."""

    join_named: bool = field(
        default=False, metadata={"help": "also merge named nodes and meshes (their names are lost)"}
    )
    join_meshes: bool = field(
        default=True,
        metadata={"help": "merge the meshes of sibling nodes, not only the primitives within a mesh"},
    )


@dataclass(frozen=True)
class InstanceOptions:
    """Options of the instance pass (passes/instance.py)."""

    min_instances: int = field(
        default=2, metadata={"help": "instance a mesh when at least this many sibling nodes show it"}
    )
    instance_named: bool = field(
        default=False, metadata={"help": "also replace named nodes by instances (their names are lost)"}
    )


@dataclass(frozen=True)
class WeldOptions:
    """Options of the weld pass (passes/weld.py)."""

    drop_degenerate: bool = field(
        default=True,
        metadata={"help": "remove triangles that use one vertex twice (they have no area and draw nothing)"},
    )


@dataclass(frozen=True)
class AnimationOptions:
    """Options of the animation pass (passes/animation.py)."""

    resample: bool = field(
        default=True,
        metadata={"help": "remove keyframes that linear interpolation reproduces within the tolerance"},
    )
    resample_tolerance: float = field(
        default=5e-4,
        metadata={"help": "largest animation error, as a fraction of the model's size (rotations: radians)"},
    )
    quantize_rotations: bool = field(
        default=True,
        metadata={"help": "store rotation keyframes as 16-bit integers (angle error < 0.004 degrees)"},
    )
    quantize_weights: bool = field(
        default=True,
        metadata={"help": "store morph weight keyframes as 16-bit integers (error < 0.00001)"},
    )


@dataclass(frozen=True)
class SimplifyOptions:
    """Options of the simplify pass (passes/simplify.py), also read by lods.py and budget.py."""

    simplify_ratio: float = field(
        default=0.5,
        metadata={"help": "fraction of each mesh's triangles to aim for (the error bound may stop earlier)"},
    )
    simplify_error: float = field(
        default=0.01,
        metadata={"help": "largest geometric error allowed, as a fraction of the bounding-box diagonal"},
    )
    simplify_error_scale: Literal["scene", "mesh"] = field(
        default="scene",
        metadata={"help": "measure simplify_error against the whole scene's diagonal or each mesh's own"},
    )
    lock_borders: bool = field(
        default=False,
        metadata={"help": "keep the open borders of every mesh in place, so touching parts stay closed"},
    )
    simplify_min_triangles: int = field(
        default=0, metadata={"help": "never aim below this many triangles per mesh"}
    )
    simplify_attributes: bool = field(
        default=True,
        metadata={"help": "count normals, UVs, colours, skin weights and morph targets in the error"},
    )
    simplify_sloppy: bool = field(
        default=False,
        metadata={"help": "reach the ratio where careful simplification stops, tearing seams (distant LODs)"},
    )
    target_size_mb: float = field(
        default=0.0,
        metadata={
            "help": "make the output at most this many MB (0: no target): searches simplification "
            "and texture settings, overriding simplify_ratio and simplify_error"
        },
    )
    lods: str = field(
        default="",
        metadata={
            "help": "levels of detail: comma-separated triangle ratios, highest first (e.g. "
            "'1,0.5,0.25'), in one GLB with MSFT_lod (or separate files with lod_files); "
            "replaces simplify_ratio"
        },
    )
    lod_files: bool = field(
        default=False,
        metadata={"help": "write each level of detail to its own GLB (OUT, OUT.lod1.glb, ...)"},
    )

    def __post_init__(self) -> None:
        from .lods import lod_ratios  # checks the list, raising InvalidOptions naming the problem

        if len(lod_ratios(self.lods)) > 1 and self.target_size_mb > 0:
            raise InvalidOptions("lods and target_size_mb cannot be combined: choose one.")


@dataclass(frozen=True)
class QuantizeOptions:
    """Options of the quantize pass (passes/quantize.py)."""

    position_bits: int = field(
        default=14, metadata={"help": "bits per position component (grid over the scene)"}
    )
    normal_bits: int = field(
        default=8, metadata={"help": "bits per normal component (8 or less: 8-bit storage)"}
    )
    tangent_bits: int = field(
        default=8, metadata={"help": "bits per tangent component (8 or less: 8-bit storage)"}
    )
    texcoord_bits: int = field(
        default=12, metadata={"help": "bits per texture coordinate per texture repeat"}
    )
    color_bits: int = field(default=8, metadata={"help": "bits per vertex colour channel"})
    weight_bits: int = field(
        default=8, metadata={"help": "skin weights: 8 or less stores 8 bits, more stores 16"}
    )
    position_grid: Literal["scene", "mesh"] = field(
        default="scene",
        metadata={
            "help": "one position grid for the whole scene (no cracks; a mesh its node draws far larger "
            "than the rest gets its own) or one per mesh (finer)"
        },
    )


@dataclass(frozen=True)
class ReorderOptions:
    """Options of the reorder pass (passes/reorder.py)."""

    strip_order: bool = field(
        default=True,
        metadata={"help": "order triangles like strips: a little less GPU-cache friendly, compresses better"},
    )


@dataclass(frozen=True)
class TexturesOptions:
    """Options of the textures pass (passes/textures.py)."""

    texture_format: TextureFormat = field(
        default="webp",
        metadata={
            "help": "image format: webp, avif, ktx2 (Basis Universal), png or jpeg (core glTF), "
            "or keep each image's own (PNGs recompressed losslessly)"
        },
    )
    texture_quality: int = field(
        default=0,
        metadata={
            "help": "encoder quality 1-100 for every texture, or 0 for auto: per texture, the lowest "
            "quality whose SSIM meets --texture-ssim (stricter targets for normal and data maps)"
        },
    )
    texture_ssim: float = field(
        default=0.93, metadata={"help": "auto quality: SSIM target for colour textures"}
    )
    # Normal maps: 0.965. At 0.96 magicleap-two's JPEG normal map (an XR controller's fine grain,
    # webxr-input-profiles assets) went to WebP quality 92, SSIM 0.9636, and its top view rendered at
    # SSIM 0.9795; at 0.965 quality 93 (SSIM 0.9668) renders at 0.9812 (0.97: 0.9844). DamagedHelmet's
    # goes from quality 94 to 95 (+56 kB, worst view 0.9900 -> 0.9903); 0.97 would take it to 96 and
    # the public corpus's geomean past 0.9x gltf-transform's (0.17575 against 0.17573).
    texture_ssim_normal: float = field(
        default=0.965, metadata={"help": "auto quality: SSIM target for normal maps"}
    )
    # Data maps: 0.90, below colour's 0.93. A roughness or metalness map's noise is structure to
    # SSIM but not to a render: DamagedHelmet's packed map at 0.94 cost 841 kB, at 0.90 637 kB,
    # with its worst rendered view at SSIM 0.9903 and 0.9900 (the PSNR floor still holds values).
    texture_ssim_data: float = field(
        default=0.90,
        metadata={"help": "auto quality: SSIM target for data maps (occlusion, roughness, metalness, ...)"},
    )
    # Colour PNGs (sharp colour edges, which WebP's lossy mode blurs by halving chroma resolution, and
    # flat art). Rounding within 2 levels cannot band a gradient; max's 4 is checked area by area.
    texture_near_lossless: int = field(
        default=2,
        metadata={
            "help": "auto quality, colour PNGs: how many levels (of 255) WebP's lossless mode may move "
            "a value where no lossy quality matches (near-lossless), and a palette image up to twice "
            "as far where that is smaller; never so far that an area of a gradient moves over 2 levels"
        },
    )
    texture_fallback: bool = field(
        default=False,
        metadata={
            "help": "keep a PNG/JPEG beside each WebP/AVIF/KTX2 image for viewers without the "
            "extension (larger; the extension becomes optional)"
        },
    )
    texture_max_size: int = field(
        default=0, metadata={"help": "largest width or height in pixels (0: no limit); never upscales"}
    )
    texture_scale: float = field(
        default=1.0, metadata={"help": "scale factor for colour textures (at most 1)"}
    )
    texture_scale_normal: float = field(default=1.0, metadata={"help": "scale factor for normal maps"})
    texture_scale_data: float = field(default=1.0, metadata={"help": "scale factor for data maps"})
    texture_pow2: bool = field(default=False, metadata={"help": "round texture sizes down to powers of two"})
    texture_ktx2_mode: Literal["auto", "etc1s", "uastc"] = field(
        default="auto",
        metadata={"help": "KTX2 codec: auto (ETC1S for colour, UASTC + Zstandard for normal and data maps)"},
    )
    texture_solid: bool = field(
        default=True, metadata={"help": "replace single-colour textures with material factors"}
    )
    texture_solid_tolerance: int = field(
        default=2,
        metadata={"help": "largest difference (in 8-bit steps) between texels of a 'single-colour' texture"},
    )
    texture_reencode_ktx2: bool = field(
        default=False, metadata={"help": "also re-encode KTX2 input images (otherwise kept as they are)"}
    )


@dataclass(frozen=True)
class MeshoptOptions:
    """Options of the meshopt pass (passes/meshopt.py)."""

    filters: bool = field(
        default=True,
        metadata={
            "help": "use meshopt's lossy filters (octahedral normals, quaternion rotations, exponential motion)"
        },
    )
    rotation_bits: int = field(
        default=12, metadata={"help": "bits per component of filtered animation rotations"}
    )
    translation_bits: int = field(
        default=16, metadata={"help": "mantissa bits of filtered animation translations"}
    )
    scale_bits: int = field(default=16, metadata={"help": "mantissa bits of filtered animation scales"})


@dataclass(frozen=True)
class DracoOptions:
    """Options of the draco pass (passes/draco.py)."""

    draco_position_bits: int = field(
        default=14, metadata={"help": "Draco position precision in bits (one grid for the whole scene)"}
    )
    draco_normal_bits: int = field(default=10, metadata={"help": "Draco normal precision in bits"})
    draco_texcoord_bits: int = field(
        default=12, metadata={"help": "Draco UV precision in bits (at most 16 for UV sets after the first)"}
    )
    draco_color_bits: int = field(
        default=8,
        metadata={"help": "Draco vertex color precision in bits (more than 8 stores 16-bit colors)"},
    )
    draco_generic_bits: int = field(default=12, metadata={"help": "Draco tangent precision in bits"})
    draco_compression_level: int = field(
        default=7, metadata={"help": "Draco effort, 0 (fastest) to 10 (smallest)"}
    )
