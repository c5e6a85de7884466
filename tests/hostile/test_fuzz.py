"""A bounded fuzzing run (hypothesis): generated GLBs with flipped bytes, cut or spliced bytes,
and mutated JSON fields go through the whole engine. Each must compress to a GLB our reader reads
back or raise the engine's typed error -- never another exception, never a hang.

CI runs a fixed number of examples (about half a minute on two cores);
GLBCOMPRESS_FUZZ_EXAMPLES=5000 runs a longer campaign locally. Failing inputs are shrunk and
printed by hypothesis, and the failing model is kept (FAILURES; the error's note names the file)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures import models
from tests.hostile.support import glb, outcome, split_glb

EXAMPLES = int(os.environ.get("GLBCOMPRESS_FUZZ_EXAMPLES", "80"))
HANG_SECONDS = 30
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # hangs are caught by the alarm below; a loaded CI machine must not flake
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_folder = Path(tempfile.mkdtemp(prefix="fuzz-seeds-"))
SEEDS = {
    name: path.read_bytes() for name, path in models.generate_all(_folder).items() if name.endswith(".glb")
}
NAMES = sorted(SEEDS)


@contextmanager
def no_hang() -> Iterator[None]:
    def alarm(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"the engine ran for more than {HANG_SECONDS} s on one fuzzed model")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


FAILURES = Path(tempfile.gettempdir()) / "glbcompress-fuzz-failures"
"""Where a failing model is kept, named by its digest: hypothesis prints some examples blank (a
JSON mutation's odd Unicode), and the file is what reproduces the failure."""


def check(data: bytes, options: dict[str, Any] | None = None, preset: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp, no_hang():
        case = Path(tmp) / "case.glb"
        case.write_bytes(data)
        try:
            outcome(case, options, preset=preset)  # raises on anything but success or EngineError
        except Exception as exc:
            FAILURES.mkdir(exist_ok=True)
            kept = FAILURES / f"{hashlib.sha256(data).hexdigest()[:16]}.glb"
            kept.write_bytes(data)
            exc.add_note(f"failing model kept at {kept}; options {options}, preset {preset}")
            raise


edits = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12)


@FUZZ
@given(name=st.sampled_from(NAMES), flips=edits)
def test_byte_flips(name: str, flips: list[tuple[float, int]]) -> None:
    data = bytearray(SEEDS[name])
    for where, value in flips:
        data[int(where * len(data))] = value
    check(bytes(data))


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    start=st.floats(0, 1, exclude_max=True),
    length=st.integers(1, 64),
    insert=st.binary(max_size=64),
)
def test_cut_and_splice(name: str, start: float, length: int, insert: bytes) -> None:
    data = SEEDS[name]
    at = int(start * len(data))
    check(data[:at] + insert + data[at + length :])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, 2, 3, 4, 5, 255, 65535, 5120, 5121, 5123, 5125, 5126, 2**31, 2**32])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["SCALAR", "VEC2", "VEC3", "VEC4", "MAT4", "LINEAR", "STEP", "CUBICSPLINE"])
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from paths(inner, (*prefix, i))


def replace(gltf: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        gltf = gltf[step]
    gltf[path[-1]] = value


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    picks=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), json_values), min_size=1, max_size=4),
    preset=st.sampled_from(["lossless", "balanced", "max"]),
    extra=st.sampled_from([{}, {"draco": True}, {"simplify": True}, {"texture_format": "png"}]),
)
def test_json_field_mutations(
    name: str, picks: list[tuple[float, Any]], preset: str, extra: dict[str, Any]
) -> None:
    gltf, binary = split_glb(SEEDS[name])
    for where, value in picks:
        candidates = [p for p in paths(gltf) if p]
        replace(gltf, candidates[int(where * len(candidates))], value)
    check(glb(json.dumps(gltf).encode(), binary), {"texture_format": "keep", **extra}, preset)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_compress(name: str) -> None:
    """The unmutated seeds compress (so the fuzzing starts from models the engine accepts)."""
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / name
        case.write_bytes(SEEDS[name])
        assert outcome(case).ok
