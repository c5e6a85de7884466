"""The Compress page at an account's storage quota: the upload is refused and the card says why
(the server's problem detail, in words)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import serve
from tests.fixtures.models import ALL


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The service with a storage quota (1 KB) smaller than any model the test uploads."""
    yield from serve(tmp_path, account_storage_mb=1 / 1024)


def test_upload_over_the_storage_quota_is_explained(signed_up: Any, tmp_path: Path) -> None:
    page = signed_up
    model = ALL["textured_box.glb"](tmp_path / "box.glb")
    page.goto("/compress")
    page.set_input_files(
        "#file-input", {"name": "box.glb", "mimeType": "model/gltf-binary", "buffer": model.read_bytes()}
    )
    card = page.locator(".card[data-state=failed]")
    card.wait_for(timeout=30_000)
    text = card.inner_text()
    assert "MB of stored models and results" in text, text
    assert "Delete some jobs on the History page" in text, text
    page.console_errors = [e for e in page.console_errors if "413" not in e]  # the refused request itself
