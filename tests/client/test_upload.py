"""The SDK's upload bodies: multipart as a real parser (python-multipart, the server's) reads it,
with the exact Content-Length promised, a .gltf's files found from its URIs, files streamed in
chunks, and files the SDK must not send refused before any request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_multipart.multipart import MultipartParser

from glbcompress.client import LocalFileError
from glbcompress.client.upload import CHUNK_BYTES, prepare


def parse(body_bytes: bytes, boundary: str) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """Fields and (filename, bytes) of each file part, as the server's parser sees them."""
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    state: dict[str, object] = {}

    def on_part_begin() -> None:
        state.update(headers=[], data=bytearray(), field=b"", value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = state["field"] + data[start:end]  # type: ignore[operator]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = state["value"] + data[start:end]  # type: ignore[operator]

    def on_header_end() -> None:
        state["headers"].append((state["field"], state["value"]))  # type: ignore[union-attr]
        state.update(field=b"", value=b"")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].extend(data[start:end])  # type: ignore[union-attr]

    def on_part_end() -> None:
        from python_multipart.multipart import parse_options_header

        disposition = dict(state["headers"])[b"Content-Disposition"]  # type: ignore[arg-type]
        _, options = parse_options_header(disposition)
        if b"filename" in options:
            files.append((options[b"filename"].decode(), bytes(state["data"])))  # type: ignore[arg-type]
        else:
            fields[options[b"name"].decode()] = bytes(state["data"]).decode()  # type: ignore[arg-type]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body_bytes)
    parser.finalize()
    return fields, files


def test_one_file_with_fields_and_progress(tmp_path: Path) -> None:
    model = tmp_path / 'odd "name".glb'
    payload = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)
    model.write_bytes(payload)
    body = prepare(model, {"preset": "max", "options": '{"draco":true}'})
    sent: list[tuple[int, int]] = []
    chunks = list(body.chunks(lambda done, total: sent.append((done, total))))
    data = b"".join(chunks)
    assert len(data) == body.length
    assert max(len(chunk) for chunk in chunks) <= CHUNK_BYTES  # streamed, not read whole
    assert sent[-1] == (body.length, body.length) and len(sent) >= 4
    assert [done for done, _ in sent] == sorted(done for done, _ in sent)
    fields, files = parse(data, body.boundary)
    assert fields == {"preset": "max", "options": '{"draco":true}'}
    assert files == [("odd %22name%22.glb", payload)]
    assert body.file_bytes == len(payload)
    assert b"".join(body.chunks()) == data  # sent again (a retry): the same bytes


def test_a_gltf_goes_with_the_files_it_refers_to(tmp_path: Path) -> None:
    (tmp_path / "textures").mkdir()
    (tmp_path / "scene.bin").write_bytes(b"\x01" * 40)
    (tmp_path / "textures" / "wood grain.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "unrelated.txt").write_text("not sent")
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [
            {"uri": "scene.bin", "byteLength": 40},
            {"uri": "data:application/octet-stream;base64,AAAA"},
        ],
        "images": [{"uri": "textures/wood%20grain.png"}, {"uri": "./scene.bin"}, {"bufferView": 0}],
    }
    (tmp_path / "scene.gltf").write_text(json.dumps(gltf))
    body = prepare(tmp_path / "scene.gltf")
    _, files = parse(b"".join(body.chunks()), body.boundary)
    assert [name for name, _ in files] == ["scene.gltf", "scene.bin", "textures/wood grain.png"]
    assert files[2][1] == b"\x89PNG fake"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("../secret.bin", "outside its folder"),
        ("/etc/passwd", "not a file beside it"),
        ("file:///etc/passwd", "not a file beside it"),
        ("https://example.com/a.bin", "not a file beside it"),
        ("missing.bin", "no such file"),
    ],
)
def test_files_that_must_not_or_cannot_be_sent_are_refused(tmp_path: Path, uri: str, message: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"secret")
    gltf = folder / "scene.gltf"
    gltf.write_text(json.dumps({"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 6}]}))
    with pytest.raises(LocalFileError, match=message):
        prepare(gltf)


def test_missing_input_and_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="no such file"):
        prepare(tmp_path / "nope.glb")
    with pytest.raises(LocalFileError, match="not a file"):
        prepare(tmp_path)


def test_a_file_that_shrinks_while_sent_is_an_error(tmp_path: Path) -> None:
    model = tmp_path / "m.glb"
    model.write_bytes(b"x" * 1000)
    body = prepare(model)
    model.write_bytes(b"x" * 10)
    with pytest.raises(LocalFileError, match="got shorter"):
        b"".join(body.chunks())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    name=st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"/'), min_size=1, max_size=30
    ).filter(lambda n: n.strip(". ") == n and n not in (".", "..")),
)
def test_fields_and_file_names_reach_the_servers_parser_unchanged(
    tmp_path: Path, value: str, name: str
) -> None:
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    try:
        model = folder / (name + ".glb")
        model.write_bytes(b"glTF")
    except OSError:
        return  # a name this file system refuses (too long in bytes)
    body = prepare(model, {"options": value, "preset": "max"})
    fields, files = parse(b"".join(body.chunks()), body.boundary)
    assert fields == {"options": value, "preset": "max"}
    assert files == [(name + ".glb", b"glTF")]
    model.unlink()
