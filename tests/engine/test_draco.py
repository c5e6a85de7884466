"""draco: KHR_draco_mesh_compression output that validators and loaders accept, geometry within
the quantization tolerance, one position grid for the scene, accessors split where shared, morph
targets aligned; and the decoder that reads Draco input back."""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from glbcompress.engine.api import compress, resolve
from glbcompress.engine.document import Accessor, Blob, Document
from glbcompress.engine.errors import InvalidModel, InvalidOptions
from glbcompress.engine.links import reachable
from glbcompress.engine.passes.draco import DracoOptions, draco
from glbcompress.engine.reader import read
from glbcompress.engine.writer import write_glb
from tests.fixtures import draco_models, models
from tests.geometry import diagonal, drawn_points, max_deviation
from tests.tools import CORPUS, decoded_copy, have_validator, new_errors, validate

EXT = "KHR_draco_mesh_compression"
FIXTURES = {**models.ALL, **draco_models.ALL}
DRACO = {"draco": True}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("draco")


@pytest.fixture(scope="module")
def fixtures(folder: Path) -> dict[str, Path]:
    return {name: build(folder / name) for name, build in FIXTURES.items()}


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def _write(doc: Document, path: Path) -> Path:
    write_glb(doc, path)
    return path


def _draco_prims(doc: Document) -> list[dict]:
    return [prim for _mesh, prim in doc.primitives() if EXT in prim.get("extensions", {})]


# -- geometry: every decoded vertex is an original one within tolerance, same triangles ---------


def _tolerances(doc: Document, options: DracoOptions) -> dict[str, float]:
    """Largest error each attribute may have after the pass (a little above the grid's half step)."""
    positions = [a.floats() for a in _positions(doc)]
    lo, hi = np.min([p.min(0) for p in positions], 0), np.max([p.max(0) for p in positions], 0)
    step = float(np.max(hi - lo)) / ((1 << options.draco_position_bits) - 1)
    return {
        "POSITION": step * 0.87 + 1e-6,
        "NORMAL": 4.0 / (1 << options.draco_normal_bits),
        "TANGENT": 4.0 / (1 << options.draco_generic_bits),
        "TEXCOORD": 20.0 / (1 << options.draco_texcoord_bits),  # the first set spans up to 40 (tiled)
        "COLOR": 0.5 / 255 + 1e-6,
        "WEIGHTS": 1 / 255 + 0.001,  # 8-bit, and the fixture's 0.999 sums re-normalized
        "JOINTS": 0.0,
        "_": 1e-6,
    }


def _positions(doc: Document) -> list[Accessor]:
    out: dict[int, Accessor] = {}
    for _mesh, prim in doc.primitives():
        if prim.get("mode", 4) == 4:
            out.setdefault(id(prim["attributes"]["POSITION"]), prim["attributes"]["POSITION"])
    return list(out.values())


def _triangles(prim: dict) -> np.ndarray:
    indices = prim.get("indices")
    count = prim["attributes"]["POSITION"].count
    order = indices.data[:, 0] if isinstance(indices, Accessor) else np.arange(count)
    return order.astype(np.int64).reshape(-1, 3)


def _canonical(triangles: np.ndarray) -> np.ndarray:
    """Triangles rotated to start at their smallest vertex (winding kept), sorted."""
    shift = triangles.argmin(1)
    rotated = triangles[np.arange(len(triangles))[:, None], (np.arange(3)[None] + shift[:, None]) % 3]
    return rotated[np.lexsort(rotated.T[::-1])]


