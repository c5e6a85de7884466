"""The engine's public Python API: ``glbcompress.compress(src, dst, options=..., progress=...)``."""

from .errors import EngineError, InvalidModel, InvalidOptions, LimitExceeded, UnsupportedModel
from .options import Options, schema
from .pipeline import compress
from .presets import PRESETS, preset, resolve
from .report import Report

__all__ = [
    "PRESETS",
    "EngineError",
    "InvalidModel",
    "InvalidOptions",
    "LimitExceeded",
    "Options",
    "Report",
    "UnsupportedModel",
    "compress",
    "preset",
    "resolve",
    "schema",
]
