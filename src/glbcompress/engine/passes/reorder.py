"""reorder: reorder triangles for the vertex cache and vertices for fetch (meshoptimizer)

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "reorder"


@dataclass(frozen=True)
class ReorderOptions:
    pass


DEFAULTS = ReorderOptions()


def reorder(doc: Document, options: ReorderOptions = DEFAULTS) -> dict:
    raise NotImplementedError
