"""The OpenAPI document at ``/openapi.json``, as FastAPI makes it plus what it cannot know: the
problem+json schema every error refers to, and FastAPI's default 422 (a JSON list of errors)
replaced by what the API really answers (problem+json of type validation-error)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import ProblemBody, responses

DESCRIPTION = (
    "Compress glTF/GLB models. Authenticate with an API key from the dashboard's API Keys page "
    "(`Authorization: Bearer glbc_…` or `X-API-Key`). Errors are `application/problem+json` with a "
    "stable `type`. The guide with examples is the dashboard's API docs page (/api-docs)."
)


def install(app: FastAPI) -> None:
    """Make app.openapi() produce (and cache) the completed document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
    validation = responses(422)[422]
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            found = operation.get("responses", {}).get("422")
            if found and "HTTPValidationError" in str(found):
                operation["responses"]["422"] = validation
    if "HTTPValidationError" not in str(doc.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return doc
