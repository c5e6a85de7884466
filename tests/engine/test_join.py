"""join: fewer draw calls, nodes and meshes, the same picture (world-space triangles with their
winding and normals), and everything that must stay apart stays apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.passes.join import JoinOptions, join
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import join_models, models
from tests.fixtures.triangles import max_feature_deviation, scene_diagonal, world_features
from tests.tools import CORPUS, assert_pass_adds_no_errors, corpus_models

CORPUS_MODELS = {
    "ManyCubes": "ManyCubes/many-cubes.gltf",
    "2CylinderEngine": "2CylinderEngine/2CylinderEngine.glb",
    "CakeBirthday": "CakeBirthday/cakeBirthday.glb",
    "CesiumMilkTruck": "CesiumMilkTruck/CesiumMilkTruck.gltf",
    "FlightHelmet": "FlightHelmet/FlightHelmet.gltf",
    "SphereLights": "SphereLights/sphere_lights.gltf",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("join")


def _joined(path: Path, options: JoinOptions | None = None) -> tuple[Document, dict]:
    """Join, checking that the scene draws the same triangles in world space."""
    doc = read(path)
    materials = list(doc.materials)
    before = world_features(doc, materials)
    diagonal = scene_diagonal(doc)
    changes = join(doc, options or JoinOptions())
    deviation = max_feature_deviation(before, world_features(doc, materials), diagonal)
    assert deviation < 1e-5, f"{path.name}: the scene changed by {deviation:.3g}"
    return doc, changes


def _node(doc: Document, name: str) -> dict:
    return next(n for n in doc.nodes if n.get("name") == name)


def _mesh(doc: Document, name: str) -> dict:
    return next(m for m in doc.meshes if m.get("name") == name)


def test_sibling_meshes_merge_by_material(folder: Path) -> None:
    path = join_models.shape_collection(folder / "shapes.glb")
    stats = scene_stats(read(path))
    doc, changes = _joined(path)
    after = scene_stats(doc)
    shelf = _node(doc, "Shelf")
    merged = shelf["children"][0]["mesh"]
    # A without tangents (4 nodes), B (2 nodes, one mirrored), A with tangents (2 nodes).
    assert len(merged["primitives"]) == 3
    assert changes["primitives moved to a sibling's merged mesh"] == 8
    assert after.draw_calls == stats.draw_calls - 5 - 1 - 1  # shelf 8 -> 3, "Split" 3 -> 2, "Variants" 4 -> 3
    assert after.nodes == stats.nodes - 8 + 1 + 1  # the camera's node stays, without its mesh
    camera_node = next(n for n in shelf["children"] if "camera" in n)
    assert "mesh" not in camera_node
    for prim in merged["primitives"]:
        assert prim["indices"].data.dtype == np.uint16
        assert all(a.data.dtype == np.float32 for a in prim["attributes"].values())


def test_what_must_stay_apart_stays_apart(folder: Path) -> None:
    doc, _changes = _joined(join_models.shape_collection(folder / "shapes.glb"))
    shelf = _node(doc, "Shelf")
    kept = shelf["children"][1:]
    assert _node(doc, "Label") in kept
    assert doc.animations[0]["channels"][0]["target"]["node"] in kept
    with_children = [n for n in kept if n.get("children")]
    assert len(with_children) == 1 and "mesh" in with_children[0]
    twins = [n for n in kept if "mesh" in n and sum(m.get("mesh") is n["mesh"] for m in kept) == 2]
    assert len(twins) == 2
    assert any(n["mesh"]["primitives"][0].get("targets") for n in kept if "mesh" in n)


def test_tangents_keep_w_and_mirroring_flips_winding(folder: Path) -> None:
    doc, _changes = _joined(join_models.shape_collection(folder / "shapes.glb"))
    merged = _node(doc, "Shelf")["children"][0]["mesh"]
    with_tangents = next(p for p in merged["primitives"] if "TANGENT" in p["attributes"])
    tangent = with_tangents["attributes"]["TANGENT"].data
    np.testing.assert_array_equal(tangent[:, 3], -1)
    np.testing.assert_allclose(np.linalg.norm(tangent[:, :3], axis=1), 1, atol=1e-6)
    normal = with_tangents["attributes"]["NORMAL"].data
    np.testing.assert_allclose(np.einsum("ij,ij->i", normal, tangent[:, :3]), 0, atol=1e-6)
    # World winding and normals are part of what _joined compared; here: normals face outward.
    position = with_tangents["attributes"]["POSITION"].data
    indices = with_tangents["indices"].data[:, 0].reshape(-1, 3)
    faces = np.cross(
        position[indices[:, 1]] - position[indices[:, 0]], position[indices[:, 2]] - position[indices[:, 0]]
    )
    assert np.all(np.einsum("ij,ij->i", faces, normal[indices[:, 0]]) > 0)


def test_primitives_sharing_a_vertex_buffer_merge_without_copying_it(folder: Path) -> None:
    doc, _changes = _joined(join_models.shape_collection(folder / "shapes.glb"))
    split = _mesh(doc, "Split")["primitives"]
    assert len(split) == 2
    assert split[0]["attributes"]["POSITION"].count == 24 and split[0]["indices"].count == 24
    assert split[0]["attributes"] == split[1]["attributes"]  # the same accessors, not copies
    variants = _mesh(doc, "Variants")["primitives"]
    assert [p["indices"].count for p in variants] == [72, 36, 36]
    assert variants[2]["extras"] == {"part": "lid"}


def test_join_named_merges_named_nodes_too(folder: Path) -> None:
    doc, _changes = _joined(join_models.shape_collection(folder / "shapes.glb"), JoinOptions(join_named=True))
    assert not any(n.get("name") == "Label" for n in doc.nodes)


def test_primitives_only(folder: Path) -> None:
    path = join_models.shape_collection(folder / "shapes.glb")
    doc, changes = _joined(path, JoinOptions(join_meshes=False))
    assert "primitives moved to a sibling's merged mesh" not in changes
    assert len(doc.nodes) == len(read(path).nodes)


def test_indices_grow_to_32_bits(folder: Path) -> None:
    doc = read(join_models.big_parts(folder / "big.glb"))
    triangles = scene_stats(doc).triangles
    join(doc)
    assert scene_stats(doc).triangles == triangles
    (prim,) = [p for _m, p in doc.primitives()]
    assert prim["attributes"]["POSITION"].count == 80_000
    assert prim["indices"].data.dtype == np.uint32


def test_fixtures_without_candidates_are_unchanged(folder: Path) -> None:
    paths = models.generate_all(folder / "fixtures")
    for name in ("textured_box.glb", "skinned_rig.glb", "morph_cube.glb", "hierarchy_reused.glb"):
        _doc, changes = _joined(paths[name])
        assert changes == {}, name


def _corpus(name: str) -> Path:
    path = CORPUS / "public" / CORPUS_MODELS[name]
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not on this machine)")
    return path


@pytest.mark.corpus
def test_many_cubes_become_one_draw_call(tmp_path: Path) -> None:
    path = _corpus("ManyCubes")
    plain = read(path)
    before = write_glb(plain, tmp_path / "plain.glb", WriteOptions(meshopt=True)).bytes_written
    doc, _changes = _joined(path, JoinOptions(join_named=True))
    stats = scene_stats(doc)
    assert (stats.draw_calls, stats.meshes) == (1, 1)
    assert stats.nodes == 6  # 501 cube nodes -> 1; the camera and the hierarchy above stay
    after = write_glb(doc, tmp_path / "joined.glb", WriteOptions(meshopt=True)).bytes_written
    assert after < 0.6 * before  # measured: 390484 -> 195412 bytes with weld and reorder
    # All nodes and meshes are named: without join_named nothing moves.
    _doc, changes = _joined(path)
    assert changes == {}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_MODELS))
def test_corpus_draws_the_same(name: str) -> None:
    path = _corpus(name)
    stats = scene_stats(read(path))
    doc, _changes = _joined(path, JoinOptions(join_named=True))
    after = scene_stats(doc)
    assert after.draw_calls <= stats.draw_calls and after.triangles == stats.triangles
    for _mesh, prim in doc.primitives():
        indices = prim.get("indices")
        if isinstance(indices, Accessor):
            assert int(indices.data.max()) < prim["attributes"]["POSITION"].count


@pytest.mark.validator
def test_outputs_are_valid(folder: Path) -> None:
    inputs = [
        join_models.shape_collection(folder / "v_shapes.glb"),
        join_models.big_parts(folder / "v_big.glb"),
    ]
    inputs += corpus_models(CORPUS_MODELS.values())

    def apply(path: Path, out: Path) -> None:
        doc = read(path)
        join(doc, JoinOptions(join_named=True))
        write_glb(doc, out)

    assert_pass_adds_no_errors(inputs, folder, apply)
