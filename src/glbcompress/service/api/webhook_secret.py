"""``GET /v1/webhooks/secret``: the account's webhook signing secret, for receivers to check the
``webhook-signature`` of deliveries (``webhooks/signing.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from ..context import services
from ..webhooks import signing
from . import problems
from .key_auth import ApiKeyAuth

router = APIRouter(prefix="/v1", tags=["webhooks"])


class WebhookSecret(BaseModel):
    secret: str
    """whsec_ + base64: HMAC-SHA256 key (the base64 part, decoded) of the Standard Webhooks scheme."""


@router.get(
    "/webhooks/secret",
    summary="The webhook signing secret",
    response_model=WebhookSecret,
    responses=problems.responses(401, 429),
)
def webhook_secret(request: Request, response: Response, caller: ApiKeyAuth) -> WebhookSecret:
    """The secret that signs this account's webhook deliveries."""
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecret(secret=signing.account_secret(services(request).settings.secret, caller.user.id))