def assert_same_geometry(before: dict, after: dict, tolerance: dict[str, float]) -> None:
    """Each vertex after the pass is an original vertex (every attribute within its tolerance) and
    the triangles are the same, with the same winding, whatever the vertex order."""
    semantics = sorted(after["attributes"], key=lambda s: (s != "POSITION", s))  # positions first
    tol = [
        tolerance.get(s.split("_")[0], tolerance["_"]) if s[0] != "_" else tolerance["_"] for s in semantics
    ]
    old = np.hstack([before["attributes"][s].floats().astype(np.float64) for s in semantics])
    new = np.hstack([after["attributes"][s].floats().astype(np.float64) for s in semantics])
    widths = [before["attributes"][s].data.shape[1] for s in semantics]
    scale = np.repeat([max(t, 1e-12) for t in tol], widths)
    # Equal original vertices are one vertex (Draco merges them).
    unique, representative = np.unique(old, axis=0, return_inverse=True)
    k = min(16, len(unique))
    _dist, candidates = cKDTree(unique[:, :3]).query(new[:, :3], k=k)
    candidates = candidates.reshape(len(new), k)
    error = np.abs(unique[candidates] - new[:, None, :]) / scale  # in tolerances
    worst = error.max(2)
    best = worst.argmin(1)
    assert worst[np.arange(len(new)), best].max() <= 1.0, "a decoded vertex is no original vertex"
    match = candidates[np.arange(len(new)), best]
    expected = _canonical(representative.reshape(-1)[_triangles(before)])
    expected = expected[(expected[:, 0] != expected[:, 1]) & (expected[:, 1] != expected[:, 2])]
    np.testing.assert_array_equal(_canonical(match[_triangles(after)]), expected)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_geometry_within_tolerance(name: str, fixtures: dict[str, Path], folder: Path) -> None:
    options = DracoOptions()
    before = read(fixtures[name])
    doc = read(fixtures[name])
    report = draco(doc, options)
    assert report["primitives compressed"] == len(_draco_prims(doc)) > 0
    out = folder / f"geometry-{name}.glb"
    write_glb(doc, out)
    after = read(out)  # decoded again from the written Draco streams
    tolerance = _tolerances(before, options)
    written = reachable(doc)  # the writer leaves out meshes no scene uses
    pairs = [
        (old, kept)
        for (m, kept), (_, old) in zip(doc.primitives(), before.primitives(), strict=True)
        if id(m) in written
    ]
    for (old, kept), (_o, new) in zip(pairs, after.primitives(), strict=True):
        if EXT not in kept.get("extensions", {}):
            assert old.get("mode", 4) != 4
            continue
        assert_same_geometry(old, new, tolerance)
        # What the pass says a loader sees is what our reader decodes from the file.
        for semantic, a in kept["attributes"].items():
            np.testing.assert_array_equal(new["attributes"][semantic].data, a.data)
    assert 0 < report["fidelity"]["position_error"] < 2.0**-options.draco_position_bits


def test_fewer_bits_mean_larger_error_and_smaller_streams(fixtures: dict[str, Path]) -> None:
    fine, coarse = read(fixtures["skinned_rig.glb"]), read(fixtures["skinned_rig.glb"])
    fine_report = draco(fine, DracoOptions())
    coarse_report = draco(coarse, DracoOptions(draco_position_bits=8, draco_normal_bits=6))
    assert coarse_report["stream bytes"] < fine_report["stream bytes"]
    assert coarse_report["fidelity"]["position_error"] > 30 * fine_report["fidelity"]["position_error"]
    before = read(fixtures["skinned_rig.glb"])
    options = DracoOptions(draco_position_bits=8, draco_normal_bits=6)
    assert_same_geometry(
        next(before.primitives())[1], next(coarse.primitives())[1], _tolerances(before, options)
    )


# -- one grid for the scene; sharing --------------------------------------------------------------


def test_meshes_that_meet_still_meet(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["seam_and_sharing.glb"])
    draco(doc)
    small, long = (next(m for m in doc.meshes if m["name"] == n) for n in ("Small", "Long"))
    a = small["primitives"][0]["attributes"]["POSITION"].data
    b = long["primitives"][0]["attributes"]["POSITION"].data
    seam_a = np.unique(a[np.abs(a[:, 0] - 1) < 1e-3], axis=0)
    seam_b = np.unique(b[np.abs(b[:, 0] - 1) < 1e-3], axis=0)
    assert len(seam_a) == 4
    # Separate per-mesh grids would put these corners at different points (a crack).
    np.testing.assert_array_equal(seam_a, seam_b)


