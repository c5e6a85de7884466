"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium; never a downloaded
browser) against the real app served by uvicorn on a loopback port, on real SQLite.

Fixtures: `server` (base URL of a fresh, migrated service), `browser` (one Chromium per worker),
`page` (a new context with clipboard access; console errors fail the test unless the test clears
`page.console_errors`), `signed_up` (a page logged in as a new account).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glbcompress.service.app import create_app
from glbcompress.service.db import migrate
from tests.service.conftest import LiveServer, make_settings

CHROMIUM = os.environ.get("GLBCOMPRESS_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (PyPI) is not installed: run scripts/setup")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (.ci/run does)")
    return sync_playwright


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serve(tmp_path: Path, **overrides: Any) -> Iterator[str]:
    """Base URL of the real service on a fresh SQLite database and data folder, with these
    settings changed (a module overriding the `server` fixture yields from this)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'service.db'}", **overrides)
    migrate.upgrade(settings.database_url)
    with LiveServer(create_app(settings)) as live:
        yield live.url


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path)


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    errors = list(page.console_errors)
    context.close()
    assert not errors, f"console errors: {errors}"


def sign_up(page: Any, email: str | None = None, password: str = "correct horse battery staple") -> str:
    """Create an account through the sign-up form and stay logged in; returns the email."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    return email


@pytest.fixture
def signed_up(page: Any) -> Any:
    sign_up(page)
    return page


def save_screenshot(page: Any, name: str) -> Path:
    """Keep a screenshot in test-artifacts/ (gitignored) for people reviewing a CI run."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
