"""History, Usage and Help in a real browser: jobs listed with their figures, filtered, removed
after confirming (and kept when the user cancels), usage counted per day, pages that hold on a
phone, no console errors anywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import save_screenshot
from tests.fixtures.models import generate_all


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("models"))


def compress_two(page: Any, models: dict[str, Path]) -> None:
    page.goto("/compress")
    page.set_input_files("#file-input", [str(models["textured_box.glb"]), str(models["morph_cube.glb"])])
    page.locator(".card[data-state=done]").nth(1).wait_for(timeout=60_000)
    assert page.locator(".card[data-state=done]").count() == 2


def test_history_filter_and_remove(signed_up: Any, models: dict[str, Path]) -> None:
    page = signed_up
    compress_two(page, models)
    page.goto("/history")
    rows = page.locator("table.history tbody tr")
    assert rows.count() == 2
    assert sorted(rows.locator("td.file").all_inner_texts()) == ["morph_cube.glb", "textured_box.glb"]
    for text in rows.all_inner_texts():
        assert "Dashboard" in text and "Done" in text and "smaller" in text and "in 24 h" in text

    page.get_by_label("File name").fill("morph")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/history?q=morph*")
    assert rows.count() == 1 and rows.locator("td.file").inner_text() == "morph_cube.glb"
    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url("**/history")

    # Cancel keeps it; confirm removes it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Remove textured_box.glb").click()
    page.wait_for_timeout(300)
    assert rows.count() == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove textured_box.glb").click()
    page.wait_for_url("**/history?removed=1")
    assert page.get_by_role("status").inner_text().startswith("The job was removed")
    assert rows.count() == 1 and rows.locator("td.file").inner_text() == "morph_cube.glb"
    # On a laptop-sized screen the whole table fits: no column (nor the Remove button) is cut off.
    assert page.viewport_size["width"] == 1280
    assert page.eval_on_selector(".table-scroll", "(box) => box.scrollWidth <= box.clientWidth")
    save_screenshot(page, "dashboard-history")

    page.goto("/usage")
    assert page.locator("#usage-total td").first.inner_text() == "2"  # removed jobs still count
    today = datetime.now(UTC).date().isoformat()
    page.get_by_text("The figures per day").click()
    row = page.locator(".day-table tr", has=page.locator(f"time[datetime='{today}']"))
    assert row.locator("td").first.inner_text() == "2"
    bars = page.locator(".chart").first.locator("rect.bar")
    assert bars.count() == 30
    assert float(bars.last.get_attribute("height")) > 0 and float(bars.first.get_attribute("height")) == 0
    save_screenshot(page, "dashboard-usage")


def test_pages_hold_on_a_phone(signed_up: Any, models: dict[str, Path]) -> None:
    page = signed_up
    page.set_viewport_size({"width": 375, "height": 740})
    compress_two(page, models)
    # The box's Textures table is wider than a phone: it scrolls in its own box, not the page.
    box = page.locator(".card", has=page.locator(".card-title", has_text="textured_box.glb"))
    assert box.locator("table.textures").is_visible()
    client, scroll, right = box.locator(".textures-box").evaluate(
        "(el) => [el.clientWidth, el.scrollWidth, el.getBoundingClientRect().right]"
    )
    assert client < scroll and right <= 375, (client, scroll, right)
    for path in ("/compress", "/history", "/usage", "/help"):
        if path != "/compress":
            page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)


def test_help_page(page: Any) -> None:
    page.goto("/help")
    table = page.get_by_role("table")
    assert table.get_by_role("row", name="Godot 4").is_visible()
    page.get_by_role("link", name="What to choose for your engine").click()
    assert page.url.endswith("#choose")
