"""draco: KHR_draco_mesh_compression with one quantization volume for the scene

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "draco"


@dataclass(frozen=True)
class DracoOptions:
    draco_position_bits: int = 14
    draco_normal_bits: int = 10
    draco_texcoord_bits: int = 12
    draco_color_bits: int = 8
    draco_generic_bits: int = 12
    draco_compression_level: int = 7


DEFAULTS = DracoOptions()


def draco(doc: Document, options: DracoOptions = DEFAULTS) -> dict:
    raise NotImplementedError
