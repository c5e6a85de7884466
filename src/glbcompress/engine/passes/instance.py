"""instance: EXT_mesh_gpu_instancing for meshes used by many sibling nodes

TODO(helper): implement; see the module contract in passes/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document

NAME = "instance"


@dataclass(frozen=True)
class InstanceOptions:
    min_instances: int = 2


DEFAULTS = InstanceOptions()


def instance(doc: Document, options: InstanceOptions = DEFAULTS) -> dict:
    raise NotImplementedError
