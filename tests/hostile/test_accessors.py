"""Accessor and bufferView attacks: counts, offsets, lengths and strides that lie, huge counts,
the wrong component type or element type for what an attribute is, sparse storage that lies,
indices out of range, NaN and infinity in the binary data, and one small bufferView aliased by
hundreds of accessors (a decompression bomb without compression)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glbcompress.engine.limits import Limits
from tests.hostile.support import glb, mutate, outcome, record_bounded, run_bounded, split_glb

Change = Callable[[dict], Any]


def first_prim(g: dict) -> dict:
    return g["meshes"][0]["primitives"][0]


def attr(g: dict, semantic: str) -> dict:
    return g["accessors"][first_prim(g)["attributes"][semantic]]


def indices(g: dict) -> dict:
    return g["accessors"][first_prim(g)["indices"]]


def view_of(g: dict, accessor: dict) -> dict:
    return g["bufferViews"][accessor["bufferView"]]


REFUSED: dict[str, Change] = {
    "count doubled": lambda g: attr(g, "POSITION").update(count=attr(g, "POSITION")["count"] * 2),
    "count 2^31": lambda g: attr(g, "POSITION").update(count=1 << 31),
    "count 2^40": lambda g: attr(g, "POSITION").update(count=1 << 40),
    "count 0": lambda g: attr(g, "POSITION").update(count=0),
    "byteOffset past view": lambda g: attr(g, "POSITION").update(byteOffset=1 << 20),
    "byteOffset 2^62": lambda g: attr(g, "POSITION").update(byteOffset=1 << 62),
    "view byteLength past buffer": lambda g: view_of(g, attr(g, "POSITION")).update(byteLength=1 << 30),
    "view byteOffset past buffer": lambda g: view_of(g, attr(g, "POSITION")).update(byteOffset=1 << 40),
    "view byteLength 0": lambda g: view_of(g, attr(g, "POSITION")).update(byteLength=0),
    "byteStride 1": lambda g: view_of(g, attr(g, "POSITION")).update(byteStride=1),
    "byteStride 2^30": lambda g: view_of(g, attr(g, "POSITION")).update(byteStride=1 << 30),
    "buffer byteLength 2^40": lambda g: g["buffers"][0].update(byteLength=1 << 40),
    "view of missing buffer": lambda g: view_of(g, attr(g, "POSITION")).update(buffer=7),
    "accessor of missing view": lambda g: attr(g, "POSITION").update(bufferView=999),
    "componentType 5124": lambda g: attr(g, "POSITION").update(componentType=5124),
    "componentType 0": lambda g: attr(g, "POSITION").update(componentType=0),
    "type MAT5": lambda g: attr(g, "POSITION").update(type="MAT5"),
    "indices float": lambda g: indices(g).update(componentType=5126, count=indices(g)["count"] // 2),
    "indices VEC3": lambda g: indices(g).update(type="VEC3", count=indices(g)["count"] // 3),
    "attribute counts differ": lambda g: attr(g, "NORMAL").update(count=attr(g, "NORMAL")["count"] - 1),
}

# Valid-but-odd or wrong-for-the-semantic layouts: compressed correctly, or refused with a message.
EITHER: dict[str, Change] = {
    "POSITION as SCALAR": lambda g: attr(g, "POSITION").update(type="SCALAR"),
    "POSITION as VEC2": lambda g: attr(g, "POSITION").update(type="VEC2"),
    "POSITION as MAT4": lambda g: attr(g, "POSITION").update(type="MAT4", count=1),
    "POSITION as normalized bytes": lambda g: attr(g, "POSITION").update(componentType=5121, normalized=True),
    "POSITION as signed shorts": lambda g: attr(g, "POSITION").update(componentType=5122),
    "NORMAL as VEC2": lambda g: attr(g, "NORMAL").update(type="VEC2"),
    "NORMAL as SCALAR": lambda g: attr(g, "NORMAL").update(type="SCALAR"),
    "TEXCOORD_0 as SCALAR": lambda g: attr(g, "TEXCOORD_0").update(type="SCALAR"),
    "NORMAL as bytes": lambda g: attr(g, "NORMAL").update(componentType=5120),
    "TEXCOORD_0 as VEC4": lambda g: attr(g, "TEXCOORD_0").update(type="VEC4", count=12),
    "TEXCOORD_0 as MAT2": lambda g: attr(g, "TEXCOORD_0").update(type="MAT2", count=12),
    "normalized floats": lambda g: attr(g, "POSITION").update(normalized=True),
    "unaligned byteOffset": lambda g: attr(g, "NORMAL").update(byteOffset=1, count=23),
    "byteStride odd": lambda g: view_of(g, attr(g, "TEXCOORD_0")).update(byteStride=9),
    "min/max wrong length": lambda g: attr(g, "POSITION").update(min=[0], max=[1, 2, 3, 4, 5]),
    "indices as signed bytes": lambda g: indices(g).update(componentType=5120),
    "mode points": lambda g: first_prim(g).update(mode=0),
    "mode line strip": lambda g: first_prim(g).update(mode=3),
    "mode triangle fan": lambda g: first_prim(g).update(mode=6),
    "index count not a multiple of 3": lambda g: indices(g).update(count=indices(g)["count"] - 1),
    "primitive without indices": lambda g: first_prim(g).pop("indices"),
    "empty attributes": lambda g: first_prim(g).update(attributes={}),
    "texCoord 7": lambda g: g["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"].update(texCoord=7),
    "unknown attribute": lambda g: first_prim(g)["attributes"].update(
        _FOO=first_prim(g)["attributes"]["NORMAL"]
    ),
    "JOINTS_0 on an unskinned mesh": lambda g: first_prim(g)["attributes"].update(
        JOINTS_0=first_prim(g)["attributes"]["TEXCOORD_0"]
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_lies_are_refused(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["textured_box.glb"], tmp_path / "case.glb", REFUSED[name])
    result = outcome(case)
    assert not result.ok, f"'{name}' was accepted"
    assert result.kind in ("invalid-model", "limit-exceeded"), result


@pytest.mark.parametrize("name", list(EITHER))
def test_odd_layouts_compress_or_are_refused(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["textured_box.glb"], tmp_path / "case.glb", EITHER[name])
    for preset in ("lossless", "balanced", "max"):
        result = outcome(case, preset=preset)
        assert result.ok or result.kind in ("invalid-model", "unsupported-model"), (preset, result)
    result = outcome(case, {"texture_format": "keep", "simplify": True}, preset="balanced")
    assert result.ok or result.kind in ("invalid-model", "unsupported-model"), ("simplify", result)


WRONG_TYPES_SIMPLIFIED: dict[str, tuple[str, Change]] = {
    "WEIGHTS_0 as VEC2": ("skinned_rig.glb", lambda g: attr(g, "WEIGHTS_0").update(type="VEC2")),
    "NORMAL as SCALAR, skinned": ("skinned_rig.glb", lambda g: attr(g, "NORMAL").update(type="SCALAR")),
    "NORMAL as SCALAR, morphed": ("morph_cube.glb", lambda g: attr(g, "NORMAL").update(type="SCALAR")),
    "morph POSITION as VEC2": (
        "morph_cube.glb",
        lambda g: g["accessors"][first_prim(g)["targets"][0]["POSITION"]].update(type="VEC2"),
    ),
    "morph POSITION as SCALAR": (
        "morph_cube.glb",
        lambda g: g["accessors"][first_prim(g)["targets"][0]["POSITION"]].update(type="SCALAR"),
    ),
}


@pytest.mark.parametrize("name", list(WRONG_TYPES_SIMPLIFIED))
def test_attributes_of_the_wrong_type_do_not_upset_simplification(
    glbs: dict[str, Path], tmp_path: Path, name: str
) -> None:
    """An attribute whose type is not the one glTF gives its semantic (the fuzz run found a NORMAL
    declared SCALAR) is left out of the simplifier's metric instead of breaking it."""
    seed, change = WRONG_TYPES_SIMPLIFIED[name]
    case = mutate(glbs[seed], tmp_path / "case.glb", change)
    result = outcome(case, {"texture_format": "keep", "simplify": True}, preset="balanced")
    assert result.ok or result.kind in ("invalid-model", "unsupported-model"), result


