"""The Compress page and the browser's job endpoints behind it.

    GET  /compress                 the page: drop zone, preset, Advanced panel, result cards
    POST /jobs?name=&preset=&options=   the model as the raw request body (streamed into storage);
                                   answers 201 with the job as JSON
    GET  /jobs/{id}                the job as JSON (the page polls it for progress)
    GET  /jobs/{id}/download       the compressed GLB, as an attachment

The endpoints use the browser session (the REST API with keys is /v1). Uploads are sent by the
page's script with the CSRF token in an ``X-CSRF-Token`` header; refusals are problem+json with a
``detail`` written for the user, which the page shows as it is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..auth import csrf
from ..context import services
from ..db import JobSource, User, utcnow
from ..jobs.manager import UPLOAD_SUFFIXES, clean_filename, has_result, unsupported_kind
from ..storage import MissingBlob
from . import vendor
from .figures import format_size, job_view
from .history import key_labels
from .options_panel import panel
from .pages import CurrentUser, current_user, render

log = logging.getLogger("glbcompress.web")
router = APIRouter(include_in_schema=False)

VIEWER_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'; worker-src 'self' blob:; "
    "connect-src 'self' blob: data:; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The Compress page's policy: the site-wide one, plus what the 3D preview's decoders need, all from
our own origin: WebAssembly (Draco, Meshopt, Basis), their workers (started from blob: URLs our
scripts make) and reading the user's dropped files through blob: URLs.

'unsafe-eval' is for the KTX2 (Basis) transcoder: its Emscripten bindings build their call
wrappers with ``new Function``, inside a blob: worker that inherits this policy. Scripts still come
from our origin only (no inline script), and no script of ours evaluates text; only this page has it."""

CSRF_HEADER = "x-csrf-token"
MAX_OPTIONS_CHARS = 8192


def problem(status: int, title: str, detail: str, kind: str) -> JSONResponse:
    body = {"type": f"urn:glbcompress:problem:{kind}", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def session_user(request: Request) -> User:
    """For the page's scripts: the logged-in user, or a 401 problem (never a redirect to HTML)."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "Your session has ended. Log in again, then retry.")
    return user


SessionUser = Annotated[User, Depends(session_user)]


def _retention(hours: float) -> str:
    if hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


@router.get("/compress")
def compress_page(request: Request, user: CurrentUser) -> Response:
    settings = services(request).settings
    context = {
        "title": "Compress",
        "panel": panel(),
        "max_upload_bytes": settings.max_upload_bytes,
        "max_upload": format_size(settings.max_upload_bytes),
        "retention": _retention(settings.retention_hours),
        "suffixes": UPLOAD_SUFFIXES,
        "preview": vendor.installed(),
    }
    return render(
        request, "compress.html", context, active="compress", headers={"Content-Security-Policy": VIEWER_CSP}
    )


def _parse_options(text: str) -> dict[str, Any]:
    if not text:
        return {}
    if len(text) > MAX_OPTIONS_CHARS:
        raise ValueError("The options are too long.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("The options are not valid JSON.") from None
    if not isinstance(value, dict):
        raise ValueError("The options must be a JSON object of option names and values.")
    return value


def unsupported_type(filename: str) -> str | None:
    """Why a file of this name cannot be compressed, or None."""
    kind = unsupported_kind(filename)
    if kind is None:
        return None
    return (
        f"“{filename}” is {kind}. Upload a .glb, a .gltf (a .gltf with separate files: drop them "
        "together, or a .zip of its folder) or a .zip."
    )


@router.post("/jobs")
async def upload(
    request: Request, user: SessionUser, name: str = "", preset: str = "", options: str = ""
) -> Response:
    s = services(request)
    if not csrf.valid(request, s.settings, request.headers.get(CSRF_HEADER)):
        return problem(403, "Page expired", csrf.FAILED, "csrf")
    filename = clean_filename(name)
    refusal = unsupported_type(filename)
    if refusal:
        return problem(415, "Unsupported file type", refusal, "unsupported-file-type")
    if request.headers.get("content-length") == "0":
        return problem(400, "Empty file", f"“{filename}” is empty.", "invalid-model")
    try:
        overrides = _parse_options(options)
    except ValueError as exc:
        return problem(400, "Invalid options", str(exc), "invalid-options")
    from glbcompress.engine.errors import InvalidOptions

    try:
        job = await s.jobs.submit_upload(
            request,
            user_id=user.id,
            source=JobSource.DASHBOARD,
            filename=filename,
            preset=preset or None,
            options=overrides,
        )
    except InvalidOptions as exc:
        return problem(400, "Invalid options", exc.message, "invalid-options")
    return JSONResponse(job_view(job), status_code=201, headers={"Location": f"/jobs/{job.id}"})


def _own_job(request: Request, user: User, job_id: str) -> Any:
    job = services(request).jobs.get(job_id, user.id) if len(job_id) <= 64 else None
    if job is None:
        raise HTTPException(404, "There is no such job in your account (it may have been deleted).")
    return job


@router.get("/jobs/{job_id}")
def job_status(request: Request, user: SessionUser, job_id: str) -> Response:
    job = _own_job(request, user, job_id)
    names = key_labels(services(request).db, user.id)
    return JSONResponse(job_view(job, names), headers={"Cache-Control": "no-store"})


def download_name(filename: str) -> str:
    stem = PurePath(filename).stem or "model"
    return f"{stem}-compressed.glb"


def content_disposition(filename: str) -> str:
    """An attachment header any browser reads: an ASCII fallback and the exact UTF-8 name."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/jobs/{job_id}/download")
async def download(request: Request, user: CurrentUser, job_id: str) -> Response:
    s = services(request)
    job = _own_job(request, user, job_id)
    if not has_result(job):
        if job.finished and job.expires_at is not None and job.expires_at <= utcnow():
            raise HTTPException(410, "This result has expired and was deleted. Compress the model again.")
        if job.purged_at is not None:
            raise HTTPException(410, "This result was deleted. Compress the model again.")
        raise HTTPException(409, "This job has no result to download (it has not finished, or it failed).")
    try:
        size = s.storage.size(job.output_key)
        stream = await run_in_threadpool(s.storage.open, job.output_key)
    except MissingBlob:
        raise HTTPException(410, "This result is no longer stored. Compress the model again.") from None

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    headers = {
        "Content-Disposition": content_disposition(download_name(job.filename)),
        "Content-Length": str(size),
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(chunks(), media_type="model/gltf-binary", headers=headers)
