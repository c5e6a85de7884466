"""dedup: merge identical accessors, meshes, materials, textures and images

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "dedup"


@dataclass(frozen=True)
class DedupOptions:
    keep_unique_names: bool = False


DEFAULTS = DedupOptions()


def dedup(doc: Document, options: DedupOptions = DEFAULTS) -> dict:
    raise NotImplementedError
