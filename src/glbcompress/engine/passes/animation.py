"""animation: drop constant tracks, resample, store rotations compactly

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "animation"


@dataclass(frozen=True)
class AnimationOptions:
    resample: bool = True
    resample_tolerance: float = 1e-4
    quantize_rotations: bool = True


DEFAULTS = AnimationOptions()


def animation(doc: Document, options: AnimationOptions = DEFAULTS) -> dict:
    raise NotImplementedError
