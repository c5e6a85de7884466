"""``GET /v1/account``: the account and key a request's API key stands for — the cheapest way for a
script to check its key works (and to read its rate limit)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from ..context import services
from . import problems
from .key_auth import ApiKeyAuth

router = APIRouter(prefix="/v1", tags=["account"])


class ApiKeyInfo(BaseModel):
    id: int
    name: str
    prefix: str
    """The key's first characters, as the dashboard shows them."""
    created_at: datetime
    expires_at: datetime | None


class RateLimitInfo(BaseModel):
    limit: int
    """Requests per window; 0 when there is no limit."""
    window_seconds: int


class AccountInfo(BaseModel):
    email: str
    created_at: datetime
    api_key: ApiKeyInfo
    rate_limit: RateLimitInfo


@router.get("/account", response_model=AccountInfo, responses=problems.responses(401, 429))
def account(request: Request, response: Response, caller: ApiKeyAuth) -> AccountInfo:
    """The account the API key belongs to, and the key itself (never its secret part)."""
    limiter = services(request).key_rate_limit
    response.headers["Cache-Control"] = "no-store"
    key = caller.key
    return AccountInfo(
        email=caller.user.email,
        created_at=caller.user.created_at,
        api_key=ApiKeyInfo(
            id=key.id, name=key.name, prefix=key.prefix, created_at=key.created_at, expires_at=key.expires_at
        ),
        rate_limit=RateLimitInfo(limit=limiter.limit, window_seconds=limiter.window),
    )
