"""The dashboard's sections not built yet (each says plainly what it will be for; no pretend
features), the home redirect and Help. Compress, History, Usage and API Keys have modules of their
own."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import services
from .pages import CurrentUser, current_user, redirect, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    purpose: str
    meanwhile: str = ""


SECTIONS: dict[str, Section] = {}
"""Sections whose page is not built yet (none at the moment)."""


def _retention(hours: float) -> str:
    if hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''} after the job ends"
    return f"{hours:g} hour{'s' if hours != 1 else ''} after the job ends"


def _section_page(key: str):
    section = SECTIONS[key]

    def page(request: Request, user: CurrentUser) -> Response:
        purpose = section.purpose.format(retention=_retention(services(request).settings.retention_hours))
        context = {"title": section.title, "purpose": purpose, "meanwhile": section.meanwhile}
        return render(request, "section.html", context, active=key)

    page.__name__ = f"{key.replace('-', '_')}_page"
    return page


for _key, _section in SECTIONS.items():
    router.add_api_route(f"/{_key}", _section_page(_key), methods=["GET"])


@router.get("/")
def home(request: Request) -> Response:
    return redirect(request, "/compress" if current_user(request) else "/login")


@router.get("/help")
def help_page(request: Request) -> Response:
    from glbcompress.engine.presets import DEFAULT_PRESET, PRESET_HELP

    presets = [
        {"name": name, "text": text, "default": name == DEFAULT_PRESET} for name, text in PRESET_HELP.items()
    ]
    return render(request, "help.html", {"title": "Help", "presets": presets}, active="help")
