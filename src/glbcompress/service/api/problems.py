"""Errors for programs: RFC 9457 ``application/problem+json`` bodies with a stable ``type`` per
case (``urn:glbcompress:problem:<kind>``) and a ``detail`` written for people.

>>> raise Problem(404, "Not found", "There is no job with this id in your account.", "not-found")

``KINDS`` lists every kind the API answers with (the API docs page shows it as the error table,
and the SDK maps each to an exception class); a kind, once published, keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:glbcompress:problem:"
SCHEMA_REF = "#/components/schemas/Problem"


def problem(
    status: int,
    title: str,
    detail: str,
    kind: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem+json response; extra adds members (e.g. ``job_id``, ``errors``)."""
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": detail, **(extra or {})}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {}))


class Problem(Exception):
    """Raised anywhere in an API route (or its dependencies); the app answers with problem()."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        kind: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def response(self) -> JSONResponse:
        return problem(self.status, self.title, self.detail, self.kind, self.headers, self.extra)


def of_kind(kind: str, detail: str, **extra: Any) -> Problem:
    """The Problem of a kind listed in KINDS, with its status and title."""
    status, title, _ = KINDS[kind]
    return Problem(status, title, detail, kind, extra=extra)


class ProblemBody(BaseModel):
    """The body of every API error (RFC 9457). Some kinds add members: ``job_id`` (the job a
    failed compression ran as), ``errors`` (each invalid request field, for validation-error)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    """``urn:glbcompress:problem:<kind>``: stable, for programs to branch on."""
    title: str
    status: int
    detail: str
    """What went wrong and what to do, for people."""


KINDS: dict[str, tuple[int, str, str]] = {
    "missing-api-key": (401, "API key required", "No API key was sent."),
    "malformed-api-key": (401, "Malformed API key", "The key is not one of ours (a typo, or cut short)."),
    "unknown-api-key": (401, "Unknown API key", "No such key."),
    "revoked-api-key": (401, "Revoked API key", "The key was revoked on the dashboard."),
    "expired-api-key": (401, "Expired API key", "The key's expiry date has passed."),
    "account-deleted": (401, "Account deleted", "The key's account was deleted."),
    "too-many-active-jobs": (
        429,
        "Too many jobs at once",
        "The account has GLBCOMPRESS_MAX_ACTIVE_JOBS_PER_ACCOUNT jobs queued or running already.",
    ),
    "rate-limited": (429, "Too many requests", "Over the key's rate limit: wait Retry-After seconds."),
    "invalid-request": (400, "Invalid request", "The request is malformed (e.g. broken multipart)."),
    "invalid-options": (400, "Invalid options", "An option or preset is unknown or out of range."),
    "invalid-callback-url": (400, "Invalid callback URL", "callback_url is not an acceptable URL."),
    "empty-file": (400, "Empty file", "The upload has no bytes."),
    "not-found": (404, "Not found", "No such job in the key's account, or no such endpoint."),
    "method-not-allowed": (405, "Method not allowed", "The endpoint does not take this method."),
    "job-not-finished": (409, "Job not finished", "The job has no result yet: wait for it."),
    "job-failed": (409, "Job failed", "The job failed or was canceled; it has no result."),
    "result-expired": (410, "Result expired", "The result was deleted after the retention period."),
    "upload-timeout": (408, "Upload too slow", "The body did not arrive within the server's upload time."),
    "request-timeout": (
        408,
        "Request not received in time",
        "The request line and headers did not arrive within GLBCOMPRESS_REQUEST_HEAD_TIMEOUT_SECONDS.",
    ),
    "file-too-large": (413, "File too large", "The upload is larger than the server's limit."),
    "storage-quota-exceeded": (
        413,
        "Storage quota reached",
        "The upload would take the account past its storage quota (GLBCOMPRESS_ACCOUNT_STORAGE_MB).",
    ),
    "unsupported-file-type": (415, "Unsupported file type", "Not a .glb, .gltf or .zip."),
    "validation-error": (422, "Invalid request", "A parameter has the wrong type or is out of range."),
    "invalid-model": (422, "Invalid model", "The file is not a readable glTF 2.0 model."),
    "unsupported-model": (
        422,
        "Unsupported model",
        "Valid glTF using something the engine cannot process, e.g. an unsupported required extension.",
    ),
    "limit-exceeded": (422, "Model too demanding", "Over a limit: counts, pixels, memory or time."),
    "internal-error": (500, "Internal error", "A bug on our side; report the X-Request-ID."),
}
"""Every problem kind: HTTP status, title, and when it happens (for the docs)."""

ENGINE_KINDS = {"invalid-model", "unsupported-model", "limit-exceeded", "invalid-options"}
"""Kinds the engine's errors carry (``EngineError.kind``)."""
JOB_ERROR_KINDS = {
    "timeout": "limit-exceeded",
    "crashed": "limit-exceeded",
    "missing-input": "internal-error",
}
"""How a job's other failure kinds are reported as problems."""


def job_error_kind(error_kind: str | None) -> str:
    """The problem kind for a failed job's ``error_kind``."""
    kind = error_kind or "internal-error"
    if kind in KINDS:
        return kind
    return JOB_ERROR_KINDS.get(kind, "internal-error")


_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="glbcompress"', "schema": {"type": "string"}}},
    429: {
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
    },
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses, all problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        kinds = sorted(kind for kind, (s, _, _) in KINDS.items() if s == status)
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, "Error")
            + (f" Types: {', '.join(kinds)}." if kinds else ""),
            "content": {MEDIA_TYPE: {"schema": {"$ref": SCHEMA_REF}}},
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


_DESCRIPTIONS = {
    400: "The request or its options were refused.",
    401: "The API key is missing, malformed, unknown, revoked or expired, or its account was deleted.",
    404: "No such job in this account.",
    409: "The job is in a state that does not allow this.",
    410: "The job's result was deleted.",
    413: "The upload is larger than the server accepts.",
    415: "The upload is not a .glb, .gltf or .zip.",
    422: "The request's parameters, or the model itself, were refused.",
    429: "The API key made too many requests; wait Retry-After seconds.",
}
