"""The quantize pass: outputs stay valid, and what a renderer draws stays where it was.

"Where it was" is checked in world space: every drawn primitive's positions go through its node's
world matrix (skinned ones through the skin's bind pose, instanced ones through each instance), for
the base mesh and for each morph target at full weight, and every textured primitive's texture
coordinates go through each sampling textureInfo's KHR_texture_transform. Original and output are
compared within the grid's tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine import quantization as qz
from glbcompress.engine.document import Accessor, Document, Pointer
from glbcompress.engine.links import texture_info_slots
from glbcompress.engine.options import schema
from glbcompress.engine.passes.quantize import DEFAULTS, QuantizeOptions, quantize
from glbcompress.engine.passes.sanitize import sanitize
from glbcompress.engine.presets import resolve
from glbcompress.engine.reader import read
from glbcompress.engine.transforms import local_matrix, parents, quat_to_matrix
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import models, quantize_models
from tests.geometry import drawn_points, max_deviation
from tests.tools import CORPUS, decoded_copy, have_validator, new_errors, validate

# -- What a renderer draws ------------------------------------------------------------------------------


def world_matrices(doc: Document) -> dict[int, np.ndarray]:
    """id(node) -> world matrix, for every node (scene or not)."""
    parent_of = parents(doc)
    out: dict[int, np.ndarray] = {}

    def world(node: dict) -> np.ndarray:
        if id(node) not in out:
            parent = parent_of.get(id(node))
            out[id(node)] = (world(parent) if parent is not None else np.eye(4)) @ local_matrix(node)
        return out[id(node)]

    for node in doc.nodes:
        world(node)
    return out


def drawn_meshes(doc: Document) -> list[dict]:
    """Meshes that scene nodes draw, in document order (the writer keeps exactly these)."""
    drawn = {id(node["mesh"]) for node, _world in doc.scene_nodes() if isinstance(node.get("mesh"), dict)}
    return [mesh for mesh in doc.meshes if id(mesh) in drawn]


@dataclass
class Instance:
    """One primitive as drawn by one node: positions in world space."""

    key: tuple[int, int]
    local: list[np.ndarray]
    """The base positions, then base + each morph target."""
    matrices: np.ndarray
    """(k, 4, 4): the world matrix (k = 1), or one matrix per joint (jointWorld * IBM)."""
    joints: np.ndarray | None = None
    weights: np.ndarray | None = None

    def world(self, skinning: Instance | None = None) -> list[tuple[int, np.ndarray]]:
        """(morph target number, 0 for the base; world positions). Skinned positions use the
        joints and weights of `skinning` if given."""
        skinning = skinning or self
        out = []
        for morph, p in enumerate(self.local):
            h = np.concatenate([p, np.ones((len(p), 1))], axis=1)
            if self.joints is None:
                out.append((morph, (h @ self.matrices[0].T)[:, :3]))
            else:
                per_joint = np.einsum("nkij,nj->nki", self.matrices[skinning.joints], h)
                out.append((morph, np.einsum("nk,nki->ni", skinning.weights, per_joint)[:, :3]))
        return out

    def scale(self) -> float:
        """Largest factor by which the instance stretches local distances (for skinned vertices,
        the weighted sum over their joints; weights need not sum to 1 in the source)."""
        stretch = np.linalg.norm(self.matrices[:, :3, :3], ord=2, axis=(1, 2))
        if self.joints is None:
            return float(stretch.max())
        return float((np.abs(self.weights) * stretch[self.joints]).sum(axis=1).max(initial=0))


def instances(doc: Document) -> Iterator[Instance]:
    worlds = world_matrices(doc)
    index = {id(mesh): i for i, mesh in enumerate(drawn_meshes(doc))}
    for node, _world in doc.scene_nodes():
        mesh = node.get("mesh")
        if not isinstance(mesh, dict):
            continue
        for p, prim in enumerate(mesh["primitives"]):
            attrs = prim["attributes"]
            base = attrs["POSITION"].floats().astype(np.float64)
            local = [base] + [
                base + t["POSITION"].floats() for t in prim.get("targets", []) if "POSITION" in t
            ]
            key = (index[id(mesh)], p)
            skin = node.get("skin")
            if isinstance(skin, dict):
                yield _skinned(key, local, skin, attrs, worlds)
            else:
                for matrix in _instance_matrices(node, worlds[id(node)]):
                    yield Instance(key, local, matrix[None])


def _skinned(
    key: tuple[int, int], local: list[np.ndarray], skin: dict, attrs: dict, worlds: dict
) -> Instance:
    ibm = skin.get("inverseBindMatrices")
    count = len(skin["joints"])
    binds = (
        ibm.floats().reshape(-1, 4, 4).transpose(0, 2, 1)
        if ibm is not None
        else np.tile(np.eye(4), (count, 1, 1))
    )
    matrices = np.stack([worlds[id(j)] for j in skin["joints"]]) @ binds
    sets = sorted(s[8:] for s in attrs if s.startswith("WEIGHTS_"))
    joints = np.concatenate([attrs[f"JOINTS_{s}"].data for s in sets], axis=1).astype(np.int64)
    weights = np.concatenate([attrs[f"WEIGHTS_{s}"].floats() for s in sets], axis=1).astype(np.float64)
    return Instance(key, local, matrices, joints, weights)


def _instance_matrices(node: dict, world: np.ndarray) -> np.ndarray:
    attributes = node.get("extensions", {}).get("EXT_mesh_gpu_instancing", {}).get("attributes")
    if not attributes:
        return world[None]
    count = next(iter(attributes.values())).count
    t = attributes["TRANSLATION"].floats() if "TRANSLATION" in attributes else np.zeros((count, 3))
    r = attributes["ROTATION"].floats() if "ROTATION" in attributes else np.tile([0.0, 0, 0, 1], (count, 1))
    s = attributes["SCALE"].floats() if "SCALE" in attributes else np.ones((count, 3))
    m = np.tile(np.eye(4), (count, 1, 1))
    m[:, :3, :3] = quat_to_matrix(r) * s[:, None, :]
    m[:, :3, 3] = t
    return world @ m


def grid_step(doc: Document, bits: int) -> float:
    """The scene grid's step: the largest extent of the local positions of drawn meshes."""
    positions = [p["attributes"]["POSITION"].floats() for m in drawn_meshes(doc) for p in m["primitives"]]
    lo = np.min([p.min(axis=0) for p in positions], axis=0)
    hi = np.max([p.max(axis=0) for p in positions], axis=0)
    return float((hi - lo).max()) / ((1 << bits) - 1)


