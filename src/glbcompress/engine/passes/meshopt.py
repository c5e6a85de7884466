"""meshopt: EXT_meshopt_compression filters (octahedral, quaternion, exponential)

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "meshopt"


@dataclass(frozen=True)
class MeshoptOptions:
    filters: bool = True
    rotation_bits: int = 12
    translation_bits: int = 16
    scale_bits: int = 16


DEFAULTS = MeshoptOptions()


def meshopt(doc: Document, options: MeshoptOptions = DEFAULTS) -> dict:
    raise NotImplementedError