def test_a_mesh_its_node_scales_up_gets_a_volume_of_its_own(tmp_path: Path) -> None:
    """Float positions (no quantize pass): a button modelled 1/125 of its size and drawn 125x
    larger would span a dozen steps of the body's volume (its rim moving by 0.001 as drawn); in a
    volume of its own no vertex moves by more than the body's step would allow."""
    from tests.fixtures.quantize_models import magnified_part

    path = magnified_part(tmp_path / "magnified.glb")
    doc = read(path)
    report = draco(doc)
    assert report["primitives compressed"] == 2 and "warnings" not in report
    step = 0.4 / ((1 << DracoOptions().draco_position_bits) - 1)
    assert max_deviation(drawn_points(doc), drawn_points(read(path))) <= step


def test_shared_accessors_share_a_stream_and_lines_keep_theirs(
    fixtures: dict[str, Path], folder: Path
) -> None:
    source = read(fixtures["seam_and_sharing.glb"])
    original = next(m for m in source.meshes if m["name"] == "Small")["primitives"][2]["attributes"][
        "POSITION"
    ].data
    doc = read(fixtures["seam_and_sharing.glb"])
    report = draco(doc)
    assert report["primitives compressed"] == 3 and report["streams"] == 2
    red, blue, lines = next(m for m in doc.meshes if m["name"] == "Small")["primitives"]
    assert red["extensions"][EXT]["bufferView"] is blue["extensions"][EXT]["bufferView"]
    assert red["attributes"]["POSITION"] is blue["attributes"]["POSITION"]
    assert red["indices"] is blue["indices"]
    # The line primitive still reads the original vertices in their original order.
    assert EXT not in lines.get("extensions", {})
    assert lines["attributes"]["POSITION"] is not red["attributes"]["POSITION"]
    assert not lines["attributes"]["POSITION"].draco
    np.testing.assert_array_equal(lines["attributes"]["POSITION"].data, original)
    out = folder / "shared.glb"
    write_glb(doc, out)
    gltf = _glb_json(out)
    small = next(m for m in gltf["meshes"] if m["name"] == "Small")["primitives"]
    assert small[0]["extensions"][EXT]["bufferView"] == small[1]["extensions"][EXT]["bufferView"]
    assert len({p["extensions"][EXT]["bufferView"] for m in gltf["meshes"] for p in m["primitives"][:2]}) == 2
    for prim in (small[0], small[1]):
        for index in [*prim["attributes"].values(), prim["indices"]]:
            assert "bufferView" not in gltf["accessors"][index]
    assert "bufferView" in gltf["accessors"][small[2]["attributes"]["POSITION"]]
    assert EXT in gltf["extensionsRequired"]


# -- attributes ----------------------------------------------------------------------------------


def test_attribute_storage(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["attribute_kinds.glb"])
    draco(doc)
    prim = _draco_prims(doc)[0]
    attrs = prim["attributes"]
    formats = {s: (a.data.dtype.name, a.normalized) for s, a in attrs.items()}
    assert formats == {
        "POSITION": ("float32", False),
        "NORMAL": ("float32", False),
        "TANGENT": ("float32", False),
        "TEXCOORD_0": ("float32", False),  # outside [0, 1]: stays float
        "TEXCOORD_1": ("uint16", True),
        "COLOR_0": ("uint8", True),
        "COLOR_1": ("uint8", True),
        "JOINTS_0": ("uint16", False),  # joint 300 does not fit 8 bits
        "WEIGHTS_0": ("uint8", True),
        "_TEMPERATURE": ("float32", False),
    }
    assert (attrs["WEIGHTS_0"].data.astype(int).sum(1) == 255).all()
    assert set(np.unique(attrs["TANGENT"].data[:, 3])) == {-1.0, 1.0}
    assert set(prim["extensions"][EXT]["attributes"]) == set(attrs)
    assert prim["indices"].data.dtype == np.uint16  # the unindexed soup gained indices
    assert prim["indices"].count < 3 * attrs["POSITION"].count  # and its corners were merged


