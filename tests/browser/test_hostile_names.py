"""Hostile names in a real browser: a model whose file name and node/material/image names are HTML
and script, and an API key named like a script tag, are shown literally on Compress (the card's
title and Textures table), History, API Keys and Usage, and no script of theirs ever runs (no dialog
opens, no injected element appears)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.models import ALL
from tests.service.hostile_names import FILENAME, IMAGE, KEY_NAME, with_hostile_names


@pytest.fixture(autouse=True)
def three_installed() -> None:
    from glbcompress.service.web import vendor

    if not vendor.installed():
        pytest.skip("three.js (the 3D preview on the Compress page) is not installed: run scripts/setup")


def test_hostile_names_show_as_text_and_never_run(signed_up: Any, tmp_path: Path) -> None:
    page = signed_up
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto("/keys")
    page.get_by_label("Name", exact=True).fill(KEY_NAME)
    page.get_by_role("button", name="Create key").click()
    page.locator("table.api-keys tbody").get_by_text(KEY_NAME, exact=True).wait_for()

    model = with_hostile_names(ALL["textured_box.glb"](tmp_path / "box.glb"), tmp_path / "hostile.glb")
    page.goto("/compress")
    page.set_input_files(
        "#file-input", {"name": FILENAME, "mimeType": "model/gltf-binary", "buffer": model.read_bytes()}
    )
    card = page.locator(".card[data-state=done]")
    card.wait_for(timeout=60_000)
    assert card.locator(".card-title").inner_text() == FILENAME
    image = card.locator("table.textures tbody th")
    assert image.all_inner_texts() == [f"images[0] ({IMAGE} 0)"]
    assert card.locator("table.textures img").count() == 0
    # The previews load the model itself, names and all, into three.js.
    for view in (".view-before", ".view-after"):
        card.locator(f"{view}[data-state=ready]").wait_for(timeout=60_000)

    page.goto("/history")
    assert page.locator("td.file").first.inner_text() == FILENAME
    page.goto("/usage")
    assert page.locator("tr.key-row th").first.inner_text().startswith(KEY_NAME + " ")

    for path in ("/compress", "/history", "/keys", "/usage"):
        page.goto(path)
        injected = page.evaluate(
            "document.querySelectorAll('img[src=x], svg[onload], main script:not([src])').length"
        )
        assert injected == 0, path
    assert dialogs == []
