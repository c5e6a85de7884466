"""simplify: fewer triangles within the error bound; seams, skins, morph targets and borders intact;
points thinned as points; valid output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.codecs import simplifier
from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.passes.simplify import SimplifyOptions, simplify
from glbcompress.engine.reader import read
from glbcompress.engine.surface import Surface, hausdorff
from glbcompress.engine.transforms import local_matrix
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import simplify_models
from tests.tools import new_errors, validate


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simplify")


def _prims(doc: Document) -> list[dict]:
    return [prim for _mesh, prim in doc.primitives()]


def _tris(prim: dict) -> np.ndarray:
    return prim["indices"].data.reshape(-1, 3).astype(np.int64)


def _rows(prim: dict, *semantics: str) -> np.ndarray:
    return np.hstack([prim["attributes"][s].floats() for s in semantics])


def _source_index(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """For each row of after, the row of before with exactly the same values (asserting there is one)."""
    lookup = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(before, np.float32))}
    found = [lookup.get(row.tobytes(), -1) for row in np.ascontiguousarray(after, np.float32)]
    assert -1 not in found, "a vertex that was not in the original"
    return np.array(found)


def _open_edges(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Edges (as pairs of position ids) that only one triangle has, welding vertices by position."""
    _u, ids = np.unique(positions, axis=0, return_inverse=True)
    t = ids.reshape(-1)[triangles]
    edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return unique[counts == 1]


def _write_and_validate(doc: Document, source: Path, out: Path) -> None:
    write_glb(doc, out, WriteOptions())
    before, after = validate(source, out)
    assert new_errors(before, after) == {}, after["messages"][:5]


# -- the binding --------------------------------------------------------------------------------


def test_binding_simplifies_a_grid_within_the_error() -> None:
    pos, tri = simplify_models.grid(101)
    pos[:, 2] = 0.02 * np.sin(pos[:, 0] * 9)
    pos = pos.astype(np.float32)
    out, error = simplifier.simplify(tri, pos, len(tri.reshape(-1)) // 4, 1e-3, simplifier.LOCK_BORDER)
    assert 0 < len(out) <= len(tri.reshape(-1)) // 4 + 3 and len(out) % 3 == 0
    assert 0 < error <= 1e-3
    assert simplifier.simplify_scale(pos) == pytest.approx(1.0)
    # Attribute-aware, absolute error, sloppy, points: all callable with the declared signatures.
    normals = np.tile(np.float32([0, 0, 1]), (len(pos), 1))
    out2, error2 = simplifier.simplify(
        tri, pos, 0, 2e-3, simplifier.ERROR_ABSOLUTE, normals, np.full(3, 0.5, np.float32)
    )
    assert len(out2) < len(tri.reshape(-1)) and error2 <= 2e-3
    sloppy, _ = simplifier.simplify_sloppy(tri, pos, 300, 1.0)
    assert 0 < len(sloppy) <= 600
    kept = simplifier.simplify_points(pos, 500, normals)
    assert 0 < len(kept) <= 500 and kept.max() < len(pos)


def test_binding_rejects_bad_input() -> None:
    pos = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError):
        simplifier.simplify(np.array([0, 1, 5]), pos, 0, 0.1)
    with pytest.raises(ValueError):
        simplifier.simplify(np.array([0, 1]), pos, 0, 0.1)


def test_missing_library_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simplifier, "PACKAGE", "no_such_package_here")
    simplifier.library.cache_clear()
    try:
        with pytest.raises(simplifier.SimplifierUnavailable, match="pip install"):
            simplifier.library()
        assert not simplifier.available()
    finally:
        monkeypatch.undo()
        simplifier.library.cache_clear()
    assert simplifier.available()


# -- seams, skins, morph targets, borders --------------------------------------------------------


def test_uv_sphere_keeps_its_seam_closed(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere.glb")
    before = read(source)
    (old,) = _prims(before)
    doc = read(source)
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.1, simplify_error=0.01))
    (prim,) = _prims(doc)
    assert changes["triangles after"] <= 0.2 * changes["triangles before"]
    assert changes["fidelity"]["simplify_hausdorff"] <= 0.01
    # Every vertex is an original one (position, normal and UV together) ...
    _source_index(
        _rows(old, "POSITION", "NORMAL", "TEXCOORD_0"), _rows(prim, "POSITION", "NORMAL", "TEXCOORD_0")
    )
    # ... the surface has no hole or crack (the seam's two sides still meet) ...
    positions = prim["attributes"]["POSITION"].floats()
    assert len(_open_edges(positions, _tris(prim))) == 0
    # ... and no triangle reaches across the seam (its UVs would wrap the whole texture).
    uv = prim["attributes"]["TEXCOORD_0"].floats()[_tris(prim)]
    assert (uv[:, :, 0].max(axis=1) - uv[:, :, 0].min(axis=1)).max() < 0.5
    measured = hausdorff(
        Surface(old["attributes"]["POSITION"].floats(), _tris(old)), Surface(positions, _tris(prim))
    )
    assert measured <= 0.01 * np.sqrt(12) * 1.001  # the scene's diagonal is 2 * sqrt(3)
    _write_and_validate(doc, source, folder / "sphere.out.glb")