def geometry_deviation(before: Document, after: Document, bits: int) -> float:
    """Largest world-space distance any drawn vertex moved, in units of its tolerance (half a grid
    step's diagonal stretched by the instance's transform, doubled for morph targets). A mesh drawn
    several times is matched instance by instance. Skinned vertices use the original joints and
    weights on both sides: weight rounding is checked on its own."""
    step = grid_step(before, bits)
    pending: dict[tuple, list[Instance]] = {}
    for inst in instances(before):
        pending.setdefault(inst.key, []).append(inst)
    worst = 0.0
    for inst in instances(after):
        candidates = pending[inst.key]
        scores = [_deviation(original, inst, step) for original in candidates]
        best = int(np.argmin(scores))
        worst = max(worst, scores[best])
        candidates.pop(best)
    return worst


def _deviation(original: Instance, output: Instance, step: float) -> float:
    half_step = np.sqrt(3) / 2 * step * 1.001 * original.scale()
    worst = 0.0
    for (morph, want), (_morph, got) in zip(original.world(), output.world(original), strict=True):
        tolerance = half_step * (2 if morph else 1) + 4e-7 * max(1.0, float(np.abs(want).max(initial=0)))
        worst = max(worst, float(np.linalg.norm(got - want, axis=1).max(initial=0)) / tolerance)
    return worst


def effective_uvs(doc: Document) -> dict[tuple, np.ndarray]:
    """(drawn mesh, primitive, textureInfo) -> texture coordinates after KHR_texture_transform."""
    out = {}
    for m, mesh in enumerate(drawn_meshes(doc)):
        for p, prim in enumerate(mesh["primitives"]):
            material = prim.get("material")
            if not isinstance(material, dict):
                continue
            for i, (info, _key) in enumerate(texture_info_slots(material)):
                ext = info.get("extensions", {}).get("KHR_texture_transform", {})
                uv = prim["attributes"].get(f"TEXCOORD_{ext.get('texCoord', info.get('texCoord', 0))}")
                if isinstance(uv, Accessor):
                    out[(m, p, i)] = _apply_texture_transform(uv.floats().astype(np.float64), ext)
    return out


def _apply_texture_transform(uv: np.ndarray, ext: dict) -> np.ndarray:
    c, s = np.cos(ext.get("rotation", 0.0)), np.sin(ext.get("rotation", 0.0))
    scaled = uv * np.asarray(ext.get("scale", (1.0, 1.0)))
    rotated = scaled @ np.array([[c, s], [-s, c]]).T
    return rotated + np.asarray(ext.get("offset", (0.0, 0.0)))


def uv_deviation(before: Document, after: Document, bits: int) -> float:
    """Largest texture-coordinate change in units of its tolerance: one step of a grid of `bits`
    bits per texture repeat, times the original transform's scale."""
    want, got = effective_uvs(before), effective_uvs(after)
    assert want.keys() == got.keys()
    worst = 0.0
    for key, uv in want.items():
        tolerance = max(1.0, float(np.abs(uv).max())) / ((1 << bits) - 1) + 1e-6
        worst = max(worst, float(np.abs(got[key] - uv).max(initial=0)) / tolerance)
    return worst


# -- Running the pass -------------------------------------------------------------------------------------


@dataclass
class Result:
    source: Path
    output: Path
    meshopt_output: Path
    report: dict
    before: Document
    after: Document


