"""weld: identical vertices merged, unindexed triangles indexed, nothing drawn differently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.passes.weld import WeldOptions, weld
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from glbcompress.engine.writer import write_glb
from tests.fixtures import models, weld_models
from tests.fixtures.triangles import assert_same_corners, canonical_triangles, corner_rows, corner_sets
from tests.tools import CORPUS, assert_pass_adds_no_errors, corpus_models

# Corpus models with welding to do, sharing to respect or degenerate triangles to drop.
CORPUS_MODELS = {
    "Fox": "Fox/Fox.glb",
    "ChrKnight": "ChrKnight/chr_knight.glb",
    "CakeBirthday": "CakeBirthday/cakeBirthday.glb",
    "MorphStressTest": "MorphStressTest/MorphStressTest.gltf",
    "SimpleSparseAccessor": "SimpleSparseAccessor/SimpleSparseAccessor.gltf",
    "Horse": "Horse/Horse.glb",
    "2CylinderEngine": "2CylinderEngine/2CylinderEngine.glb",
    "RobotExpressive": "RobotExpressive/RobotExpressive.glb",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weld")


def _drawn(sets: list[tuple[int, np.ndarray]]) -> list[tuple[int, np.ndarray]]:
    """Corner sets without triangles that repeat a corner (they draw nothing)."""
    out = []
    for mode, rows in sets:
        if mode == 4 and len(rows):
            corners = rows.reshape(len(rows), 3, -1)
            same = [(corners[:, a] == corners[:, b]).all(1) for a, b in ((0, 1), (1, 2), (0, 2))]
            rows = rows[~(same[0] | same[1] | same[2])]
        out.append((mode, rows))
    return out


def _welded(path: Path, options: WeldOptions | None = None) -> tuple[Document, dict, list]:
    """Weld, checking every primitive draws the same triangles (bar those that draw nothing)."""
    doc = read(path)
    before = corner_sets(doc)
    changes = weld(doc, options or WeldOptions())
    if options and options.drop_degenerate:
        before = _drawn(before)
    assert_same_corners(before, corner_sets(doc))
    return doc, changes, before


def _mesh(doc: Document, name: str) -> dict:
    return next(m for m in doc.meshes if m.get("name") == name)


def test_soup_is_welded_and_indexed_across_shared_accessors(folder: Path) -> None:
    doc, changes, _ = _welded(weld_models.triangle_soup(folder / "soup.glb"))
    first, second = _mesh(doc, "Soup")["primitives"]
    # The two primitives shared POSITION and TEXCOORD_0: they still do, welded as one group.
    assert first["attributes"]["POSITION"] is second["attributes"]["POSITION"]
    assert first["attributes"]["TEXCOORD_0"] is second["attributes"]["TEXCOORD_0"]
    assert first["attributes"]["POSITION"].count == 24
    assert first["attributes"]["NORMAL"].count == second["attributes"]["NORMAL"].count == 24
    for prim in (first, second):
        assert prim["indices"].data.dtype == np.uint16 and prim["indices"].count == 36
    assert changes["primitives indexed"] == 3


def test_morph_targets_keep_vertices_apart(folder: Path) -> None:
    doc, _changes, _ = _welded(weld_models.triangle_soup(folder / "soup.glb"))
    prim = _mesh(doc, "MorphSoup")["primitives"][0]
    # 8 distinct positions, but each corner moves along its face's axis: 24 distinct vertices.
    assert len(np.unique(prim["attributes"]["POSITION"].data, axis=0)) == 8
    assert prim["attributes"]["POSITION"].count == prim["targets"][0]["POSITION"].count == 24


def test_points_are_indexed_only_when_it_pays(folder: Path) -> None:
    doc, _changes, _ = _welded(weld_models.point_clouds(folder / "points.glb"))
    distinct = _mesh(doc, "Distinct")["primitives"][0]
    repeated = _mesh(doc, "Repeated")["primitives"][0]
    assert "indices" not in distinct and distinct["attributes"]["POSITION"].count == 200
    assert repeated["attributes"]["POSITION"].count == 50
    assert repeated["indices"].count == 200 and repeated["mode"] == 0


def test_large_soup_gets_32_bit_indices(folder: Path) -> None:
    doc, _changes, _ = _welded(weld_models.large_soup(folder / "large.glb"))
    prim = doc.meshes[0]["primitives"][0]
    assert prim["indices"].data.dtype == np.uint32
    assert prim["attributes"]["POSITION"].count == 75_000


def test_degenerate_triangles_are_dropped(folder: Path) -> None:
    path = weld_models.degenerate_triangles(folder / "degenerate.glb")
    doc = read(path)
    box, sliver = (m["primitives"][0] for m in doc.meshes)
    rows = corner_rows(box).reshape(-1, 3, corner_rows(box).shape[1])
    flat = ~(
        (rows[:, 0] == rows[:, 1]).all(1)
        | (rows[:, 1] == rows[:, 2]).all(1)
        | (rows[:, 0] == rows[:, 2]).all(1)
    )
    expected = canonical_triangles(rows[flat].reshape(-1, rows.shape[2]))
    # The sliver's third vertex was never drawn: it goes too.
    assert weld(doc, WeldOptions(drop_degenerate=True)) == {
        "degenerate triangles removed": 5,
        "vertices removed": 1,
    }
    np.testing.assert_array_equal(canonical_triangles(corner_rows(box)), expected)
    assert box["indices"].count == 36 and box["attributes"]["POSITION"].count == 24
    assert sliver["indices"].data[:, 0].tolist() == [0, 1, 1]  # all it has: kept
    # Off on request (the lossless preset): the degenerate triangles stay.
    assert weld(read(path), WeldOptions(drop_degenerate=False)) == {"vertices removed": 1}


def test_already_welded_models_are_left_alone(folder: Path) -> None:
    paths = models.generate_all(folder / "fixtures")
    for name in ("textured_box.glb", "skinned_rig.glb", "morph_cube.glb", "sparse_accessor.glb"):
        doc = read(paths[name])
        accessors = [a for _m, p in doc.primitives() for a in p["attributes"].values()]
        assert weld(doc) == {}, name
        assert [a for _m, p in doc.primitives() for a in p["attributes"].values()] == accessors


def test_same_output_twice(folder: Path) -> None:
    path = weld_models.triangle_soup(folder / "soup.glb")
    outputs = []
    for i in range(2):
        doc = read(path)
        weld(doc)
        write_glb(doc, folder / f"twice{i}.glb")
        outputs.append((folder / f"twice{i}.glb").read_bytes())
    assert outputs[0] == outputs[1]


def _corpus(name: str) -> Path:
    path = CORPUS / "public" / CORPUS_MODELS[name]
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not on this machine)")
    return path


@pytest.mark.corpus
def test_fox_welds_like_gltfpack() -> None:
    doc, changes, _ = _welded(_corpus("Fox"))
    prim = doc.meshes[0]["primitives"][0]
    assert prim["attributes"]["POSITION"].count == 434  # gltfpack: 1728 -> 434
    assert changes == {"vertices removed": 1294, "primitives indexed": 1}
    # Skin attributes were welded with the rest.
    assert prim["attributes"]["JOINTS_0"].count == prim["attributes"]["WEIGHTS_0"].count == 434


@pytest.mark.corpus
def test_degenerate_triangles_of_a_cad_export() -> None:
    doc, changes, _ = _welded(_corpus("2CylinderEngine"), WeldOptions(drop_degenerate=True))
    assert changes == {"degenerate triangles removed": 10413}
    assert scene_stats(doc).triangles == 110342  # what gltfpack keeps of 121496 drawn


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_MODELS))
@pytest.mark.parametrize("drop", [False, True], ids=["keep-degenerate", "drop-degenerate"])
def test_corpus_draws_the_same(name: str, drop: bool) -> None:
    doc, _changes, _ = _welded(_corpus(name), WeldOptions(drop_degenerate=drop))
    for _mesh, prim in doc.primitives():
        indices = prim.get("indices")
        if isinstance(indices, Accessor):
            assert indices.data.dtype == (
                np.uint16 if prim["attributes"]["POSITION"].count <= 65535 else np.uint32
            )


@pytest.mark.validator
def test_outputs_are_valid(folder: Path) -> None:
    inputs = [
        weld_models.triangle_soup(folder / "v_soup.glb"),
        weld_models.point_clouds(folder / "v_points.glb"),
        weld_models.degenerate_triangles(folder / "v_degenerate.glb"),
        models.morph_cube(folder / "v_morph.glb"),
        models.skinned_rig(folder / "v_rig.glb"),
    ]
    inputs += corpus_models(CORPUS_MODELS.values())

    def apply(path: Path, out: Path) -> None:
        doc = read(path)
        weld(doc, WeldOptions(drop_degenerate=True))
        write_glb(doc, out)

    assert_pass_adds_no_errors(inputs, folder, apply)
