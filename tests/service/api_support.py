"""What the REST API tests share: an account with an API key on a running app, a .gltf split into
separate files (to upload as a multipart set or a zip), and problem+json checks."""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from glbcompress.service.db import Job

from .support import create_api_key, sign_up, wait_for

PROBLEM = "application/problem+json"
TYPE = "urn:glbcompress:problem:"


@dataclass
class Api:
    """A TestClient logged in on the dashboard, with an API key of that account."""

    client: TestClient
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kw: Any) -> Response:
        return self.client.get(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.client.post(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.client.delete(path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def job(self, job_id: str) -> Job:
        found = self.client.app.state.services.jobs.get(job_id)
        assert found is not None
        return found

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        wait_for(self.client.app.state.services.jobs, job_id, timeout)
        response = self.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()


def make_api(client: TestClient, email: str = "ada@example.com", key_name: str = "script") -> Api:
    assert sign_up(client, email).status_code == 303
    return Api(client, create_api_key(client, key_name))


def assert_problem(response: Response, status: int, kind: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body = response.json()
    assert body["type"] == TYPE + kind, body
    assert body["status"] == status and body["title"]
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def split_glb(glb: Path, folder: Path) -> Path:
    """Write the GLB as a .gltf with its binary chunk in ``model.bin`` and each embedded image as a
    file under ``textures/``; returns the .gltf's path."""
    data = glb.read_bytes()
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_len])
    bin_start = 20 + json_len
    bin_len = struct.unpack_from("<I", data, bin_start)[0]
    binary = data[bin_start + 8 : bin_start + 8 + bin_len]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "textures").mkdir(exist_ok=True)
    for i, image in enumerate(doc.get("images", [])):
        view = doc["bufferViews"][image.pop("bufferView")]
        start = view.get("byteOffset", 0)
        ext = ".png" if image.get("mimeType") == "image/png" else ".jpg"
        name = f"textures/image{i}{ext}"
        (folder / name).write_bytes(binary[start : start + view["byteLength"]])
        image["uri"] = name
        image.pop("mimeType", None)
    doc["buffers"][0]["uri"] = "model.bin"
    (folder / "model.bin").write_bytes(binary)
    gltf = folder / "model.gltf"
    gltf.write_text(json.dumps(doc))
    return gltf


def eventually(check: Any, timeout: float = 20, every: float = 0.05) -> Any:
    """check()'s first truthy answer, polling until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)