def _posed(doc: Document, prim: dict) -> np.ndarray:
    """Skinned positions of the cylinder fixture in its bind-time pose (Elbow bent 45 degrees)."""
    root, elbow = doc.nodes[0], doc.nodes[1]
    joints = [local_matrix(root), local_matrix(root) @ local_matrix(elbow)]
    skin = doc.skins[0]
    ibm = skin["inverseBindMatrices"].floats().reshape(-1, 4, 4).transpose(0, 2, 1)
    mats = np.stack(joints) @ ibm
    pos = prim["attributes"]["POSITION"].floats().astype(np.float64)
    homo = np.concatenate([pos, np.ones((len(pos), 1))], 1)
    j = prim["attributes"]["JOINTS_0"].data.astype(np.int64)
    w = prim["attributes"]["WEIGHTS_0"].floats().astype(np.float64)
    out = np.zeros((len(pos), 3))
    for k in range(4):
        out += w[:, k : k + 1] * np.einsum("nij,nj->ni", mats[j[:, k]], homo)[:, :3]
    return out


def test_skinned_cylinder_keeps_joints_and_weights_with_their_vertices(folder: Path) -> None:
    source = simplify_models.skinned_cylinder(folder / "cylinder.glb")
    before = read(source)
    (old,) = _prims(before)
    doc = read(source)
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.25, simplify_error=0.005))
    (prim,) = _prims(doc)
    assert changes["triangles after"] < 0.5 * changes["triangles before"]
    found = _source_index(_rows(old, "POSITION", "NORMAL"), _rows(prim, "POSITION", "NORMAL"))
    for semantic in ("JOINTS_0", "WEIGHTS_0"):
        assert np.array_equal(prim["attributes"][semantic].data, old["attributes"][semantic].data[found])
    # The bent pose stays close to the original's bent pose: nothing collapses across the bend.
    bent_old, bent_new = _posed(before, old), _posed(doc, prim)
    diagonal = float(np.linalg.norm(bent_old.max(0) - bent_old.min(0)))
    assert hausdorff(Surface(bent_old, _tris(old)), Surface(bent_new, _tris(prim))) <= 0.02 * diagonal
    _write_and_validate(doc, source, folder / "cylinder.out.glb")


def test_morph_targets_stay_aligned_and_their_shapes_within_the_bound(folder: Path) -> None:
    source = simplify_models.morph_grid(folder / "morph.glb")
    before = read(source)
    (old,) = _prims(before)
    doc = read(source)
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.0, simplify_error=0.002))
    (prim,) = _prims(doc)
    # The flat rest pose would simplify to two triangles; the bump target keeps its vertices.
    assert 2 < changes["triangles after"] < 0.3 * changes["triangles before"]
    found = _source_index(old["attributes"]["POSITION"].floats(), prim["attributes"]["POSITION"].floats())
    for t, target in enumerate(prim["targets"]):
        assert np.array_equal(target["POSITION"].data, old["targets"][t]["POSITION"].data[found])
    diagonal = float(np.sqrt(2))
    assert changes["fidelity"]["simplify_morph_hausdorff"] <= 0.002
    for t in range(2):
        shape_old = old["attributes"]["POSITION"].floats() + old["targets"][t]["POSITION"].floats()
        shape_new = prim["attributes"]["POSITION"].floats() + prim["targets"][t]["POSITION"].floats()
        assert (
            hausdorff(Surface(shape_old, _tris(old)), Surface(shape_new, _tris(prim)))
            <= 0.002 * diagonal * 1.001
        )
    _write_and_validate(doc, source, folder / "morph.out.glb")


def _world_border(doc: Document, x: float) -> set[tuple]:
    """World positions (rounded) of the open-edge vertices that lie on the plane X = x."""
    out: set[tuple] = set()
    for node in doc.nodes:
        prim = node["mesh"]["primitives"][0]
        pos = prim["attributes"]["POSITION"].floats().astype(np.float64) + node.get("translation", [0, 0, 0])
        for edge in _open_edges(pos, _tris(prim)):
            _u, first = np.unique(pos, axis=0, return_index=True)
            ends = pos[first[edge]]
            if np.allclose(ends[:, 0], x, atol=1e-6):
                out.update(tuple(np.round(p, 5)) for p in ends)
    return out