def test_joints_fit_in_bytes_when_they_can(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["skinned_rig.glb"])
    draco(doc)
    attrs = _draco_prims(doc)[0]["attributes"]
    assert attrs["JOINTS_0"].data.dtype == np.uint8 and attrs["WEIGHTS_0"].data.dtype == np.uint8


def test_attribute_draco_cannot_hold_keeps_vertex_order(fixtures: dict[str, Path]) -> None:
    before = read(fixtures["signed_attribute.glb"])
    doc = read(fixtures["signed_attribute.glb"])
    draco(doc)
    prim = _draco_prims(doc)[0]
    assert "_TAG" not in prim["extensions"][EXT]["attributes"] and not prim["attributes"]["_TAG"].draco
    assert "_LEVEL" in prim["extensions"][EXT]["attributes"]
    old = next(before.primitives())[1]
    np.testing.assert_array_equal(prim["attributes"]["_TAG"].data, old["attributes"]["_TAG"].data)
    np.testing.assert_array_equal(prim["attributes"]["_LEVEL"].data, old["attributes"]["_LEVEL"].data)
    np.testing.assert_array_equal(prim["indices"].data, old["indices"].data)
    moved = np.abs(prim["attributes"]["POSITION"].data - old["attributes"]["POSITION"].data).max()
    assert moved < 1e-3


@pytest.mark.parametrize("name", ["morph_cube.glb", "sparse_accessor.glb"])
def test_morph_targets_stay_aligned(name: str, fixtures: dict[str, Path], folder: Path) -> None:
    before = read(fixtures[name])
    doc = read(fixtures[name])
    draco(doc)
    old, new = next(before.primitives())[1], _draco_prims(doc)[0]
    # Same vertices in the same order (within the grid), targets untouched and not in the stream.
    np.testing.assert_allclose(
        new["attributes"]["POSITION"].data, old["attributes"]["POSITION"].data, atol=1e-3
    )
    for t_old, t_new in zip(old["targets"], new["targets"], strict=True):
        for semantic in t_old:
            assert not t_new[semantic].draco
            np.testing.assert_array_equal(t_new[semantic].data, t_old[semantic].data)
    assert set(new["extensions"][EXT]["attributes"]) == set(new["attributes"])
    out = folder / f"morph-{name}"
    write_glb(doc, out)
    again = next(read(out).primitives())[1]
    for t_old, t_again in zip(old["targets"], again["targets"], strict=True):
        for semantic in t_old:
            np.testing.assert_array_equal(t_again[semantic].data, t_old[semantic].data)


def test_same_bytes_every_time(fixtures: dict[str, Path], folder: Path) -> None:
    first, second = folder / "first.glb", folder / "second.glb"
    for out in (first, second):
        compress(fixtures["attribute_kinds.glb"], out, resolve("balanced", DRACO))
    assert first.read_bytes() == second.read_bytes()


def test_bad_bits_are_refused() -> None:
    with pytest.raises(InvalidOptions, match="draco_normal_bits"):
        resolve("balanced", {"draco": True, "draco_normal_bits": 1})
    options = resolve("balanced", {"draco": True, "draco_position_bits": 11})
    assert options.draco is not None and options.draco.draco_position_bits == 11
    assert options.meshopt is None and options.quantize is None


# -- the decoder ---------------------------------------------------------------------------------


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """A copy of a GLB with its JSON edited (and its BIN chunk edited too if edit returns bytes)."""
    data = src.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20 : 20 + length])
    binary = bytearray(data[20 + length + 8 :])
    edit(gltf, binary)
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    out = struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(text), 0x4E4F534A) + text
    dst.write_bytes(out + struct.pack("<II", len(binary), 0x004E4942) + bytes(binary))
    return dst