def run(source: Path, folder: Path, options: QuantizeOptions = DEFAULTS) -> Result:
    """Quantize source (after the sanitize every pipeline run does) and write it plain and with
    meshopt; `after` is the plain output read back."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = read(source)
    sanitize(doc)
    report = quantize(doc, options)
    output = folder / f"{source.stem}.glb"
    meshopt_output = folder / f"{source.stem}.meshopt.glb"
    write_glb(doc, output)
    write_glb(doc, meshopt_output, WriteOptions(meshopt=True))
    before = read(source)
    sanitize(before)
    return Result(source, output, meshopt_output, report, before, read(output))


def validation(
    results: list[Result], folder: Path, decode: set[str] | None = None
) -> dict[Path, dict[str, int]]:
    """source -> new validator errors of its output, and of the decoded copy (gltf-transform) of its
    meshopt output for sources whose folder is in `decode` (all if None; a copy takes seconds)."""
    if not have_validator():
        return {}
    chosen = [r for r in results if decode is None or r.source.parent.name in decode]
    with ThreadPoolExecutor(2) as pool:
        copies = list(
            pool.map(lambda r: decoded_copy(r.meshopt_output, folder / f"{r.source.stem}.copy.glb"), chosen)
        )
    reports = validate(*(path for r in results for path in (r.source, r.output)), *copies)
    out = {r.source: new_errors(reports[2 * i], reports[2 * i + 1]) for i, r in enumerate(results)}
    for r, report in zip(chosen, reports[2 * len(results) :], strict=True):
        source_report = reports[2 * results.index(r)]
        out[r.source].update({f"decoded {k}": n for k, n in new_errors(source_report, report).items()})
    return out


FIXTURES = {**models.ALL, **quantize_models.ALL}


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Result], dict]:
    folder = tmp_path_factory.mktemp("quantize-fixtures")
    sources = {**models.generate_all(folder / "in"), **quantize_models.generate_all(folder / "in")}
    results = {name: run(path, folder / "out") for name, path in sources.items()}
    return results, validation(list(results.values()), folder / "out")


# Corpus models whose meshopt output is also decoded by gltf-transform and validated: one of each
# kind the pass treats differently (skins, morph targets, texture transforms, colours, many nodes,
# quantized input, animated nodes), as each copy costs seconds.
DECODED_CORPUS = {
    "Fox",
    "RobotExpressive",
    "MorphStressTest",
    "TextureTransformTest",
    "VertexColorTest",
    "2CylinderEngine",
    "Pirate",
    "CesiumMilkTruck",
}


def corpus_models() -> list[Path]:
    folder = CORPUS / "public"
    if not folder.is_dir():
        return []
    out = []
    for model in sorted(folder.iterdir()):
        files = sorted(p for p in model.iterdir() if p.suffix in (".glb", ".gltf"))
        out.extend(files[:1])
    return out


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Path, Result], dict]:
    if not corpus_models():
        pytest.skip(f"corpus not found at {CORPUS}")
    folder = tmp_path_factory.mktemp("quantize-corpus")
    results = {path: run(path, folder / path.parent.name) for path in corpus_models()}
    return results, validation(list(results.values()), folder, DECODED_CORPUS)


def check(result: Result, errors: dict | None) -> None:
    if errors is not None:
        assert errors == {}, f"new validator errors: {errors}"
    assert geometry_deviation(result.before, result.after, DEFAULTS.position_bits) <= 1.0
    assert uv_deviation(result.before, result.after, DEFAULTS.texcoord_bits) <= 1.0
    fidelity = result.report.get("fidelity", {})
    assert fidelity.get("position_error", 0) <= 1 / (1 << DEFAULTS.position_bits)
    assert fidelity.get("normal_error_degrees", 0) < 1.0


# -- Fixtures and corpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_stays_valid_and_in_place(name: str, fixture_results: tuple[dict[str, Result], dict]) -> None:
    results, errors = fixture_results
    check(results[name], errors.get(results[name].source))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_models(), ids=lambda p: p.parent.name)
def test_corpus_model_stays_valid_and_in_place(
    path: Path, corpus_results: tuple[dict[Path, Result], dict]
) -> None:
    results, errors = corpus_results
    check(results[path], errors.get(path))


def test_corpus_is_smaller(corpus_results: tuple[dict[Path, Result], dict]) -> None:
    """Quantized geometry is smaller in total, plain and with meshopt."""
    results, _errors = corpus_results
    total = sum(r.output.stat().st_size for r in results.values())
    assert total < 0.85 * sum(write_size(r.before) for r in results.values())


def write_size(doc: Document) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return write_glb(doc, Path(folder) / "x.glb").bytes_written


# -- Positions --------------------------------------------------------------------------------------------


def test_adjacent_meshes_share_edge_exactly(tmp_path: Path) -> None:
    path = quantize_models.adjacent_meshes(tmp_path / "adjacent.glb")
    source = read(path)
    on_edge = [m["primitives"][0]["attributes"]["POSITION"].floats()[:, 0] == 1.0 for m in source.meshes]

    def edge_gap(options: QuantizeOptions) -> float:
        doc = read(path)
        quantize(doc, options)
        left, right = (inst.world()[0][1] for inst in instances(doc))
        a, b = left[on_edge[0]], right[on_edge[1]]
        assert len(a) == len(b) == 9
        order_a, order_b = np.argsort(a[:, 1]), np.argsort(b[:, 1])
        return float(np.abs(a[order_a] - b[order_b]).max())

    assert edge_gap(QuantizeOptions()) == 0.0
    # One grid per mesh does crack, which is why the scene grid is the default.
    assert edge_gap(QuantizeOptions(position_grid="mesh")) > 1e-6


def test_positions_are_integers_with_dequantization_in_the_node(tmp_path: Path) -> None:
    """A mesh around its own origin is stored as signed integers and dequantized by a pure scale:
    the node's translation stays as it was."""
    doc = read(models.textured_box(tmp_path / "box.glb"))
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    source = position.data / np.float32(7)  # a seventh: on no round lattice
    position.data = source
    quantize(doc, QuantizeOptions(position_bits=10))
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    assert position.data.dtype == np.int16 and not position.normalized
    assert position.data.max() - position.data.min() in (1023, 1024)
    node = doc.nodes[0]
    step = node["scale"][0]
    assert node["scale"] == pytest.approx([1 / 7 / 1023] * 3, rel=1e-6)
    assert not np.any(node.get("translation", [0, 0, 0]))
    assert np.abs(position.data * step - source).max() <= step / 2 * 1.0001
    assert node["extras"] == {"sku": "BOX-1"}


