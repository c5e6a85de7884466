"""Object-graph attacks: node cycles and self-parenting, nodes with two parents, fifty thousand
nodes deep, references out of range everywhere, and animation and skin data that
disagree with what they animate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.support import mutate, outcome, record_bounded, run_bounded

Change = Callable[[dict], Any]

CYCLES: dict[str, Change] = {
    "self-parent": lambda g: g["nodes"][0].setdefault("children", []).append(0),
    "two-node cycle": lambda g: g["nodes"][1].setdefault("children", []).append(0),
    "child listed twice": lambda g: g["nodes"][0]["children"].append(g["nodes"][0]["children"][0]),
    "two parents": lambda g: g["nodes"][2].setdefault("children", []).append(1),
}


@pytest.mark.parametrize("name", list(CYCLES))
def test_cycles_and_shared_children_are_refused(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["skinned_rig.glb"], tmp_path / "case.glb", CYCLES[name])
    result = outcome(case)
    assert result.kind == "invalid-model", result
    assert "cycle" in result.message or "parent" in result.message, result


def chain(path: Path, length: int, loop: bool = False) -> Path:
    nodes: list[dict] = [{"children": [i + 1]} for i in range(length - 1)] + [{}]
    if loop:
        nodes[-1]["children"] = [0]
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "nodes": nodes, "scenes": [{"nodes": [0]}]}))
    return path


def test_a_fifty_thousand_deep_hierarchy_is_linear(tmp_path: Path) -> None:
    """Neither recursion nor quadratic ancestry walks: a chain of 50,000 nodes compresses, and the
    same chain closed into a loop is refused, in bounded time and memory. (The quadratic walk
    this replaced took 100 s on a chain of 20,000.)"""
    bounded = run_bounded(chain(tmp_path / "chain.gltf", 50_000), memory_bytes=1024**3)
    record_bounded("node hierarchy", "chain of 50,000 nodes", bounded)
    assert bounded.outcome.ok, bounded
    looped = run_bounded(chain(tmp_path / "loop.gltf", 50_000, loop=True), memory_bytes=1024**3)
    record_bounded("node cycles", "loop of 50,000 nodes", looped)
    assert looped.outcome.kind == "invalid-model" and "cycle" in looped.outcome.message, looped


def _channel(g: dict) -> dict:
    return g["animations"][0]["channels"][0]


def _sampler(g: dict) -> dict:
    return g["animations"][0]["samplers"][0]


REFERENCES: dict[str, Change] = {
    "scene node": lambda g: g["scenes"][0]["nodes"].append(99),
    "default scene": lambda g: g.update(scene=5),
    "child": lambda g: g["nodes"][0]["children"].append(1 << 40),
    "mesh": lambda g: g["nodes"][2].update(mesh=3),
    "skin": lambda g: g["nodes"][2].update(skin=3),
    "camera": lambda g: g["nodes"][0].update(camera=0),
    "skin joint": lambda g: g["skins"][0]["joints"].append(50),
    "skeleton": lambda g: g["skins"][0].update(skeleton=50),
    "inverse bind matrices": lambda g: g["skins"][0].update(inverseBindMatrices=500),
    "channel sampler": lambda g: _channel(g).update(sampler=9),
    "channel node": lambda g: _channel(g)["target"].update(node=9),
    "sampler input": lambda g: _sampler(g).update(input=900),
    "sampler output": lambda g: _sampler(g).update(output=900),
    "primitive material": lambda g: g["meshes"][0]["primitives"][0].update(material=0),
    "attribute accessor": lambda g: g["meshes"][0]["primitives"][0]["attributes"].update(POSITION=77),
    "animation pointer": lambda g: _channel(g)["target"].update(
        path="pointer", extensions={"KHR_animation_pointer": {"pointer": "/nodes/99/translation"}}
    ),
}


@pytest.mark.parametrize("name", list(REFERENCES))
def test_references_out_of_range(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["skinned_rig.glb"], tmp_path / "case.glb", REFERENCES[name])
    result = outcome(case)
    assert result.kind == "invalid-model", (name, result)


DISAGREEMENTS: dict[str, Change] = {
    "output shorter than input": lambda g: g["accessors"][_sampler(g)["output"]].update(count=2),
    "input not float": lambda g: g["accessors"][_sampler(g)["input"]].update(componentType=5121),
    "input VEC3": lambda g: g["accessors"][_sampler(g)["input"]].update(type="VEC3", count=10),
    "cubic spline on linear data": lambda g: _sampler(g).update(interpolation="CUBICSPLINE"),
    "step": lambda g: _sampler(g).update(interpolation="STEP"),
    "unknown path": lambda g: _channel(g)["target"].update(path="colour"),
    "weights on a node without morph targets": lambda g: _channel(g)["target"].update(path="weights"),
    "translation on rotation data": lambda g: _channel(g)["target"].update(path="translation"),
    "channel without target node": lambda g: _channel(g)["target"].pop("node"),
    "two channels, one target": lambda g: g["animations"][0]["channels"].append(dict(_channel(g))),
    "inverse bind matrices too few": lambda g: g["accessors"][g["skins"][0]["inverseBindMatrices"]].update(
        count=1
    ),
    "inverse bind matrices VEC4": lambda g: g["accessors"][g["skins"][0]["inverseBindMatrices"]].update(
        type="VEC4", count=8
    ),
    "skin without joints": lambda g: g["skins"][0].update(joints=[]),
    "skin without joints or inverse binds": lambda g: g["skins"].__setitem__(0, {}),
    "joint repeated": lambda g: g["skins"][0].update(joints=[0, 0]),
    "mesh node as joint": lambda g: g["skins"][0].update(joints=[0, 2]),
    "skin on a mesh without JOINTS_0": lambda g: g["meshes"][0]["primitives"][0]["attributes"].pop(
        "JOINTS_0"
    ),
    "JOINTS_0 past the joints": lambda g: g["skins"][0].update(joints=[0]),
    "weights on the node, no targets": lambda g: g["nodes"][2].update(weights=[0.5, 0.5]),
    "empty animation": lambda g: g["animations"][0].update(channels=[], samplers=[]),
    "empty scene": lambda g: g["scenes"][0].update(nodes=[]),
}


@pytest.mark.parametrize("name", list(DISAGREEMENTS))
def test_animation_and_skin_disagreements(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["skinned_rig.glb"], tmp_path / "case.glb", DISAGREEMENTS[name])
    for preset in ("lossless", "balanced", "max"):
        result = outcome(case, preset=preset)
        assert result.ok or result.kind in ("invalid-model", "unsupported-model"), (name, preset, result)


MORPHS: dict[str, Change] = {
    "target count differs": lambda g: g["accessors"][
        g["meshes"][0]["primitives"][0]["targets"][0]["POSITION"]
    ].update(count=3),
    "mesh weights too many": lambda g: g["meshes"][0].update(weights=[0, 0, 0, 0, 0]),
    "mesh weights too few": lambda g: g["meshes"][0].update(weights=[1]),
    "weights track of wrong length": lambda g: g["accessors"][_sampler(g)["output"]].update(count=11),
    "target with unknown attribute": lambda g: g["meshes"][0]["primitives"][0]["targets"][1].update(
        _SECRET=g["meshes"][0]["primitives"][0]["targets"][1]["POSITION"]
    ),
}


@pytest.mark.parametrize("name", list(MORPHS))
def test_morph_disagreements(glbs: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = mutate(glbs["morph_cube.glb"], tmp_path / "case.glb", MORPHS[name])
    for preset in ("lossless", "balanced", "max"):
        result = outcome(case, preset=preset)
        assert result.ok or result.kind in ("invalid-model", "unsupported-model"), (name, preset, result)
