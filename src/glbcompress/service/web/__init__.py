"""The dashboard: server-rendered pages (Jinja2, autoescaped) with a sidebar, and their assets in
``static/`` (served by us; no CDN). ``account.py`` holds sign-up, log-in and the account page;
``dashboard.py`` the sections not built yet and Help; ``compress.py``, ``history.py``,
``usage.py``, ``api_keys.py`` and ``api_docs.py`` their pages; ``vendor.py`` serves three.js for the 3D preview;
``pages.py`` what they share."""

from __future__ import annotations

from fastapi import APIRouter

from . import account, api_docs, api_keys, compress, dashboard, history, usage, vendor

router = APIRouter(include_in_schema=False)
router.include_router(account.router)
router.include_router(dashboard.router)
router.include_router(compress.router)
router.include_router(history.router)
router.include_router(usage.router)
router.include_router(api_keys.router)
router.include_router(api_docs.router)
router.include_router(vendor.router)