def test_positions_far_from_their_origin_use_the_lowest_corner(tmp_path: Path) -> None:
    doc = read(models.textured_box(tmp_path / "box.glb"))
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    source = position.data / np.float32(7) + np.float32(1000)
    position.data = source
    quantize(doc, QuantizeOptions(position_bits=10))
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    assert position.data.dtype == np.uint16 and not position.normalized
    assert position.data.min() == 0
    node = doc.nodes[0]
    assert node["translation"] == pytest.approx([float(source.min())] * 3, abs=1e-5)
    # Near 1000 float32 values are 2^-14 apart, so the grid may be a coarser power of two.
    step = node["scale"][0]
    assert 1 / 7 / 1024 <= step <= 1 / 7 / 128
    assert np.abs(node["translation"] + position.data * step - source).max() <= 1 / 7 / 1023 / 2


def test_positions_on_a_round_lattice_keep_it(tmp_path: Path) -> None:
    """Coordinates an exporter wrote on a round step are stored on that step: exact, in fewer
    levels (a unit box needs one bit per axis, stored as bytes)."""
    doc = read(models.textured_box(tmp_path / "box.glb"))
    report = quantize(doc)
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    assert position.data.dtype == np.uint8 and sorted(np.unique(position.data)) == [0, 1]
    assert doc.nodes[0]["scale"] == [1.0, 1.0, 1.0]
    assert doc.nodes[0]["translation"] == [-0.5, -0.5, -0.5]
    assert report["fidelity"]["position_error"] == 0
    # A lattice through the mesh's origin needs no shift at all.
    doc = read(models.textured_box(tmp_path / "box.glb"))
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    position.data = position.data * np.float32(4) + np.float32(2)  # corners 0 and 4
    quantize(doc)
    position = doc.meshes[0]["primitives"][0]["attributes"]["POSITION"]
    assert position.data.dtype == np.uint8 and sorted(np.unique(position.data)) == [0, 1]
    assert doc.nodes[0]["scale"] == [4.0, 4.0, 4.0]
    assert not np.any(doc.nodes[0].get("translation", [0, 0, 0]))


def test_decimal_lattice_with_morph_deltas(tmp_path: Path) -> None:
    """Horse's vertices and morph deltas are multiples of 0.1: stored in steps of 0.1, off by no
    more than float32 rounding, where a 14-bit grid would move them by up to half its step."""
    rng = np.random.default_rng(7)
    doc = read(models.morph_cube(tmp_path / "morph.glb"))
    prim = doc.meshes[0]["primitives"][0]
    base = (rng.integers(-1500, 1500, (len(prim["attributes"]["POSITION"].data), 3)) / 10).astype(np.float32)
    delta = (rng.integers(-300, 300, base.shape) / 10).astype(np.float32)
    prim["attributes"]["POSITION"].data = base
    prim["targets"][0]["POSITION"].data = delta
    prim["targets"][1]["POSITION"].data = delta[::-1].copy()
    report = quantize(doc)
    step = doc.nodes[0]["scale"][0]
    assert step == pytest.approx(0.1, rel=1e-6)
    assert report["fidelity"]["position_error"] < 1e-7
    stored = prim["targets"][0]["POSITION"]
    assert stored.data.dtype == np.int16 and np.abs(stored.data * step - delta).max() < 1e-4
    # Off the lattice by more than a sixteenth of the 14-bit step: the ordinary grid.
    doc = read(models.morph_cube(tmp_path / "morph.glb"))
    prim = doc.meshes[0]["primitives"][0]
    prim["attributes"]["POSITION"].data = base + rng.normal(0, 0.01, base.shape).astype(np.float32)
    quantize(doc)
    assert doc.nodes[0]["scale"][0] < 0.1 / 4


