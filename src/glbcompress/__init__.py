"""glbcompress: make glTF/GLB models small and fast to load without visible loss.

>>> import glbcompress
>>> report = glbcompress.compress("in.glb", "out.glb", {"position_bits": 12})
>>> print(report.input_bytes, "->", report.output_bytes)

The names below come from ``glbcompress.engine.api``, imported on first use: the command line
(``glbcompress.cli``) sets up the process before numpy loads. ``Client`` is the SDK for a
glbcompress server (``glbcompress.client``), also imported on first use:

>>> client = glbcompress.Client()        # GLBCOMPRESS_API_KEY, GLBCOMPRESS_URL
>>> client.compress("in.glb", "out.glb", preset="max")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
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
    "Client",
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


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    if name in __all__:
        from .engine import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), *__all__]
