"""External-URI attacks: a .gltf whose buffers or images point outside its own folder -- `..`,
absolute paths, drive letters, UNC paths, `file:`, `http(s):`, percent-encoded traversal,
backslashes, symlinks that lead out -- is refused before anything is opened or fetched.

"Before anything is opened" is tested, not assumed: the file outside is a FIFO, which blocks
whoever opens it until a writer comes (so opening it would hang the case past its timeout), and
the http(s) address is a listening socket that must see no connection."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.support import outcome, run_bounded


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def layout(tmp_path: Path) -> Path:
    """tmp/outside/secret.bin (a FIFO), tmp/model/ (the upload's folder) with a symlink out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    os.mkfifo(outside / "secret.bin")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "sub").mkdir()
    (folder / "link.bin").symlink_to(outside / "secret.bin")
    (folder / "linkdir").symlink_to(outside, target_is_directory=True)
    (folder / "etc-passwd.bin").symlink_to("/etc/passwd")
    return folder


def uris(tmp_path: Path, port: int) -> list[str]:
    secret = tmp_path / "outside" / "secret.bin"
    return [
        "../outside/secret.bin",
        "sub/../../outside/secret.bin",
        "./../outside/secret.bin",
        str(secret),
        "//127.0.0.1/outside/secret.bin",
        "\\\\127.0.0.1\\share\\secret.bin",
        "C:/outside/secret.bin",
        "c:\\outside\\secret.bin",
        secret.as_uri(),
        "file:../outside/secret.bin",
        "FILE:///etc/passwd",
        f"http://127.0.0.1:{port}/secret.bin",
        f"https://127.0.0.1:{port}/secret.bin",
        f"HtTp://127.0.0.1:{port}/secret.bin",
        "ftp://127.0.0.1/secret.bin",
        "javascript:alert(1)",
        "%2e%2e%2foutside%2fsecret.bin",
        "%2E%2E/outside/secret.bin",
        "..%2Foutside%2Fsecret.bin",
        "..%5Coutside%5Csecret.bin",
        "..\\outside\\secret.bin",
        "sub\\..\\..\\outside\\secret.bin",
        "%252e%252e%252foutside/secret.bin",
        "link.bin",
        "linkdir/secret.bin",
        "etc-passwd.bin",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "secret.bin%00.png",
    ]


def model_with(folder: Path, uri: str, kind: str) -> Path:
    if kind == "buffer":
        gltf = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 12, "uri": uri}]}
    else:
        gltf = {
            "asset": {"version": "2.0"},
            "images": [{"uri": uri, "mimeType": "image/png"}],
            "textures": [{"source": 0}],
            "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        }
    path = folder / "model.gltf"
    path.write_text(json.dumps(gltf))
    return path


@pytest.mark.parametrize("kind", ["buffer", "image"])
def test_uris_leading_out_are_refused_before_opening(
    tmp_path: Path, listener: socket.socket, kind: str
) -> None:
    folder = layout(tmp_path)
    port = listener.getsockname()[1]
    for uri in uris(tmp_path, port):
        bounded = run_bounded(model_with(folder, uri, kind), timeout=20)
        result = bounded.outcome
        assert not result.ok, f"{kind} uri {uri!r} was followed"
        if uri.startswith("%252e"):  # decodes once to "%2e%2e%2f...": a plain (missing) file name
            assert result.kind == "invalid-model" and "missing" in result.message, result
        else:
            assert result.kind in ("unsupported-model", "invalid-model"), (uri, result)
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_refusals_name_the_reason(tmp_path: Path) -> None:
    folder = layout(tmp_path)
    expected = {
        "../outside/secret.bin": "outside the model's folder",
        "link.bin": "outside the model's folder",
        "/etc/passwd": "absolute path",
        "C:/x.bin": "absolute path",
        "http://127.0.0.1/x.bin": "scheme 'http:'",
        "file:///etc/passwd": "scheme 'file:'",
    }
    for uri, words in expected.items():
        result = outcome(model_with(folder, uri, "buffer"))
        assert result.kind == "unsupported-model" and words in result.message, (uri, result)


def test_a_fifo_inside_the_folder_is_not_opened(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    os.mkfifo(folder / "pipe.bin")
    bounded = run_bounded(model_with(folder, "pipe.bin", "buffer"), timeout=20)
    assert bounded.outcome.kind == "invalid-model", bounded


def test_files_inside_the_folder_still_work(tmp_path: Path) -> None:
    """Percent-encoded names, subfolders and symlinks that stay inside are followed."""
    folder = tmp_path / "model"
    (folder / "sub dir").mkdir(parents=True)
    (folder / "sub dir" / "data #1.bin").write_bytes(b"\0" * 12)
    (folder / "alias.bin").symlink_to(folder / "sub dir" / "data #1.bin")
    for uri in ("sub%20dir/data%20%231.bin", "sub dir/../sub dir/data %231.bin", "alias.bin"):
        gltf = {
            "asset": {"version": "2.0"},
            "buffers": [{"byteLength": 12, "uri": uri}],
            "bufferViews": [{"buffer": 0, "byteLength": 12}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1, "type": "VEC3"}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 0}]}],
            "nodes": [{"mesh": 0}],
            "scenes": [{"nodes": [0]}],
        }
        (folder / "m.gltf").write_text(json.dumps(gltf))
        assert outcome(folder / "m.gltf").ok, uri
