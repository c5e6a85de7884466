"""``GET /healthz``: whether this process can serve — the database answers, storage is writable —
with the job queue's figures. 200 when healthy, 503 otherwise (for load balancers and monitors)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ... import __version__
from ..context import services

router = APIRouter()
log = logging.getLogger("glbcompress.http")


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    s = services(request)
    checks: dict[str, str] = {}
    for name, probe in (("database", s.db.ping), ("storage", s.storage.check)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            log.warning("health check failed", extra={"check": name, "error": type(exc).__name__})
            checks[name] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "version": __version__,
        **checks,
        "queue": s.queue.stats(),
    }
    return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})
