"""GLB container attacks: truncation at every chunk boundary and at random offsets, headers and
chunk lengths that lie, chunks out of order, doubled, unknown or empty."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from tests.hostile.support import (
    BIN_CHUNK,
    JSON_CHUNK,
    chunk,
    header,
    outcome,
    record_bounded,
    run_bounded,
    split_glb,
)


def boundaries(data: bytes) -> list[int]:
    """Offsets where a header or chunk begins or ends, and one byte either side of each."""
    marks = {0, 4, 8, 12}
    offset = 12
    while offset + 8 <= len(data):
        length = struct.unpack_from("<I", data, offset)[0]
        marks |= {offset, offset + 4, offset + 8, offset + 8 + length}
        offset += 8 + length
    return sorted({m + d for m in marks for d in (-1, 0, 1) if 0 <= m + d < len(data)})


def test_truncation_at_every_chunk_boundary_and_random_offsets(glbs: dict[str, Path], tmp_path: Path) -> None:
    rng = random.Random(11)
    tried = 0
    for name, path in glbs.items():
        data = path.read_bytes()
        cuts = set(boundaries(data)) | {rng.randrange(len(data)) for _ in range(12)}
        for cut in sorted(cuts):
            case = tmp_path / f"{name}-{cut}.glb"
            case.write_bytes(data[:cut])
            result = outcome(case)
            assert not result.ok, f"{name} cut at {cut} of {len(data)} bytes was accepted"
            assert result.kind == "invalid-model", (name, cut, result)
            tried += 1
    assert tried > 100


def lies(data: bytes) -> dict[str, bytes]:
    gltf_length = struct.unpack_from("<I", data, 12)[0]
    json_body = data[20 : 20 + gltf_length]
    bin_body = data[20 + gltf_length + 8 :]
    good_json, good_bin = chunk(JSON_CHUNK, json_body), chunk(BIN_CHUNK, bin_body)
    total = 12 + len(good_json) + len(good_bin)
    return {
        "total longer than file": header(total + 4) + good_json + good_bin,
        "total shorter than chunks": header(total - 8) + good_json + good_bin,
        "total zero": header(0) + good_json + good_bin,
        "total 4 GiB": header(0xFFFFFFFF) + good_json + good_bin,
        "json length 4 GiB": header(total) + chunk(JSON_CHUNK, json_body, 0xFFFFFFF0) + good_bin,
        "json length zero": header(total) + chunk(JSON_CHUNK, json_body, 0) + good_bin,
        "json length short": header(total) + chunk(JSON_CHUNK, json_body, len(json_body) - 5) + good_bin,
        "json length unaligned": header(total) + chunk(JSON_CHUNK, json_body, len(json_body) + 1) + good_bin,
        "bin length 4 GiB": header(total) + good_json + chunk(BIN_CHUNK, bin_body, 0xFFFFFFF0),
        "bin length short": header(total) + good_json + chunk(BIN_CHUNK, bin_body, len(bin_body) // 2),
        "bin length zero": header(total) + good_json + chunk(BIN_CHUNK, bin_body, 0),
        "bin before json": header(total) + good_bin + good_json,
        "two json chunks": header(total + len(good_json)) + good_json + good_json + good_bin,
        "two bin chunks": header(total + len(good_bin)) + good_json + good_bin + good_bin,
        "no json chunk": header(12 + len(good_bin)) + good_bin,
        "unknown chunk type first": header(total) + struct.pack("<II", gltf_length, 0x1234) + data[20:],
        "json chunk of binary": header(total) + chunk(JSON_CHUNK, bytes(range(256)) * 4) + good_bin,
        "json chunk not utf-8": header(total) + chunk(JSON_CHUNK, b'{"asset":"\xff\xfe"}') + good_bin,
        "version 1": header(total, version=1) + good_json + good_bin,
        "version 3": header(total, version=3) + good_json + good_bin,
        "magic only": b"glTF",
        "header only": header(12),
    }


@pytest.mark.parametrize("model", ["textured_box.glb", "meshopt_rig.glb", "draco_box.glb"])
def test_lying_headers_and_chunk_lengths(glbs: dict[str, Path], tmp_path: Path, model: str) -> None:
    for name, data in lies(glbs[model].read_bytes()).items():
        case = tmp_path / "case.glb"
        case.write_bytes(data)
        result = outcome(case)
        assert not result.ok, f"{model}: '{name}' was accepted"
        assert result.kind in ("invalid-model", "unsupported-model"), (name, result)


def test_lying_chunk_over_a_big_file_is_bounded(tmp_path: Path) -> None:
    """A 64 MB BIN chunk whose JSON chunk claims 4 GiB: refused without reading it all in."""
    gltf = b'{"asset":{"version":"2.0"},"buffers":[{"byteLength":67108864}]}'
    body = chunk(JSON_CHUNK, gltf, 0xFFFFFFF0) + chunk(BIN_CHUNK, b"\0" * 64 * 1024**2)
    case = tmp_path / "big-lie.glb"
    case.write_bytes(header(12 + len(body)) + body)
    bounded = run_bounded(case, memory_bytes=256 * 1024**2)
    record_bounded("GLB chunk lengths that lie", "64 MB BIN, JSON chunk claims 4 GiB", bounded)
    assert bounded.outcome.kind == "invalid-model", bounded


def test_split_glb_round_trips(glbs: dict[str, Path]) -> None:
    gltf, binary = split_glb(glbs["textured_box.glb"].read_bytes())
    assert gltf["asset"]["version"] == "2.0" and len(binary) > 0
