"""The Python SDK for a glbcompress server's REST API (``docs/api.md``).

>>> from glbcompress.client import Client, InvalidModel
>>> with Client() as client:           # GLBCOMPRESS_API_KEY and GLBCOMPRESS_URL
...     client.compress("chair.glb", "chair.min.glb", preset="max")

``Client`` (and the HTTP library under it) is imported on first use, so ``import glbcompress``
and the command line stay quick; the exceptions come from ``errors.py``, which needs nothing
outside the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ApiError,
    BadRequest,
    ClientError,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    EmptyFile,
    FileTooLarge,
    InvalidCallbackUrl,
    InvalidModel,
    InvalidOptions,
    InvalidRequest,
    JobFailed,
    JobNotFinished,
    LimitExceeded,
    LocalFileError,
    ModelError,
    NotFound,
    RateLimited,
    RequestTimeout,
    ResultExpired,
    ServerError,
    StorageQuotaExceeded,
    TooManyActiveJobs,
    Unauthorized,
    UnsupportedExtension,
    UnsupportedModel,
    UploadTimeout,
    ValidationFailed,
    WaitTimeout,
)
from .models import Job, Progress, Result
from .webhooks import InvalidSignature
from .webhooks import verify as verify_webhook

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "ApiError",
    "BadRequest",
    "Client",
    "ClientError",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "EmptyFile",
    "FileTooLarge",
    "InvalidCallbackUrl",
    "InvalidModel",
    "InvalidOptions",
    "InvalidRequest",
    "InvalidSignature",
    "Job",
    "JobFailed",
    "JobNotFinished",
    "LimitExceeded",
    "LocalFileError",
    "ModelError",
    "NotFound",
    "Progress",
    "RateLimited",
    "RequestTimeout",
    "Result",
    "ResultExpired",
    "ServerError",
    "StorageQuotaExceeded",
    "TooManyActiveJobs",
    "Unauthorized",
    "UnsupportedExtension",
    "UnsupportedModel",
    "UploadTimeout",
    "ValidationFailed",
    "WaitTimeout",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