@pytest.fixture(scope="module")
def draco_box(fixtures: dict[str, Path], folder: Path) -> Path:
    doc = read(fixtures["textured_box.glb"])
    draco(doc)
    return _write(doc, folder / "draco_box.glb")


def test_corrupt_stream_is_an_invalid_model(draco_box: Path, folder: Path) -> None:
    def corrupt(gltf: dict, binary: bytearray) -> None:
        view = gltf["bufferViews"][gltf["meshes"][0]["primitives"][0]["extensions"][EXT]["bufferView"]]
        start = view.get("byteOffset", 0)
        binary[start : start + view["byteLength"]] = bytes(view["byteLength"])

    with pytest.raises(InvalidModel, match="Draco data is corrupt"):
        read(_rewrite(draco_box, folder / "corrupt.glb", corrupt))


def test_missing_attribute_id_is_an_invalid_model(draco_box: Path, folder: Path) -> None:
    def wrong_id(gltf: dict, _binary: bytearray) -> None:
        gltf["meshes"][0]["primitives"][0]["extensions"][EXT]["attributes"]["NORMAL"] = 99

    with pytest.raises(InvalidModel, match="NORMAL"):
        read(_rewrite(draco_box, folder / "wrong_id.glb", wrong_id))


def test_target_count_mismatch_is_an_invalid_model(fixtures: dict[str, Path], folder: Path) -> None:
    doc = read(fixtures["morph_cube.glb"])
    draco(doc)
    good = _write(doc, folder / "morph_draco.glb")

    def shorter(gltf: dict, _binary: bytearray) -> None:
        target = gltf["meshes"][0]["primitives"][0]["targets"][1]["POSITION"]
        gltf["accessors"][target]["count"] -= 1

    with pytest.raises(InvalidModel, match="target 1 POSITION"):
        read(_rewrite(good, folder / "short_target.glb", shorter))


def test_draco_primitive_without_indices_gets_them(draco_box: Path, folder: Path) -> None:
    expected = next(read(draco_box).primitives())[1]

    def drop_indices(gltf: dict, _binary: bytearray) -> None:
        del gltf["meshes"][0]["primitives"][0]["indices"]

    prim = next(read(_rewrite(draco_box, folder / "no_indices.glb", drop_indices)).primitives())[1]
    np.testing.assert_array_equal(prim["indices"].data, expected["indices"].data)
    np.testing.assert_array_equal(
        prim["attributes"]["POSITION"].data, expected["attributes"]["POSITION"].data
    )


def test_integer_attributes_decode_to_their_component_type(fixtures: dict[str, Path], folder: Path) -> None:
    doc = read(fixtures["attribute_kinds.glb"])
    draco(doc)
    again = next(read(_write(doc, folder / "kinds.glb")).primitives())[1]
    assert again["attributes"]["JOINTS_0"].data.dtype == np.uint16  # DracoPy hands out uint32
    assert again["attributes"]["COLOR_1"].data.dtype == np.uint8 and again["attributes"]["COLOR_1"].normalized


def test_shared_stream_decodes_once_into_shared_accessors(fixtures: dict[str, Path], folder: Path) -> None:
    doc = read(fixtures["seam_and_sharing.glb"])
    draco(doc)
    again = read(_write(doc, folder / "shared2.glb"))
    red, blue, _lines = next(m for m in again.meshes if m["name"] == "Small")["primitives"]
    assert red["attributes"]["POSITION"] is blue["attributes"]["POSITION"]
    assert red["attributes"]["POSITION"].count == 24


# -- validator and a second decoder (gltf-transform) ----------------------------------------------


def _check_geometry(src: Path, out: Path, tolerance: float = 2e-4) -> None:
    """What the output draws (decoded by our reader) is within tolerance (a fraction of the scene's
    diagonal) of what the input draws."""
    original, ours = drawn_points(read(src)), drawn_points(read(out))
    limit = tolerance * max(diagonal(original), 1e-9)
    moved = max_deviation(original, ours)
    assert moved <= limit, f"{src.name}: geometry moved by {moved:.3g} (limit {limit:.3g})"


