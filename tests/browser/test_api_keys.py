"""The API Keys page in a real browser: create a key and copy it (reading the clipboard back), the
table's name, created time, "Never" and green "Active"; an API call turns "Never" into a time;
revoking asks in a dialog (Cancel keeps the key), confirming shows a red "Revoked" without a Revoke
button and the key gets 401; a name made of HTML is shown as text."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from glbcompress.service.auth import api_keys
from tests.browser.conftest import save_screenshot

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def call_api(server: str, key: str) -> int:
    request = urllib.request.Request(f"{server}/v1/account", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def rgb(locator: Any) -> tuple[int, int, int]:
    color = locator.evaluate("el => getComputedStyle(el).color")
    r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
    return r, g, b


def create(page: Any, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create key").click()
    page.wait_for_load_state()


def key_row(page: Any, name: str) -> Any:
    return page.locator("table.api-keys tbody tr").filter(has=page.get_by_role("cell", name=name, exact=True))


def test_api_key_journey(signed_up: Any, server: str) -> None:
    page = signed_up
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="API Keys").click()
    page.wait_for_load_state()
    assert page.get_by_text("You have no API keys yet").is_visible()
    assert page.get_by_text("GLBCOMPRESS_API_KEY").first.is_visible()

    # Create a key; it is shown once, and Copy really copies it.
    create(page, "my script key")
    field = page.get_by_role("textbox", name="Your new API key")
    key = field.input_value()
    assert api_keys.well_formed(key)
    assert page.get_by_text("it will not be shown again").is_visible()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert "Copied to the clipboard" in page.locator("#copy-status").inner_text()
    assert page.evaluate("navigator.clipboard.readText()") == key
    save_screenshot(page, "api-key-created")

    # The table: name, created time in the format, Never, Active in green.
    row = key_row(page, "my script key")
    assert row.count() == 1
    assert TIME.fullmatch(row.locator(".key-created").inner_text())
    assert row.locator(".key-last-used").inner_text() == "Never"
    status = row.locator(".key-status")
    assert status.inner_text() == "Active"
    r, g, b = rgb(status)
    assert g > r + 40 and g > b, (r, g, b)
    assert key[:13] in row.locator(".key-prefix").inner_text()

    # Reloading loses the key for good (a plain GET, nothing posted again).
    page.reload()
    assert page.get_by_role("textbox", name="Your new API key").count() == 0
    assert key not in page.content()
    assert key_row(page, "my script key").count() == 1

    # An API call with the key turns "Never" into a time.
    assert call_api(server, key) == 200
    page.reload()
    row = key_row(page, "my script key")
    assert TIME.fullmatch(row.locator(".key-last-used").inner_text())
    assert row.locator(".key-requests").inner_text() == "1"

    # Revoke, then Cancel: the key stays active.
    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "my script key" in dialog.inner_text() and "cannot be undone" in dialog.inner_text()
    save_screenshot(page, "api-key-revoke-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    assert page.url.endswith("/keys")
    assert row.locator(".key-status").inner_text() == "Active"
    assert call_api(server, key) == 200

    # Revoke, then confirm: Revoked in red, no Revoke button, and the key is refused.
    row.get_by_role("button", name="Revoke").click()
    dialog.wait_for()
    dialog.get_by_role("button", name="Revoke key").click()
    page.wait_for_load_state()
    assert page.get_by_text("was revoked").is_visible()
    row = key_row(page, "my script key")
    status = row.locator(".key-status")
    assert status.inner_text() == "Revoked"
    r, g, b = rgb(status)
    assert r > g + 60 and r > b + 60, (r, g, b)
    assert row.get_by_role("button", name="Revoke").count() == 0
    assert call_api(server, key) == 401
    events = page.locator("table.key-events tbody tr").all_inner_texts()
    assert [e.split("\t")[2] for e in events] == ["Revoked", "First used", "Created"]
    save_screenshot(page, "api-key-revoked")


def test_key_names_are_shown_as_text(signed_up: Any) -> None:
    page = signed_up
    page.goto("/keys")
    name = '<b id="injected">bold</b><img src=x onerror="document.title=1">'
    create(page, name)
    assert page.locator("#injected").count() == 0 and page.locator("img").count() == 0
    assert page.get_by_role("heading", name=f"Your new API key “{name}”").is_visible()
    row = key_row(page, name)
    assert row.locator(".key-name").inner_text() == name
    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert page.locator("#revoke-name").inner_text() == name
    assert dialog.locator("b, img").count() == 0
    page.keyboard.press("Escape")  # closing the dialog is cancelling
    assert not dialog.is_visible()
    assert key_row(page, name).locator(".key-status").inner_text() == "Active"
    assert page.title() != "1"
