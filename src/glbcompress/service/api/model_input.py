"""Turning an API request into a queued job: the model as the raw body or as multipart (one file,
or a .gltf with the files it refers to), the options, and an optional callback URL.

>>> job = await submit(request, caller, UploadParams(preset="max", options='{"draco": true}'))

Raw body: the bytes are the model; ``filename`` (default by Content-Type) says what it is. Query
parameters carry ``preset``, ``options`` (a JSON object of flat option names) and
``callback_url``.

Multipart: the model is the ``file`` part. Several file parts are a .gltf with its files: they
are packed into one zip (stored, not deflated) that the job unpacks safely (``jobs/archive.py``,
which also does this for zip uploads), each file at the path its part's filename gives — or,
when a .gltf refers to ``textures/wood.png`` and only ``wood.png`` was sent, at the path the .gltf
expects. Text fields ``preset``, ``options``, ``callback_url`` work as the query parameters (and
win over them); any other text field is one option (``position_bits=12``, ``draco=true``).

Everything is checked before the job is queued: file types, options (by the engine), the callback
URL. Anything refused raises Problem or an EngineError, and nothing of the upload is kept.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from typing import Any
from urllib.parse import unquote

from anyio import to_thread
from starlette.requests import Request

from ...engine.errors import EngineError
from ..auth.api_keys import Caller
from ..context import services
from ..db import Job, JobSource
from ..jobs.archive import safe_name
from ..jobs.manager import UPLOAD_SUFFIXES, check_options, clean_filename, input_key, unsupported_kind
from ..storage import Blob, Storage
from ..webhooks import deliveries
from ..webhooks.urls import BadCallbackUrl, check_address, check_url
from .multipart import FilePart, MultipartError, receive_multipart
from .problems import of_kind

MAX_OPTIONS_CHARS = 8192
MAX_GLTF_JSON_BYTES = 16 * 1024 * 1024
"""A .gltf larger than this is packed with its files' names as sent (not read to match names)."""
RESERVED_FIELDS = {"preset", "options", "callback_url", "filename"}
DEFAULT_NAMES = {
    "model/gltf+json": "model.gltf",
    "application/zip": "model.zip",
    "application/x-zip-compressed": "model.zip",
}


@dataclass(frozen=True)
class UploadParams:
    """What the query string may say about an upload."""

    preset: str | None = None
    options: str | None = None
    filename: str | None = None
    callback_url: str | None = None


def parse_options(text: str | None) -> dict[str, Any]:
    """The options JSON object (raises Problem invalid-options)."""
    if not text:
        return {}
    if len(text) > MAX_OPTIONS_CHARS:
        raise of_kind("invalid-options", f"The options are longer than {MAX_OPTIONS_CHARS} characters.")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise of_kind("invalid-options", "The options are not valid JSON.") from None
    if not isinstance(value, dict):
        raise of_kind(
            "invalid-options",
            'The options must be a JSON object of option names and values, like {"draco": true}.',
        )
    return value