def _check_outputs(pairs: list[tuple[Path, Path]], folder: Path) -> None:
    """For (input, output) pairs: the validator finds no new error in the output nor in a copy that
    gltf-transform decoded (the validator cannot look inside Draco streams), and gltf-transform's
    Draco decoder reads the geometry ours does."""
    if not have_validator():
        pytest.skip("glTF-Validator not installed: run scripts/setup-node")
    with ThreadPoolExecutor(4) as pool:
        decoded = list(pool.map(lambda p: decoded_copy(p[1], folder / f"{p[1].stem}.decoded.glb"), pairs))
    reports = validate(*(p for pair, dec in zip(pairs, decoded, strict=True) for p in (*pair, dec)))
    problems = []
    for i, ((src, out), dec) in enumerate(zip(pairs, decoded, strict=True)):
        before, after, after_decoded = reports[3 * i : 3 * i + 3]
        for name, report in (("output", after), ("decoded output", after_decoded)):
            if report.get("fatal") or new_errors(before, report):
                problems.append(f"{src.name} {name}: {report.get('fatal') or new_errors(before, report)}")
        ours, theirs = drawn_points(read(out)), drawn_points(read(dec))
        if max_deviation(ours, theirs) > 1e-6 * max(diagonal(ours), 1e-9):
            problems.append(f"{src.name}: gltf-transform decodes other geometry than we do")
    assert not problems, "\n".join(problems)


# Fixtures whose decoded data the validator should see (a gltf-transform copy takes seconds each).
DECODE = ("attribute_kinds.glb", "seam_and_sharing.glb", "skinned_rig.glb", "morph_cube.glb")


def test_fixture_outputs_are_valid_everywhere(fixtures: dict[str, Path], folder: Path) -> None:
    pairs = []
    for name, src in fixtures.items():
        out = folder / f"valid-{Path(name).stem}.glb"
        report = compress(src, out, resolve("balanced", DRACO))
        draco_report = next(p for p in report.passes if p.name == "draco").changes
        assert draco_report["primitives compressed"] > 0, name
        assert EXT in _glb_json(out)["extensionsRequired"]
        _check_geometry(src, out)
        pairs.append((name, src, out))
    _check_outputs([(src, out) for name, src, out in pairs if name in DECODE], folder)
    reports = validate(*(p for _name, src, out in pairs if _name not in DECODE for p in (src, out)))
    for before, after in zip(reports[::2], reports[1::2], strict=True):
        assert not after.get("fatal") and new_errors(before, after) == {}, after["file"]


# -- corpus --------------------------------------------------------------------------------------

PUBLIC = CORPUS / "public"
# Skinned models are compared in their rest pose, where 8-bit weights (as the quantize pass stores
# them too) move vertices a little more.
TOLERANCE = {"Soldier": 6e-4}
# Models with what Draco handles specially, checked by the validator and a second decoder (slower).
VALIDATED = (
    "BoxTexturedDraco",  # Draco input
    "Parrot",  # Draco input with morph targets
    "Horse",  # vertex colors, morph targets
    "MorphStressTest",  # morph targets, two UV sets
    "Fox",  # skin
    "VertexColorTest",  # float colors, tangents
    "SphereLights",  # tangents
    "Pirate",  # KHR_mesh_quantization input
    "Nefertiti",  # unindexed
    "TextureTransformTest",  # primitives sharing accessors
)


def _corpus() -> list[Path]:
    if not PUBLIC.is_dir():
        return []
    return [
        sorted(p for p in folder.iterdir() if p.suffix in (".glb", ".gltf"))[0]
        for folder in sorted(PUBLIC.iterdir())
        if any(p.suffix in (".glb", ".gltf") for p in folder.iterdir())
    ]


CORPUS_MODELS = _corpus()


def _need(model: Path | None) -> Path:
    if model is None:
        pytest.skip(f"{PUBLIC} is absent (the shared corpus is not on this machine)")
    return model


