"""The writer's JSON: defaults left out, float32 numbers in their shortest form where renderers use
float32, translations and extras exact."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.api import compress, resolve
from glbcompress.engine.json_tidy import tidy
from glbcompress.engine.reader import read
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import models
from tests.tools import CORPUS, new_errors, validate

ROTATION = [0.0, 0.3826834261417389, 0.0, 0.9238795042037964]  # float32 values written as float64
TRANSLATION = [0.1, 25.653505718129782, -7.152557373046875e-07]


def _gltf() -> dict:
    return {
        "asset": {"version": "2.0", "extras": {"ratio": 1.0, "exact": 0.1234567890123}},
        "nodes": [
            {"name": "a", "rotation": ROTATION, "translation": TRANSLATION, "scale": [1.0, 1.0, 1.0]},
            {"matrix": [1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0, 2.5, -1.25, 0.1, 1.0]},
            {"rotation": [0.0, 0.0, 0.0, 1.0], "weights": [0.16087008085476940], "extras": {"w": 2.0}},
            {"rotation": ROTATION},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 4}], "weights": [0.1]}],
        "accessors": [
            {"bufferView": 0, "byteOffset": 0, "componentType": 5126, "count": 2, "type": "SCALAR"},
            {
                "bufferView": 1,
                "byteOffset": 4,
                "componentType": 5126,
                "count": 4,
                "type": "SCALAR",
                "sparse": {
                    "count": 1,
                    "indices": {"bufferView": 0, "byteOffset": 0, "componentType": 5121},
                    "values": {"bufferView": 1, "byteOffset": 8},
                },
            },
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 8},
            {"buffer": 0, "byteOffset": 8, "byteLength": 24},
        ],
        "materials": [
            {
                "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1, 1, 1], "metallicFactor": 1.0},
                "emissiveFactor": [0, 0, 0],
                "alphaMode": "OPAQUE",
                "doubleSided": False,
                "normalTexture": {"index": 0, "texCoord": 0, "scale": 1.0},
                "extensions": {
                    "KHR_materials_ior": {"ior": 1.5},
                    "KHR_materials_emissive_strength": {"emissiveStrength": 2.123456789},
                    "VENDOR_thing": {"value": 0.1234567890123, "one": 1.0},
                },
            },
            {
                "pbrMetallicRoughness": {
                    "baseColorTexture": {
                        "index": 0,
                        "extensions": {"KHR_texture_transform": {"offset": [0, 0], "scale": [0.5, 1.0]}},
                    },
                    "roughnessFactor": 0.5,
                },
                "alphaMode": "MASK",
                "alphaCutoff": 0.25,
            },
        ],
        "samplers": [{"wrapS": 10497, "wrapT": 33071, "magFilter": 9729}],
        "cameras": [{"type": "perspective", "perspective": {"yfov": 0.6911112070083618, "znear": 0.01}}],
        "animations": [
            {
                "samplers": [{"input": 1, "output": 2, "interpolation": "LINEAR"}],
                "channels": [
                    {"sampler": 0, "target": {"node": 0, "path": "rotation"}},
                    {
                        "sampler": 0,
                        "target": {
                            "path": "pointer",
                            "extensions": {"KHR_animation_pointer": {"pointer": "/nodes/3/rotation"}},
                        },
                    },
                ],
            }
        ],
    }


def test_defaults_are_left_out() -> None:
    gltf = _gltf()
    tidy(gltf)
    a, shifted, plain, _pinned = gltf["nodes"]
    assert "scale" not in a
    assert shifted == {"translation": [2.5, -1.25, 0.1]}  # a matrix that only shifts
    assert "rotation" not in plain
    assert "mode" not in gltf["meshes"][0]["primitives"][0]
    first, second = gltf["materials"]
    assert "pbrMetallicRoughness" not in first  # left empty: the defaults apply
    assert set(first) == {"normalTexture", "extensions"}
    assert first["normalTexture"] == {"index": 0}
    assert first["extensions"]["KHR_materials_ior"] == {}
    assert second["alphaCutoff"] == 0.25 and second["alphaMode"] == "MASK"
    transform = second["pbrMetallicRoughness"]["baseColorTexture"]["extensions"]["KHR_texture_transform"]
    assert transform == {"scale": [0.5, 1]}
    assert gltf["samplers"] == [{"wrapT": 33071, "magFilter": 9729}]
    assert "interpolation" not in gltf["animations"][0]["samplers"][0]
    assert [view.get("byteOffset") for view in gltf["bufferViews"]] == [None, 8]
    plain, sparse = gltf["accessors"]
    assert "byteOffset" not in plain and sparse["byteOffset"] == 4
    assert "byteOffset" not in sparse["sparse"]["indices"] and sparse["sparse"]["values"]["byteOffset"] == 8


def test_without_float32_every_value_is_exact() -> None:
    gltf = _gltf()
    tidy(gltf)
    a = gltf["nodes"][0]
    assert a["rotation"] == ROTATION and a["translation"] == TRANSLATION
    assert gltf["nodes"][2]["weights"] == [0.1608700808547694]
    assert gltf["materials"][0]["extensions"]["KHR_materials_emissive_strength"] == {
        "emissiveStrength": 2.123456789
    }
    # Integral floats are integers (the same JSON number), except in extras.
    assert json.dumps(a["rotation"]) == "[0, 0.3826834261417389, 0, 0.9238795042037964]"
    assert gltf["asset"]["extras"] == {"ratio": 1.0, "exact": 0.1234567890123}
    assert isinstance(gltf["nodes"][2]["extras"]["w"], float)


def test_float32_numbers_in_their_shortest_form() -> None:
    gltf = _gltf()
    original = copy.deepcopy(gltf)
    tidy(gltf, float32=True)
    a = gltf["nodes"][0]
    assert a["rotation"] == [0, 0.38268343, 0, 0.9238795]
    assert np.array_equal(np.float32(a["rotation"]), np.float32(ROTATION))
    assert a["translation"] == TRANSLATION  # translations keep every digit
    assert gltf["nodes"][2]["weights"] == [0.16087008]
    assert gltf["meshes"][0]["weights"] == [0.1]
    assert gltf["cameras"][0]["perspective"] == {"yfov": 0.6911112, "znear": 0.01}
    extensions = gltf["materials"][0]["extensions"]
    assert extensions["KHR_materials_emissive_strength"] == {"emissiveStrength": 2.1234567}
    assert extensions["VENDOR_thing"] == {"value": 0.1234567890123, "one": 1}  # not ours to round
    assert gltf["asset"]["extras"] == original["asset"]["extras"]
    # The node an animation pointer animates keeps its properties exactly.
    assert gltf["nodes"][3] == original["nodes"][3]


def test_float32_leaves_numbers_float32_cannot_hold() -> None:
    gltf = {"cameras": [{"type": "perspective", "perspective": {"yfov": 0.5, "zfar": 1e300, "znear": 1e-50}}]}
    tidy(gltf, float32=True)
    assert gltf["cameras"][0]["perspective"] == {"yfov": 0.5, "zfar": 1e300, "znear": 1e-50}


def _json(path: Path) -> dict:
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def test_pipeline_output_reads_back_the_same_and_validates(tmp_path: Path) -> None:
    """A compressed rig (many rotations and factors) keeps its node transforms to float32."""
    src = models.skinned_rig(tmp_path / "rig.glb")
    before = read(src)
    out = tmp_path / "rig.out.glb"
    compress(src, out, resolve("balanced"))
    after = read(out)
    by_name = {n.get("name"): n for n in after.nodes}
    for node in before.nodes:
        if node.get("name") not in by_name or "mesh" in node:
            continue
        for key, default in (("rotation", [0, 0, 0, 1]), ("scale", [1, 1, 1]), ("translation", [0, 0, 0])):
            want = np.float32(node.get(key, default))
            assert np.array_equal(np.float32(by_name[node["name"]].get(key, default)), want), key
    reports = validate(src, out)
    assert new_errors(reports[0], reports[1]) == {}


@pytest.mark.skipif(not (CORPUS / "public" / "Soldier").is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_rig_json_is_smaller_with_float32(tmp_path: Path) -> None:
    """Soldier's node JSON holds float64 renderings of float32 rotations: 15.8 kB written as they
    came, a sixth less in float32's shortest form."""
    src = CORPUS / "public" / "Soldier" / "Soldier.glb"
    doc = read(src)
    exact = write_glb(doc, tmp_path / "exact.glb").json
    short = write_glb(doc, tmp_path / "short.glb", WriteOptions(float32_json=True)).json
    size = len(json.dumps(exact["nodes"], separators=(",", ":")))
    assert len(json.dumps(short["nodes"], separators=(",", ":"))) < size * 5 / 6
    for a, b in zip(exact["nodes"], short["nodes"], strict=True):
        assert a.get("translation") == b.get("translation")
        assert np.array_equal(
            np.float32(a.get("rotation", [0, 0, 0, 1])), np.float32(b.get("rotation", [0, 0, 0, 1]))
        )
