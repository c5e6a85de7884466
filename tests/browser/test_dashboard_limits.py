"""The Compress page on a server with a small upload limit: a model over it is refused in plain
words before anything is sent, while a model under it still compresses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import serve
from tests.fixtures.models import generate_all


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """This module's server: uploads of at most 3 kB."""
    yield from serve(tmp_path, max_upload_mb=3 / 1024)


def test_too_large_is_said_plainly(signed_up: Any, tmp_path: Path) -> None:
    models = generate_all(tmp_path / "models")
    page = signed_up
    page.goto("/compress")
    assert "At most 3 kB per model" in page.locator("#dropzone-hint").inner_text()
    with page.expect_request(lambda r: r.method == "POST" and "/jobs?" in r.url, timeout=5_000) as sent:
        page.set_input_files("#file-input", [str(models["skinned_rig.glb"]), str(models["textured_box.glb"])])
    assert "name=textured_box.glb" in sent.value.url  # only the small one was sent
    big = page.locator(".card", has=page.locator(".card-title", has_text="skinned_rig.glb"))
    assert big.locator(".card-error").inner_text() == (
        f"“skinned_rig.glb” is {models['skinned_rig.glb'].stat().st_size / 1024:.3g} kB, "
        "more than the 3 kB a model may be."
    )
    small = page.locator(".card", has=page.locator(".card-title", has_text="textured_box.glb"))
    small.locator(".status-badge", has_text="Done").wait_for(timeout=60_000)
