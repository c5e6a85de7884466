"""prune: remove what nothing uses

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "prune"


@dataclass(frozen=True)
class PruneOptions:
    keep_named_nodes: bool = True
    keep_extras: bool = True
    keep_unused_attributes: bool = False


DEFAULTS = PruneOptions()


def prune(doc: Document, options: PruneOptions = DEFAULTS) -> dict:
    raise NotImplementedError
