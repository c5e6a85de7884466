"""JSON attacks: nesting a hundred thousand levels deep (Python's json module would recurse
until RecursionError), oversized JSON, NaN/Infinity and numbers that overflow to infinity, and a
wrong JSON type in every property the engine reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glbcompress.engine.limits import Limits
from glbcompress.engine.structure import SCHEMA
from tests.hostile.support import glb, mutate, outcome, record_bounded, run_bounded

DEEP = 100_000


@pytest.mark.parametrize("where", ["extras", "nodes", "asset"])
def test_deep_nesting_is_refused_without_recursion(tmp_path: Path, where: str) -> None:
    nested = "[" * DEEP + "]" * DEEP
    text = {
        "extras": '{"asset":{"version":"2.0"},"extras":' + nested + "}",
        "nodes": '{"asset":{"version":"2.0"},"nodes":[{"extras":'
        + "{"
        + '"a":{' * DEEP
        + "}" * DEEP
        + "}}]}",
        "asset": '{"asset":' + nested + "}",
    }[where]
    case = tmp_path / "deep.glb"
    case.write_bytes(glb(text.encode()))
    result = outcome(case)
    assert result.kind == "limit-exceeded" and "nested" in result.message, result


def test_deep_nesting_is_bounded(tmp_path: Path) -> None:
    """A million nested arrays (2 MB of brackets) in a .gltf: refused quickly in bounded memory."""
    case = tmp_path / "deep.gltf"
    case.write_text('{"asset":{"version":"2.0"},"extras":' + "[" * 1_000_000 + "]" * 1_000_000 + "}")
    bounded = run_bounded(case, memory_bytes=512 * 1024**2)
    record_bounded("deeply nested JSON", "1,000,000 nested arrays", bounded)
    assert bounded.outcome.kind == "limit-exceeded", bounded


def test_nesting_at_the_limit_is_fine(tmp_path: Path) -> None:
    depth = Limits().max_json_depth - 2
    case = tmp_path / "ok.gltf"
    case.write_text('{"asset":{"version":"2.0"},"extras":' + "[" * depth + "]" * depth + "}")
    assert outcome(case).ok


def test_oversized_json_is_refused_before_parsing(tmp_path: Path) -> None:
    case = tmp_path / "big.gltf"
    case.write_text(json.dumps({"asset": {"version": "2.0"}, "extras": {"pad": "x" * 200_000}}))
    result = outcome(case, limits=Limits(max_json_bytes=100_000))
    assert result.kind == "limit-exceeded", result


@pytest.mark.parametrize(
    "text",
    [
        '{"asset":{"version":"2.0"},"nodes":[{"translation":[NaN,0,0]}]}',
        '{"asset":{"version":"2.0"},"nodes":[{"scale":[Infinity,1,1]}]}',
        '{"asset":{"version":"2.0"},"nodes":[{"rotation":[0,0,0,-Infinity]}]}',
        '{"asset":{"version":"2.0"},"nodes":[{"translation":[1e999,0,0]}]}',
        '{"asset":{"version":"2.0"},"nodes":[{"matrix":[1e400,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]}]}',
        '{"asset":{"version":"2.0"},"materials":[{"pbrMetallicRoughness":{"metallicFactor":-1e999}}]}',
        '{"asset":{"version":"2.0"},"meshes":[{"weights":[NaN],"primitives":[{"attributes":{}}]}]}',
    ],
)
def test_nan_and_infinity_in_json(tmp_path: Path, text: str) -> None:
    case = tmp_path / "nan.gltf"
    case.write_text(text)
    result = outcome(case)
    assert result.kind == "invalid-model", result


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '"glTF"',
        "null",
        "{}",
        '{"asset":"2.0"}',
        '{"asset":{"version":2}}',
        '{"asset":{"version":"1.0"}}',
        '{"asset":{"version":"2.0"},"nodes":{}}',
        '{"asset":{"version":"2.0"},"nodes":[1,2]}',
        '{"asset":{"version":"2.0"},"extensionsUsed":"KHR_x"}',
        '{"asset":{"version":"2.0"},"extensionsRequired":[1]}',
        '{"asset":{"version":"2.0"},"scene":-1}',
        '{"asset":{"version":"2.0"},"scene":0}',
        '\ufeff{"asset":{"version":"2.0"},"nodes":[{"name":"\\ud800"}]}',
        '{"asset":{"version":"2.0"},"asset":{"version":"9"}}',
    ],
)
def test_malformed_top_level(tmp_path: Path, text: str) -> None:
    case = tmp_path / "top.gltf"
    case.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = outcome(case)
    assert result.ok or result.kind in ("invalid-model", "unsupported-model"), result
    if text in (
        "[]",
        "{}",
        '{"asset":{"version":"2.0"},"nodes":{}}',
        '{"asset":{"version":"2.0"},"scene":0}',
    ):
        assert not result.ok


WRONG_VALUES: list[Any] = ["text", -1, 1.5, True, None, [], {}, [1, "a"], 1e300]


def schema_paths() -> list[tuple[str, str]]:
    """(collection, property) for every property the structure check knows, nested ones as a.b."""
    found = []

    def walk(collection: str, spec: dict, prefix: str) -> None:
        for key, rule in spec.items():
            found.append((collection, prefix + key))
            if isinstance(rule, dict) and key != "extensions":
                walk(collection, rule, prefix + key + ".")

    for collection, spec in SCHEMA.items():
        walk(collection, spec, "")
    return found


def _set(obj: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        obj = obj.setdefault(key, {}) if isinstance(obj.get(key, {}), dict) else obj[key]
    obj[last] = value


SAMPLE_OF = {
    "scenes": "hierarchy_reused.glb",
    "nodes": "skinned_rig.glb",
    "meshes": "morph_cube.glb",
    "materials": "textured_box.glb",
    "textures": "textured_box.glb",
    "images": "textured_box.glb",
    "samplers": "textured_box.glb",
    "accessors": "sparse_accessor.glb",
    "cameras": "hierarchy_reused.glb",
    "skins": "skinned_rig.glb",
    "animations": "skinned_rig.glb",
    "buffers": "textured_box.glb",
    "bufferViews": "textured_box.glb",
}


@pytest.mark.parametrize(("collection", "prop"), schema_paths())
def test_wrong_types_in_every_property(
    glbs: dict[str, Path], tmp_path: Path, collection: str, prop: str
) -> None:
    """Each wrong JSON type in the property of the first object of its collection: refused with a
    message, or (where the value happens to be acceptable, e.g. an index that exists) compressed."""
    source = glbs[SAMPLE_OF[collection]]
    refused = 0
    for value in WRONG_VALUES:
        case = mutate(source, tmp_path / "case.glb", lambda g, v=value: _set(g[collection][0], prop, v))
        result = outcome(case)
        if not result.ok:
            assert result.kind in ("invalid-model", "unsupported-model", "limit-exceeded"), result
            refused += 1
    assert refused >= len(WRONG_VALUES) - 3, (collection, prop)


@pytest.mark.parametrize(
    ("what", "extras", "word"),
    [
        ("5,000,000 empty objects", "[" + "{}," * 4_999_999 + "{}]", "objects"),
        ("20,000,000 numbers", "[" + "0," * 19_999_999 + "0]", "values"),
    ],
)
def test_json_of_millions_of_tiny_values_is_refused_before_parsing(
    tmp_path: Path, what: str, extras: str, word: str
) -> None:
    """Parsed, each tiny JSON value takes tens of bytes: such a file (under the JSON size limit)
    would take gigabytes. It is refused from a scan of its bytes, in bounded memory."""
    case = tmp_path / "many.gltf"
    case.write_text('{"asset":{"version":"2.0"},"extras":' + extras + "}")
    bounded = run_bounded(case, memory_bytes=512 * 1024**2)
    record_bounded("millions of tiny JSON values", what, bounded)
    assert bounded.outcome.kind == "limit-exceeded" and word in bounded.outcome.message, bounded


def test_json_value_and_object_counts_at_the_limits_are_fine(tmp_path: Path) -> None:
    text = '{"asset":{"version":"2.0"},"extras":[' + ",".join(["{}"] * 1000) + "]}"
    case = tmp_path / "counted.gltf"
    case.write_text(text)
    values, objects = text.count(","), text.count("{")
    assert outcome(case, limits=Limits(max_json_values=values, max_json_objects=objects)).ok
    over_values = outcome(case, limits=Limits(max_json_values=values - 1))
    assert over_values.kind == "limit-exceeded" and "values" in over_values.message, over_values
    over_objects = outcome(case, limits=Limits(max_json_objects=objects - 1))
    assert over_objects.kind == "limit-exceeded" and "objects" in over_objects.message, over_objects