def test_eight_bit_positions(tmp_path: Path) -> None:
    doc = read(models.hierarchy_reused(tmp_path / "h.glb"))
    before = read(tmp_path / "h.glb")
    quantize(doc, QuantizeOptions(position_bits=8))
    assert doc.meshes[0]["primitives"][0]["attributes"]["POSITION"].data.dtype == np.uint8
    assert geometry_deviation(before, doc, 8) <= 1.0


def test_animated_node_and_node_with_children_get_a_child(
    fixture_results: tuple[dict[str, Result], dict],
) -> None:
    results, _errors = fixture_results
    after = results["transform_cases.glb"].after
    by_name = {n.get("name"): n for n in after.nodes}
    for name, mesh in (
        ("Animated", "Tiled"),
        ("Volume", "Volume"),
        ("Blend", "Blend"),
        ("Spinner", "Volume"),
    ):
        node = by_name[name]
        assert "mesh" not in node
        child = node["children"][-1]
        assert child["mesh"]["name"] == mesh and "name" not in child
    blend_child = by_name["Blend"]["children"][-1]
    assert blend_child["weights"] == [0.5] and "weights" not in by_name["Blend"]
    channel_targets = [c["target"]["node"] for c in after.animations[0]["channels"]]
    assert channel_targets == [by_name["Animated"], blend_child, by_name["Spinner"]]
    assert by_name["Animated"]["translation"] == [3, 0, 0]
    # The node with a matrix takes D into its matrix; the instanced node keeps its own transform.
    assert "children" not in by_name["Plain"] and len(by_name["Plain"]["matrix"]) == 16
    assert "translation" not in by_name["Crowd"] and "scale" not in by_name["Crowd"]


def test_morph_deltas_share_the_step(fixture_results: tuple[dict[str, Result], dict]) -> None:
    results, _errors = fixture_results
    after = results["morph_cube.glb"].after
    prim = after.meshes[0]["primitives"][0]
    # The cube's corners (+-0.5) and deltas (0.5 and +-0.15) all sit on a 0.05 lattice.
    assert prim["attributes"]["POSITION"].data.dtype == np.int8
    grow, twist = (t["POSITION"] for t in prim["targets"])
    assert grow.data.dtype == np.int8 and not grow.normalized
    assert twist.data.dtype == np.int8
    step = after.nodes[0]["scale"][0]
    assert step == pytest.approx(0.05, rel=1e-6)
    assert grow.data[:, 1].max() * step == pytest.approx(0.5, rel=1e-6)
    assert prim["targets"][0]["NORMAL"].data.dtype == np.int8


def test_skin_shared_by_meshes_on_different_grids_is_copied(tmp_path: Path) -> None:
    path = quantize_models.shared_skin(tmp_path / "skin.glb")
    before = read(path)
    doc = read(path)
    report = quantize(doc, QuantizeOptions(position_grid="mesh"))
    assert report["skins copied"] == 1
    small, large = (n for n in doc.nodes if "skin" in n)
    assert small["skin"] is not large["skin"]
    assert small["skin"]["joints"] == large["skin"]["joints"]
    # The large cylinder is 12 tall: its grid step is 12 / 16383, and no joint stretches.
    assert geometry_deviation_mesh_grid(before, doc) < 12 / 16383
    # On the scene grid one skin serves both.
    doc = read(path)
    assert "skins copied" not in quantize(doc)
    assert len({id(n["skin"]) for n in doc.nodes if "skin" in n}) == 1


def geometry_deviation_mesh_grid(before: Document, after: Document) -> float:
    """Largest world-space distance (absolute) between the original and output skinned positions."""
    worst = 0.0
    for a, b in zip(instances(before), instances(after), strict=True):
        for (_m, want), (_n, got) in zip(a.world(), b.world(a), strict=True):
            worst = max(worst, float(np.linalg.norm(got - want, axis=1).max()))
    return worst


def test_volume_thickness_follows_the_step(fixture_results: tuple[dict[str, Result], dict]) -> None:
    results, _errors = fixture_results
    after = results["transform_cases.glb"].after
    volume_mesh = next(m for m in after.meshes if m["name"] == "Volume")
    child = next(n for n in after.nodes if n.get("mesh") is volume_mesh)
    thickness = volume_mesh["primitives"][0]["material"]["extensions"]["KHR_materials_volume"][
        "thicknessFactor"
    ]
    assert thickness * child["scale"][0] == pytest.approx(0.25, rel=1e-6)


# -- Texture coordinates -----------------------------------------------------------------------------------


