"""Resolving the URIs of a .gltf safely.

A URI is either a data URI (decoded with a size bound) or a relative reference to a file inside the
model's own folder. Everything else -- schemes such as http: or file:, absolute paths, drive letters,
`..` that climbs out, symlinks that lead out -- is refused before anything is opened.
"""

from __future__ import annotations

import base64
import binascii
import mmap
import os
import re
from pathlib import Path
from urllib.parse import unquote

from .errors import InvalidModel, LimitExceeded, UnsupportedModel
from .limits import Limits

SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
DRIVE_RE = re.compile(r"^[A-Za-z]:([\\/]|$)")
"""A Windows drive letter (C:/, c:\\): an absolute path, not a one-letter URI scheme."""


def read_data_uri(uri: str, limits: Limits, where: str) -> tuple[bytes, str]:
    """(bytes, media type) of a data: URI."""
    comma = uri.find(",", 5)
    if comma < 0:
        raise InvalidModel(f"{where}: malformed data URI (no comma).")
    header = uri[5:comma]
    media_type = header.split(";")[0] or "text/plain"
    # base64 is 4 characters per 3 bytes: refuse before decoding (or even copying) anything too large.
    if (len(uri) - comma - 1) * 3 // 4 > limits.max_data_uri_bytes:
        raise LimitExceeded(f"{where}: its data URI holds more than {limits.max_data_uri_bytes:,} bytes.")
    payload = uri[comma + 1 :]
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True), media_type
        except (binascii.Error, ValueError):
            # Line breaks and spaces are tolerated (some writers wrap base64); anything else is not.
            try:
                return base64.b64decode("".join(payload.split()), validate=True), media_type
            except (binascii.Error, ValueError) as exc:
                raise InvalidModel(f"{where}: its data URI is not valid base64.") from exc
    return unquote(payload).encode("latin-1", "replace"), media_type


def resolve_path(uri: str, base: Path, where: str) -> Path:
    """The file a relative URI names, guaranteed to be inside base (the model's folder)."""
    if DRIVE_RE.match(uri):
        raise UnsupportedModel(
            f"{where}: absolute path '{uri}' is not allowed; only files next to the model."
        )
    if SCHEME_RE.match(uri):
        scheme = uri.split(":", 1)[0].lower()
        raise UnsupportedModel(
            f"{where}: URI scheme '{scheme}:' is not allowed; only files next to the model."
        )
    if "?" in uri or "#" in uri:
        uri = re.split(r"[?#]", uri, maxsplit=1)[0]
    name = unquote(uri)
    if not name or "\x00" in name:
        raise InvalidModel(f"{where}: empty or malformed URI.")
    if name.startswith(("/", "\\")) or DRIVE_RE.match(name):
        raise UnsupportedModel(
            f"{where}: absolute path '{name}' is not allowed; only files next to the model."
        )
    base_real = Path(os.path.realpath(base))
    target = Path(os.path.realpath(base_real / name.replace("\\", "/")))
    if target != base_real and base_real not in target.parents:
        raise UnsupportedModel(f"{where}: '{name}' points outside the model's folder.")
    if not target.is_file():
        raise InvalidModel(f"{where}: file '{name}' is missing (upload it together with the .gltf).")
    return target


def map_file(path: Path) -> memoryview:
    """A read-only view of a file's bytes, memory-mapped when it is not empty."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return memoryview(b"")
        return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
