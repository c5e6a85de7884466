"""engine.records.dataclass behaves as dataclasses.dataclass: each case defines the same class with
both decorators and compares what instances of the two do."""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any

import pytest

from glbcompress.engine import records


def both(params: dict[str, Any], body: dict[str, Any]) -> tuple[type, type]:
    """One class body decorated by the standard decorator and by ours (same name, so same repr)."""
    made = []
    for decorate in (dataclasses.dataclass, records.dataclass):
        namespace = {"__annotations__": dict(body.get("__annotations__", {})), "__module__": __name__}
        namespace.update({k: v for k, v in body.items() if k != "__annotations__"})
        made.append(decorate(**params)(type("Thing", (), namespace)))
    return made[0], made[1]


PLAIN = {
    "__annotations__": {"a": "int", "b": "float", "tags": "list[str]", "note": "str"},
    "b": 1.5,
    "tags": dataclasses.field(default_factory=list),
    "note": dataclasses.field(default="", repr=False, compare=False),
}
PARAMS = [
    {},
    {"frozen": True},
    {"eq": False},
    {"repr": False},
    {"frozen": True, "eq": False},
    {"kw_only": True},
]
CALLS: list[tuple[tuple, dict]] = [
    ((), {}),
    ((1, 2, ["x"], "n", 5), {}),
    ((1,), {"a": 2}),
    ((1,), {"nope": 2}),
    ((), {"b": 2.0}),
]
"""Wrong calls too: their errors must read the same."""


def outcome(action: Any) -> Any:
    """What an action returns, or the type and text of what it raises."""
    try:
        return action()
    except Exception as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("params", PARAMS)
def test_instances_behave_as_with_the_standard_decorator(params: dict[str, Any]) -> None:
    standard, ours = both(params, PLAIN)
    nan = math.nan
    for args in ({"a": 1}, {"a": 1, "b": nan, "tags": ["x"], "note": "n"}, {"a": 2, "b": 1.5}):
        s1, s2, o1, o2 = standard(**args), standard(**args), ours(**args), ours(**args)
        same_repr = repr(s1).split(" object at ")[0] == repr(o1).split(" object at ")[0]
        assert same_repr and (s1 == s2) == (o1 == o2) and (s1 == s1) == (o1 == o1)
        assert s1.__eq__(3) is o1.__eq__(3)
        if standard.__hash__ is object.__hash__:
            assert ours.__hash__ is object.__hash__
        else:
            assert outcome(lambda s=s1: hash(s)) == outcome(lambda o=o1: hash(o))
        assert outcome(lambda s=s1: setattr(s, "a", 5)) == outcome(lambda o=o1: setattr(o, "a", 5))
        assert dataclasses.asdict(s1) == dataclasses.asdict(o1)
    assert dataclasses.replace(ours(a=1, tags=["t"]), a=3).__dict__ == {
        "a": 3,
        "b": 1.5,
        "tags": ["t"],
        "note": "",
    }
    assert [f.name for f in dataclasses.fields(standard)] == [f.name for f in dataclasses.fields(ours)]
    assert str(inspect.signature(standard)) == str(inspect.signature(ours))
    assert standard.__doc__ == ours.__doc__ and standard.__init__.__qualname__ == ours.__init__.__qualname__
    assert standard.__init__.__annotations__ == ours.__init__.__annotations__
    for args, kwargs in CALLS:
        refused = outcome(lambda a=args, k=kwargs: standard(*a, **k))
        if isinstance(refused, tuple):
            assert refused == outcome(lambda a=args, k=kwargs: ours(*a, **k))
    assert ours(a=1).tags is not ours(a=1).tags  # a factory's default is made for each instance
    for act in (lambda x: setattr(x, "other", 1), lambda x: delattr(x, "a"), lambda x: delattr(x, "zz")):
        assert outcome(lambda f=act: f(standard(a=1))) == outcome(lambda f=act: f(ours(a=1)))
    assert getattr(standard, "__match_args__", None) == getattr(ours, "__match_args__", None)
    for name in ("init", "repr", "eq", "order", "unsafe_hash", "frozen"):
        assert getattr(standard.__dataclass_params__, name) == getattr(ours.__dataclass_params__, name)


