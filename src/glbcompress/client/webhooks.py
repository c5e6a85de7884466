"""Checking a webhook delivery in the program that receives it: that it was signed with the
account's secret (``Client.webhook_secret()``, ``whsec_...``), is recent, and what it says.

>>> event = verify(secret, request.headers, request.body)      # raises InvalidSignature
>>> event["type"], Job.from_json(event["data"])                 # job.succeeded, the job

Deliveries follow Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, possibly several
separated by spaces while a secret is being rotated). Compare in constant time; refuse
timestamps further than ``tolerance`` seconds from now (a replayed old delivery). Deliveries are
retried with the same ``webhook-id``: a receiver may use it to do its work once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .errors import ClientError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300


class InvalidSignature(ClientError):
    """The delivery is not signed with the secret, is too old or new, or is malformed."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON once its signature and timestamp are checked. ``headers`` may be any
    mapping (names are matched without regard to case); ``body`` must be the raw bytes received."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (message_id and stamp and signatures):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature(f"webhook-timestamp is more than {tolerance:g} s away from now (a replay?)")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("the secret is not a whsec_ secret") from None
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    matched = False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            matched = True
    if not matched:
        raise InvalidSignature("the signature does not match the body and secret")
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidSignature("the body is not JSON") from None
