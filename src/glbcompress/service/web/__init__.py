"""The dashboard: server-rendered pages (Jinja2, autoescaped) with a sidebar, and their assets in
``static/`` (served by us; no CDN). ``account.py`` holds sign-up, log-in and the account page;
``dashboard.py`` the sections; ``pages.py`` what they share."""

from __future__ import annotations

from fastapi import APIRouter

from . import account, dashboard

router = APIRouter(include_in_schema=False)
router.include_router(account.router)
router.include_router(dashboard.router)
