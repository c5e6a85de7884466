"""Authenticating API requests with an API key: the dependency every /v1 route takes.

>>> @router.get("/v1/jobs")
... def list_jobs(caller: ApiKeyAuth) -> ...:
...     caller.user.id, caller.key.id           # the account acted for, and the key used

The key is read from ``Authorization: Bearer <key>`` or, failing that, ``X-API-Key: <key>``.
Refusals are 401 problem+json with ``WWW-Authenticate: Bearer`` (RFC 6750) and a ``type`` saying
which: missing, malformed, unknown, revoked, expired, or account deleted. A malformed key (a typo
fails its checksum) is refused without a database lookup; an unknown one is told nothing about
which keys exist. Each accepted request is counted for the key (``auth/key_activity.py``) and
against its rate limit: every response then carries ``RateLimit-Policy`` and ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers), and a request over the limit gets 429 with
``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..auth.api_keys import Caller, KeyRefused, Refusal, authenticate
from ..auth.key_rate_limit import Quota
from ..context import services
from ..middleware import add_response_headers
from .problems import Problem

REALM = "glbcompress"
POLICY = "per-key"

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer glbc_…")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: X-API-Key: glbc_…")


def www_authenticate(reason: str) -> str:
    if reason == Refusal.MISSING:
        return f'Bearer realm="{REALM}"'
    return f'Bearer realm="{REALM}", error="invalid_token"'


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    return {
        "RateLimit-Policy": f'"{POLICY}";q={quota.limit};w={quota.window}',
        "RateLimit": f'"{POLICY}";r={quota.remaining};t={quota.reset}',
    }


def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Caller:
    """The caller a request's API key stands for; raises Problem (401, 429) otherwise."""
    s = services(request)
    key = (bearer.credentials if bearer else header or "").strip()
    try:
        caller = authenticate(s.db, key)
    except KeyRefused as exc:
        headers = {"WWW-Authenticate": www_authenticate(exc.reason), "Cache-Control": "no-store"}
        raise Problem(401, exc.title, exc.detail, exc.reason, headers) from None
    s.key_activity.record(caller.key, request.client.host if request.client else "")
    request.state.api_key_id = caller.key.id
    limiter = s.key_rate_limit
    if limiter.enabled:
        quota = limiter.take(caller.key.id)
        headers = rate_limit_headers(quota)
        add_response_headers(request, headers)
        if not quota.allowed:
            raise Problem(
                429,
                "Too many requests",
                f"This API key may make {quota.limit} requests per {quota.window} seconds. "
                f"Wait {quota.reset} seconds (Retry-After) and try again.",
                "rate-limited",
                {**headers, "Retry-After": str(quota.reset)},
            )
    return caller


ApiKeyAuth = Annotated[Caller, Depends(require_api_key)]
"""A route parameter for API routes: ``def route(caller: ApiKeyAuth)``."""
