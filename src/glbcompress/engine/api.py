"""The engine's public Python API, re-exported by the ``glbcompress`` package.

>>> import glbcompress
>>> report = glbcompress.compress("in.glb", "out.glb", {"position_bits": 12}, preset="max")
>>> report.output_bytes, report.ratio

Options are a preset (default ``balanced``) with flat-named overrides, or an :class:`Options`
object built beforehand (``resolve("max", {...})``). ``engine.pipeline`` stays the one place that
runs passes; this module only adds the conveniences a caller wants around it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import lods, pipeline
from .errors import EngineError, InvalidModel, InvalidOptions, LimitExceeded, UnsupportedModel
from .limits import DEFAULT_LIMITS, Limits
from .options import Options, schema
from .presets import DEFAULT_PRESET, PRESET_HELP, PRESETS, preset, resolve
from .progress import Progress
from .report import Report

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "EngineError",
    "InvalidModel",
    "InvalidOptions",
    "LimitExceeded",
    "Limits",
    "Options",
    "Progress",
    "Report",
    "UnsupportedModel",
    "compress",
    "preset",
    "presets",
    "resolve",
    "schema",
]


def compress(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    options: Options | Mapping[str, Any] | None = None,
    *,
    preset: str | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Compress the model at src (.glb, or .gltf with its files) into the GLB file dst.

    options: an Options object, or a dict of flat option names applied over the preset
    (``{"position_bits": 12, "draco": True}``). progress: called as ``progress(step, fraction)``
    with fraction rising from 0 to 1.

    dst is replaced only once the new file is complete, so a failed run leaves no partial file
    and dst may even be src. Raises InvalidModel, UnsupportedModel, LimitExceeded or
    InvalidOptions (all EngineError) with a message meant for the user. With ``lods`` and
    ``lod_files``, dst holds the highest level and ``<dst stem>.lod1.glb``... the lower ones.
    """
    chosen = options_for(options, preset)
    if lods.wants_files(chosen):  # several files, each written as below
        return lods.compress_lod_files(src, dst, chosen, progress, limits)
    dst = Path(dst)
    partial = dst.with_name(f".{dst.name}.{os.urandom(4).hex()}.part")
    try:
        report = pipeline.compress(src, partial, chosen, progress, limits)
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return report


def options_for(
    options: Options | Mapping[str, Any] | None = None, preset_name: str | None = None
) -> Options:
    """The Options a call to compress means: an Options object as given, or the preset (default
    balanced) with a dict of flat-named overrides applied."""
    if isinstance(options, Options):
        if preset_name is not None:
            raise TypeError(
                "Pass either an Options object or a preset name (with a dict of overrides), not both."
            )
        return options
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(
            f"options must be an Options object or a dict of option names, not {type(options).__name__}."
        )
    return resolve(preset_name, dict(options or {}))


def presets() -> dict[str, dict[str, Any]]:
    """Every preset by name: its description and the flat option values it stands for."""
    return {name: {"description": PRESET_HELP[name], "options": preset(name).flat()} for name in PRESETS}
