"""Reader and writer: every accessor form, external files, compressed inputs, hostile input."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.document import Accessor
from glbcompress.engine.errors import EngineError, InvalidModel, LimitExceeded, UnsupportedModel
from glbcompress.engine.limits import Limits
from glbcompress.engine.reader import read
from glbcompress.engine.writer import write_glb
from tests.fixtures import models
from tests.tools import CORPUS, validate


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return models.generate_all(tmp_path_factory.mktemp("fixtures"))


def test_reads_interleaved_external_percent_encoded(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["interleaved.gltf"])
    prim = doc.meshes[0]["primitives"][0]
    pos, _nrm, uv, idx = models.box_geometry()
    np.testing.assert_array_equal(prim["attributes"]["POSITION"].data, pos)
    uv_acc = prim["attributes"]["TEXCOORD_0"]
    assert uv_acc.normalized and uv_acc.data.dtype == np.uint16
    np.testing.assert_allclose(uv_acc.floats(), uv, atol=1 / 65535)
    np.testing.assert_array_equal(prim["indices"].data[:, 0], idx)


def test_sparse_accessors_are_applied(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["sparse_accessor.glb"])
    prim = doc.meshes[0]["primitives"][0]
    pos = prim["attributes"]["POSITION"].data
    assert pos[[5, 6, 9], 2].tolist() == [1.0, 1.0, 1.0]
    assert pos[[0, 1, 15], 2].tolist() == [0.0, 0.0, 0.0]
    target = prim["targets"][0]["POSITION"]
    assert target.sparse and target.data[[0, 15], 2].tolist() == [0.5, 0.5]
    assert np.count_nonzero(target.data) == 2


def test_references_become_objects(fixtures: dict[str, Path]) -> None:
    doc = read(fixtures["skinned_rig.glb"])
    skin = doc.skins[0]
    assert skin["joints"][0] is doc.nodes[0] and skin["skeleton"] is doc.nodes[0]
    assert isinstance(skin["inverseBindMatrices"], Accessor)
    channel = doc.animations[0]["channels"][0]
    assert channel["sampler"] is doc.animations[0]["samplers"][0]
    assert channel["target"]["node"] is doc.nodes[1]
    assert doc.nodes[2]["mesh"] is doc.meshes[0]


def test_mat4_and_matrix_padding_round_trip(tmp_path: Path) -> None:
    from glbcompress.engine import accessors as acc

    for dtype, ctype in ((np.uint8, 5121), (np.int16, 5122), (np.float32, 5126)):
        for type_ in ("MAT2", "MAT3", "MAT4"):
            n = int(type_[3]) ** 2
            data = (np.arange(5 * n) % 100).astype(dtype).reshape(5, n)
            raw = acc.encode(data, type_)
            assert len(raw) == 5 * acc.element_size(type_, data.dtype.itemsize)
            back = acc.decode(raw, 0, 5, type_, ctype, None, "test")
            np.testing.assert_array_equal(back, data)


def test_strided_decode_with_offset() -> None:
    from glbcompress.engine import accessors as acc

    rows = np.zeros((4, 5), np.float32)
    rows[:, 1:4] = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = acc.decode(rows.tobytes(), 4, 4, "VEC3", 5126, 20, "test")
    np.testing.assert_array_equal(out, np.arange(12, dtype=np.float32).reshape(4, 3))
    with pytest.raises(InvalidModel, match="need"):
        acc.decode(rows.tobytes(), 12, 4, "VEC3", 5126, 20, "test")


@pytest.mark.parametrize("name", list(models.ALL))
def test_round_trip_is_valid_and_equal(fixtures: dict[str, Path], tmp_path: Path, name: str) -> None:
    doc = read(fixtures[name])
    out = tmp_path / "out.glb"
    write_glb(doc, out)
    again = read(out)
    assert len(again.meshes) <= len(doc.meshes)
    for (_m1, p1), (_m2, p2) in zip(doc.primitives(), again.primitives(), strict=False):
        for semantic, a in p1["attributes"].items():
            np.testing.assert_array_equal(p2["attributes"][semantic].data, a.data)
    before, after = validate(fixtures[name], out)
    assert after["errors"] == 0, after["messages"][:5]
    assert after["warnings"] <= before["warnings"]


def _glb(gltf: dict, binary: bytes = b"") -> bytes:
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def test_truncation_at_every_chunk_boundary(fixtures: dict[str, Path], tmp_path: Path) -> None:
    data = fixtures["textured_box.glb"].read_bytes()
    json_len = struct.unpack_from("<I", data, 12)[0]
    cuts = {
        0,
        4,
        11,
        12,
        16,
        19,
        20,
        20 + json_len - 1,
        20 + json_len,
        20 + json_len + 4,
        20 + json_len + 8,
        len(data) - 1,
    }
    for cut in sorted(cuts):
        path = tmp_path / f"cut{cut}.glb"
        path.write_bytes(data[:cut])
        with pytest.raises(InvalidModel):
            read(path)


def test_lying_lengths(tmp_path: Path) -> None:
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": 1 << 40}],
        "bufferViews": [{"buffer": 0, "byteLength": 16}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1000, "type": "VEC3"}],
    }
    path = tmp_path / "lie.glb"
    path.write_bytes(_glb(gltf, b"\0" * 16))
    with pytest.raises(InvalidModel, match="declares"):
        read(path)
    gltf["buffers"][0]["byteLength"] = 16
    path.write_bytes(_glb(gltf, b"\0" * 16))
    with pytest.raises(InvalidModel, match="1000 elements"):
        read(path)


def test_huge_counts_are_bounded(tmp_path: Path) -> None:
    gltf = {
        "asset": {"version": "2.0"},
        "accessors": [{"componentType": 5126, "count": 1 << 29, "type": "MAT4"}],
    }
    path = tmp_path / "huge.gltf"
    path.write_text(json.dumps(gltf))
    with pytest.raises(LimitExceeded):
        read(path, Limits(max_decoded_bytes=1 << 30))


def test_deep_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.gltf"
    path.write_text('{"asset":{"version":"2.0"},"extras":' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(LimitExceeded, match="nested"):
        read(path)


def test_nan_and_non_json_constants(tmp_path: Path) -> None:
    path = tmp_path / "nan.gltf"
    path.write_text('{"asset":{"version":"2.0"},"nodes":[{"translation":[NaN,0,0]}]}')
    with pytest.raises(InvalidModel, match="NaN"):
        read(path)


@pytest.mark.parametrize(
    "uri",
    [
        "../secret.bin",
        "/etc/passwd",
        "file:///etc/passwd",
        "http://127.0.0.1/x.bin",
        "C:/x.bin",
        "%2e%2e/secret.bin",
        "sub/../../secret.bin",
    ],
)
def test_uris_outside_the_model_folder_are_refused(tmp_path: Path, uri: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    (folder / "m.gltf").write_text(
        json.dumps({"asset": {"version": "2.0"}, "buffers": [{"byteLength": 64, "uri": uri}]})
    )
    with pytest.raises(UnsupportedModel):
        read(folder / "m.gltf")


def test_symlink_out_of_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    (folder / "link.bin").symlink_to(tmp_path / "secret.bin")
    (folder / "m.gltf").write_text(
        json.dumps({"asset": {"version": "2.0"}, "buffers": [{"byteLength": 64, "uri": "link.bin"}]})
    )
    with pytest.raises(UnsupportedModel, match="outside"):
        read(folder / "m.gltf")


def test_data_uri_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.gltf"
    payload = "A" * 4000
    path.write_text(
        json.dumps(
            {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 3000, "uri": "data:;base64," + payload}]}
        )
    )
    with pytest.raises(LimitExceeded):
        read(path, Limits(max_data_uri_bytes=1000))
    assert read(path) is not None


def test_unknown_required_extension_is_named(tmp_path: Path) -> None:
    path = tmp_path / "ext.gltf"
    path.write_text(
        json.dumps(
            {
                "asset": {"version": "2.0"},
                "extensionsUsed": ["VENDOR_magic"],
                "extensionsRequired": ["VENDOR_magic"],
            }
        )
    )
    with pytest.raises(UnsupportedModel, match="VENDOR_magic"):
        read(path)


def test_bad_references_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "ref.gltf"
    path.write_text(
        json.dumps({"asset": {"version": "2.0"}, "nodes": [{"mesh": 3}], "scenes": [{"nodes": [0]}]})
    )
    with pytest.raises(InvalidModel, match=r"nodes\[0\] refers to mesh 3"):
        read(path)


def test_corpus_invalid_files_give_typed_errors() -> None:
    folder = CORPUS / "invalid"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the shared corpus is not on this machine)")
    for case in sorted(folder.iterdir()):
        model = next(p for p in sorted(case.iterdir()) if p.suffix in (".glb", ".gltf"))
        with pytest.raises(EngineError) as info:
            read(model)
        assert info.value.message and "\n" not in info.value.message, case.name


COMPRESSED_INPUTS = {
    "Pirate": ("EXT_meshopt_compression", 5010),
    "BoxTexturedDraco": ("KHR_draco_mesh_compression", 12),
    "Parrot": ("KHR_draco_mesh_compression", 626),
}


@pytest.mark.parametrize("name", list(COMPRESSED_INPUTS))
def test_compressed_inputs_are_decoded(name: str, tmp_path: Path) -> None:
    folder = CORPUS / "public" / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the shared corpus is not on this machine)")
    from glbcompress.engine.report import scene_stats

    model = next(p for p in sorted(folder.iterdir()) if p.suffix in (".glb", ".gltf"))
    doc = read(model)
    extension, triangles = COMPRESSED_INPUTS[name]
    assert extension not in doc.extensions_used
    assert scene_stats(doc).triangles == triangles
    out = tmp_path / "plain.glb"
    write_glb(doc, out)
    report = validate(out)[0]
    assert report["errors"] == 0, report["messages"][:5]


def test_reads_gltfpack_output(fixtures: dict[str, Path], tmp_path: Path) -> None:
    """gltfpack writes meshopt streams, quantized attributes and an empty fallback buffer."""
    import subprocess

    from tests.tools import NODE_DIR, need_validator

    need_validator()
    gltfpack = NODE_DIR / "node_modules" / ".bin" / "gltfpack"
    out = tmp_path / "packed.glb"
    subprocess.run(
        [str(gltfpack), "-cc", "-i", str(fixtures["skinned_rig.glb"]), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    doc = read(out)
    assert "EXT_meshopt_compression" not in doc.extensions_used
    source = read(fixtures["skinned_rig.glb"])
    assert doc.accessors and len(doc.animations) == len(source.animations)
    again = tmp_path / "again.glb"
    write_glb(doc, again)
    assert validate(again)[0]["errors"] == 0
