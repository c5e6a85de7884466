"""The SDK's exceptions: one class per problem ``type`` the API answers with, so a script can
branch on what went wrong without reading HTTP statuses.

>>> try:
...     client.compress("broken.glb", "out.glb")
... except InvalidModel as exc:        # urn:glbcompress:problem:invalid-model
...     print(exc.detail, exc.request_id)
... except RateLimited as exc:
...     time.sleep(exc.retry_after)

``ApiError`` is the base of every error the server answered with; ``ClientError`` of everything
the SDK raises. A type this SDK does not know yet maps by its HTTP status (``BadRequest``,
``Unauthorized``, ``ServerError``, ...), so a newer server never breaks an older SDK. This module
imports nothing outside the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TYPE_PREFIX = "urn:glbcompress:problem:"


class ClientError(Exception):
    """Base of every exception the SDK raises. ``str(exc)`` is one line, meant for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigurationError(ClientError):
    """The client cannot be used as configured (no API key, a base URL that is not http(s))."""


class LocalFileError(ClientError):
    """A file to upload cannot be sent: missing, unreadable, or a .gltf referring to files outside
    its folder. Raised before any request is made."""


class ConnectionFailed(ClientError):
    """The server could not be reached (or the connection broke) even after the retries."""


class WaitTimeout(ClientError):
    """``Client.wait`` gave up: the job had not finished within the timeout (it goes on running)."""

    def __init__(self, message: str, job: Any = None):
        super().__init__(message)
        self.job = job


class ApiError(ClientError):
    """The server refused the request or failed: an ``application/problem+json`` answer.

    ``kind`` is the type's last part (``invalid-model``), ``detail`` the server's explanation,
    ``request_id`` the ``X-Request-ID`` to quote when reporting a problem, ``job_id`` the job the
    failed compression ran as (when there was one), ``job`` the job (a ``Job``) when the error is
    a failure that ``Client.wait`` saw."""

    status = 0

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type: str = "",
        title: str = "",
        request_id: str | None = None,
        body: Mapping[str, Any] | None = None,
        job: Any = None,
    ):
        super().__init__(detail)
        self.status = status if status is not None else type(self).status
        self.type = type
        self.kind = type.removeprefix(TYPE_PREFIX) if type else ""
        self.title = title
        self.detail = detail
        self.request_id = request_id
        self.body = dict(body or {})
        self.job = job
        job_id = self.body.get("job_id") or getattr(job, "id", None)
        self.job_id: str | None = str(job_id) if job_id else None

    def __str__(self) -> str:
        return " ".join(self.detail.split()) or self.title or f"HTTP {self.status}"


class BadRequest(ApiError):
    """400: the request was refused as sent."""

    status = 400


class InvalidRequest(BadRequest):
    """400 ``invalid-request``: a malformed request (e.g. broken multipart, no file part)."""


class InvalidOptions(BadRequest):
    """400 ``invalid-options``: an option or preset is unknown or out of range (the detail names it)."""


class InvalidCallbackUrl(BadRequest):
    """400 ``invalid-callback-url``: callback_url is not an acceptable URL."""


class EmptyFile(BadRequest):
    """400 ``empty-file``: the upload has no bytes."""


class Unauthorized(ApiError):
    """401: the API key is missing, malformed, unknown, revoked or expired, or its account was
    deleted; ``kind`` says which."""

    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    """404: no such job in this account (or no such endpoint: check the base URL)."""

    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class Conflict(ApiError):
    """409: the job is in a state that does not allow this."""

    status = 409


class JobNotFinished(Conflict):
    """409 ``job-not-finished``: the job has no result yet."""


class JobFailed(Conflict):
    """409 ``job-failed``: the job failed or was canceled, so it has no result."""


class ResultExpired(ApiError):
    """410 ``result-expired``: the result was deleted after the retention period."""

    status = 410


class FileTooLarge(ApiError):
    """413 ``file-too-large``: the upload is larger than the server accepts."""

    status = 413


class StorageQuotaExceeded(ApiError):
    """413 ``storage-quota-exceeded``: the upload would take the account past its storage quota;
    delete finished jobs (or wait for them to expire) to make room."""

    status = 413


class RequestTimeout(ApiError):
    """408: the server stopped waiting for the request. ``request-timeout``: its line and headers
    did not arrive within the server's time (a stalled connection)."""

    status = 408


class UploadTimeout(RequestTimeout):
    """408 ``upload-timeout``: the body did not arrive within the server's upload time (a very slow
    link, or a stalled stream)."""