def test_shared_material_gets_one_range_composed_with_its_transform(
    fixture_results: tuple[dict[str, Result], dict],
) -> None:
    results, _errors = fixture_results
    result = results["transform_cases.glb"]
    tiled = next(m for m in result.after.meshes if m["name"] == "Tiled")
    first, second = tiled["primitives"]
    assert first["material"] is second["material"]
    uvs = [prim["attributes"]["TEXCOORD_0"] for prim in (first, second)]
    assert all(uv.data.dtype == np.uint16 and uv.normalized for uv in uvs)
    # [-1.5, pi] at the transform's scale 2 covers 9.3 texture repeats: 12 bits per repeat need 16.
    assert max(uv.data.max() for uv in uvs) == (1 << 16) - 1 and min(uv.data.min() for uv in uvs) == 0
    info = first["material"]["pbrMetallicRoughness"]["baseColorTexture"]
    transform = info["extensions"]["KHR_texture_transform"]
    assert transform["rotation"] == 0.7
    assert "KHR_texture_transform" in json.loads(_json_chunk(result.output))["extensionsRequired"]
    assert uv_deviation(result.before, result.after, DEFAULTS.texcoord_bits) <= 1.0


def _json_chunk(path: Path) -> bytes:
    data = path.read_bytes()
    length = int.from_bytes(data[12:16], "little")
    return data[20 : 20 + length]


def test_texture_transform_composition_handles_rotation() -> None:
    from glbcompress.engine.passes.quantize import _compose_texture_transform

    rng = np.random.default_rng(5)
    stored = rng.random((50, 2))
    lo, scale = np.array([-1.5, 0.25]), np.array([4.0, 0.5])
    original = {"offset": [0.1, 0.2], "rotation": 0.7, "scale": [2.0, 0.5]}
    info: dict = {"extensions": {"KHR_texture_transform": dict(original)}}
    _compose_texture_transform(info, lo, scale)
    composed = _apply_texture_transform(stored, info["extensions"]["KHR_texture_transform"])
    expected = _apply_texture_transform(stored * scale + lo, original)
    assert np.abs(composed - expected).max() < 1e-6


def test_unsampled_texcoords_in_unit_square_need_no_transform(tmp_path: Path) -> None:
    doc = read(models.hierarchy_reused(tmp_path / "h.glb"))
    quantize(doc)
    uv = doc.meshes[0]["primitives"][0]["attributes"]["TEXCOORD_0"]
    assert uv.data.dtype == np.uint16 and uv.normalized
    assert "KHR_texture_transform" not in doc.root.get("extensionsUsed", [])
    assert "KHR_texture_transform" not in json.dumps(doc.materials)


# -- Other attributes ------------------------------------------------------------------------------------


def test_weights_sum_exactly_to_one(fixture_results: tuple[dict[str, Result], dict]) -> None:
    results, _errors = fixture_results
    for name in ("skinned_rig.glb", "shared_skin.glb"):
        result = results[name]
        for _mesh, prim in result.after.primitives():
            sets = [a for s, a in prim["attributes"].items() if s.startswith("WEIGHTS_")]
            assert all(a.data.dtype == np.uint8 and a.normalized for a in sets)
            assert (sum(a.data.astype(np.int64).sum(axis=1) for a in sets) == 255).all()
        for before, after in zip(instances(result.before), instances(result.after), strict=True):
            assert after.weights is not None and before.weights is not None
            assert np.abs(after.weights - before.weights).max() <= 1 / 255
            # Joints whose weight rounded to zero point at joint 0, as the validator asks.
            assert not ((after.weights == 0) & (after.joints != 0)).any()


def test_weight_rounding_keeps_sum_and_zeros() -> None:
    rng = np.random.default_rng(11)
    weights = rng.random((10000, 8)) ** 4
    weights[:, 5:] = 0
    weights[:10] = 0
    for dtype in (np.dtype(np.uint8), np.dtype(np.uint16)):
        stored = qz.unit_sum(weights, dtype)
        top = np.iinfo(dtype).max
        assert (stored[10:].astype(np.int64).sum(axis=1) == top).all()
        assert not stored[:10].any() and not stored[:, 5:].any()
        normalized = weights[10:] / weights[10:].sum(axis=1, keepdims=True)
        assert np.abs(stored[10:] / top - normalized).max() < 1 / top


@pytest.mark.parametrize("bits", [4, 8, 10, 16])
def test_unit_vectors_stay_unit_length(bits: int) -> None:
    vectors = np.random.default_rng(bits).normal(size=(200000, 3))
    vectors[0] = 0
    dtype = qz.storage(bits, signed=True)
    stored = qz.unit_vectors(vectors, bits, dtype)
    length = np.linalg.norm(qz.decode(stored), axis=1)
    assert not stored[0].any()
    assert np.abs(length[1:] - 1).max() <= qz.UNIT_TOLERANCE
    if bits >= 8:
        unit = vectors[1:] / np.linalg.norm(vectors[1:], axis=1, keepdims=True)
        cosine = np.einsum("nd,nd->n", unit, qz.decode(stored[1:])) / length[1:]
        assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).max() < 180 / (1 << (bits - 1))


