"""meshopt: filters chosen per accessor, data replaced by exactly what a decoder yields, values
within the filters' precision, lossless without filters, and output that gltf-transform decodes
and the validator accepts."""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import meshopt as mo
import numpy as np
import pytest

from glbcompress.engine.document import Accessor, Document
from glbcompress.engine.options import Options
from glbcompress.engine.passes.animation import AnimationOptions, animation
from glbcompress.engine.passes.meshopt import DEFAULTS, MeshoptOptions, meshopt
from glbcompress.engine.pipeline import optimize
from glbcompress.engine.presets import resolve
from glbcompress.engine.reader import read
from glbcompress.engine.writer import WriteOptions, write_glb
from tests.fixtures import animation_models, models
from tests.tools import CORPUS, decoded_copy, new_errors, validate

CORPUS_MODELS = {
    "Fox": "Fox/Fox.glb",
    "AnisotropyBarnLamp": "AnisotropyBarnLamp/AnisotropyBarnLamp.gltf",
    "MorphStressTest": "MorphStressTest/MorphStressTest.gltf",
    "InterpolationTest": "InterpolationTest/InterpolationTest.gltf",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("meshopt")


def _decoded_copies(files: list[Path], folder: Path) -> list[Path]:
    """gltf-transform copies of the files, run side by side (each is a node process)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda f: decoded_copy(f, folder / f"{f.stem}.decoded.glb"), files))


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])


def _normals(doc: Document) -> list[tuple[str, Accessor]]:
    return [
        (semantic, a)
        for _mesh, prim in doc.primitives()
        for semantic, a in prim["attributes"].items()
        if semantic in ("NORMAL", "TANGENT")
    ]


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=1), -1, 1)))


def _quat_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=1)), 0, 1)))


def assert_decodes_to_data(a: Accessor) -> None:
    """The stored filtered rows, compressed and decoded by meshopt, are exactly `data`."""
    count, stride = a.filtered.shape
    stream = mo.encode_gltf_buffer(a.filtered, "ATTRIBUTES")
    decoded = mo.decode_gltf_buffer(stream, count, stride, "ATTRIBUTES", a.meshopt_filter)
    width = a.data.shape[1]
    assert np.array_equal(decoded.view(a.data.dtype)[:, :width], a.data)


def test_normals_and_tangents_octahedral(folder: Path) -> None:
    src = animation_models.quantized_normals(folder / "normals.glb")
    before, doc = read(src), read(src)
    changes = meshopt(doc)
    assert changes["normal accessors filtered"] == 3
    morph = doc.meshes[0]["primitives"][0]["targets"][0]["NORMAL"]
    assert morph.meshopt_filter is None, "morph normal deltas are not unit vectors"
    for (semantic, old), (_s, new) in zip(_normals(before), _normals(doc), strict=True):
        assert new.meshopt_filter == "OCTAHEDRAL" and new.normalized
        assert new.data.dtype == old.data.dtype and new.data.shape == old.data.shape
        assert new.filtered.shape == (new.count, 4 if new.data.dtype == np.int8 else 8)
        assert_decodes_to_data(new)
        # 8-bit octahedral is as precise as 8-bit xyz; 16-bit storage of 10-bit values gets 10 bits.
        limit = 0.9 if new.data.dtype == np.int8 else 0.25
        assert _angles(old.floats()[:, :3], new.floats()[:, :3]).max() < limit
        if semantic == "TANGENT":
            assert np.array_equal(np.sign(new.data[:, 3]), np.sign(old.data[:, 3])), "handedness kept"
    assert 0 < changes["fidelity"]["meshopt normal error (degrees)"] < 0.9


def test_animation_rotations_and_translations(folder: Path) -> None:
    src = animation_models.clips(folder / "clips.glb")
    doc = read(src)
    animation(doc, AnimationOptions(resample=False, quantize_rotations=False))
    before = {
        id(s): (c["target"]["path"], s.get("interpolation", "LINEAR"), s["output"].floats().copy())
        for a in doc.animations
        for c in a["channels"]
        for s in [c["sampler"]]
    }
    changes = meshopt(doc)
    assert changes["rotation accessors filtered"] >= 2 and changes["translation accessors filtered"] >= 2
    for anim in doc.animations:
        for sampler in anim["samplers"]:
            path, interpolation, old = before[id(sampler)]
            out = sampler["output"]
            if path == "rotation" and interpolation != "CUBICSPLINE":
                assert out.meshopt_filter == "QUATERNION"
                assert out.data.dtype == np.int16 and out.normalized and out.filtered.shape[1] == 8
                assert _quat_angles(old, out.floats()).max() < 0.05, "12 bits: a few hundredths of a degree"
            elif path == "rotation":
                assert out.meshopt_filter is None, "cubic-spline tangents are not unit quaternions"
            if out.meshopt_filter == "EXPONENTIAL":
                assert out.data.dtype == np.float32
                assert np.abs(out.data - old).max() <= np.abs(old).max() * 2.0**-15
            if out.meshopt_filter:
                assert_decodes_to_data(out)


def test_bits_follow_the_options(folder: Path) -> None:
    src = models.skinned_rig(folder / "rig.glb")
    errors = {}
    for bits in (8, 12, 16):
        doc = read(src)
        errors[bits] = meshopt(doc, replace(DEFAULTS, rotation_bits=bits))["fidelity"][
            "meshopt rotation error (degrees)"
        ]
    assert errors[8] > errors[12] > errors[16]


def test_filters_off_is_lossless(folder: Path) -> None:
    srcs = [
        animation_models.quantized_normals(folder / "normals.glb"),
        models.skinned_rig(folder / "rig.glb"),
    ]
    for src in srcs:
        doc = read(src)
        assert meshopt(doc, MeshoptOptions(filters=False)) == {}
        assert all(a.meshopt_filter is None for a in doc.accessors)
        out = folder / f"{src.stem}.lossless.glb"
        write_glb(doc, out, WriteOptions(meshopt=True))
        assert_same_arrays(read(out), read(src))


def test_written_file_decodes_to_what_the_pass_promised(folder: Path) -> None:
    """Our reader and gltf-transform both decode the written file to exactly the pass's data, and
    the validator finds nothing new in the file or its decoded copy."""
    sources = [
        animation_models.quantized_normals(folder / "normals.glb"),
        animation_models.clips(folder / "clips.glb"),
    ]
    outputs, docs = [], []
    for src in sources:
        doc = read(src)
        animation(doc)
        meshopt(doc)
        out = folder / f"{src.stem}.meshopt.glb"
        write_glb(doc, out, WriteOptions(meshopt=True))
        gltf = _glb_json(out)
        assert "EXT_meshopt_compression" in gltf["extensionsRequired"]
        assert any(
            b.get("extensions", {}).get("EXT_meshopt_compression", {}).get("fallback")
            for b in gltf["buffers"]
        )
        outputs.append(out)
        docs.append(doc)
    decoded = _decoded_copies(outputs, folder)
    for doc, out, plain in zip(docs, outputs, decoded, strict=True):
        assert_same_arrays(read(out), doc)
        assert_same_arrays(read(plain), doc, lsb=1)
    reports = validate(*sources, *outputs, *decoded)
    n = len(sources)
    for i in range(n):
        for report in (reports[n + i], reports[2 * n + i]):
            assert not report.get("fatal") and new_errors(reports[i], report) == {}, report["messages"][:3]


def _arrays(doc: Document) -> list[tuple[str, Accessor]]:
    """Every vertex attribute and animation output, in document order."""
    out = []
    for _mesh, prim in doc.primitives():
        out.extend(sorted(prim["attributes"].items()))
    for anim in doc.animations:
        out.extend(("output", sampler["output"]) for sampler in anim["samplers"])
    return out


def assert_same_arrays(got: Document, want: Document, lsb: int = 0) -> None:
    """Equal vertex attributes and animation outputs. lsb=1 allows what decoders of other
    meshoptimizer versions differ by: one unit in the last place of filtered integer data (the
    JavaScript decoder in gltf-transform rounds a few octahedral values the other way)."""
    pairs = list(zip(_arrays(got), _arrays(want), strict=True))
    for (name, a), (other, b) in pairs:
        assert name == other and a.data.dtype == b.data.dtype and a.data.shape == b.data.shape, (name, other)
        if lsb and b.meshopt_filter in ("OCTAHEDRAL", "QUATERNION"):
            assert np.abs(a.data.astype(np.int32) - b.data).max() <= lsb, name
        else:
            assert np.array_equal(a.data, b.data), name


def test_tiny_streams_are_stored_plain(folder: Path) -> None:
    """A stream meshopt cannot shrink by more than its JSON costs is written as it is (decoded)."""
    src = models.skinned_rig(folder / "rig.glb")
    doc = read(src)
    animation(doc)
    meshopt(doc)
    out = folder / "rig.meshopt.glb"
    write_glb(doc, out, WriteOptions(meshopt=True))
    gltf = _glb_json(out)
    plain = [v for v in gltf["bufferViews"] if "extensions" not in v and v.get("buffer") == 0]
    assert plain, "the rig's keyframe streams are a few dozen bytes"
    assert_same_arrays(read(out), doc)


# -- corpus -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Document, Path, Path]]:
    """Each model through the balanced pipeline, written with meshopt and decoded by gltf-transform."""
    if not (CORPUS / "public").is_dir():
        pytest.skip(f"{CORPUS / 'public'} is absent (the shared corpus is not on this machine)")
    folder = tmp_path_factory.mktemp("meshopt-corpus")
    options: Options = resolve("balanced")
    runs = {}
    for name, rel in CORPUS_MODELS.items():
        src = CORPUS / "public" / rel
        doc = read(src)
        optimize(doc, options)
        out = folder / f"{name}.glb"
        write_glb(doc, out, WriteOptions(meshopt=True))
        runs[name] = (src, doc, out)
    decoded = _decoded_copies([out for _src, _doc, out in runs.values()], folder)
    return {name: (*run, plain) for (name, run), plain in zip(runs.items(), decoded, strict=True)}


@pytest.fixture(scope="module")
def corpus_reports(corpus_runs: dict) -> dict[str, list[dict]]:
    files = [p for src, _doc, out, dec in corpus_runs.values() for p in (src, out, dec)]
    reports = validate(*files)
    return {name: reports[3 * i : 3 * i + 3] for i, name in enumerate(corpus_runs)}


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(CORPUS_MODELS))
def test_corpus_decodes_and_validates(name: str, corpus_runs: dict, corpus_reports: dict) -> None:
    _src, doc, _out, plain = corpus_runs[name]
    source, written, decoded = corpus_reports[name]
    assert new_errors(source, written) == {} and new_errors(source, decoded) == {}, decoded["messages"][:3]
    assert_same_arrays(read(plain), doc, lsb=1)
    assert any(a.meshopt_filter for a in doc.accessors)
    for a in doc.accessors:
        if a.meshopt_filter:
            assert_decodes_to_data(a)