class UnsupportedExtension(ApiError):
    """415 ``unsupported-file-type``: not a .glb, .gltf or .zip."""

    status = 415


class UnprocessableRequest(ApiError):
    """422: the request's parameters, or the model itself, were refused."""

    status = 422


class ValidationFailed(UnprocessableRequest):
    """422 ``validation-error``: a parameter has the wrong type or is out of range."""


class ModelError(UnprocessableRequest):
    """422: the model cannot be compressed (base of the three below)."""


class InvalidModel(ModelError):
    """``invalid-model``: the file is not a readable glTF 2.0 model."""


class UnsupportedModel(ModelError):
    """``unsupported-model``: valid glTF that uses something the engine cannot process."""


class LimitExceeded(ModelError):
    """``limit-exceeded``: over a limit (counts, pixels, memory or time)."""


class RateLimited(ApiError):
    """429 ``rate-limited``: over the key's rate limit; ``retry_after`` is in seconds. Raised only
    once the client's retries are used up (or when Retry-After is longer than it waits)."""

    status = 429

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class TooManyActiveJobs(RateLimited):
    """429 ``too-many-active-jobs``: the account has as many jobs queued or running as the server
    allows; room comes back as they finish (or are cancelled)."""


class ServerError(ApiError):
    """5xx: a failure on the server's side; quote ``request_id`` when reporting it."""

    status = 500


BY_KIND: dict[str, type[ApiError]] = {
    "invalid-request": InvalidRequest,
    "invalid-options": InvalidOptions,
    "invalid-callback-url": InvalidCallbackUrl,
    "empty-file": EmptyFile,
    "missing-api-key": Unauthorized,
    "malformed-api-key": Unauthorized,
    "unknown-api-key": Unauthorized,
    "revoked-api-key": Unauthorized,
    "expired-api-key": Unauthorized,
    "account-deleted": Unauthorized,
    "not-found": NotFound,
    "method-not-allowed": MethodNotAllowed,
    "job-not-finished": JobNotFinished,
    "job-failed": JobFailed,
    "result-expired": ResultExpired,
    "file-too-large": FileTooLarge,
    "storage-quota-exceeded": StorageQuotaExceeded,
    "upload-timeout": UploadTimeout,
    "request-timeout": RequestTimeout,
    "unsupported-file-type": UnsupportedExtension,
    "validation-error": ValidationFailed,
    "invalid-model": InvalidModel,
    "unsupported-model": UnsupportedModel,
    "limit-exceeded": LimitExceeded,
    "rate-limited": RateLimited,
    "too-many-active-jobs": TooManyActiveJobs,
    "internal-error": ServerError,
}
"""The problem kinds the server documents (its ``problems.KINDS``), each with its class."""

BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    408: RequestTimeout,
    409: Conflict,
    410: ResultExpired,
    413: FileTooLarge,
    415: UnsupportedExtension,
    422: UnprocessableRequest,
    429: RateLimited,
}


def error_class(kind: str, status: int) -> type[ApiError]:
    """The class for a problem kind, else for the status (an unknown kind from a newer server)."""
    if kind in BY_KIND:
        return BY_KIND[kind]
    if status >= 500:
        return ServerError
    return BY_STATUS.get(status, ApiError)


def from_problem(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    fallback: str = "",
) -> ApiError:
    """The exception for an error response: its problem+json body when it has one, else the
    status and ``fallback`` text (a proxy's HTML error page, say)."""
    problem = body if isinstance(body, Mapping) else {}
    type_ = str(problem.get("type") or "")
    kind = type_.removeprefix(TYPE_PREFIX) if type_.startswith(TYPE_PREFIX) else ""
    title = str(problem.get("title") or "")
    detail = str(problem.get("detail") or title or fallback or f"The server answered HTTP {status}.")
    cls = error_class(kind, status)
    kwargs: dict[str, Any] = {
        "status": status,
        "type": type_,
        "title": title,
        "request_id": request_id,
        "body": problem,
    }
    if issubclass(cls, RateLimited):
        kwargs["retry_after"] = retry_after
    return cls(detail, **kwargs)


def from_job_error(error: Mapping[str, Any], job: Any) -> ApiError:
    """The exception for a failed job's ``error`` member (``{"type": ..., "detail": ...}``)."""
    type_ = str(error.get("type") or "")
    kind = type_.removeprefix(TYPE_PREFIX)
    cls = BY_KIND.get(kind, ServerError if not kind else ApiError)
    status = cls.status if cls is not ApiError else 0
    detail = str(error.get("detail") or "The job failed.")
    return cls(detail, status=status, type=type_, title="", body=dict(error), job=job)
