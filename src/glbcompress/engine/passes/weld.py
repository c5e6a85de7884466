"""weld: merge identical vertices and index unindexed primitives

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "weld"


@dataclass(frozen=True)
class WeldOptions:
    pass


DEFAULTS = WeldOptions()


def weld(doc: Document, options: WeldOptions = DEFAULTS) -> dict:
    raise NotImplementedError
