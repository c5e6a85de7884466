"""``GET /v1/presets``: the presets and every option the engine takes, with types, defaults and
ranges (``engine.options.schema()``), so clients can build forms and check options before
uploading."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from . import problems
from .key_auth import ApiKeyAuth

router = APIRouter(prefix="/v1", tags=["presets"])


class PresetInfo(BaseModel):
    name: str
    description: str
    options: dict[str, Any]
    """Every flat option's value under this preset."""


class OptionInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    type: str
    """bool, int, float, str or choice. A bool named after a pass switches that pass on or off."""
    pass_: str = Field(alias="pass")
    """The pass the option belongs to."""
    default: Any = None
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    help: str = ""


class Catalog(BaseModel):
    default: str
    presets: list[PresetInfo]
    options: list[OptionInfo]


def catalog() -> Catalog:
    from glbcompress.engine.api import presets
    from glbcompress.engine.options import schema
    from glbcompress.engine.presets import DEFAULT_PRESET

    return Catalog(
        default=DEFAULT_PRESET,
        presets=[PresetInfo(name=name, **info) for name, info in presets().items()],
        options=[OptionInfo.model_validate(entry) for entry in schema()],
    )


@router.get(
    "/presets",
    summary="Presets and the option schema",
    response_model=Catalog,
    responses=problems.responses(401, 429),
)
def list_presets(caller: ApiKeyAuth) -> Catalog:
    """The presets (lossless, balanced, max) with the option values each stands for, and the
    schema of every option a job may override."""
    return catalog()
