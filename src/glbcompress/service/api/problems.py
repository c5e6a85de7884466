"""Errors for programs: RFC 9457 ``application/problem+json`` bodies with a stable ``type`` per
case (``urn:glbcompress:problem:<kind>``) and a ``detail`` written for people.

>>> raise Problem(404, "Not found", "There is no job with this id in your account.", "not-found")
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse
from pydantic import BaseModel

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:glbcompress:problem:"


def problem(
    status: int, title: str, detail: str, kind: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An RFC 9457 problem+json response."""
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {}))


class Problem(Exception):
    """Raised anywhere in an API route (or its dependencies); the app answers with problem()."""

    def __init__(
        self, status: int, title: str, detail: str, kind: str, headers: Mapping[str, str] | None = None
    ):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return problem(self.status, self.title, self.detail, self.kind, self.headers)


class ProblemBody(BaseModel):
    """The body of every API error (for the OpenAPI schema)."""

    type: str
    title: str
    status: int
    detail: str


def responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for a route's error statuses, all problem+json."""
    return {
        status: {"model": ProblemBody, "content": {MEDIA_TYPE: {}}, "description": description}
        for status, description in ((s, _DESCRIPTIONS.get(s, "Error")) for s in statuses)
    }


_DESCRIPTIONS = {
    401: "The API key is missing, malformed, unknown, revoked or expired, or its account was deleted.",
    429: "The API key made too many requests; wait Retry-After seconds.",
}