SPARSE: dict[str, Change] = {
    "count past accessor": lambda g: g["accessors"][0]["sparse"].update(count=1000),
    "count 2^40": lambda g: g["accessors"][0]["sparse"].update(count=1 << 40),
    "index past accessor": lambda g: g["accessors"][0].update(count=4),
    "indices view missing": lambda g: g["accessors"][0]["sparse"]["indices"].update(bufferView=99),
    "indices float": lambda g: g["accessors"][0]["sparse"]["indices"].update(componentType=5126),
    "values offset past view": lambda g: g["accessors"][0]["sparse"]["values"].update(byteOffset=4096),
    "no values": lambda g: g["accessors"][0]["sparse"].pop("values"),
    "sparse is a list": lambda g: g["accessors"][0].update(sparse=[1, 2]),
}


@pytest.mark.parametrize("name", list(SPARSE))
def test_sparse_lies_are_refused(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["sparse_accessor.glb"], tmp_path / "case.glb", SPARSE[name])
    result = outcome(case)
    assert not result.ok and result.kind == "invalid-model", (name, result)


def test_unsorted_and_repeated_sparse_indices_are_fine(glbs: dict[str, Path], tmp_path: Path) -> None:
    gltf, binary = split_glb(glbs["sparse_accessor.glb"].read_bytes())
    view = gltf["bufferViews"][gltf["accessors"][0]["sparse"]["indices"]["bufferView"]]
    data = bytearray(binary)
    data[view.get("byteOffset", 0) : view.get("byteOffset", 0) + 6] = np.array([9, 5, 9], np.uint16).tobytes()
    case = tmp_path / "case.glb"
    case.write_bytes(glb(gltf, bytes(data)))
    assert outcome(case).ok


