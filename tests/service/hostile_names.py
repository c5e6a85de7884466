"""Hostile user text for the escaping tests: names that run script if any page or script inserts
them as markup, and a real GLB whose node, mesh and material names are such text."""

from __future__ import annotations

import json
import struct
from pathlib import Path

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
QUOTES = 'it\'s "quoted" & <b>bold</b>'
IMAGE = f"<img src=x onerror=alert(5)> {QUOTES}"
# File names lose everything up to the last "/", so theirs carry no closing tags.
FILENAME = "\"><img src=x onerror=alert(3)><svg onload=alert(4)> it's.glb"
KEY_NAME = f"{SCRIPT}{IMG}"[:100]
MARKERS = ("<script>alert", "<img src=x", "<svg onload", "<b>bold</b>")
"""Markup that must never reach a page unescaped."""


def with_hostile_names(source: Path, target: Path) -> Path:
    """A copy of a GLB whose scene, node, mesh, material, texture and image names are hostile."""
    data = source.read_bytes()
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_len])
    rest = data[20 + json_len :]
    for kind, text in (
        ("scenes", SCRIPT),
        ("nodes", IMG),
        ("meshes", QUOTES),
        ("materials", SCRIPT + IMG),
        ("textures", IMG),
        ("images", IMAGE),
    ):
        for i, item in enumerate(doc.get(kind, [])):
            item["name"] = f"{text} {i}"
    chunk = json.dumps(doc).encode()
    chunk += b" " * (-len(chunk) % 4)
    body = struct.pack("<II", len(chunk), 0x4E4F534A) + chunk + rest
    target.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return target
