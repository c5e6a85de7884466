"""Webhooks: a job submitted with a ``callback_url`` is announced to that URL when it ends.

- ``signing.py``: the account's signing secret and the signature headers (the Standard Webhooks
  scheme: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``).
- ``urls.py``: which callback URLs are accepted (http(s) only; no loopback or private addresses
  unless the server allows them).
- ``deliveries.py``: delivery rows in the database: recorded with the job, made ready when it
  ends, claimed with a lease, retried with backoff until acknowledged (a 2xx) or given up.
- ``dispatcher.py``: the thread of each web process that sends what is due.
"""

from __future__ import annotations

from .dispatcher import Dispatcher

__all__ = ["Dispatcher"]
