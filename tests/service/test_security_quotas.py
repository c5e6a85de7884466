"""Per-account quotas through the real app: jobs queued or running at once (429
too-many-active-jobs) and stored bytes (413 storage-quota-exceeded), on the REST API (raw and
multipart) and the dashboard's upload (whose message the Compress page shows as it is); another
account is not affected, and room comes back when jobs end or are deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from glbcompress.service.settings import Settings
from tests.fixtures.models import ALL

from .api_support import assert_problem, eventually, make_api
from .conftest import make_settings, running_app
from .support import csrf_token, log_out, wait_for

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ALL["textured_box.glb"](tmp_path_factory.mktemp("model") / "box.glb").read_bytes()


def _settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, database_url, **overrides)
    migrate.upgrade(settings.database_url)
    return settings


def test_active_job_quota(tmp_path: Path, database_url: str, model: bytes) -> None:
    settings = _settings(tmp_path, database_url, max_active_jobs_per_account=2)
    with running_app(settings, task="tests.service.tasks:slow") as client:
        ada = make_api(client)
        ids = [ada.post("/v1/jobs?filename=a.glb", content=model).json()["id"] for _ in range(2)]
        third = ada.post("/v1/jobs?filename=c.glb", content=model)
        assert_problem(third, 429, "too-many-active-jobs", "2 jobs queued or running")
        files = {"file": ("c.glb", model, "model/gltf-binary")}
        assert_problem(ada.post("/v1/jobs", files=files), 429, "too-many-active-jobs")
        dashboard = client.post(
            "/jobs?name=c.glb", content=model, headers={"X-CSRF-Token": csrf_token(client, "/compress")}
        )
        assert_problem(dashboard, 429, "too-many-active-jobs", "Wait for one to finish")
        assert ada.get("/v1/jobs").json()["total"] == 2

        # Room comes back when a job ends (here: canceled).
        assert ada.delete(f"/v1/jobs/{ids[0]}").status_code in (200, 202)
        wait_for(client.app.state.services.jobs, ids[0])
        assert eventually(lambda: ada.post("/v1/jobs?filename=d.glb", content=model).status_code == 202)

        # Another account has its own quota.
        log_out(client)
        bob = make_api(client, "bob@example.com")
        assert bob.post("/v1/jobs?filename=b.glb", content=model).status_code == 202


def test_storage_quota(tmp_path: Path, model: bytes) -> None:
    # Room for one job (its input and its same-sized result) and half of another upload.
    quota_mb = 2.5 * len(model) / MiB
    settings = _settings(tmp_path, f"sqlite:///{tmp_path / 's.db'}", account_storage_mb=quota_mb)
    with running_app(settings, task="tests.service.tasks:copy") as client:
        ada = make_api(client)
        first = ada.post("/v1/jobs?filename=a.glb", content=model)
        assert first.status_code == 202, first.text
        assert ada.wait(first.json()["id"])["status"] == "succeeded"

        # Refused from Content-Length, while streaming a chunked body, as multipart and on the dashboard.
        assert_problem(ada.post("/v1/jobs", content=model), 413, "storage-quota-exceeded", "MB of stored")
        chunked = ada.post("/v1/jobs", content=iter([model[:1000], model[1000:]]))
        assert_problem(chunked, 413, "storage-quota-exceeded")
        files = {"file": ("b.glb", model, "model/gltf-binary")}
        assert_problem(ada.post("/v1/jobs", files=files), 413, "storage-quota-exceeded")
        dashboard = client.post(
            "/jobs?name=b.glb", content=model, headers={"X-CSRF-Token": csrf_token(client, "/compress")}
        )
        assert_problem(dashboard, 413, "storage-quota-exceeded", "History page")
        assert ada.get("/v1/jobs").json()["total"] == 1
        blobs = [p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 2, blobs  # the first job's input and result, nothing of the refused

        # Deleting a job gives its room back.
        assert ada.delete(f"/v1/jobs/{first.json()['id']}").status_code == 204
        again = ada.post("/v1/jobs?filename=c.glb", content=model)
        assert again.status_code == 202, again.text
