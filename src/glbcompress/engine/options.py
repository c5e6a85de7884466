"""Options: which passes run and with what settings.

Users speak in flat names (``position_bits=12``, ``draco=True``, ``prune=False``): every pass has a
switch named after it, and every field of a pass's options dataclass is a flat name of its own.
The same names are used by the CLI (``--position-bits``), the API and the dashboard.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field, fields, replace
from typing import Any

from .errors import InvalidOptions
from .pass_options import (
    AnimationOptions,
    DedupOptions,
    DracoOptions,
    InstanceOptions,
    JoinOptions,
    MeshoptOptions,
    PruneOptions,
    QuantizeOptions,
    ReorderOptions,
    SimplifyOptions,
    TexturesOptions,
    WeldOptions,
)
from .records import dataclass

# Each pass (a module of engine.passes with a function of the same name) and its options class, in
# the pipeline's order: cleanup -> geometry -> textures -> encoding. The pass modules themselves are
# imported only when they run (pipeline.optimize).
PASSES: dict[str, type] = {
    "prune": PruneOptions,
    "dedup": DedupOptions,
    "join": JoinOptions,
    "instance": InstanceOptions,
    "animation": AnimationOptions,
    # Before quantize (as gltfpack): it works on float positions and quantize fits what is left.
    "simplify": SimplifyOptions,
    "quantize": QuantizeOptions,
    # After quantize: vertices that quantize to the same values merge too.
    "weld": WeldOptions,
    "reorder": ReorderOptions,
    "textures": TexturesOptions,
    "meshopt": MeshoptOptions,
    "draco": DracoOptions,
}

PASS_HELP = {
    "prune": "remove unused nodes, meshes, materials, textures, accessors and attributes",
    "dedup": "merge identical accessors, meshes, materials, textures and images",
    "join": "merge compatible primitives and meshes",
    "instance": "use EXT_mesh_gpu_instancing for repeated meshes",
    "weld": "merge identical vertices",
    "animation": "drop constant tracks and resample animations",
    "simplify": "fewer triangles within an error bound, to a ratio or a target file size",
    "quantize": "store vertex attributes as integers (KHR_mesh_quantization)",
    "reorder": "reorder triangles and vertices for the GPU and for compression",
    "textures": "re-encode textures (WebP, AVIF, KTX2, PNG, JPEG) at the lowest quality that looks the same",
    "meshopt": "compress geometry and animation with EXT_meshopt_compression",
    "draco": "compress geometry with KHR_draco_mesh_compression",
}


@dataclass(frozen=True)
class Options:
    """One field per pass: its options, or None when the pass is off."""

    prune: PruneOptions | None = field(default_factory=PruneOptions)
    dedup: DedupOptions | None = field(default_factory=DedupOptions)
    join: JoinOptions | None = field(default_factory=JoinOptions)
    instance: InstanceOptions | None = None
    weld: WeldOptions | None = field(default_factory=WeldOptions)
    animation: AnimationOptions | None = field(default_factory=AnimationOptions)
    simplify: SimplifyOptions | None = None
    quantize: QuantizeOptions | None = field(default_factory=QuantizeOptions)
    reorder: ReorderOptions | None = field(default_factory=ReorderOptions)
    textures: TexturesOptions | None = field(default_factory=TexturesOptions)
    meshopt: MeshoptOptions | None = field(default_factory=MeshoptOptions)
    draco: DracoOptions | None = field(default_factory=DracoOptions)
    preset: str = "custom"

    def enabled(self) -> list[str]:
        return [name for name in PASSES if getattr(self, name) is not None]

    def flat(self) -> dict[str, Any]:
        """The options as flat names (switches and fields of enabled passes)."""
        out: dict[str, Any] = {"preset": self.preset}
        for name in PASSES:
            value = getattr(self, name)
            out[name] = value is not None
            if value is not None:
                out.update(dataclasses.asdict(value))
        return out

    def override(self, changes: dict[str, Any]) -> Options:
        """A copy with flat-named changes applied; raises InvalidOptions naming a bad field."""
        result = self
        for key, value in changes.items():
            if key in PASSES:
                if not isinstance(value, bool):
                    raise InvalidOptions(f"Option '{key}' must be true or false.")
                current = getattr(result, key)
                if value:
                    # Asking for one mesh codec means that one alone (the presets use both: Draco
                    # where it is smaller, meshopt for the rest); Draco alone quantizes on its own.
                    result = replace(result, **{key: current or PASSES[key]()}, **CODEC_ALONE.get(key, {}))
                else:
                    result = replace(result, **{key: None})
                continue
            owner = FIELD_OWNER.get(key)
            if owner is None:
                raise InvalidOptions(f"Unknown option '{key}'.")
            cls = PASSES[owner]
            value = _coerce(key, value, FIELD_TYPES[key])
            current = getattr(result, owner)
            if current is None:
                extra = (
                    {"meshopt": None} if owner == "draco" else {"draco": None} if owner == "meshopt" else {}
                )
                current = cls()
                result = replace(result, **extra)
            result = replace(result, **{owner: replace(current, **{key: value})})
        _check_ranges(result)
        return result


CODEC_ALONE: dict[str, dict[str, None]] = {
    "meshopt": {"draco": None},
    "draco": {"meshopt": None, "quantize": None},
}
"""What turning a mesh codec on turns off."""

FIELD_OWNER: dict[str, str] = {}
FIELD_TYPES: dict[str, type] = {}
for _name, _cls in PASSES.items():
    _hints = typing.get_type_hints(_cls)
    for _f in fields(_cls):
        assert _f.name not in FIELD_OWNER and _f.name not in PASSES, f"option name {_f.name} is not unique"
        FIELD_OWNER[_f.name] = _name
        FIELD_TYPES[_f.name] = _hints[_f.name]


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Check a flat option's value against its declared type (bool, int, float, str, Literal)."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        if value not in typing.get_args(kind):
            choices = ", ".join(repr(a) for a in typing.get_args(kind))
            raise InvalidOptions(f"Option '{key}' must be one of {choices}, not {value!r}.")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _coerce(key, value, args[0])
    if kind is bool:
        if not isinstance(value, bool):
            raise InvalidOptions(f"Option '{key}' must be true or false.")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidOptions(f"Option '{key}' must be a whole number.")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidOptions(f"Option '{key}' must be a number.")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise InvalidOptions(f"Option '{key}' must be text.")
        return value
    return value


# flat name -> (lowest, highest) for numeric options
RANGES: dict[str, tuple[float, float]] = {
    "position_bits": (1, 16),
    "normal_bits": (1, 16),
    "tangent_bits": (1, 16),
    "texcoord_bits": (1, 16),
    "color_bits": (1, 16),
    "weight_bits": (1, 16),
    "rotation_bits": (4, 16),
    "translation_bits": (1, 24),
    "scale_bits": (1, 24),
    "draco_position_bits": (1, 30),
    "draco_normal_bits": (2, 30),
    "draco_texcoord_bits": (1, 30),
    "draco_color_bits": (1, 16),
    "draco_generic_bits": (1, 30),
    "draco_compression_level": (0, 10),
    "resample_tolerance": (0, 1),
    "min_instances": (2, 1 << 20),
    "simplify_ratio": (0, 1),
    "simplify_error": (0, 1),
    "simplify_min_triangles": (0, 1 << 31),
    "target_size_mb": (0, 1 << 20),
    "texture_quality": (0, 100),
    "texture_ssim": (0.5, 1),
    "texture_ssim_normal": (0.5, 1),
    "texture_ssim_data": (0.5, 1),
    "texture_near_lossless": (0, 8),
    "texture_max_size": (0, 1 << 16),
    "texture_scale": (0.001, 1),
    "texture_scale_normal": (0.001, 1),
    "texture_scale_data": (0.001, 1),
    "texture_solid_tolerance": (0, 255),
}


def _check_ranges(options: Options) -> None:
    for key, value in options.flat().items():
        bounds = RANGES.get(key)
        if bounds and not isinstance(value, bool) and not bounds[0] <= value <= bounds[1]:
            raise InvalidOptions(
                f"Option '{key}' must be between {bounds[0]:g} and {bounds[1]:g}, not {value}."
            )


def schema() -> list[dict[str, Any]]:
    """Every flat option with its type, default and the pass it belongs to (for the CLI, the API's
    option schema and the dashboard's Advanced panel)."""
    out: list[dict[str, Any]] = []
    for name, cls in PASSES.items():
        out.append({"name": name, "type": "bool", "pass": name, "help": PASS_HELP[name]})
        defaults = cls()
        for f in fields(cls):
            kind = FIELD_TYPES[f.name]
            entry: dict[str, Any] = {"name": f.name, "pass": name, "default": getattr(defaults, f.name)}
            if typing.get_origin(kind) is typing.Literal:
                entry["type"] = "choice"
                entry["choices"] = list(typing.get_args(kind))
            else:
                entry["type"] = getattr(kind, "__name__", str(kind))
            if f.name in RANGES:
                entry["min"], entry["max"] = RANGES[f.name]
            entry["help"] = (f.metadata or {}).get("help", "")
            out.append(entry)
    return out
