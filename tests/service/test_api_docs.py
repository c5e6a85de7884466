"""The API docs page, and every example on it run as shown against a live server: the shell
examples with bash (curl), the Python ones with this interpreter, the JavaScript ones with node.
The page shows the example files verbatim, so a passing run means the page's code works."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glbcompress.service.api.problems import KINDS
from glbcompress.service.app import create_app
from glbcompress.service.auth import accounts, api_keys
from glbcompress.service.db import migrate
from glbcompress.service.web.api_docs import EXAMPLES, Example
from tests.fixtures.models import generate_all

from .api_support import eventually, split_glb
from .conftest import LiveServer, make_settings
from .support import sign_up

RUNNERS = {"shell": ["bash", "-e"], "python": [sys.executable], "javascript": ["node"]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A live server on loopback (webhooks to loopback allowed) and the environment the examples
    expect: GLBCOMPRESS_URL and GLBCOMPRESS_API_KEY."""
    tmp = tmp_path_factory.mktemp("docs")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'service.db'}", webhook_allow_private=True)
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    db = app.state.services.db
    user = accounts.create_user(db, "docs@example.com", "correct horse battery")
    key = api_keys.create_key(db, user.id, "docs examples").key
    with LiveServer(app) as server:
        yield {**os.environ, "GLBCOMPRESS_URL": server.url, "GLBCOMPRESS_API_KEY": key}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the files the examples read: model.glb, and scene/ (a .gltf with its files)."""
    models = generate_all(tmp_path / "models")
    shutil.copyfile(models["textured_box.glb"], tmp_path / "model.glb")
    split = split_glb(models["textured_box.glb"], tmp_path / "scene")
    split.rename(split.with_name("scene.gltf"))
    (tmp_path / "scene" / "model.bin").rename(tmp_path / "scene" / "scene.bin")
    (tmp_path / "scene" / "textures" / "image0.png").rename(tmp_path / "scene" / "textures" / "wood.png")
    gltf = tmp_path / "scene" / "scene.gltf"
    gltf.write_text(gltf.read_text().replace("model.bin", "scene.bin").replace("image0.png", "wood.png"))
    return tmp_path


def _needs(example: Example) -> None:
    tool = RUNNERS[example.language][0]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed, so the {example.label} example cannot run")
    if example.language == "shell" and shutil.which("curl") is None:
        pytest.skip("curl is not installed")


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.server], ids=lambda e: e.file)
def test_example_runs_as_shown(example: Example, live: dict[str, str], workdir: Path) -> None:
    _needs(example)
    script = workdir / example.file
    script.write_text(example.code)
    done = subprocess.run(
        [*RUNNERS[example.language], str(script)],
        cwd=workdir,
        env=live,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{example.file} failed:\n{done.stdout}\n{done.stderr}"
    if example.produces:
        output = (workdir / example.produces).read_bytes()
        assert output[:4] == b"glTF" and len(output) > 100, output[:200]


def test_webhook_receiver_example_checks_real_deliveries(live: dict[str, str], workdir: Path) -> None:
    (example,) = [e for e in EXAMPLES if e.server]
    _needs(example)
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = workdir / example.file
    script.write_text(example.code)
    receiver = subprocess.Popen(
        [sys.executable, str(script)],
        env={**live, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import requests

        headers = {"Authorization": f"Bearer {live['GLBCOMPRESS_API_KEY']}"}
        callback = f"http://127.0.0.1:{port}/hook"
        with socket.socket() as s:
            assert eventually(lambda: s.connect_ex(("127.0.0.1", port)) == 0, timeout=20), receiver.stderr
        response = requests.post(
            f"{live['GLBCOMPRESS_URL']}/v1/jobs",
            params={"callback_url": callback},
            data=(workdir / "model.glb").read_bytes(),
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def delivered() -> dict | None:
            job = requests.get(
                f"{live['GLBCOMPRESS_URL']}/v1/jobs/{job_id}", headers=headers, timeout=10
            ).json()
            return job if job["webhook"]["state"] == "delivered" else None

        job = eventually(delivered, timeout=60, every=0.2)
        assert job, "the webhook was not acknowledged by the example receiver"
        assert job["webhook"]["last_status"] == 204
    finally:
        receiver.terminate()
        out, err = receiver.communicate(timeout=10)
    assert f"job.succeeded {job_id} succeeded" in out, (out, err)


def test_the_page_shows_every_example_verbatim_and_the_reference(
    live: dict[str, str], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'page.db'}")
    migrate.upgrade(settings.database_url)
    with TestClient(create_app(settings)) as client:
        assert sign_up(client, "ada@example.com").status_code == 303
        page = client.get("/api-docs")
    assert page.status_code == 200
    text = page.text
    blocks = [
        html.unescape(b)
        for b in re.findall(r"<pre class=\"example\"><code[^>]*>(.*?)</code></pre>", text, re.S)
    ]
    for example in EXAMPLES:
        assert example.code in blocks, f"{example.file} is not shown as it is"
    for kind, (status, _, _) in KINDS.items():
        assert f"<code>{kind}</code>" in text and f"<td>{status}</td>" in text
    for endpoint in (
        "POST /v1/compress",
        "POST /v1/jobs",
        "GET /v1/jobs/{id}/result",
        "DELETE /v1/jobs/{id}",
        "GET /v1/presets",
        "GET /v1/usage",
        "GET /v1/account",
        "GET /v1/webhooks/secret",
    ):
        assert f"<code>{endpoint}</code>" in text, endpoint
    assert "<code>position_bits</code>" in text and "1 GB" in text  # options and limits from the code
    assert 'href="/docs"' in text and 'href="/openapi.json"' in text
    assert {"curl", "Python (requests)", "JavaScript (fetch)"} <= {e.label for e in EXAMPLES}


def test_interactive_reference_is_served_without_a_cdn(sqlite_client: TestClient) -> None:
    page = sqlite_client.get("/docs")
    if page.status_code == 503:
        pytest.skip("swagger-ui-dist is not installed (scripts/setup installs it)")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(ref.startswith("/") for ref in sources), sources
    assert "<script>" not in page.text  # no inline script under the site's CSP
    for ref in sources:
        assert sqlite_client.get(ref).status_code == 200, ref
    assert sqlite_client.get("/vendor/swagger-ui/package.json").status_code == 404
    schema = sqlite_client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
