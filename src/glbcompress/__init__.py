"""glbcompress: make glTF/GLB models small and fast to load without visible loss.

>>> import glbcompress
>>> report = glbcompress.compress("in.glb", "out.glb", {"position_bits": 12})
>>> print(report.input_bytes, "->", report.output_bytes)
"""

from .engine.api import (
    EngineError,
    InvalidModel,
    InvalidOptions,
    LimitExceeded,
    Limits,
    Options,
    Report,
    UnsupportedModel,
    compress,
    presets,
    resolve,
    schema,
)

__all__ = [
    "EngineError",
    "InvalidModel",
    "InvalidOptions",
    "LimitExceeded",
    "Limits",
    "Options",
    "Report",
    "UnsupportedModel",
    "compress",
    "presets",
    "resolve",
    "schema",
]
__version__ = "0.1.0"
