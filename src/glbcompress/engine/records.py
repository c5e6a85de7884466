"""``dataclass``: the standard ``dataclasses.dataclass``, quicker to apply.

For every class it decorates, the standard decorator writes the source of ``__init__``,
``__repr__``, ``__eq__`` and, for a frozen class, ``__hash__``, ``__setattr__`` and ``__delattr__``,
and compiles each. Compiling is nearly all it costs: for the ~37 classes a ``glbcompress compress``
run defines, about a tenth of a small model's whole run, which start-up dominates (the benchmark
against gltfpack starts one process per model). Here those methods compile nothing, and behave the
same:

- ``__repr__``, ``__eq__``, ``__hash__`` and a frozen class's guards are closures over the field
  names: same text, same tuple comparison, same hash, same FrozenInstanceError;
- ``__init__`` runs the code of a small template, compiled once for each number of fields, with the
  fields' names as its parameters and their defaults as its defaults: the same signature (names,
  defaults, annotations) and the same errors for wrong arguments. It sets the fields in order,
  calling default factories, as the standard one does (through ``object.__setattr__`` when
  frozen), then ``__post_init__``.

The standard decorator does everything else (``fields``, ``replace``, ``asdict``,
``__match_args__``, ...). A class that defines any of the methods above itself, has a field that is
not a plain init field (``init=False``, ``kw_only``, ``InitVar``, ``ClassVar``) or one named
``self``, inherits from a dataclass, or asks for ``order``, ``unsafe_hash`` or ``slots``, gets the
standard decorator unchanged.
"""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from operator import attrgetter
from types import CodeType, FunctionType
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

_OWN = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_STANDARD_ONLY = ("order", "unsafe_hash", "slots", "kw_only")


def dataclass(cls: C | None = None, /, *, repr: bool = True, eq: bool = True, **params: Any) -> Any:
    """Use as ``dataclasses.dataclass`` (``@dataclass``, ``@dataclass(frozen=True)``, ...)."""

    def wrap(cls: C) -> C:
        if not _plain(cls, params):
            return dataclasses.dataclass(cls, repr=repr, eq=eq, **params)
        frozen = bool(params.get("frozen"))
        had_doc = bool(cls.__dict__.get("__doc__"))
        if not had_doc:  # else the standard decorator writes one from object.__init__ (slow, and wrong)
            cls.__doc__ = "-"
        rest = {name: value for name, value in params.items() if name != "frozen"}
        cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=False, **rest)
        fields = dataclasses.fields(cls)
        _add(cls, "__init__", _init_of(cls, fields, frozen))
        if frozen:
            names = frozenset(f.name for f in fields)
            _add(cls, "__setattr__", _frozen_setattr(cls, names))
            _add(cls, "__delattr__", _frozen_delattr(cls, names))
        if repr:
            _add(cls, "__repr__", _repr_of(tuple(f.name for f in fields if f.repr)))
        if eq:
            _add(cls, "__eq__", _eq_of(_values_of(tuple(f.name for f in fields if f.compare))))
            if frozen:
                hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
                _add(cls, "__hash__", _hash_of(_values_of(hashed)))
            else:
                cls.__hash__ = None  # type: ignore[assignment]  # equal by value yet mutable: unhashable
        if not had_doc:  # the standard decorator's doc, from the signature of __init__ (set above)
            cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
        given = cls.__dataclass_params__  # type: ignore[attr-defined]
        given.init, given.repr, given.eq, given.frozen = True, repr, eq, frozen
        return cls

    return wrap if cls is None else wrap(cls)


def _plain(cls: type, params: dict[str, Any]) -> bool:
    """Whether this module's methods can stand in for the standard ones (see the module's doc)."""
    if params.get("init") is False or any(params.get(name) for name in _STANDARD_ONLY):
        return False
    if any(name in cls.__dict__ for name in _OWN):
        return False
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return False
    for name, kind in inspect.get_annotations(cls).items():
        text = kind if isinstance(kind, str) else repr(kind)
        if name == "self" or any(word in text for word in ("ClassVar", "InitVar", "KW_ONLY")):
            return False
        spec = cls.__dict__.get(name)
        if isinstance(spec, dataclasses.Field) and (not spec.init or spec.kw_only is True):
            return False
    return True


class _Factory:
    """The default of a field made by a default_factory, as the signature shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()
_TEMPLATES: dict[int, CodeType] = {}


def _template(count: int) -> CodeType:
    """The code of ``__init__(self, a0, ..., a<count-1>)`` handing its arguments, as a tuple, to
    ``__set_fields__`` (looked up in the function's globals); compiled once per count."""
    code = _TEMPLATES.get(count)
    if code is None:
        params = "".join(f", a{i}" for i in range(count))
        values = "".join(f"a{i}, " for i in range(count))
        namespace: dict[str, Any] = {}
        exec(f"def __init__(self{params}):\n    __set_fields__(self, ({values}))\n", namespace)
        code = _TEMPLATES[count] = namespace["__init__"].__code__
    return code


def _init_of(cls: type, fields: tuple[dataclasses.Field, ...], frozen: bool) -> FunctionType:
    names = tuple(f.name for f in fields)
    defaults: list[Any] = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            defaults.append(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            defaults.append(_FACTORY)
        elif defaults:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
    code = _template(len(names)).replace(
        co_varnames=("self", *names), co_qualname=f"{cls.__qualname__}.__init__"
    )
    scope = {
        "__builtins__": builtins,
        "__name__": cls.__module__,
        "__set_fields__": _setter(cls, fields, frozen),
    }
    init = FunctionType(code, scope, "__init__", tuple(defaults) or None)
    init.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    return init


def _setter(cls: type, fields: tuple[dataclasses.Field, ...], frozen: bool) -> Callable[[Any, tuple], None]:
    """Sets the fields from __init__'s arguments, in order, making the defaults of default factories
    (by object.__setattr__ when frozen, as the standard frozen __init__), then runs __post_init__."""
    plan = tuple(
        (f.name, None if f.default_factory is dataclasses.MISSING else f.default_factory) for f in fields
    )
    assign = object.__setattr__ if frozen else setattr
    post_init = hasattr(cls, "__post_init__")

    def __set_fields__(self: Any, values: tuple) -> None:
        for (name, factory), value in zip(plan, values):  # noqa: B905 (same length by construction)
            assign(self, name, factory() if factory is not None and value is _FACTORY else value)
        if post_init:
            self.__post_init__()

    return __set_fields__


def _frozen_setattr(cls: type, names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    return __setattr__


def _frozen_delattr(cls: type, names: frozenset[str]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __delattr__


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
