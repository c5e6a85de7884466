"""The API docs in a real browser: the page reads well on a phone (wide tables and code scroll in
their boxes), and the interactive reference at /docs renders every endpoint from our own copy of
Swagger UI under the site's Content-Security-Policy, without console errors."""

from __future__ import annotations

from typing import Any

import pytest

from glbcompress.service.api.openapi_view import installed
from tests.browser.conftest import save_screenshot


def test_api_docs_page_on_a_phone(signed_up: Any) -> None:
    page = signed_up
    page.set_viewport_size({"width": 375, "height": 740})
    page.get_by_role("navigation").get_by_role("link", name="API docs").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).first.inner_text() == "API docs"
    assert page.get_by_role("heading", name="Errors").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    save_screenshot(page, "api-docs-phone")


def test_interactive_reference_renders(page: Any) -> None:
    if not installed():
        pytest.skip("swagger-ui-dist is not installed (scripts/setup installs it)")
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/compress", "/v1/jobs", "/v1/jobs/{job_id}/result", "/v1/usage"} <= {p.strip() for p in paths}
    assert page.get_by_role("button", name="Authorize").is_visible()
    save_screenshot(page, "api-reference")
