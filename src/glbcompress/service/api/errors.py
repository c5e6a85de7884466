"""How API errors become problem+json: the engine's typed errors (a bad option, an invalid model)
and FastAPI's parameter validation, each with its stable ``type`` (``problems.KINDS``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from ...engine.errors import EngineError
from .problems import KINDS, of_kind

API_PREFIX = "/v1/"


def _field(location: Any) -> str:
    parts = [str(p) for p in location or ()]
    return ".".join(parts[1:] if len(parts) > 1 else parts)


def validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """A sentence naming each bad parameter, and the list for the ``errors`` member."""
    listed = [
        {
            "field": _field(e.get("loc")),
            "in": str((e.get("loc") or ["?"])[0]),
            "detail": str(e.get("msg", "")),
        }
        for e in errors
    ]
    text = "; ".join(f"'{item['field']}': {item['detail']}" for item in listed[:5])
    return f"Invalid parameter {text}.", listed


def add_api_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EngineError)
    async def _engine_error(request: Request, exc: EngineError) -> Response:
        kind = exc.kind if exc.kind in KINDS else "invalid-model"
        return of_kind(kind, exc.message).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(API_PREFIX):
            return await request_validation_exception_handler(request, exc)
        detail, listed = validation_detail(list(exc.errors()))
        return of_kind("validation-error", detail, errors=listed).response()
