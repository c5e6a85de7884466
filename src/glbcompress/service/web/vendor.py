"""three.js for the dashboard's 3D preview, served by us from the npm package that ``scripts/setup``
installs into ``web/frontend/node_modules`` (``npm ci``; pinned by its package-lock.json). Nothing
is fetched from a CDN.

    /vendor/three/build/three.module.js
    /vendor/three/examples/jsm/loaders/GLTFLoader.js      (and the rest of examples/jsm)
    /vendor/three/examples/jsm/libs/draco/gltf/draco_decoder.wasm

Browsers resolve bare module names (``import ... from "three"``) only through an import map, which
would be an inline script, so the addons' imports of ``"three"`` and ``"three/addons/..."`` are
rewritten here to these absolute paths as the files are served. Only the library's module build
and its examples/jsm folder are reachable, and only .js and .wasm files in them.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

FRONTEND = Path(__file__).parent / "frontend"
THREE = FRONTEND / "node_modules" / "three"
PREFIX = "/vendor/three"
ALLOWED = ("build/three.module.js", "build/three.core.js", "examples/jsm/")
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm"}
BARE = re.compile(rb"""(from\s*|import\s*\(?\s*)(["'])three(/addons/[^"']*)?\2""")

router = APIRouter(include_in_schema=False)


def installed() -> bool:
    return (THREE / "build" / "three.module.js").is_file()


def _rewrite(match: re.Match[bytes]) -> bytes:
    lead, quote, addon = match.group(1), match.group(2), match.group(3)
    target = (
        f"{PREFIX}/examples/jsm{addon[len('/addons') :].decode()}"
        if addon
        else f"{PREFIX}/build/three.module.js"
    )
    return lead + quote + target.encode() + quote


@lru_cache(maxsize=256)
def _load(relative: str, mtime_ns: int) -> tuple[bytes, str]:
    """The file's bytes as served (bare imports rewritten) and an ETag; cached per file version."""
    body = (THREE / relative).read_bytes()
    if relative.endswith(".js"):
        body = BARE.sub(_rewrite, body)
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _resolve(path: str) -> Path:
    if not any(path == a or (a.endswith("/") and path.startswith(a)) for a in ALLOWED):
        raise HTTPException(404, "Not found")
    target = (THREE / path).resolve()
    if not target.is_relative_to(THREE.resolve()) or target.suffix not in MEDIA_TYPES or not target.is_file():
        raise HTTPException(404, "Not found")
    return target


@router.get(PREFIX + "/{path:path}")
def three_file(path: str, request: Request) -> Response:
    if not installed():
        raise HTTPException(404, "three.js is not installed on this server: run scripts/setup.")
    target = _resolve(path)
    relative = target.relative_to(THREE.resolve()).as_posix()
    body, etag = _load(relative, target.stat().st_mtime_ns)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPES[target.suffix], headers=headers)
