"""Data-URI attacks: payloads of any size (a bound checked before decoding), malformed base64,
percent-encoded payloads, URIs without a comma, images in data URIs that are not images."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from glbcompress.engine.limits import Limits
from tests.hostile.support import outcome, record_bounded, run_bounded


def gltf_with_buffer(path: Path, uri: str, byte_length: int) -> Path:
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": byte_length, "uri": uri}],
        "bufferViews": [{"buffer": 0, "byteLength": 12}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1, "type": "VEC3"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 0}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
    }
    path.write_text(json.dumps(gltf))
    return path


def b64(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("uri", "length"),
    [
        ("data:application/octet-stream;base64,AAAA!!!!AAAA", 12),
        ("data:application/octet-stream;base64,AAAAA", 3),
        ("data:application/octet-stream;base64,====", 0),
        ("data:application/octet-stream;base64," + "\u00e9" * 16, 12),
        ("data:application/octet-stream;base64", 12),
        ("data:", 12),
        ("data:application/octet-stream;base64,AAAA", 12),
        (b64(b"\0" * 12)[:-4], 12),
    ],
)
def test_malformed_base64_is_refused(tmp_path: Path, uri: str, length: int) -> None:
    result = outcome(gltf_with_buffer(tmp_path / "m.gltf", uri, length))
    assert result.kind == "invalid-model", (uri, result)
    if "base64," in uri and len(uri) > 40:
        assert "base64" in result.message or "declares" in result.message, result


def test_valid_data_uris_of_several_forms_are_read(tmp_path: Path) -> None:
    zeros = b"\0" * 12
    for uri in (b64(zeros), "data:;base64," + base64.b64encode(zeros).decode(), "data:," + "%00" * 12):
        assert outcome(gltf_with_buffer(tmp_path / "m.gltf", uri, 12)).ok, uri


def test_data_uri_size_is_checked_before_decoding(tmp_path: Path) -> None:
    case = gltf_with_buffer(tmp_path / "m.gltf", b64(b"\0" * 4096), 4096)
    result = outcome(case, limits=Limits(max_data_uri_bytes=1024))
    assert result.kind == "limit-exceeded" and "data URI" in result.message, result


def test_a_huge_data_uri_is_bounded(tmp_path: Path) -> None:
    """A 48 MB base64 payload (36 MB decoded) that the model then misdeclares: refused in bounded
    memory (the JSON text, its parsed string and the decoded bytes, each once or twice)."""
    payload = "A" * (48 * 1024**2)
    case = tmp_path / "huge.gltf"
    case.write_text(
        '{"asset":{"version":"2.0"},"buffers":[{"byteLength":1,"uri":"data:application/octet-stream;base64,'
        + payload
        + '"}],"bufferViews":[{"buffer":0,"byteLength":12}]}'
    )
    bounded = run_bounded(case, memory_bytes=512 * 1024**2)
    record_bounded("data URIs", "48 MB base64 payload", bounded)
    assert bounded.outcome.kind == "invalid-model", bounded


@pytest.mark.parametrize(
    "uri",
    [
        "data:image/png;base64,AAAA",
        "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode(),
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff" + b"\0" * 40).decode(),
        "data:image/png;base64,not base64 at all",
    ],
)
def test_data_uri_images_that_are_not_images(tmp_path: Path, uri: str) -> None:
    gltf = {
        "asset": {"version": "2.0"},
        "images": [{"uri": uri}],
        "textures": [{"source": 0}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
    }
    case = tmp_path / "img.gltf"
    case.write_text(json.dumps(gltf))
    for options in ({"texture_format": "keep"}, {"texture_format": "webp"}):
        result = outcome(case, options)
        assert result.ok or result.kind == "invalid-model", (uri, options, result)
