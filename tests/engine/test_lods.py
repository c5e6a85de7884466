"""Levels of detail: MSFT_lod in one GLB or separate files, each level simplified towards its
ratio within its bound, sharing materials and skins, valid for the Khronos validator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.api import compress
from glbcompress.engine.errors import InvalidOptions
from glbcompress.engine.lods import level_error, lod_path, lod_ratios, screen_coverage
from glbcompress.engine.passes.simplify import SimplifyOptions, simplify
from glbcompress.engine.reader import read
from glbcompress.engine.report import primitive_triangles
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import simplify_models
from tests.tools import CORPUS, decoded_copy, new_errors, validate

LODS = "1,0.5,0.25"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lods")


def _triangles(mesh: dict) -> int:
    return sum(primitive_triangles(p) for p in mesh["primitives"])


def _open_edges(prim: dict) -> int:
    positions = prim["attributes"]["POSITION"].floats()
    _u, ids = np.unique(positions, axis=0, return_inverse=True)
    t = ids.reshape(-1)[prim["indices"].data.reshape(-1, 3).astype(np.int64)]
    edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    _e, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts == 1).sum())


def _lod_holders(doc) -> list[dict]:
    return [n for n in doc.nodes if "MSFT_lod" in n.get("extensions", {})]


def _mesh_of(node: dict) -> dict:
    """The mesh a level node draws (quantize may have moved it to a child with the grid's scale)."""
    if "mesh" in node:
        return node["mesh"]
    (child,) = [c for c in node.get("children", []) if "mesh" in c]
    return child["mesh"]


def _assert_valid(source: Path, *outputs: Path, folder: Path) -> None:
    copies = [decoded_copy(out, folder / f"{out.stem}.decoded.glb") for out in outputs]
    original, *reports = validate(source, *outputs, *copies)
    for path, report in zip([*outputs, *copies], reports, strict=True):
        assert new_errors(original, report) == {}, (path.name, report["messages"][:5])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,x", "comma-separated ratios"),
        ("1,0.5,0.5", "must decrease"),
        ("0.5,1", "must decrease"),
        ("1,0", "above 0"),
        ("1.5,0.5", "at most 1"),
        ("1,0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2", "at most 8"),
    ],
)
def test_bad_level_lists_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidOptions, match=message):
        SimplifyOptions(lods=text)


def test_level_lists_parse_and_levels_get_looser_bounds() -> None:
    assert lod_ratios("") == []
    assert lod_ratios(" 1, 0.5 ,0.25") == [1.0, 0.5, 0.25]
    options = SimplifyOptions(lods=LODS, simplify_error=0.01)
    assert [level_error(options, [1, 0.5, 0.25], k) for k in range(3)] == [0.01, 0.02, 0.04]
    assert screen_coverage([1, 0.5, 0.25]) == [0.25, 0.125, 0.0]
    assert lod_path(Path("a/model.glb"), 0) == Path("a/model.glb")
    assert lod_path(Path("a/model.min.glb"), 2) == Path("a/model.min.lod2.glb")
    with pytest.raises(InvalidOptions, match="cannot be combined"):
        SimplifyOptions(lods=LODS, target_size_mb=1.0)


