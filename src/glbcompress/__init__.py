"""glbcompress: make glTF/GLB models small and fast to load without visible loss."""

from .engine.api import Options, Report, compress

__all__ = ["Options", "Report", "compress"]
__version__ = "0.1.0"
