"""quantize: KHR_mesh_quantization with one position grid for the scene

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "quantize"


@dataclass(frozen=True)
class QuantizeOptions:
    position_bits: int = 14
    normal_bits: int = 8
    tangent_bits: int = 8
    texcoord_bits: int = 12
    color_bits: int = 8
    weight_bits: int = 8


DEFAULTS = QuantizeOptions()


def quantize(doc: Document, options: QuantizeOptions = DEFAULTS) -> dict:
    raise NotImplementedError
