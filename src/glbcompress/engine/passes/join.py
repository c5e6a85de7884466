"""join: merge compatible primitives and meshes where it cannot change the scene

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "join"


@dataclass(frozen=True)
class JoinOptions:
    join_named: bool = False


DEFAULTS = JoinOptions()


def join(doc: Document, options: JoinOptions = DEFAULTS) -> dict:
    raise NotImplementedError
