"""reorder: vertex cache and fetch order, spatial order for points, same triangles drawn, and the
measured choice of strip-like order as the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Document
from glbcompress.engine.passes.reorder import ReorderOptions, reorder
from glbcompress.engine.passes.weld import weld
from glbcompress.engine.reader import read
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import models, weld_models
from tests.fixtures.triangles import assert_same_corners, corner_sets
from tests.tools import CORPUS, assert_pass_adds_no_errors, corpus_models

CORPUS_MODELS = {
    "Fox": "Fox/Fox.glb",
    "ChrKnight": "ChrKnight/chr_knight.glb",
    "CakeBirthday": "CakeBirthday/cakeBirthday.glb",
    "Horse": "Horse/Horse.glb",
    "RobotExpressive": "RobotExpressive/RobotExpressive.glb",
    "WhiteClawCan": "WhiteClawCan/white-claw-can.glb",
    "FusionSketchfab": "FusionSketchfab/fusion.glb",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reorder")


def _mesh(doc: Document, name: str) -> dict:
    return next(m for m in doc.meshes if m.get("name") == name)


def _reordered(path: Path, options: ReorderOptions | None = None) -> tuple[Document, dict]:
    doc = read(path)
    weld(doc)
    before = corner_sets(doc)
    changes = reorder(doc, options or ReorderOptions())
    assert_same_corners(before, corner_sets(doc))
    return doc, changes


def cache_misses(indices: np.ndarray, size: int = 16) -> int:
    """Vertex shader runs of a FIFO post-transform cache (the classic ACMR model)."""
    cache: list[int] = []
    misses = 0
    for v in indices.tolist():
        if v not in cache:
            misses += 1
            cache.append(v)
            if len(cache) > size:
                cache.pop(0)
    return misses


def test_triangles_and_lines_sharing_vertices_are_renumbered_together(folder: Path) -> None:
    path = weld_models.mixed_modes(folder / "mixed.glb")
    shuffled = read(path)
    doc, _changes = _reordered(path)
    triangles, lines = _mesh(doc, "Cylinder")["primitives"]
    assert triangles["attributes"]["POSITION"] is lines["attributes"]["POSITION"]
    assert triangles["attributes"]["POSITION"].count == 16 * 9  # the 10 unused vertices are gone
    # Vertex fetch order: vertices come in the order the index buffers first use them.
    used = np.concatenate([triangles["indices"].data[:, 0], lines["indices"].data[:, 0]])
    _values, first = np.unique(used, return_index=True)
    assert np.all(np.diff(first) > 0) and used[0] == 0
    # Vertex cache order: the shuffled cylinder needed many more vertex shader runs.
    before = cache_misses(_mesh(shuffled, "Cylinder")["primitives"][0]["indices"].data[:, 0])
    after = cache_misses(triangles["indices"].data[:, 0])
    assert after < 0.6 * before


def test_points_get_spatial_order(folder: Path) -> None:
    path = weld_models.mixed_modes(folder / "mixed.glb")
    cloud_before = _mesh(read(path), "Cloud")["primitives"][0]["attributes"]["POSITION"].data
    doc, _changes = _reordered(path)
    cloud = _mesh(doc, "Cloud")["primitives"][0]
    assert "indices" not in cloud

    def path_length(p: np.ndarray) -> float:
        return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())

    assert path_length(cloud["attributes"]["POSITION"].data) < 0.5 * path_length(cloud_before)


def test_index_buffers_shared_before_stay_shared(folder: Path) -> None:
    doc, changes = _reordered(weld_models.shared_indices(folder / "shared.glb"))
    small, large = (_mesh(doc, name)["primitives"][0] for name in ("Small", "Large"))
    assert changes["primitives reordered"] == 2
    assert small["indices"] is large["indices"]
    assert sum(1 for a in doc.accessors if a.type == "SCALAR") == 1


def test_cache_order_option_also_draws_the_same(folder: Path) -> None:
    path = weld_models.mixed_modes(folder / "mixed.glb")
    _reordered(path, ReorderOptions(strip_order=False))
    for name, fixture in models.ALL.items():
        if name.endswith(".glb"):
            _reordered(fixture(folder / name), ReorderOptions(strip_order=False))
            _reordered(folder / name)


def _corpus(name: str) -> Path:
    path = CORPUS / "public" / CORPUS_MODELS[name]
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not on this machine)")
    return path


def _meshopt_bytes(path: Path, out: Path, options: ReorderOptions | None) -> int:
    doc = read(path)
    weld(doc)
    if options is not None:
        reorder(doc, options)
    return write_glb(doc, out, WriteOptions(meshopt=True)).bytes_written


@pytest.mark.corpus
def test_strip_order_compresses_best(tmp_path: Path) -> None:
    """Why strip_order is the default: measured with EXT_meshopt_compression on the corpus
    (Fox 88140 unordered / 86620 cache / 86412 strip bytes; WhiteClawCan 1249180 / 1217496 / 1196276)."""
    totals = {"none": 0, "cache": 0, "strip": 0}
    for name in ("Fox", "ChrKnight", "Horse", "RobotExpressive", "WhiteClawCan"):
        path = _corpus(name)
        totals["none"] += _meshopt_bytes(path, tmp_path / "none.glb", None)
        totals["cache"] += _meshopt_bytes(path, tmp_path / "cache.glb", ReorderOptions(strip_order=False))
        totals["strip"] += _meshopt_bytes(path, tmp_path / "strip.glb", ReorderOptions())
    assert totals["strip"] < totals["cache"] < totals["none"], totals
    assert ReorderOptions().strip_order


@pytest.mark.corpus
def test_an_order_that_compresses_better_is_kept(tmp_path: Path) -> None:
    """FusionSketchfab has no shared vertices and an order that beats meshoptimizer's by 10%."""
    path = _corpus("FusionSketchfab")
    _doc, changes = _reordered(path)
    assert changes.get("primitives kept in their order (it compresses better)") == 32
    assert _meshopt_bytes(path, tmp_path / "r.glb", ReorderOptions()) <= _meshopt_bytes(
        path, tmp_path / "n.glb", None
    )


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_MODELS))
def test_corpus_draws_the_same(name: str) -> None:
    _reordered(_corpus(name))


@pytest.mark.validator
def test_outputs_are_valid(folder: Path) -> None:
    inputs = [
        weld_models.mixed_modes(folder / "v_mixed.glb"),
        weld_models.triangle_soup(folder / "v_soup.glb"),
        models.skinned_rig(folder / "v_rig.glb"),
        models.sparse_accessor(folder / "v_sparse.glb"),
    ]
    inputs += corpus_models(CORPUS_MODELS.values())

    def apply(path: Path, out: Path) -> None:
        doc = read(path)
        weld(doc)
        reorder(doc)
        write_glb(doc, out)

    assert_pass_adds_no_errors(inputs, folder, apply)