def test_locked_borders_leave_no_gap_between_touching_meshes(folder: Path) -> None:
    source = simplify_models.touching_parts(folder / "touching.glb")
    doc = read(source)
    shared = _world_border(doc, 1.0)
    assert len(shared) == 41
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.1, simplify_error=0.01, lock_borders=True))
    assert changes["meshes simplified"] == 2
    assert changes["triangles after"] < 0.4 * changes["triangles before"]
    # Both meshes still end on exactly the same border vertices.
    assert _world_border(doc, 1.0) == shared
    # Unlocked, each side simplifies its border on its own, and they part.
    loose = read(source)
    simplify(loose, SimplifyOptions(simplify_ratio=0.1, simplify_error=0.01))
    left = {p for p in _world_border(loose, 1.0)}
    assert left != shared
    _write_and_validate(doc, source, folder / "touching.out.glb")


def test_primitives_of_one_mesh_keep_their_shared_edge_without_locking(folder: Path) -> None:
    source = simplify_models.two_material_mesh(folder / "two_materials.glb")
    doc = read(source)
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.1, simplify_error=0.01))
    assert changes["triangles after"] < 0.5 * changes["triangles before"]
    left, right = _prims(doc)
    assert left["material"] is not right["material"]

    def edge_on_split(prim: dict) -> set[tuple]:
        pos = prim["attributes"]["POSITION"].floats().astype(np.float64)
        _u, first = np.unique(pos, axis=0, return_index=True)
        out = set()
        for edge in _open_edges(pos, _tris(prim)):
            ends = pos[first[edge]]
            if np.allclose(ends[:, 0], 0.5, atol=1e-6):
                out.add(tuple(sorted(tuple(np.round(p, 6)) for p in ends)))
        return out

    assert edge_on_split(left) and edge_on_split(left) == edge_on_split(right)
    _write_and_validate(doc, source, folder / "two_materials.out.glb")


# -- points and options -------------------------------------------------------------------------


def test_points_are_thinned_as_points_within_the_bound(folder: Path) -> None:
    source = simplify_models.point_cloud(folder / "cloud.glb")
    before = read(source)
    (old,) = _prims(before)
    doc = read(source)
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.1, simplify_error=0.02))
    (prim,) = _prims(doc)
    assert prim["mode"] == 0 and "indices" not in prim
    assert changes["points after"] < changes["points before"]
    found = _source_index(_rows(old, "POSITION", "COLOR_0"), _rows(prim, "POSITION", "COLOR_0"))
    assert len(set(found.tolist())) == len(found)
    assert changes["fidelity"]["simplify_hausdorff"] <= 0.02
    # Looser bound, fewer points; the ratio is the floor.
    loose = read(source)
    more = simplify(loose, SimplifyOptions(simplify_ratio=0.1, simplify_error=1.0))
    assert more["points after"] <= 0.1 * more["points before"] < changes["points after"]
    _write_and_validate(doc, source, folder / "cloud.out.glb")