def _compressed(model: Path, folder: Path) -> Path:
    out = folder / f"corpus-{model.parent.name}.glb"
    report = compress(model, out, resolve("balanced", DRACO))
    assert not [w for w in report.warnings if "Draco" in w], report.warnings
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("model", CORPUS_MODELS or [None], ids=lambda p: p.parent.name if p else "absent")
def test_corpus_model_with_draco(model: Path | None, folder: Path) -> None:
    model = _need(model)
    out = _compressed(model, folder)
    doc = read(out)
    triangles = [p for _m, p in doc.primitives() if p.get("mode", 4) == 4]
    assert triangles and all(p["attributes"]["POSITION"].count for p in triangles)
    assert EXT in _glb_json(out)["extensionsRequired"]
    _check_geometry(model, out, TOLERANCE.get(model.parent.name, 2e-4))


@pytest.mark.corpus
@pytest.mark.validator
@pytest.mark.parametrize(
    "model",
    [m for m in CORPUS_MODELS if m.parent.name in VALIDATED] or [None],
    ids=lambda p: p.parent.name if p else "absent",
)
def test_corpus_model_is_valid_with_draco(model: Path | None, folder: Path) -> None:
    model = _need(model)
    _check_outputs([(model, _compressed(model, folder))], folder)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["BoxTexturedDraco/BoxTextured.glb", "Parrot/Parrot.glb"])
def test_draco_inputs_decode_like_gltf_transform(name: str, folder: Path) -> None:
    src = PUBLIC / name
    if not src.is_file():
        pytest.skip(f"{src} is absent (the shared corpus is not on this machine)")
    ours = read(src)
    theirs = read(decoded_copy(src, folder / f"{src.stem}.reference.glb"))
    for (_m, a), (_n, b) in zip(ours.primitives(), theirs.primitives(), strict=True):
        assert EXT not in a.get("extensions", {})
        for semantic in b["attributes"]:
            np.testing.assert_array_equal(a["attributes"][semantic].data, b["attributes"][semantic].data)
        np.testing.assert_array_equal(a["indices"].data, b["indices"].data)
        for ta, tb in zip(a.get("targets", []), b.get("targets", []), strict=True):
            for semantic in tb:
                np.testing.assert_array_equal(ta[semantic].data, tb[semantic].data)
    # Compressing it again works and reads back within tolerance.
    out = folder / f"{src.stem}.again.glb"
    compress(src, out, resolve("balanced", DRACO))
    assert max_deviation(drawn_points(ours), drawn_points(read(out))) <= 2e-4 * diagonal(drawn_points(ours))


def test_blob_is_what_the_extension_holds(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["textured_box.glb"])
    draco(doc)
    ext = _draco_prims(doc)[0]["extensions"][EXT]
    assert isinstance(ext["bufferView"], Blob) and ext["bufferView"].data[:5] == b"DRACO"


# -- beside meshopt (the balanced and max presets) -------------------------------------------------


@pytest.fixture(scope="module")
def dense(folder: Path) -> dict[str, Path]:
    """A dense static sphere, a dense skinned cylinder with a long animation, and a morphing grid."""
    from tests.fixtures import simplify_models

    return {
        "sphere": simplify_models.uv_sphere(folder / "dense-sphere.glb"),
        "arm": simplify_models.skinned_cylinder(folder / "dense-arm.glb", keys=300, wobble=0.1),
        "morph": simplify_models.morph_grid(folder / "dense-morph.glb"),
    }


def _written_draco_prims(gltf: dict) -> int:
    return sum(EXT in p.get("extensions", {}) for m in gltf.get("meshes", []) for p in m["primitives"])


def _preset_output(src: Path, out: Path, **overrides: bool) -> tuple[Document, dict]:
    """The output as our reader decodes it, and the draco pass's report."""
    report = compress(src, out, resolve("balanced", overrides))
    changes = next((p.changes for p in report.passes if p.name == "draco"), {})
    return read(out), changes