def test_normals_tangents_colors_and_joints(fixture_results: tuple[dict[str, Result], dict]) -> None:
    results, _errors = fixture_results
    tiled = next(m for m in results["transform_cases.glb"].after.meshes if m["name"] == "Tiled")
    attrs = tiled["primitives"][0]["attributes"]
    assert attrs["NORMAL"].data.dtype == np.int8 and attrs["NORMAL"].normalized
    tangent = attrs["TANGENT"]
    assert tangent.data.dtype == np.int8 and set(np.unique(tangent.data[:, 3])) == {-127, 127}
    for _mesh, prim in results["shared_skin.glb"].after.primitives():
        assert prim["attributes"]["JOINTS_0"].data.dtype == np.uint8  # uint16 in the source


def test_colors_become_unorm8(tmp_path: Path) -> None:
    source = CORPUS / "public" / "VertexColorTest" / "VertexColorTest.gltf"
    if not source.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    doc = read(source)
    quantize(doc)
    colors = [p["attributes"]["COLOR_0"] for _m, p in doc.primitives() if "COLOR_0" in p["attributes"]]
    assert colors and all(c.data.dtype == np.uint8 and c.normalized for c in colors)


# -- Sharing, determinism, options -------------------------------------------------------------------------


def test_shared_accessor_is_converted_once(tmp_path: Path) -> None:
    doc = read(quantize_models.shared_skin(tmp_path / "skin.glb"))
    quantize(doc)
    small, large = (m["primitives"][0]["attributes"]["NORMAL"] for m in doc.meshes)
    assert small is large and small.data.dtype == np.int8
    assert sum(1 for a in doc.accessors if a is small) == 1


def test_accessor_used_elsewhere_keeps_its_original(tmp_path: Path) -> None:
    doc = read(models.skinned_rig(tmp_path / "rig.glb"))
    prim = doc.meshes[0]["primitives"][0]
    normal = prim["attributes"]["NORMAL"]
    doc.meshes.append(
        {"primitives": [{"attributes": {"POSITION": prim["attributes"]["POSITION"], "_DIR": normal}}]}
    )
    quantize(doc)
    assert prim["attributes"]["NORMAL"].data.dtype == np.int8
    assert doc.meshes[1]["primitives"][0]["attributes"]["_DIR"] is normal
    assert normal.data.dtype == np.float32 and normal in doc.accessors


def test_running_twice_changes_nothing_more(tmp_path: Path) -> None:
    path = quantize_models.transform_cases(tmp_path / "cases.glb")
    doc = read(path)
    quantize(doc)
    write_glb(doc, tmp_path / "once.glb")
    again = read(tmp_path / "once.glb")
    report = quantize(again)
    assert "nodes added" not in report and "texture transforms" not in report
    assert report.get("fidelity", {}).get("position_error", 0) == 0


def test_output_is_deterministic(tmp_path: Path) -> None:
    path = quantize_models.transform_cases(tmp_path / "cases.glb")
    outputs = []
    for i in range(2):
        doc = read(path)
        quantize(doc)
        outputs.append(write_glb(doc, tmp_path / f"out{i}.glb").bytes_written)
    assert (tmp_path / "out0.glb").read_bytes() == (tmp_path / "out1.glb").read_bytes()


def test_options_and_presets() -> None:
    entries = {e["name"]: e for e in schema()}
    assert entries["position_grid"]["choices"] == ["scene", "mesh"]
    assert entries["position_bits"]["default"] == 14 and entries["position_bits"]["help"]
    assert resolve("lossless").quantize is None
    assert resolve("balanced").quantize == DEFAULTS
    assert resolve("balanced", {"position_bits": 12}).quantize == replace(DEFAULTS, position_bits=12)


def test_large_translation_keeps_its_precision(tmp_path: Path) -> None:
    """A georeferenced offset needs more digits than float32 has; the grid's precision is kept."""
    path = models.textured_box(tmp_path / "box.glb")
    before = read(path)
    before.nodes[0]["translation"] = [6378137.123456, -12.5, 3.25]
    doc = read(path)
    doc.nodes[0]["translation"] = list(before.nodes[0]["translation"])
    quantize(doc)
    assert doc.nodes[0]["translation"][0] != float(np.float32(6378137.123456 - 0.5))
    (want,), (got,) = instances(before), instances(doc)
    assert np.abs(got.world()[0][1] - want.world()[0][1]).max() < 1 / 16383


def test_weights_pointer_moves_with_the_mesh(tmp_path: Path) -> None:
    doc = read(quantize_models.transform_cases(tmp_path / "cases.glb"))
    blend = next(n for n in doc.nodes if n.get("name") == "Blend")
    sampler = doc.animations[0]["samplers"][1]
    pointer = Pointer(blend, "nodes", "/weights")
    channel = {
        "sampler": sampler,
        "target": {"path": "pointer", "extensions": {"KHR_animation_pointer": {"pointer": pointer}}},
    }
    doc.animations[0]["channels"].append(channel)
    quantize(doc)
    assert pointer.target is blend["children"][-1] and pointer.target["mesh"]["name"] == "Blend"


