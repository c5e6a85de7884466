"""HTTP endpoints for programs: the health check, and the /v1 REST API authenticated with API keys
(contract: ``docs/api.md``).

- ``key_auth.py``: the ``ApiKeyAuth`` dependency every /v1 route takes; ``problems.py`` and
  ``errors.py``: errors as application/problem+json with a stable type per case.
- ``jobs.py``: ``POST /v1/compress`` and ``/v1/jobs``; ``model_input.py`` and ``multipart.py``
  turn an upload into a job; ``job_models.py`` is the job as the API (and webhooks) show it.
- ``account.py`` (``/v1/account``), ``usage.py`` (``/v1/usage``), ``catalog.py``
  (``/v1/presets``), ``webhook_secret.py`` (``/v1/webhooks/secret``).
- ``openapi_view.py``: the interactive view of ``/openapi.json`` at ``/docs``.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import account, catalog, jobs, openapi_view, usage, webhook_secret

router = APIRouter()
for _module in (account, jobs, catalog, usage, webhook_secret, openapi_view):
    router.include_router(_module.router)
