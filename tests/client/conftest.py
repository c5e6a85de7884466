"""The SDK and remote CLI tests' server: the real app served by uvicorn on a loopback port, on a
fresh SQLite database, with an account and an API key made through the dashboard's own forms
over HTTP, as a user makes them.

``live`` is that server with default settings; ``serve(**settings)`` starts one with other
settings (a small upload limit, no waiting for results, ...).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from glbcompress.service.app import create_app
from glbcompress.service.db import migrate
from tests.fixtures.models import interleaved_gltf, textured_box
from tests.service.conftest import LiveServer, make_settings
from tests.service.support import create_api_key, post_form, sign_up


@dataclass
class Live:
    url: str
    key: str
    app: Any
    browser: httpx2.Client
    """Logged in on the dashboard as the key's account."""

    def revoke(self) -> None:
        """Revoke the key on the API Keys page, as its owner would."""
        key_id = self.browser.get("/v1/account", headers={"Authorization": f"Bearer {self.key}"}).json()[
            "api_key"
        ]["id"]
        page = post_form(self.browser, f"/keys/{key_id}/revoke", f"/keys/{key_id}/revoke")  # type: ignore[arg-type]
        assert page.status_code in (200, 303), page.text


_names = itertools.count()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Live]]:
    with ExitStack() as stack:

        def start(**overrides: Any) -> Live:
            root = tmp_path / f"server{next(_names)}"
            root.mkdir()
            overrides.setdefault("api_rate_limit", 0)
            settings = make_settings(root, f"sqlite:///{root / 'service.db'}", **overrides)
            migrate.upgrade(settings.database_url)
            app = create_app(settings)
            server = stack.enter_context(LiveServer(app))
            browser = stack.enter_context(httpx2.Client(base_url=server.url, timeout=30))
            email = f"sdk{next(_names)}@example.com"
            assert sign_up(browser, email).status_code == 303  # type: ignore[arg-type]
            key = create_api_key(browser, "sdk tests")  # type: ignore[arg-type]
            return Live(server.url, key, app, browser)

        yield start


@pytest.fixture
def live(serve: Callable[..., Live]) -> Live:
    return serve()


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    """A .glb, a .gltf with an external buffer whose name needs escaping, and a broken .glb."""
    folder = tmp_path / "models"
    folder.mkdir()
    glb = textured_box(folder / "box.glb")
    split = folder / "split"
    split.mkdir()
    gltf = interleaved_gltf(split / "scene.gltf")
    broken = folder / "broken.glb"
    broken.write_bytes(glb.read_bytes()[:100])
    return {"glb": glb, "gltf": gltf, "broken": broken}
