"""dedup: what it merges, what it keeps apart, and that the model stays valid and draws the same."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from glbcompress.engine.document import Document
from glbcompress.engine.passes import sanitize
from glbcompress.engine.passes.dedup import DEFAULTS, dedup
from glbcompress.engine.passes.prune import prune
from glbcompress.engine.reader import read
from glbcompress.engine.writer import write_glb
from tests.fixtures import dedup_models, models
from tests.fixtures.signature import draw_calls
from tests.tools import CORPUS, have_validator, new_errors, validate


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dedup")
    out = models.generate_all(folder)
    out["duplicates"] = dedup_models.duplicates(folder / "duplicates.glb")
    return out


def _check_output(doc: Document, src: Path, out: Path) -> None:
    write_glb(doc, out)
    assert draw_calls(read(out)) == draw_calls(read(src))
    if have_validator():
        before, after = validate(src, out)
        assert new_errors(before, after) == {}


def _prim(doc: Document, mesh_name: str | None) -> dict:
    return next(m for m in doc.meshes if m.get("name") == mesh_name)["primitives"][0]


def test_copies_merge_in_dependency_order(fixtures: dict[str, Path], tmp_path: Path) -> None:
    doc = read(fixtures["duplicates"])
    drawn = draw_calls(doc)
    changes = dedup(doc)

    # Images first, so textures and then materials that differed only by their copy compare equal.
    assert changes == {
        "accessors merged": 20,  # POSITION, NORMAL, TEXCOORD_0, indices of six boxes: five copies each
        "images merged": 1,
        "samplers merged": 1,
        "textures merged": 1,
        "materials merged": 1,
        "meshes merged": 1,
    }
    assert [im.name for im in doc.images] == ["wood", None]
    assert [m["name"] for m in doc.materials] == ["Wood", "Painted", "Rgb"]
    assert [m.get("name") for m in doc.meshes] == ["Crate", "Crate.002", "Timed", None, None]
    nodes = {n["name"]: n for n in doc.nodes}
    assert nodes["N0"]["mesh"] is nodes["N1"]["mesh"]
    assert _prim(doc, "Crate.002")["attributes"]["POSITION"] is _prim(doc, "Crate")["attributes"]["POSITION"]
    assert draw_calls(doc) == drawn
    _check_output(doc, fixtures["duplicates"], tmp_path / "out.glb")


def test_look_alikes_stay_apart(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["duplicates"])
    dedup(doc)
    timed = _prim(doc, "Timed")
    times = doc.animations[0]["samplers"][0]["input"]
    assert timed["attributes"]["_TIME"] is not times
    assert timed["attributes"]["_TIME"].data.tobytes() == times.data.tobytes()
    assert timed["material"]["name"] == "Painted"  # animated through KHR_animation_pointer
    dense, sparse = (
        m["primitives"][0]["targets"][0]["POSITION"] for m in doc.meshes if m.get("name") is None
    )
    assert dense is not sparse and sparse.sparse and not dense.sparse
    assert dense.data.tobytes() == sparse.data.tobytes()


def test_keep_unique_names(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["duplicates"])
    changes = dedup(doc, replace(DEFAULTS, keep_unique_names=True))
    assert (
        "images merged" not in changes
        and "materials merged" not in changes
        and "meshes merged" not in changes
    )
    assert changes["accessors merged"] == 20 and changes["samplers merged"] == 1
    assert [m.get("name") for m in doc.meshes] == ["Crate", "Crate.001", "Crate.002", "Timed", None, None]


def test_switches(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["duplicates"])
    changes = dedup(doc, replace(DEFAULTS, dedup_accessors=False, dedup_textures=False))
    assert changes == {}  # materials and meshes differ while their textures and accessors are copies
    doc = read(fixtures["duplicates"])
    changes = dedup(doc, replace(DEFAULTS, dedup_meshes=False, dedup_materials=False))
    assert set(changes) == {"accessors merged", "images merged", "samplers merged", "textures merged"}


def test_meshopt_prepared_accessors_are_not_merged(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["duplicates"])
    normals = [p["attributes"]["NORMAL"] for _m, p in doc.primitives()]
    normals[1].meshopt_filter = "OCTAHEDRAL"
    normals[1].filtered = normals[1].data.astype("int8")
    dedup(doc, replace(DEFAULTS, dedup_meshes=False))
    merged = [p["attributes"]["NORMAL"] for _m, p in doc.primitives()]
    assert merged[1] is normals[1]
    assert all(a is normals[0] for i, a in enumerate(merged) if i != 1)


def test_hierarchy_reused_meshes_merge_after_prune(fixtures: dict[str, Path], tmp_path: Path) -> None:
    """The fixture's unused mesh is a copy of the used one without a material. Alone, dedup merges
    its accessors into the used ones; after prune has dropped it there is nothing left to merge."""
    doc = read(fixtures["hierarchy_reused.glb"])
    prune(doc)
    assert dedup(doc) == {}
    doc = read(fixtures["hierarchy_reused.glb"])
    changes = dedup(doc)
    assert changes == {"accessors merged": 4}  # the unused box's copies; its mesh has no material
    _check_output(doc, fixtures["hierarchy_reused.glb"], tmp_path / "h.glb")


@pytest.mark.parametrize(
    "name", ["skinned_rig.glb", "morph_cube.glb", "sparse_accessor.glb", "interleaved.gltf"]
)
def test_generated_models_survive(fixtures: dict[str, Path], tmp_path: Path, name: str) -> None:
    doc = read(fixtures[name])
    dedup(doc)
    _check_output(doc, fixtures[name], tmp_path / "out.glb")


def test_deterministic(fixtures: dict[str, Path], tmp_path: Path) -> None:
    outputs = []
    for i in range(2):
        doc = read(fixtures["duplicates"])
        dedup(doc)
        write_glb(doc, tmp_path / f"{i}.glb")
        outputs.append((tmp_path / f"{i}.glb").read_bytes())
    assert outputs[0] == outputs[1]


# -- corpus -------------------------------------------------------------------------------------

# model -> merges it must find (at least)
CORPUS_EXPECTED = {
    "ManyCubes": {"meshes merged": 500, "accessors merged": 1500},
    "2CylinderEngine": {"materials merged": 27},
    "CakeBirthday": {"accessors merged": 45, "meshes merged": 4},
    "FusionSketchfab": {"meshes merged": 31},
    "Soldier": {"textures merged": 2, "materials merged": 1},
    "FlightHelmet": {},
}


def _corpus_model(name: str) -> Path:
    folder = CORPUS / "public" / name
    return next(p for p in sorted(folder.iterdir()) if p.suffix in (".glb", ".gltf"))


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "public").is_dir(), reason="../shared/corpus is not present")
def test_corpus(tmp_path: Path) -> None:
    """Named models merge what they hold copies of; every public model draws the same afterwards,
    gets no bigger, and the validator finds nothing new."""
    sources, outputs = [], []
    for folder in sorted((CORPUS / "public").iterdir()):
        src = _corpus_model(folder.name)
        doc = read(src)
        sanitize.sanitize(doc)
        drawn = draw_calls(doc)
        plain = write_glb(doc, tmp_path / f"{folder.name}.plain.glb").bytes_written
        changes = dedup(doc)
        for key, least in CORPUS_EXPECTED.get(folder.name, {}).items():
            assert changes.get(key, 0) >= least, (folder.name, changes)
        assert draw_calls(doc) == drawn, folder.name
        out = tmp_path / f"{folder.name}.glb"
        assert write_glb(doc, out).bytes_written <= plain, folder.name
        sources.append(src)
        outputs.append(out)
    if have_validator():
        reports = validate(*sources, *outputs)
        n = len(sources)
        for src, before, after in zip(sources, reports[:n], reports[n:], strict=True):
            assert new_errors(before, after) == {}, src.name
