"""``GET /docs``: the interactive OpenAPI view (Swagger UI) of ``/openapi.json``, served by us from
the npm package ``swagger-ui-dist`` that ``scripts/setup`` installs into ``web/frontend`` — never
from a CDN. The page has no inline script (the site's Content-Security-Policy forbids it): a
small script of ours in ``static/js`` starts Swagger UI.

    /docs                                   the page
    /vendor/swagger-ui/swagger-ui.css       and swagger-ui-bundle.js (nothing else is reachable)
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import HTMLResponse, Response

from ..web.vendor import FRONTEND

SWAGGER = FRONTEND / "node_modules" / "swagger-ui-dist"
PREFIX = "/vendor/swagger-ui"
FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>glbcompress API — interactive reference</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{prefix}/swagger-ui.css">
</head>
<body>
<p><a href="/api-docs">← API docs with examples</a></p>
<div id="swagger-ui" data-spec="/openapi.json"></div>
<script src="{prefix}/swagger-ui-bundle.js"></script>
<script src="/static/js/openapi_view.js"></script>
</body>
</html>
"""
MISSING = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>API reference</title>"
    "<p>The interactive view needs Swagger UI, which is not installed on this server (run "
    "scripts/setup). The schema itself is at <a href='/openapi.json'>/openapi.json</a>.</p></html>"
)

router = APIRouter(include_in_schema=False)


def installed() -> bool:
    return all((SWAGGER / name).is_file() for name in FILES)


@lru_cache(maxsize=8)
def _load(name: str, mtime_ns: int) -> tuple[bytes, str]:
    body = (SWAGGER / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get("/docs")
def openapi_view() -> Response:
    if not installed():
        return HTMLResponse(MISSING, status_code=503)
    return HTMLResponse(PAGE.format(prefix=PREFIX), headers={"Cache-Control": "no-cache"})


@router.get(PREFIX + "/{name}")
def swagger_file(name: str, request: Request) -> Response:
    if name not in FILES or not installed():
        raise HTTPException(404, "Not found")
    path: Path = SWAGGER / name
    body, etag = _load(name, path.stat().st_mtime_ns)
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=FILES[name], headers=headers)
