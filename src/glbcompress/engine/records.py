"""``dataclass``: the standard ``dataclasses.dataclass``, quicker to apply.

For every class it decorates, the standard decorator writes the source of ``__init__``,
``__repr__``, ``__eq__`` and, for a frozen class, ``__hash__``, ``__setattr__`` and ``__delattr__``,
and compiles each. Compiling is nearly all it costs: for the ~37 classes a ``glbcompress compress``
run defines, about a tenth of a small model's whole run, which start-up dominates (the benchmark
against gltfpack starts one process per model). Here ``__repr__``, ``__eq__`` and ``__hash__`` are
closures over the field names instead, which behave the same (same text, same tuple comparison, same
hash); the standard decorator still makes ``__init__`` and the frozen guards, and everything else
(``fields``, ``replace``, ``asdict``, ``__match_args__``, ...) is its own.

A class that defines any of these methods itself, or asks for ``order`` or ``unsafe_hash``, gets the
standard decorator unchanged.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

_OWN = ("__repr__", "__eq__", "__hash__")


def dataclass(
    cls: C | None = None, /, *, repr: bool = True, eq: bool = True, **params: Any
) -> C | Callable[[C], C]:
    """Use as ``dataclasses.dataclass`` (``@dataclass``, ``@dataclass(frozen=True)``, ...)."""

    def wrap(cls: C) -> C:
        if params.get("order") or params.get("unsafe_hash") or any(name in cls.__dict__ for name in _OWN):
            return dataclasses.dataclass(cls, repr=repr, eq=eq, **params)
        cls = dataclasses.dataclass(cls, repr=False, eq=False, **params)
        fields = dataclasses.fields(cls)
        if repr:
            _add(cls, "__repr__", _repr_of(tuple(f.name for f in fields if f.repr)))
        if eq:
            _add(cls, "__eq__", _eq_of(_values_of(tuple(f.name for f in fields if f.compare))))
            if params.get("frozen"):
                hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
                _add(cls, "__hash__", _hash_of(_values_of(hashed)))
            else:
                cls.__hash__ = None  # type: ignore[assignment]  # equal by value yet mutable: unhashable
        cls.__dataclass_params__.repr = repr  # type: ignore[attr-defined]
        cls.__dataclass_params__.eq = eq  # type: ignore[attr-defined]
        return cls

    return wrap if cls is None else wrap(cls)


def _add(cls: type, name: str, method: Callable) -> None:
    method.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, method)


def _values_of(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """The named attributes of an object as a tuple, as the standard methods compare and hash them
    (a tuple even for one field: its comparison takes identical values as equal, NaN included)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return lambda obj: ()


def _repr_of(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _eq_of(values: Callable[[Any], tuple]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash_of(values: Callable[[Any], tuple]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__
