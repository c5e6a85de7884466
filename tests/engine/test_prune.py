"""prune: what it removes, what it must keep, and that the model stays valid and draws the same."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.passes import sanitize
from glbcompress.engine.passes.prune import DEFAULTS, PruneOptions, prune
from glbcompress.engine.reader import read
from glbcompress.engine.writer import write_glb
from tests.fixtures import models, prune_models
from tests.fixtures.signature import draw_calls
from tests.tools import CORPUS, have_validator, new_errors, validate

DRAWN = ("POSITION", "NORMAL")  # compared as-is; texture coordinates are compared through the materials
MAX = replace(DEFAULTS, keep_named_nodes=False)


def _names(doc: Document) -> list:
    return [n.get("name") for n in doc.nodes]


def _by_name(doc: Document) -> dict[str, dict]:
    return {n["name"]: n for n in doc.nodes if n.get("name")}


def _label(node: dict) -> str:
    if node.get("name"):
        return node["name"]
    for key, label in (("extras", "extras"), ("extensions", "light"), ("camera", "camera")):
        if key in node:
            return label
    return {(1, 0, 0): "moved by a channel", (0, 0, 1): "moved by a pointer"}[tuple(node["translation"])]


def _prim(doc: Document, node: str) -> dict:
    return _by_name(doc)[node]["mesh"]["primitives"][0]


def _write_and_check(doc: Document, src: Path, tmp_path: Path) -> Path:
    """Write doc, re-read it, and assert the validator finds nothing new against src."""
    out = write_glb(doc, tmp_path / f"{src.stem}.pruned.glb")
    path = tmp_path / f"{src.stem}.pruned.glb"
    assert out.bytes_written == path.stat().st_size
    read(path)
    if have_validator():
        before, after = validate(src, path)
        assert new_errors(before, after) == {}
    return path


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("prune")
    out = models.generate_all(folder)
    for fn in (prune_models.uv_sets, prune_models.attributes, prune_models.nodes_and_leftovers):
        out[fn.__name__] = fn(folder / f"{fn.__name__}.glb")
    return out


# -- texture coordinates ------------------------------------------------------------------------


def test_unsampled_uv_sets_go_and_the_rest_are_renumbered(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["uv_sets"])
    drawn = draw_calls(doc, DRAWN)
    second_uv = _prim(doc, "Second")["attributes"]["TEXCOORD_2"]

    changes = prune(doc)

    sets = {
        name: sorted(s for s in _prim(doc, name)["attributes"] if s.startswith("TEXCOORD"))
        for name in _by_name(doc)
    }
    assert sets == {
        "Second": ["TEXCOORD_0"],
        "Override": ["TEXCOORD_0", "TEXCOORD_1"],
        "Variant": ["TEXCOORD_0", "TEXCOORD_1"],
        "Plain": [],
    }
    second = _prim(doc, "Second")
    assert second["attributes"]["TEXCOORD_0"] is second_uv
    assert second["material"]["occlusionTexture"]["texCoord"] == 0
    assert second["material"]["pbrMetallicRoughness"]["baseColorTexture"]["texCoord"] == 0
    assert changes["attributes removed"] == 2 + 1 + 0 + 2
    assert changes["texture coordinate sets renumbered"] == 1
    assert changes["accessors removed"] == 5
    assert draw_calls(doc, DRAWN) == drawn  # every texture samples the same UVs as before
    _write_and_check(doc, fixtures["uv_sets"], tmp_path)


def test_two_uv_sets_both_sampled_stay(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["two_uv_sets.glb"])
    assert prune(doc) == {}
    assert sorted(doc.meshes[0]["primitives"][0]["attributes"]) == [
        "NORMAL",
        "POSITION",
        "TEXCOORD_0",
        "TEXCOORD_1",
    ]


def test_material_sampling_a_set_the_primitive_lacks_is_not_renumbered(fixtures: dict[str, Path]) -> None:
    """Bad input (the material samples TEXCOORD_1, the primitive has only TEXCOORD_0): renaming
    would make it worse, so both the set and the material stay as they are."""
    doc = read(fixtures["textured_box.glb"])
    doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["texCoord"] = 1
    prune(doc)
    assert "TEXCOORD_0" in doc.meshes[0]["primitives"][0]["attributes"]
    assert doc.materials[0]["pbrMetallicRoughness"]["baseColorTexture"]["texCoord"] == 1


def test_primitive_extension_freezes_texture_coordinates(fixtures: dict[str, Path]) -> None:
    """An unknown primitive extension may name UV sets (EXT_mesh_features does), so they stay."""
    doc = read(fixtures["uv_sets"])
    _prim(doc, "Plain")["extensions"] = {"EXT_example": {"texCoord": 1}}
    prune(doc)
    assert {"TEXCOORD_0", "TEXCOORD_1"} <= set(_prim(doc, "Plain")["attributes"])


# -- other attributes ---------------------------------------------------------------------------


def test_attributes_nothing_reads(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["attributes"])
    drawn = draw_calls(doc, DRAWN)
    changes = prune(doc)

    def attrs(name: str) -> set[str]:
        return set(_prim(doc, name)["attributes"])

    assert "COLOR_0" not in attrs("White")
    assert "COLOR_0" in attrs("Tinted")
    assert "TANGENT" not in attrs("NoNormalMap")
    assert "TANGENT" in attrs("Clearcoat")
    assert not {"JOINTS_0", "WEIGHTS_0"} & attrs("Unskinned")
    assert changes["attributes removed"] == 4
    assert draw_calls(doc, DRAWN) == drawn
    _write_and_check(doc, fixtures["attributes"], tmp_path)


def test_keep_unused_attributes(fixtures: dict[str, Path]) -> None:
    for name in ("attributes", "uv_sets"):
        doc = read(fixtures[name])
        before = [sorted(p["attributes"]) for _m, p in doc.primitives()]
        changes = prune(doc, PruneOptions(keep_unused_attributes=True))
        assert [sorted(p["attributes"]) for _m, p in doc.primitives()] == before
        assert "attributes removed" not in changes


def test_white_color_animated_by_a_morph_target_stays(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["attributes"])
    prim = _prim(doc, "White")
    count = prim["attributes"]["POSITION"].count
    delta = np.zeros((count, 4), np.float32)
    delta[0, 0] = -0.5
    prim["targets"] = [{"COLOR_0": Accessor(delta, "VEC4")}]
    doc.accessors.append(prim["targets"][0]["COLOR_0"])
    prune(doc)
    assert "COLOR_0" in prim["attributes"]


def test_skinned_mesh_keeps_joints_and_the_rig_survives(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["skinned_rig.glb"])
    changes = prune(doc, MAX)
    assert changes == {}
    assert {"JOINTS_0", "WEIGHTS_0"} <= set(doc.meshes[0]["primitives"][0]["attributes"])
    assert _names(doc) == ["Root", "Elbow", "ArmMesh"]  # joints stay even when names do not count
    assert len(doc.animations[0]["channels"]) == 3
    _write_and_check(doc, fixtures["skinned_rig.glb"], tmp_path)


def test_morph_targets_survive(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["morph_cube.glb"])
    drawn = draw_calls(doc)
    prune(doc, MAX)
    assert draw_calls(doc) == drawn
    assert len(doc.animations) == 1
    _write_and_check(doc, fixtures["morph_cube.glb"], tmp_path)


# -- nodes and leftovers ------------------------------------------------------------------------


def test_empty_nodes_and_unused_objects(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["nodes_and_leftovers"])
    drawn = draw_calls(doc)
    changes = prune(doc)

    root = _by_name(doc)["Root"]
    assert [_label(c) for c in root["children"]] == [
        "Crate",
        "Mixed",
        "Degenerate",
        "Anchor",
        "extras",
        "light",
        "moved by a channel",
        "moved by a pointer",
        "camera",
    ]
    assert changes["nodes removed"] == 3  # the unnamed leaf, and the unnamed chain of two
    assert [m["name"] for m in doc.meshes] == ["Box", "Mixed"]
    assert len(doc.meshes[1]["primitives"]) == 1
    assert changes["primitives removed"] == 2
    assert [m.get("name") for m in doc.materials] == [None]
    assert doc.textures == [] and doc.images == [] and doc.samplers == []
    assert "mesh" not in _by_name(doc)["Degenerate"]
    paths = [c["target"].get("path") for c in doc.animations[0]["channels"]]
    assert paths == ["translation", "pointer"]
    assert len(doc.animations[0]["samplers"]) == 2
    assert changes["animation channels removed"] == 1
    # Before: Crate, Mixed's box, Mixed's two-index sliver, Degenerate's sliver. The slivers drew nothing.
    assert [d["node"] for d in drawn] == ["Crate", "Mixed", "Mixed", "Degenerate"]
    assert draw_calls(doc) == drawn[:2]
    _write_and_check(doc, fixtures["nodes_and_leftovers"], tmp_path)


def test_named_nodes_go_when_names_do_not_count(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["nodes_and_leftovers"])
    prune(doc, MAX)
    names = _names(doc)
    assert "Anchor" not in names and "Degenerate" not in names
    assert {"Root", "Crate", "Mixed"} <= set(names)
    assert sum(1 for n in doc.nodes if n.get("extras")) == 1
    _write_and_check(doc, fixtures["nodes_and_leftovers"], tmp_path)


def test_hierarchy_reused(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["hierarchy_reused.glb"])
    changes = prune(doc)
    assert "Anchor" in _names(doc)
    assert len(doc.nodes) == 7
    assert [m["name"] for m in doc.materials] == ["Red"]
    assert [m["name"] for m in doc.meshes] == ["Crate"]
    assert (
        changes["nodes removed"] == 1 and changes["materials removed"] == 1 and changes["meshes removed"] == 1
    )
    _write_and_check(doc, fixtures["hierarchy_reused.glb"], tmp_path)


def test_a_scene_left_empty_loses_its_node_list(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["hierarchy_reused.glb"])
    doc.scenes.append({"name": "Empty", "nodes": [{"name": "Marker"}]})
    doc.nodes.append(doc.scenes[-1]["nodes"][0])
    prune(doc, MAX)
    assert doc.scenes[-1] == {"name": "Empty"}
    _write_and_check(doc, fixtures["hierarchy_reused.glb"], tmp_path)


def test_channels_of_removed_nodes_go_with_their_samplers_and_animation(fixtures: dict[str, Path]) -> None:
    """Another pass removed the animated node: its channels, samplers and animation go."""
    doc = read(fixtures["skinned_rig.glb"])
    elbow = _by_name(doc)["Elbow"]
    doc.nodes.remove(elbow)
    doc.skins[0]["joints"].remove(elbow)
    _by_name(doc)["Root"].pop("children")
    changes = prune(doc)
    assert doc.animations == []
    assert changes["animation channels removed"] == 3 and changes["animations removed"] == 1
    assert changes["accessors removed"] == 5  # two time inputs, three outputs


def test_extras(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["textured_box.glb"])
    assert prune(doc) == {}
    assert doc.nodes[0]["extras"] == {"sku": "BOX-1"}

    doc = read(fixtures["nodes_and_leftovers"])
    doc.root["extras"] = {"author": "me"}
    doc.accessors[0].props["extras"] = {"note": 1}
    doc.materials[0]["pbrMetallicRoughness"]["extras"] = {"deep": True}
    changes = prune(doc, replace(DEFAULTS, keep_extras=False))
    assert changes["extras removed"] == 4
    assert changes["nodes removed"] == 4  # the node that only had extras goes too
    assert "extras" not in doc.root and "extras" not in doc.accessors[0].props
    assert "extras" not in doc.materials[0]["pbrMetallicRoughness"]
    _write_and_check(doc, fixtures["nodes_and_leftovers"], tmp_path)


def test_deterministic(fixtures: dict[str, Path], tmp_path: Path) -> None:
    outputs = []
    for i in range(2):
        doc = read(fixtures["uv_sets"])
        prune(doc, MAX)
        outputs.append(write_glb(doc, tmp_path / f"{i}.glb") and (tmp_path / f"{i}.glb").read_bytes())
    assert outputs[0] == outputs[1]


# -- corpus -------------------------------------------------------------------------------------


def _corpus_models() -> list[Path]:
    public = CORPUS / "public"
    if not public.is_dir():
        return []
    return [
        next(p for p in sorted(d.iterdir()) if p.suffix in (".glb", ".gltf"))
        for d in sorted(public.iterdir())
    ]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "public").is_dir(), reason="../shared/corpus is not present")
def test_corpus(tmp_path: Path) -> None:
    """Every public model: prune (max options) keeps what is drawn and adds no validator error."""
    sources, outputs = [], []
    for src in _corpus_models():
        doc = read(src)
        sanitize.sanitize(doc)
        drawn = draw_calls(doc, DRAWN)
        prune(doc, MAX)
        assert draw_calls(doc, DRAWN) == drawn, src.name
        out = tmp_path / f"{src.parent.name}.glb"
        write_glb(doc, out)
        assert draw_calls(read(out), DRAWN) == drawn, src.name
        sources.append(src)
        outputs.append(out)
    if have_validator():
        reports = validate(*sources, *outputs)
        n = len(sources)
        for src, before, after in zip(sources, reports[:n], reports[n:], strict=True):
            assert new_errors(before, after) == {}, src.name
