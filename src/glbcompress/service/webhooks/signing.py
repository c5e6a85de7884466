"""Signing webhook deliveries so receivers can tell they came from us and were not replayed.

The scheme is Standard Webhooks (https://www.standardwebhooks.com), so its libraries verify our
deliveries as they are:

    webhook-id: msg_<delivery id>           the same on every retry of one delivery
    webhook-timestamp: <unix seconds>       when this attempt was sent
    webhook-signature: v1,<base64 signature>

where the signature is HMAC-SHA256 over ``"<webhook-id>.<webhook-timestamp>.<body>"`` keyed with
the base64-decoded part of the account's secret ``whsec_<base64>``. A receiver checks the
signature in constant time and refuses timestamps more than a few minutes away from its clock.

The secret of an account is derived from the server's secret (``settings.secret``) and the
account's id, so nothing secret is stored: ``GET /v1/webhooks/secret`` shows it to the account's
API keys. Changing the server's secret changes every account's webhook secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


def account_secret(server_secret: bytes, user_id: int) -> str:
    """The webhook signing secret of an account: ``whsec_`` + base64 of 32 bytes."""
    raw = hmac.new(server_secret, f"glbcompress webhook secret {user_id}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header's value for a body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