def test_presets_use_draco_where_it_is_smaller_and_meshopt_for_the_rest(
    dense: dict[str, Path], folder: Path
) -> None:
    out = folder / "arm-balanced.glb"
    _doc, changes = _preset_output(dense["arm"], out)
    gltf = _glb_json(out)
    assert {EXT, "EXT_meshopt_compression"} <= set(gltf["extensionsUsed"])
    assert changes["primitives compressed"] == 1 and _written_draco_prims(gltf) == 1
    # The animation stays with meshopt, whose bufferViews carry its extension.
    samplers = gltf["animations"][0]["samplers"]
    views = {gltf["accessors"][s[key]]["bufferView"] for s in samplers for key in ("input", "output")}
    assert all("EXT_meshopt_compression" in gltf["bufferViews"][v].get("extensions", {}) for v in views)
    # Morph targets stay with meshopt (Draco would have to keep their vertex order).
    _doc, morph_changes = _preset_output(dense["morph"], folder / "morph-balanced.glb")
    assert morph_changes["primitives compressed"] == 0
    assert _written_draco_prims(_glb_json(folder / "morph-balanced.glb")) == 0
    sphere = folder / "sphere-balanced.glb"
    _preset_output(dense["sphere"], sphere)
    meshopt_only = folder / "sphere-meshopt.glb"
    _preset_output(dense["sphere"], meshopt_only, meshopt=True)
    assert EXT not in _glb_json(meshopt_only).get("extensionsUsed", [])
    assert sphere.stat().st_size < 0.8 * meshopt_only.stat().st_size
    for src, result in ((dense["arm"], out), (dense["sphere"], sphere)):
        _check_geometry(src, result)
    _check_outputs([(dense["arm"], out), (dense["sphere"], sphere)], folder)


def test_primitives_sharing_vertices_or_too_small_stay_with_meshopt(
    fixtures: dict[str, Path], folder: Path
) -> None:
    """Draco codes each primitive's vertices again, where meshopt stores shared ones once; and a
    small box costs Draco more (a stream and its JSON) than meshopt."""
    for name in ("textured_box.glb", "seam_and_sharing.glb"):
        _doc, changes = _preset_output(fixtures[name], folder / f"small-{name}")
        assert changes["primitives compressed"] == 0, name
        assert changes["primitives left to meshopt (smaller)"] > 0, name
        assert _written_draco_prims(_glb_json(folder / f"small-{name}")) == 0


@pytest.mark.parametrize("name", ["sphere", "arm"])
def test_positions_on_the_quantization_grid_are_coded_exactly(
    name: str, dense: dict[str, Path], folder: Path
) -> None:
    """Draco codes the quantize pass's integer positions in a volume whose step is one unit: they
    decode to the very integers meshopt would have stored, so parts the two codecs hold still meet."""
    drawn, changes = _preset_output(dense[name], folder / f"exact-{name}-draco.glb")
    assert changes["primitives compressed"] == 1
    grid, _ = _preset_output(dense[name], folder / f"exact-{name}-meshopt.glb", meshopt=True)
    (_mesh, ours), (_other, theirs) = next(drawn.primitives()), next(grid.primitives())
    positions, quantized = ours["attributes"]["POSITION"].data, theirs["attributes"]["POSITION"].data
    assert quantized.dtype.kind in "iu" and positions.dtype == np.float32
    assert np.array_equal(positions, np.round(positions))
    assert {tuple(r) for r in positions.astype(np.int64).tolist()} == {
        tuple(r) for r in quantized.astype(np.int64).tolist()
    }


def test_asking_for_one_codec_means_that_one_alone() -> None:
    balanced = resolve("balanced")
    assert balanced.draco is not None and balanced.meshopt is not None and balanced.quantize is not None
    assert resolve("lossless").draco is None
    alone = resolve("balanced", {"draco": True})
    assert alone.draco is not None and alone.meshopt is None and alone.quantize is None
    assert resolve("balanced", {"meshopt": True}).draco is None
    assert resolve("balanced", {"draco": False}).meshopt is not None