def test_material_variants_share_one_range(tmp_path: Path) -> None:
    path = models.textured_box(tmp_path / "box.glb")
    doc = read(path)
    prim = doc.meshes[0]["primitives"][0]
    variant = {"pbrMetallicRoughness": {"baseColorTexture": {"index": doc.textures[0]}}}
    doc.materials.append(variant)
    prim["extensions"] = {"KHR_materials_variants": {"mappings": [{"material": variant, "variants": [0]}]}}
    quantize(doc)
    transforms = [
        m["pbrMetallicRoughness"]["baseColorTexture"]["extensions"]["KHR_texture_transform"]
        for m in doc.materials
    ]
    assert transforms[0] == transforms[1]
    uv = prim["attributes"]["TEXCOORD_0"]
    decoded = _apply_texture_transform(uv.floats().astype(np.float64), transforms[1])
    assert (
        np.abs(decoded - read(path).meshes[0]["primitives"][0]["attributes"]["TEXCOORD_0"].floats()).max()
        < 1e-3
    )


def test_small_mesh_in_a_large_scene_is_named_in_a_warning(tmp_path: Path) -> None:
    doc = read(quantize_models.adjacent_meshes(tmp_path / "adjacent.glb"))
    right = doc.meshes[1]["primitives"][0]["attributes"]["POSITION"]
    right.data = right.data * 5000
    report = quantize(doc)
    assert any("Left" in w and "position_grid='mesh'" in w for w in report["warnings"])
    doc = read(tmp_path / "adjacent.glb")
    assert "warnings" not in quantize(doc)


def test_a_mesh_its_node_scales_up_gets_a_grid_of_its_own(tmp_path: Path) -> None:
    """A button modelled 1/125 of its size and scaled up by its node: on the body's grid its rim
    would move by 2% of its radius (a 48-gon drawn as a dozen-sided one, 0.001 as drawn); on its
    own grid no vertex of either mesh moves by more than the body's own step would allow."""
    path = quantize_models.magnified_part(tmp_path / "magnified.glb")
    doc = read(path)
    report = quantize(doc)
    assert "warnings" not in report
    step = 0.4 / ((1 << DEFAULTS.position_bits) - 1)
    assert max_deviation(drawn_points(doc), drawn_points(read(path))) <= step
    alone = read(path)
    alone.nodes[1]["scale"] = [1.0, 1.0, 1.0]  # small as drawn too: one grid for both, as before
    report = quantize(alone)
    assert any("Button" in w for w in report["warnings"])
    assert alone.nodes[1]["scale"][0] == alone.nodes[0]["scale"][0]


def test_a_texcoord_attribute_without_a_set_number_is_left_alone(tmp_path: Path) -> None:
    doc = read(models.textured_box(tmp_path / "box.glb"))
    attributes = doc.meshes[0]["primitives"][0]["attributes"]
    attributes["TEXCOORD_x"] = attributes.pop("TEXCOORD_0")
    quantize(doc)  # no set any textureInfo could name: nothing to group it with


def test_morph_deltas_beyond_float32_on_the_grid_are_an_invalid_model(tmp_path: Path) -> None:
    import copy

    from glbcompress.engine.errors import InvalidModel

    doc = read(quantize_models.adjacent_meshes(tmp_path / "adjacent.glb"))
    prim = doc.meshes[0]["primitives"][0]
    target = copy.copy(prim["attributes"]["POSITION"])
    target.data = np.full_like(target.data, 3e38)
    prim["targets"] = [{"POSITION": target}]
    with pytest.raises(InvalidModel, match="morph target"):
        quantize(doc)


def test_too_little_vertex_data_to_pay_for_the_extension_stays_float(tmp_path: Path) -> None:
    """One quad's positions (48 bytes) cannot save the 90 bytes of declaring KHR_mesh_quantization:
    the pass leaves them as floats and the file is smaller for it; a 3x3 grid (192 bytes) pays."""
    tiny = read(models.quad(tmp_path / "tiny.glb"))
    report = quantize(tiny, DEFAULTS)
    assert "skipped" in report and not report.get("accessors quantized")
    floats = write_glb(tiny, tmp_path / "tiny.out.glb")
    assert "extensionsUsed" not in floats.json
    quantized = read(models.quad(tmp_path / "tiny.glb"))
    quantized.root["extensionsUsed"] = ["KHR_mesh_quantization"]  # declared anyway: no cost to pay
    assert quantize(quantized, DEFAULTS).get("accessors quantized")
    forced = write_glb(quantized, tmp_path / "forced.glb")
    assert (tmp_path / "tiny.out.glb").stat().st_size < (tmp_path / "forced.glb").stat().st_size
    assert forced.json["extensionsUsed"] == ["KHR_mesh_quantization"]
    grid = read(models.quad(tmp_path / "grid.glb", side=3))
    assert quantize(grid, DEFAULTS).get("accessors quantized")
    no_meshes = read(models.quad(tmp_path / "none.glb"))
    no_meshes.meshes.clear()
    assert quantize(no_meshes, DEFAULTS) == {}  # nothing to quantize is not a skip
    if have_validator():
        assert validate(tmp_path / "tiny.out.glb")[0]["errors"] == 0
