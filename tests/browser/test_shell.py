"""The dashboard shell in a real browser: sign-up lands in the dashboard, every sidebar page opens
without console errors, and the layout holds on a phone-sized screen."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import save_screenshot

SIDEBAR = ("Compress", "History", "API Keys", "Usage", "API docs", "Help")


def test_sidebar_pages_open(signed_up: Any) -> None:
    page = signed_up
    nav = page.get_by_role("navigation")
    for name in SIDEBAR:
        nav.get_by_role("link", name=name).click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).first.is_visible(), name
    save_screenshot(page, "dashboard-shell")


def test_phone_layout_has_no_horizontal_scroll(signed_up: Any) -> None:
    page = signed_up
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