def test_one_glb_with_msft_lod_levels_at_their_ratios(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere.glb")
    out = folder / "sphere.lods.glb"
    report = compress(source, out, {"lods": LODS})
    changes = next(p.changes for p in report.passes if p.name == "simplify")
    total = changes["lod0 triangles"]
    assert changes["levels of detail"] == 3 and changes["nodes with levels"] == 1
    assert total == report.scene_before.triangles
    assert changes["lod1 triangles"] <= 0.5 * total + 3
    assert changes["lod2 triangles"] <= 0.25 * total + 3
    # Each level's measured error is reported and within its own bound.
    assert 0 < report.fidelity["lod1_hausdorff"] <= 0.02
    assert report.fidelity["lod1_hausdorff"] < report.fidelity["lod2_hausdorff"] <= 0.04
    # The highest level is what the scene draws; the others hang off MSFT_lod.
    doc = read(out)
    assert "MSFT_lod" in doc.extensions_used
    (holder,) = _lod_holders(doc)
    levels = holder["extensions"]["MSFT_lod"]["ids"]
    assert holder["extras"]["MSFT_screencoverage"] == [0.25, 0.125, 0.0]
    meshes = [_mesh_of(holder)] + [_mesh_of(n) for n in levels]
    # Draco (which the preset uses where it is smaller) drops the few triangles that quantization
    # left without area (a pole's corners on one grid point at the coarsest level): never more.
    written = [_triangles(m) for m in meshes]
    assert written[0] == total
    for count, level in zip(written[1:], ("lod1 triangles", "lod2 triangles"), strict=True):
        assert 0.98 * changes[level] <= count <= changes[level]
    assert report.scene_after.triangles == total
    # Same material everywhere; every level closed (the UV seam did not tear).
    assert len({id(m["primitives"][0]["material"]) for m in meshes}) == 1
    assert [_open_edges(m["primitives"][0]) for m in meshes] == [0, 0, 0]
    # Textures are stored once: the file is far smaller than three separate ones.
    _assert_valid(source, out, folder=folder)


def test_skinned_levels_keep_the_skin_and_the_weights(folder: Path) -> None:
    source = simplify_models.skinned_cylinder(folder / "cylinder.glb")
    out = folder / "cylinder.lods.glb"
    report = compress(source, out, {"lods": "1,0.4"})
    assert report.fidelity["lod1_hausdorff"] <= 0.025
    doc = read(out)
    (holder,) = _lod_holders(doc)
    (level,) = holder["extensions"]["MSFT_lod"]["ids"]
    assert level["skin"] is holder["skin"] is doc.skins[0]
    prim = level["mesh"]["primitives"][0]
    assert {"JOINTS_0", "WEIGHTS_0"} <= set(prim["attributes"])
    assert _triangles(level["mesh"]) < 0.5 * _triangles(holder["mesh"])
    weights = prim["attributes"]["WEIGHTS_0"].floats().sum(axis=1)
    assert np.allclose(weights, 1, atol=0.01)
    _assert_valid(source, out, folder=folder)


def test_a_node_with_children_keeps_them_and_gets_a_child_with_the_levels(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere2.glb")
    doc = read(source)
    sphere = doc.nodes[0]
    child = {"name": "Label", "translation": [0, 2, 0]}
    sphere["children"] = [child]
    doc.nodes.append(child)
    changes = simplify(doc, SimplifyOptions(lods="1,0.5"))
    assert changes["nodes with levels"] == 1
    assert "mesh" not in sphere and "MSFT_lod" not in sphere.get("extensions", {})
    holder = next(c for c in sphere["children"] if "mesh" in c)
    assert child in sphere["children"]
    (level,) = holder["extensions"]["MSFT_lod"]["ids"]
    assert "translation" not in level  # the holder is at the node's origin, and so is its level
    out = folder / "sphere2.lods.glb"
    write_glb(doc, out, WriteOptions())
    _assert_valid(source, out, folder=folder)


def test_separate_files_one_per_level(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere3.glb")
    out = folder / "files" / "sphere.min.glb"
    out.parent.mkdir()
    report = compress(source, out, {"lods": LODS, "lod_files": True})
    files = sorted(out.parent.iterdir())
    assert [f.name for f in files] == ["sphere.min.glb", "sphere.min.lod1.glb", "sphere.min.lod2.glb"]
    (entry,) = [p.changes for p in report.passes if p.name == "levels of detail"]
    levels = entry["files"]
    assert [level["file"] for level in levels] == [f.name for f in files]
    assert [level["bytes"] for level in levels] == [f.stat().st_size for f in files]
    triangles = [level["triangles"] for level in levels]
    assert triangles[0] == report.scene_before.triangles
    assert triangles[1] <= 0.5 * triangles[0] + 3 and triangles[2] <= 0.25 * triangles[0] + 3
    assert 0 < levels[1]["hausdorff"] < levels[2]["hausdorff"] <= 0.04
    assert report.fidelity["lod2_hausdorff"] == levels[2]["hausdorff"]
    assert report.output_bytes == levels[0]["bytes"]
    for f in files:
        assert "MSFT_lod" not in read(f).extensions_used
    _assert_valid(source, *files, folder=folder)


CORPUS_MODELS = {
    "RobotExpressive": "RobotExpressive/RobotExpressive.glb",  # skinned, animated hierarchy, morphs
    "2CylinderEngine": "2CylinderEngine/2CylinderEngine.glb",  # many reused meshes in a hierarchy
    "DamagedHelmet": "DamagedHelmet/DamagedHelmet.glb",  # UV seams, large textures
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_MODELS)
def test_corpus_models_get_valid_levels(name: str, tmp_path: Path) -> None:
    source = CORPUS / "public" / CORPUS_MODELS[name]
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared corpus is not on this machine)")
    out = tmp_path / "out.glb"
    report = compress(source, out, {"lods": LODS})
    changes = next(p.changes for p in report.passes if p.name == "simplify")
    assert changes["nodes with levels"] >= 1
    assert changes["lod0 triangles"] > changes["lod1 triangles"] > changes["lod2 triangles"]
    assert report.fidelity.get("lod1_hausdorff", 0.0) <= 0.02
    assert report.fidelity.get("lod2_hausdorff", 0.0) <= 0.04
    before, after = read(source), read(out)
    assert (len(after.skins), len(after.animations)) == (len(before.skins), len(before.animations))
    # The scene draws level 0 (less only what balanced removes anyway: degenerate triangles).
    assert report.scene_after.triangles >= 0.9 * report.scene_before.triangles
    again = tmp_path / "again.glb"
    compress(source, again, {"lods": LODS})
    assert again.read_bytes() == out.read_bytes()
    _assert_valid(source, out, folder=tmp_path)
