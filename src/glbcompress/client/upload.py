"""The body of an upload: a model file (a .glb, a .zip, or a .gltf with the files it refers to) and
text fields, as ``multipart/form-data`` streamed from disk in chunks — never a whole file in
memory — with its exact length known up front (so it goes with a Content-Length, and a server
can refuse an oversized upload before reading it).

>>> body = prepare(Path("scene.gltf"), {"preset": "max"})
>>> body.files          # [('scene.gltf', ...), ('scene.bin', ...), ('textures/wood.png', ...)]
>>> for chunk in body.chunks(on_sent): ...     # once per attempt: each call reads the files anew

A .gltf's files are found from its ``buffers`` and ``images`` URIs; one that is missing, or that
points outside the .gltf's folder (``../``, an absolute path, ``file:``), is refused here, before
any request, with a message naming it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from .errors import LocalFileError

CHUNK_BYTES = 256 * 1024
MAX_GLTF_JSON_BYTES = 64 * 1024 * 1024
"""A .gltf's JSON is read to find its files; larger ones must come as a .zip of their folder."""
CONTENT_TYPES = {
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".zip": "application/zip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ktx2": "image/ktx2",
    ".avif": "image/avif",
}

OnSent = Callable[[int, int], None]
"""Called as ``on_sent(bytes_sent, bytes_total)`` while the body goes out."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    """The name sent for the file: its path relative to the model's folder, with / separators."""
    path: Path
    size: int


@dataclass(frozen=True)
class Body:
    """A multipart body ready to send, any number of times."""

    boundary: str
    fields: tuple[tuple[str, str], ...]
    files: tuple[FileEntry, ...]
    length: int

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def file_bytes(self) -> int:
        return sum(entry.size for entry in self.files)

    def chunks(self, on_sent: OnSent | None = None) -> Iterator[bytes]:
        """The body's bytes; the files are opened and read as the chunks are taken."""
        sent = 0
        for piece in self._pieces():
            if isinstance(piece, FileEntry):
                for chunk in _read(piece):
                    sent += len(chunk)
                    yield chunk
                    if on_sent:
                        on_sent(sent, self.length)
            else:
                sent += len(piece)
                yield piece
        if on_sent:
            on_sent(sent, self.length)

    def _pieces(self) -> Iterator[bytes | FileEntry]:
        for name, value in self.fields:
            yield _field_head(self.boundary, name) + value.encode() + b"\r\n"
        for entry in self.files:
            yield _file_head(self.boundary, entry)
            yield entry
            yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()


def prepare(path: Path | str, fields: Mapping[str, str] | None = None) -> Body:
    """The body for one model and its text fields (raises LocalFileError)."""
    path = Path(path)
    files = [_entry(path, path.name)]
    if path.suffix.lower() == ".gltf":
        files.extend(_gltf_files(path))
    boundary = "glbcompress-" + secrets.token_hex(16)
    field_items = tuple((name, value) for name, value in (fields or {}).items())
    body = Body(boundary, field_items, tuple(files), 0)
    length = sum(piece.size if isinstance(piece, FileEntry) else len(piece) for piece in body._pieces())
    return Body(boundary, field_items, tuple(files), length)


def _entry(path: Path, name: str) -> FileEntry:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise LocalFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise LocalFileError(f"{path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise LocalFileError(f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise LocalFileError(f"{path}: permission denied")
    return FileEntry(name, path, stat.st_size)


def _gltf_files(gltf: Path) -> list[FileEntry]:
    """The files a .gltf's buffers and images refer to, each named by its path from the .gltf's
    folder."""
    if gltf.stat().st_size > MAX_GLTF_JSON_BYTES:
        raise LocalFileError(
            f"{gltf}: a .gltf larger than {MAX_GLTF_JSON_BYTES // 2**20} MiB is not read to find its "
            "files; send a .zip of its folder, or convert it to .glb"
        )
    try:
        with gltf.open("rb") as f:
            doc = json.load(f)
    except (ValueError, RecursionError):
        return []  # not JSON: sent alone, and the server says what is wrong with it
    folder = gltf.parent.resolve()
    found: dict[str, FileEntry] = {}
    for group in ("buffers", "images"):
        items = doc.get(group) if isinstance(doc, dict) else None
        for item in items if isinstance(items, list) else []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if not isinstance(uri, str) or not uri or uri.startswith("data:"):
                continue
            name = _relative_name(gltf, folder, uri)
            if name.lower() not in found and name.lower() != gltf.name.lower():
                found[name.lower()] = _entry(folder / name, name)
    return list(found.values())


def _relative_name(gltf: Path, folder: Path, uri: str) -> str:
    decoded = unquote(uri)
    pure = PurePosixPath(decoded.replace("\\", "/"))
    scheme = decoded.split("/")[0]
    if ":" in scheme or pure.is_absolute() or decoded.startswith("//"):
        raise LocalFileError(
            f"{gltf}: refers to '{uri}', which is not a file beside it: only relative paths inside "
            "the .gltf's folder are sent"
        )
    target = (folder / pure).resolve()
    try:
        relative = target.relative_to(folder)
    except ValueError:
        raise LocalFileError(
            f"{gltf}: refers to '{uri}', outside its folder: only files inside the .gltf's folder are sent"
        ) from None
    return relative.as_posix()


def _read(entry: FileEntry) -> Iterator[bytes]:
    """The file's bytes, exactly ``entry.size`` of them (the length was promised up front)."""
    remaining = entry.size
    try:
        with entry.path.open("rb") as f:
            while remaining > 0:
                chunk = f.read(min(CHUNK_BYTES, remaining))
                if not chunk:
                    raise LocalFileError(f"{entry.path}: the file got shorter while it was being sent")
                remaining -= len(chunk)
                yield chunk
    except OSError as exc:
        raise LocalFileError(f"{entry.path}: {exc.strerror or exc}") from None


def _quote(value: str) -> str:
    """A name or filename inside a Content-Disposition header (as browsers encode them)."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _field_head(boundary: str, name: str) -> bytes:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()


def _file_head(boundary: str, entry: FileEntry) -> bytes:
    content_type = CONTENT_TYPES.get(Path(entry.name).suffix.lower(), "application/octet-stream")
    return (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{_quote(entry.name)}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