def test_ratio_one_changes_nothing_and_min_triangles_is_a_floor(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere_floor.glb")
    doc = read(source)
    assert simplify(doc, SimplifyOptions(simplify_ratio=1.0)) == {}
    changes = simplify(
        doc, SimplifyOptions(simplify_ratio=0.0, simplify_error=1.0, simplify_min_triangles=3000)
    )
    assert 3000 <= changes["triangles after"] <= 3003


def test_sloppy_reaches_the_ratio_where_careful_simplification_stops(folder: Path) -> None:
    source = simplify_models.touching_parts(folder / "sloppy.glb")
    careful = read(source)
    options = SimplifyOptions(simplify_ratio=0.01, simplify_error=1.0, lock_borders=True)
    stuck = simplify(careful, options)["triangles after"]
    sloppy = read(source)
    reached = simplify(sloppy, SimplifyOptions(**{**options.__dict__, "simplify_sloppy": True}))
    assert reached["triangles after"] < stuck
    assert reached["triangles after"] <= 0.01 * reached["triangles before"] + 4


def test_same_input_same_output(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "sphere_twice.glb")
    outs = []
    for name in ("a.glb", "b.glb"):
        doc = read(source)
        simplify(doc, SimplifyOptions(simplify_ratio=0.2))
        outs.append(write_glb(doc, folder / name, WriteOptions()) and (folder / name).read_bytes())
    assert outs[0] == outs[1]


def test_untouched_primitives_and_accessors_survive(folder: Path) -> None:
    """Lines are left alone; an accessor shared by two meshes is not rewritten under one of them."""
    source = simplify_models.two_material_mesh(folder / "shared.glb")
    doc = read(source)
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    line = {"attributes": {"POSITION": position}, "mode": 1}
    doc.meshes.append({"name": "Lines", "primitives": [line]})
    doc.nodes.append({"mesh": doc.meshes[-1]})
    doc.scenes[0]["nodes"].append(doc.nodes[-1])
    simplify(doc, SimplifyOptions(simplify_ratio=0.2))
    assert line["attributes"]["POSITION"] is position and position in doc.accessors
    assert all(isinstance(a, Accessor) for a in doc.accessors)
    assert doc.meshes[0]["primitives"][0]["attributes"]["POSITION"] is not position


# -- corpus -------------------------------------------------------------------------------------

CORPUS_MODELS = {
    "Fox": "Fox/Fox.glb",  # skinned
    "RobotExpressive": "RobotExpressive/RobotExpressive.glb",  # skinned and morph targets
    "Horse": "Horse/Horse.glb",  # 15 morph targets, vertex colours
    "2CylinderEngine": "2CylinderEngine/2CylinderEngine.glb",  # many meshes, reused
    "DamagedHelmet": "DamagedHelmet/DamagedHelmet.glb",  # UV seams everywhere
    "CakeBirthday": "CakeBirthday/cakeBirthday.glb",  # many small primitives
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_MODELS)
def test_corpus_model_simplifies_validly_within_the_bound(name: str, tmp_path: Path) -> None:
    from glbcompress.engine.api import compress, resolve
    from glbcompress.engine.report import scene_stats
    from tests.tools import CORPUS, decoded_copy

    source = CORPUS / "public" / CORPUS_MODELS[name]
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared corpus is not on this machine)")
    options = resolve("balanced", {"simplify_ratio": 0.5, "simplify_error": 0.01})
    out = tmp_path / "out.glb"
    report = compress(source, out, options)
    assert report.scene_after.triangles < report.scene_before.triangles
    assert report.fidelity["simplify_hausdorff"] <= 0.01
    assert report.fidelity.get("simplify_morph_hausdorff", 0.0) <= 0.01
    before, after = scene_stats(read(source)), scene_stats(read(out))
    assert (after.skins, after.animations, after.morph_targets) == (
        before.skins,
        before.animations,
        before.morph_targets,
    )
    again = tmp_path / "again.glb"
    compress(source, again, options)
    assert again.read_bytes() == out.read_bytes()
    original, output, decoded = validate(source, out, decoded_copy(out, tmp_path / "decoded.glb"))
    assert new_errors(original, output) == {}
    assert new_errors(original, decoded) == {}


def _unwelded(doc: Document, flat: bool) -> None:
    """Turn the document's one primitive into triangle soup (three vertices per triangle), with
    each corner carrying its face normal (flat) or its original smooth normal."""
    (prim,) = _prims(doc)
    tri = _tris(prim).reshape(-1)
    for semantic, a in list(prim["attributes"].items()):
        prim["attributes"][semantic] = Accessor(np.ascontiguousarray(a.data[tri]), a.type)
    if flat:
        p = prim["attributes"]["POSITION"].floats().reshape(-1, 3, 3).astype(np.float64)
        face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        face /= np.linalg.norm(face, axis=1, keepdims=True)
        prim["attributes"]["NORMAL"] = Accessor(np.repeat(face, 3, axis=0).astype(np.float32), "VEC3")
    prim["indices"] = Accessor(np.arange(len(tri), dtype=np.uint32), "SCALAR")
    doc.accessors[:] = [*prim["attributes"].values(), prim["indices"]]


def test_faceted_triangle_soup_drops_its_flat_normals_and_simplifies(folder: Path) -> None:
    source = simplify_models.uv_sphere(folder / "soup-source.glb", segments=48, rings=24)
    doc = read(source)
    _unwelded(doc, flat=True)
    soup = folder / "soup.glb"
    write_glb(doc, soup, WriteOptions())
    changes = simplify(doc, SimplifyOptions(simplify_ratio=0.25, simplify_error=0.02))
    (prim,) = _prims(doc)
    assert changes["flat normals dropped (viewers compute them)"] == 1
    assert "NORMAL" not in prim["attributes"] and "TEXCOORD_0" in prim["attributes"]
    assert changes["triangles after"] <= 0.3 * changes["triangles before"]
    assert changes["fidelity"]["simplify_hausdorff"] <= 0.02
    _write_and_validate(doc, soup, folder / "soup.out.glb")
    # Smooth normals on the same soup are real data: kept, and the corners cannot weld.
    smooth = read(source)
    _unwelded(smooth, flat=False)
    kept = simplify(smooth, SimplifyOptions(simplify_ratio=0.25, simplify_error=0.02))
    (prim,) = _prims(smooth)
    assert "NORMAL" in prim["attributes"] and "flat normals dropped (viewers compute them)" not in kept