@pytest.mark.parametrize("index", [24, 0xFFFF])
def test_indices_out_of_range(glbs: dict[str, Path], tmp_path: Path, index: int) -> None:
    gltf, binary = split_glb(glbs["textured_box.glb"].read_bytes())
    offset = view_of(gltf, indices(gltf)).get("byteOffset", 0) + 2
    data = bytearray(binary)
    data[offset : offset + 2] = struct.pack("<H", index)
    case = tmp_path / "case.glb"
    case.write_bytes(glb(gltf, bytes(data)))
    result = outcome(case)
    assert result.kind == "invalid-model" and "out of range" in result.message, result


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("semantic", ["POSITION", "NORMAL", "TEXCOORD_0"])
def test_nan_and_infinity_in_binary_data(
    glbs: dict[str, Path], tmp_path: Path, value: float, semantic: str
) -> None:
    gltf, binary = split_glb(glbs["textured_box.glb"].read_bytes())
    accessor = attr(gltf, semantic)
    offset = view_of(gltf, accessor).get("byteOffset", 0) + accessor.get("byteOffset", 0) + 4
    data = bytearray(binary)
    data[offset : offset + 4] = struct.pack("<f", value)
    case = tmp_path / "case.glb"
    case.write_bytes(glb(gltf, bytes(data)))
    result = outcome(case)
    assert result.kind == "invalid-model" and "NaN or infinite" in result.message, result


@pytest.mark.parametrize("path", ["animation input", "animation output", "inverse bind matrices"])
def test_nan_in_animation_and_skin_data(glbs: dict[str, Path], tmp_path: Path, path: str) -> None:
    gltf, binary = split_glb(glbs["skinned_rig.glb"].read_bytes())
    index = {
        "animation input": gltf["animations"][0]["samplers"][0]["input"],
        "animation output": gltf["animations"][0]["samplers"][0]["output"],
        "inverse bind matrices": gltf["skins"][0]["inverseBindMatrices"],
    }[path]
    accessor = gltf["accessors"][index]
    offset = view_of(gltf, accessor).get("byteOffset", 0)
    data = bytearray(binary)
    data[offset : offset + 4] = struct.pack("<f", float("nan"))
    case = tmp_path / "case.glb"
    case.write_bytes(glb(gltf, bytes(data)))
    assert outcome(case).kind == "invalid-model"


def test_huge_count_without_data_is_refused_before_allocation(tmp_path: Path) -> None:
    """2^30 MAT4 floats (64 GiB) of zeros, in a file of 200 bytes."""
    case = tmp_path / "huge.gltf"
    gltf = {
        "asset": {"version": "2.0"},
        "accessors": [{"componentType": 5126, "count": 1 << 30, "type": "MAT4"}],
        "skins": [{"joints": [0], "inverseBindMatrices": 0}],
        "nodes": [{}],
    }
    case.write_text(json.dumps(gltf))
    bounded = run_bounded(case, memory_bytes=256 * 1024**2)
    record_bounded("huge counts", "2^30 MAT4 accessor without data (64 GiB)", bounded)
    assert bounded.outcome.kind == "limit-exceeded", bounded


def aliased(path: Path, accessors: int, view_bytes: int) -> Path:
    """A GLB of one bufferView of view_bytes that `accessors` position accessors all read."""
    count = view_bytes // 12
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": view_bytes}],
        "bufferViews": [{"buffer": 0, "byteLength": view_bytes}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3"} for _ in range(accessors)
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": i}, "mode": 0}]} for i in range(accessors)],
        "nodes": [{"mesh": i} for i in range(accessors)],
        "scenes": [{"nodes": list(range(accessors))}],
    }
    path.write_bytes(glb(gltf, b"\0" * view_bytes))
    return path


def test_aliased_views_are_a_bomb_refused_before_allocation(tmp_path: Path) -> None:
    """4 MB of data read by 1000 accessors would decode to 4 GB."""
    case = aliased(tmp_path / "alias.glb", 1000, 4 * 1024**2)
    bounded = run_bounded(case, memory_bytes=768 * 1024**2)
    record_bounded("aliased bufferViews", "1000 accessors over one 4 MB view (4 GB decoded)", bounded)
    assert bounded.outcome.kind == "limit-exceeded" and "decompression bomb" in bounded.outcome.message


def test_expansion_bound_spares_modest_sharing(tmp_path: Path) -> None:
    assert outcome(aliased(tmp_path / "few.glb", 8, 1200)).ok
    tight = Limits(expansion_floor_bytes=1000, max_expansion=2)
    assert outcome(aliased(tmp_path / "few.glb", 8, 1200), limits=tight).kind == "limit-exceeded"
