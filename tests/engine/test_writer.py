"""The writer's binary layout: which accessors share a bufferView, and the meshopt-or-plain
choice per bufferView made on the real byte counts (the extension's JSON included)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import meshopt
import numpy as np

from glbcompress.engine.api import compress, resolve
from glbcompress.engine.passes.quantize import quantize
from glbcompress.engine.reader import read
from glbcompress.engine.writer import MESHOPT_FILE_JSON, WriteOptions, _Stream, _worth_compressing, write_glb
from tests.fixtures import models
from tests.tools import new_errors, validate


def _json(path: Path) -> dict:
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def _view_sizes(path: Path) -> list[tuple[int, int | None, int]]:
    """(plain bytes, compressed bytes or None, extension JSON bytes) per vertex/index bufferView."""
    gltf = _json(path)
    out = []
    for view in gltf.get("bufferViews", []):
        ext = view.get("extensions", {}).get("EXT_meshopt_compression")
        text = (
            json.dumps({"extensions": {"EXT_meshopt_compression": ext}}, separators=(",", ":")) if ext else ""
        )
        out.append((view["byteLength"], ext["byteLength"] if ext else None, len(text) - 1))
    return out


def test_small_streams_stay_plain_where_that_is_smaller(tmp_path: Path) -> None:
    """The meshopt-or-plain choice counts the extension's JSON: a 24-vertex box stores every
    stream plain (compressed, they would save less than the extension's JSON costs), a skinned
    cylinder compresses the streams that gain from it."""
    box = tmp_path / "box.glb"
    compress(models.textured_box(tmp_path / "in.glb"), box, resolve("balanced"))
    gltf = _json(box)
    assert "EXT_meshopt_compression" not in gltf.get("extensionsUsed", [])
    data = box.read_bytes()
    bin_start = 20 + struct.unpack_from("<I", data, 12)[0] + 8
    encoded = []
    for view in gltf["bufferViews"]:
        if "byteStride" in view:
            raw = data[bin_start + view.get("byteOffset", 0) :][: view["byteLength"]]
            rows = np.frombuffer(raw, np.uint8).reshape(-1, view["byteStride"])
            encoded.append((len(raw), len(meshopt.encode_vertex_buffer_level(rows, 2, 0))))
    # The codec alone would shrink the positions by two thirds; with the extension's JSON it loses.
    assert any(packed < plain / 2 for plain, packed in encoded)
    big = tmp_path / "big.glb"
    write_glb(read(models.skinned_rig(tmp_path / "rig.glb")), big, WriteOptions(meshopt=True))
    sizes = _view_sizes(big)
    assert any(compressed is not None for _plain, compressed, _json in sizes)
    for plain, compressed, extension in sizes:
        if compressed is not None:
            assert compressed + (-compressed % 4) + extension < plain + (-plain % 4)


def test_vertex_streams_of_one_layout_share_a_view(tmp_path: Path) -> None:
    """Quantized UVs, joints and weights all have four-byte rows: one bufferView holds them all,
    and every accessor reads back what was written."""
    doc = read(models.skinned_rig(tmp_path / "rig.glb"))
    quantize(doc)
    out = tmp_path / "rig.out.glb"
    write_glb(doc, out, WriteOptions(meshopt=True))
    gltf = _json(out)
    prim = gltf["meshes"][0]["primitives"][0]["attributes"]
    views = {gltf["accessors"][prim[s]]["bufferView"] for s in ("JOINTS_0", "WEIGHTS_0")}
    assert len(views) == 1
    view = gltf["bufferViews"][views.pop()]
    assert view["byteStride"] == 4
    again = read(out)
    for semantic, a in doc.meshes[0]["primitives"][0]["attributes"].items():
        assert np.array_equal(again.meshes[0]["primitives"][0]["attributes"][semantic].data, a.data), semantic
    reports = validate(models.skinned_rig(tmp_path / "source.glb"), out)
    assert new_errors(reports[0], reports[1]) == {}


def test_the_extension_is_used_only_where_it_pays_for_itself() -> None:
    """Each stream is compressed where that saves more than its extension JSON, and none at all
    when the savings together do not pay for the fallback buffer and the extension's names."""
    rows = np.tile(np.arange(4, dtype=np.uint8), (600, 1))  # 2400 bytes that compress to ~60
    noise = np.random.default_rng(1).integers(0, 256, (600, 4), dtype=np.uint8)

    def stream(data: np.ndarray) -> _Stream:
        encoded = meshopt.encode_vertex_buffer_level(data, 2, 0)
        return _Stream(
            "vertex", 4, None, [], data.tobytes(), (encoded, {"mode": "ATTRIBUTES", "count": len(data)})
        )

    assert _worth_compressing([stream(rows), stream(noise)]) == [True, False]
    small = rows[:64]  # 256 bytes: compressing saves less than the file-wide cost
    assert stream(small).saving(100) > 0
    assert _worth_compressing([stream(small)]) == [False]
    assert stream(small).saving(100) < MESHOPT_FILE_JSON