def test_equality_compares_field_tuples() -> None:
    """A NaN held by both (the same object) is equal, as in the standard __eq__'s tuples; a single
    field is compared as a tuple too."""
    standard, ours = both({}, {"__annotations__": {"x": "float"}})
    nan = math.nan
    assert (standard(nan) == standard(nan)) is (ours(nan) == ours(nan)) is True
    assert (standard(nan) == standard(float("nan"))) is (ours(nan) == ours(float("nan"))) is False
    frozen_s, frozen_o = both({"frozen": True}, {"__annotations__": {"x": "float"}})
    assert hash(frozen_s(2.5)) == hash(frozen_o(2.5)) == hash((2.5,))
    empty_s, empty_o = both({"frozen": True}, {})
    assert empty_s() == empty_s() and empty_o() == empty_o() and hash(empty_s()) == hash(empty_o())


def test_hash_follows_the_fields_the_standard_one_does() -> None:
    body = {
        "__annotations__": {"a": "int", "b": "int", "c": "int"},
        "b": dataclasses.field(default=0, hash=False),
        "c": dataclasses.field(default=0, compare=False, hash=True),
    }
    standard, ours = both({"frozen": True}, body)
    for args in ((1,), (1, 2), (1, 2, 3)):
        assert hash(standard(*args)) == hash(ours(*args))


def test_a_recursive_repr_stops_as_the_standard_one_does() -> None:
    standard, ours = both({}, {"__annotations__": {"child": "Any"}, "child": None})
    s, o = standard(), ours()
    s.child, o.child = [s], [o]
    assert repr(s) == repr(o) == "Thing(child=[...])"


def test_classes_with_their_own_methods_get_the_standard_decorator() -> None:
    def __eq__(self: Any, other: Any) -> bool:
        return True

    standard, ours = both({}, {"__annotations__": {"a": "int"}, "__eq__": __eq__})
    assert ours(1) == ours(2) and ours.__hash__ is None is standard.__hash__
    standard, ours = both({"order": True}, {"__annotations__": {"a": "int"}})
    assert (ours(1) < ours(2)) is (standard(1) < standard(2)) is True


def test_subclasses_compare_their_own_fields() -> None:
    base = records.dataclass(frozen=True)(type("Base", (), {"__annotations__": {"a": "int"}}))
    child = records.dataclass(frozen=True)(type("Child", (base,), {"__annotations__": {"b": "int"}}))
    assert repr(child(1, 2)) == "Child(a=1, b=2)"
    assert child(1, 2) != child(1, 3) and child(1, 2) == child(1, 2) and base(1) != child(1, 2)
    assert hash(child(1, 2)) == hash((1, 2))


def test_post_init_runs_after_the_fields_are_set() -> None:
    seen: list[tuple] = []

    def __post_init__(self: Any) -> None:
        seen.append((self.a, self.b))
        if self.a < 0:
            raise ValueError("a must not be negative")

    body = {"__annotations__": {"a": "int", "b": "list"}, "b": dataclasses.field(default_factory=list)}
    for params in ({}, {"frozen": True}):
        standard, ours = both(params, {**body, "__post_init__": __post_init__})
        assert (
            outcome(lambda s=standard: s(-1))
            == outcome(lambda o=ours: o(-1))
            == ("ValueError", "a must not be negative")
        )
        ours(2, [3])
        assert seen[-1] == (2, [3])


def test_defaults_in_the_wrong_order_are_refused_alike() -> None:
    body = {"__annotations__": {"a": "int", "b": "int"}, "a": 1}
    refusals = [
        outcome(lambda d=decorate: d(type("Thing", (), dict(body))))
        for decorate in (dataclasses.dataclass, records.dataclass)
    ]
    assert refusals[0] == refusals[1] == ("TypeError", "non-default argument 'b' follows default argument")


@pytest.mark.parametrize(
    "annotations",
    [
        {"a": "int", "n": "dataclasses.InitVar[int]"},
        {"a": "int", "k": "ClassVar[int]"},
        {"a": "int", "_": "KW_ONLY", "b": "int"},
    ],
)
def test_unusual_fields_get_the_standard_decorator(annotations: dict[str, str]) -> None:
    namespace = {"__annotations__": annotations, "__module__": __name__, "k": 3}
    made = records.dataclass(type("Odd", (), namespace))
    assert "<string>" in made.__init__.__code__.co_filename  # compiled by the standard decorator