def field_value(text: str) -> Any:
    """A multipart option field's value: JSON when it parses (12, true, 0.5), else the text."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


def unsupported_type(filename: str) -> str | None:
    kind = unsupported_kind(filename)
    if kind is None:
        return None
    return (
        f"'{filename}' is {kind}. Send a .glb, a .gltf (with its files as more parts, or as a .zip of "
        "its folder) or a .zip; name raw uploads with the filename parameter."
    )


async def checked_callback(request: Request, url: str | None) -> str | None:
    if not url:
        return None
    allow_private = services(request).settings.webhook_allow_private
    try:
        check_url(url)
        await to_thread.run_sync(check_address, url, allow_private)
    except BadCallbackUrl as exc:
        raise of_kind("invalid-callback-url", str(exc)) from None
    return url


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def submit(request: Request, caller: Caller, params: UploadParams) -> Job:
    """A queued job for the request's model, with its webhook recorded (raises Problem,
    EngineError or TooLarge)."""
    if _media_type(request) == "multipart/form-data":
        job = await _submit_multipart(request, caller, params)
    else:
        job = await _submit_raw(request, caller, params)
    return job


async def _submit_raw(request: Request, caller: Caller, params: UploadParams) -> Job:
    s = services(request)
    # Any other Content-Type is the model's bytes as they are (curl --data-binary sends its
    # default, application/x-www-form-urlencoded): the file name says what the model is.
    filename = clean_filename(params.filename or DEFAULT_NAMES.get(_media_type(request), "model.glb"))
    refusal = unsupported_type(filename)
    if refusal:
        raise of_kind("unsupported-file-type", refusal)
    if request.headers.get("content-length") == "0":
        raise of_kind("empty-file", "The request has no body: send the model's bytes as the body.")
    options = parse_options(params.options)
    check_options(params.preset, options)
    callback = await checked_callback(request, params.callback_url)
    job = await s.jobs.submit_upload(
        request,
        user_id=caller.user.id,
        source=JobSource.API,
        filename=filename,
        preset=params.preset,
        options=options,
        api_key_id=caller.key.id,
    )
    if callback:
        await to_thread.run_sync(deliveries.record, s.db, job.id, caller.user.id, callback)
    return job


def _part_key(job_id: str, index: int, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    return f"jobs/{job_id}/part-{index}{suffix if suffix in UPLOAD_SUFFIXES else ''}"


async def _submit_multipart(request: Request, caller: Caller, params: UploadParams) -> Job:
    s = services(request)
    job_id = uuid.uuid4().hex
    limit = s.settings.max_upload_bytes
    try:
        try:
            received = await receive_multipart(
                request, s.storage, limit, key_for=lambda n, name: _part_key(job_id, n, name)
            )
        except MultipartError as exc:
            raise of_kind("invalid-request", str(exc)) from None
        fields = received.fields
        options = parse_options(fields.get("options", params.options))
        options.update({k: field_value(v) for k, v in fields.items() if k not in RESERVED_FIELDS})
        preset = fields.get("preset", params.preset) or None
        check_options(preset, options)
        callback = await checked_callback(request, fields.get("callback_url", params.callback_url))
        files = received.files
        if not files:
            raise of_kind("invalid-request", "The upload holds no file: send the model as the 'file' part.")
        if len(files) == 1:
            part = files[0]
            filename = clean_filename(fields.get("filename") or params.filename or part.filename)
            refusal = unsupported_type(filename)
            if refusal:
                raise of_kind("unsupported-file-type", refusal)
            if part.blob.size == 0:
                raise of_kind("empty-file", f"'{filename}' is empty.")
            blob = part.blob
        else:
            main = _main_gltf(files)
            filename = clean_filename(main.filename)
            blob = await to_thread.run_sync(_pack, s.storage, job_id, files, main, limit)
        job = s.jobs.submit_blob(
            job_id,
            blob,
            user_id=caller.user.id,
            source=JobSource.API,
            filename=filename,
            preset=preset,
            options=options,
            api_key_id=caller.key.id,
        )
    except BaseException:
        s.storage.delete_prefix(f"jobs/{job_id}")
        raise
    if callback:
        await to_thread.run_sync(deliveries.record, s.db, job.id, caller.user.id, callback)
    return job


def _main_gltf(files: list[FilePart]) -> FilePart:
    """The .gltf a set of files is for; the others must be its resources."""
    gltfs = [f for f in files if PurePath(f.filename).suffix.lower() == ".gltf"]
    others = [f for f in files if PurePath(f.filename).suffix.lower() in (".glb", ".zip")]
    if len(gltfs) != 1 or others:
        names = ", ".join(f"'{f.filename}'" for f in files[:5])
        raise of_kind(
            "invalid-request",
            f"Several files were sent ({names}{', ...' if len(files) > 5 else ''}): that is only for one "
            ".gltf with the files it refers to. Send other models one per request.",
        )
    return gltfs[0]


def _entry_name(filename: str) -> PurePosixPath:
    try:
        name = safe_name(filename)
    except EngineError as exc:
        raise of_kind("invalid-request", exc.message) from None
    if name is None:
        raise of_kind("invalid-request", f"'{filename}' is not a usable file name.")
    return name


def _wanted_uris(storage: Storage, blob: Blob) -> list[PurePosixPath]:
    """The relative paths a .gltf's buffers and images refer to (not data: URIs)."""
    if blob.size > MAX_GLTF_JSON_BYTES:
        return []
    try:
        with storage.open(blob.key) as f:
            doc = json.load(f)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return []  # the job reports what is wrong with it
    found = []
    for group in ("buffers", "images"):
        items = doc.get(group) if isinstance(doc, dict) else None
        for item in items if isinstance(items, list) else []:
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:") and ":" not in uri.split("/")[0]:
                try:
                    name = safe_name(unquote(uri))
                except EngineError:
                    continue
                if name is not None:
                    found.append(name)
    return found


def _pack(storage: Storage, job_id: str, files: list[FilePart], main: FilePart, limit: int) -> Blob:
    """One zip of a .gltf and its files (the job's input), placed where the .gltf expects them."""
    main_name = _entry_name(main.filename)
    names = {id(f): _entry_name(f.filename) for f in files}
    folder = main_name.parent
    by_basename: dict[str, list[FilePart]] = {}
    for f in files:
        by_basename.setdefault(names[id(f)].name.lower(), []).append(f)
    present = {names[id(f)].as_posix().lower() for f in files}
    for uri in _wanted_uris(storage, main.blob):
        wanted = folder / uri
        candidates = by_basename.get(uri.name.lower(), [])
        if wanted.as_posix().lower() not in present and len(candidates) == 1 and candidates[0] is not main:
            names[id(candidates[0])] = wanted
            present.add(wanted.as_posix().lower())
    seen: set[str] = set()
    with storage.writer(limit + len(files) * 1024 + 65536) as out:
        with zipfile.ZipFile(_Sink(out), "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for f in files:
                name = names[id(f)].as_posix()
                if name.lower() in seen:
                    raise of_kind("invalid-request", f"Two files were sent as '{name}'.")
                seen.add(name.lower())
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.file_size = f.blob.size
                with storage.open(f.blob.key) as src, archive.open(info, "w") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        blob = out.commit(input_key(job_id, "input.zip"))
    for f in files:
        storage.delete(f.blob.key)
    return blob


class _Sink:
    """A write-only file over a BlobWriter, for zipfile (which then writes data descriptors)."""

    def __init__(self, writer: Any):
        self.writer = writer

    def write(self, data: bytes) -> int:
        self.writer.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass
