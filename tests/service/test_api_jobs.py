"""The REST API's compression endpoints over HTTP through the real app and engine, on SQLite and
PostgreSQL: /v1/compress (raw, multipart, .gltf sets, zip; 202 above the size and time limits),
the job resource (submit, poll, list with pages, result, cancel, delete), presets, usage figures
that agree with the dashboard, and a clear problem+json for every refusal."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import glbcompress
from glbcompress.engine.options import schema
from glbcompress.service.db import JobSource
from glbcompress.service.jobs import usage
from glbcompress.service.settings import Settings
from tests.fixtures.models import generate_all

from .api_support import Api, assert_problem, make_api, split_glb
from .conftest import make_settings, running_app

SLOW = "tests.service.tasks:slow"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("models"))


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_app(settings) as client:
        yield make_api(client)


def expected(models: dict[str, Path], tmp_path: Path, name: str, **kw: object) -> bytes:
    out = tmp_path / f"expected-{name}.glb"
    glbcompress.compress(models[name], out, **kw)
    return out.read_bytes()


def test_compress_raw_body_returns_the_glb_with_size_headers(
    api: Api, models: dict[str, Path], tmp_path: Path
) -> None:
    source = models["textured_box.glb"].read_bytes()
    response = api.post("/v1/compress?preset=max", content=source, headers={"X-Request-ID": "build-0042"})
    assert response.status_code == 200, response.text
    assert response.content == expected(models, tmp_path, "textured_box.glb", preset="max")
    assert response.headers["content-type"] == "model/gltf-binary"
    assert response.headers["x-original-size"] == str(len(source))
    assert response.headers["x-compressed-size"] == str(len(response.content))
    assert float(response.headers["x-compression-ratio"]) == pytest.approx(
        len(source) / len(response.content), 1e-3
    )
    assert response.headers["x-request-id"] == "build-0042"
    assert 'filename="model-compressed.glb"' in response.headers["content-disposition"]

    # The job it ran as records the key that sent it; History and the API both show the source.
    job = api.job(response.headers["x-job-id"])
    key_id = api.get("/v1/account").json()["api_key"]["id"]
    assert job.source == JobSource.API and job.api_key_id == key_id
    listed = api.get("/v1/jobs").json()["items"]
    assert [(j["id"], j["source"], j["api_key_id"]) for j in listed] == [(job.id, "api", key_id)]
    history = api.client.get("/history").text
    assert "<td>API key “script”</td>" in history  # the key's name labels the job's source


def test_compress_multipart_with_option_fields(api: Api, models: dict[str, Path], tmp_path: Path) -> None:
    source = models["skinned_rig.glb"]
    response = api.post(
        "/v1/compress",
        files={"file": ("rig.glb", source.read_bytes(), "model/gltf-binary")},
        data={"preset": "balanced", "options": '{"meshopt": false}', "position_bits": "12"},
    )
    assert response.status_code == 200, response.text
    want = expected(
        models,
        tmp_path,
        "skinned_rig.glb",
        preset="balanced",
        options={"meshopt": False, "position_bits": 12},
    )
    assert response.content == want
    job = api.get(f"/v1/jobs/{response.headers['x-job-id']}").json()
    assert job["filename"] == "rig.glb" and job["preset"] == "balanced"
    assert job["options"] == {"meshopt": False, "position_bits": 12}
    assert job["compression_ratio"] == pytest.approx(job["input_bytes"] / job["output_bytes"], 1e-3)


def test_gltf_with_its_files_as_multipart_set_and_as_zip(
    api: Api, models: dict[str, Path], tmp_path: Path
) -> None:
    gltf = split_glb(models["textured_box.glb"], tmp_path / "split")
    folder = gltf.parent
    parts = [
        ("file", ("model.gltf", gltf.read_bytes(), "model/gltf+json")),
        ("file", ("model.bin", (folder / "model.bin").read_bytes(), "application/octet-stream")),
        # Sent by its bare name: placed where the .gltf expects it (textures/).
        ("file", ("image0.png", (folder / "textures/image0.png").read_bytes(), "image/png")),
    ]
    as_set = api.post("/v1/compress", files=parts)
    assert as_set.status_code == 200, as_set.text
    assert as_set.content[:4] == b"glTF"
    job = api.get(f"/v1/jobs/{as_set.headers['x-job-id']}").json()
    assert job["filename"] == "model.gltf" and job["status"] == "succeeded"

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path in (gltf, folder / "model.bin", folder / "textures/image0.png"):
            z.write(path, path.relative_to(folder).as_posix())
    as_zip = api.post("/v1/compress?filename=model.zip", content=archive.getvalue())
    assert as_zip.status_code == 200, as_zip.text
    assert as_zip.content == as_set.content  # the same model, the same bytes

    # A file the .gltf needs is missing: the engine says which.
    missing = api.post("/v1/compress", files=parts[:2])
    body = assert_problem(missing, 422, "invalid-model")
    assert "image0.png" in body["detail"] and body["job_id"]


def test_async_job_poll_result_list_and_delete(api: Api, models: dict[str, Path], tmp_path: Path) -> None:
    source = models["morph_cube.glb"].read_bytes()
    ids = []
    for i in range(3):
        created = api.post(f"/v1/jobs?filename=cube{i}.glb", content=source)
        assert created.status_code == 202, created.text
        job = created.json()
        assert created.headers["location"] == job["links"]["self"] == f"/v1/jobs/{job['id']}"
        assert job["status"] in ("queued", "running") and job["source"] == "api"
        ids.append(job["id"])
    done = [api.wait(job_id) for job_id in ids]
    assert all(job["status"] == "succeeded" and job["progress"] == 1.0 for job in done)
    assert done[0]["links"]["result"] == f"/v1/jobs/{ids[0]}/result"
    assert done[0]["report"]["output_bytes"] == done[0]["output_bytes"]

    result = api.get(done[0]["links"]["result"])
    assert result.status_code == 200
    assert result.content == expected(models, tmp_path, "morph_cube.glb")
    assert result.headers["x-original-size"] == str(len(source))
    assert result.headers["x-compressed-size"] == str(len(result.content)) == str(done[0]["output_bytes"])

    first = api.get("/v1/jobs?limit=2").json()
    assert first["total"] == 3 and [j["id"] for j in first["items"]] == ids[::-1][:2]
    assert first["next"] == "/v1/jobs?limit=2&offset=2"
    second = api.get(first["next"]).json()
    assert [j["id"] for j in second["items"]] == [ids[0]] and second["next"] is None
    assert api.get("/v1/jobs?status=failed").json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
        "next": None,
    }

    # Deleting a finished job: 204, gone from the API, still counted in usage.
    assert api.delete(f"/v1/jobs/{ids[0]}").status_code == 204
    assert_problem(api.get(f"/v1/jobs/{ids[0]}"), 404, "not-found")
    assert_problem(api.get(f"/v1/jobs/{ids[0]}/result"), 404, "not-found")
    assert api.get("/v1/jobs").json()["total"] == 2
    assert api.get("/v1/usage").json()["totals"]["models"] == 3


def test_invalid_models_and_options_are_named(api: Api, models: dict[str, Path]) -> None:
    glb = models["textured_box.glb"].read_bytes()
    body = assert_problem(
        api.post("/v1/compress", content=b"not a model at all"), 422, "invalid-model", "glTF"
    )
    assert api.get(f"/v1/jobs/{body['job_id']}").json()["error"]["type"].endswith(":invalid-model")
    truncated = assert_problem(api.post("/v1/compress", content=glb[: len(glb) // 2]), 422, "invalid-model")
    assert truncated["detail"]

    assert_problem(
        api.post("/v1/compress?options=" + json.dumps({"position_bits": 40}), content=glb),
        400,
        "invalid-options",
        "'position_bits'",
        "between 1 and 16",
    )
    assert_problem(
        api.post("/v1/jobs", files={"file": ("a.glb", glb)}, data={"normal_bits": "many"}),
        400,
        "invalid-options",
        "'normal_bits'",
    )
    assert_problem(api.post("/v1/jobs?options={oops", content=glb), 400, "invalid-options", "not valid JSON")
    assert_problem(api.post("/v1/jobs?options=[1]", content=glb), 400, "invalid-options", "JSON object")
    assert_problem(api.post('/v1/jobs?options={"nope":1}', content=glb), 400, "invalid-options", "'nope'")
    assert_problem(api.post("/v1/jobs?preset=fastest", content=glb), 400, "invalid-options", "'fastest'")
    lod_files = json.dumps({"lods": "1,0.5", "lod_files": True})
    assert_problem(api.post("/v1/jobs?options=" + lod_files, content=glb), 400, "invalid-options", "one GLB")
    assert_problem(api.post("/v1/jobs?filename=chair.obj", content=glb), 415, "unsupported-file-type", ".obj")
    assert_problem(
        api.post("/v1/jobs", files={"file": ("chair.fbx", glb)}), 415, "unsupported-file-type", "'chair.fbx'"
    )
    assert_problem(api.post("/v1/jobs", content=b""), 400, "empty-file")
    assert_problem(api.post("/v1/jobs", files={"file": ("a.glb", b"")}), 400, "empty-file")
    assert_problem(
        api.post("/v1/jobs", files=[("file", ("a.glb", glb)), ("file", ("b.glb", glb))]),
        400,
        "invalid-request",
        "Several files",
    )
    assert_problem(
        api.post(
            "/v1/jobs",
            content=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.glb"\r\n\r\nabc',
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
        400,
        "invalid-request",
        "cut short",
    )
    fields_only = b'--x\r\nContent-Disposition: form-data; name="preset"\r\n\r\nmax\r\n--x--\r\n'
    assert_problem(
        api.post(
            "/v1/jobs", content=fields_only, headers={"Content-Type": "multipart/form-data; boundary=x"}
        ),
        400,
        "invalid-request",
        "holds no file",
    )
    bad = assert_problem(api.get("/v1/jobs?limit=1000&status=done"), 422, "validation-error", "'limit'")
    assert {e["field"] for e in bad["errors"]} == {"limit", "status"}
    assert api.get("/v1/jobs").json()["total"] == 2  # only the two invalid models became jobs


def test_not_found_and_other_accounts_jobs(settings: Settings, models: dict[str, Path]) -> None:
    with running_app(settings) as client:
        ada = make_api(client)
        job = ada.post("/v1/jobs", content=models["textured_box.glb"].read_bytes()).json()
    with running_app(settings) as client:
        bob = make_api(client, "bob@example.com")
        for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/result", "/v1/jobs/" + "x" * 200):
            assert_problem(bob.get(path), 404, "not-found")
        assert_problem(bob.delete(f"/v1/jobs/{job['id']}"), 404, "not-found")
        assert bob.get("/v1/jobs").json()["total"] == 0
        assert_problem(bob.get("/v1/nothing-here"), 404, "not-found")
        assert_problem(client.post("/v1/jobs", content=b"x"), 401, "missing-api-key")


def test_sync_answers_202_above_the_size_limit(
    tmp_path: Path, database_url: str, models: dict[str, Path]
) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, database_url, sync_max_mb=0.001)
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        api = make_api(client)
        response = api.post("/v1/compress", content=models["textured_box.glb"].read_bytes())
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        assert api.wait(job["id"])["status"] == "succeeded"
        assert api.get(f"/v1/jobs/{job['id']}/result").content[:4] == b"glTF"


def test_slow_jobs_202_cancel_and_result_conflicts(tmp_path: Path, database_url: str) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, database_url, sync_wait_seconds=0.5)
    migrate.upgrade(settings.database_url)
    with running_app(settings, task=SLOW) as client:
        api = make_api(client)
        response = api.post("/v1/compress", content=b"slow")
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        early = assert_problem(api.get(f"/v1/jobs/{job_id}/result"), 409, "job-not-finished")
        assert early["detail"]
        assert api.get(f"/v1/jobs/{job_id}/result").headers["retry-after"] == "1"

        canceled = api.delete(f"/v1/jobs/{job_id}")
        # 200 once stopped; 202 only if the job process took more than the DELETE's wait to die.
        assert (canceled.status_code, canceled.json()["status"]) in ((200, "canceled"), (202, "running"))
        api.wait(job_id)
        job = api.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "canceled" and job["error"]["type"].endswith(":job-failed")
        assert_problem(api.get(f"/v1/jobs/{job_id}/result"), 409, "job-failed")
        assert api.delete(f"/v1/jobs/{job_id}").status_code == 204  # a finished job is deleted
        assert api.get("/v1/jobs").json()["total"] == 0


def test_rate_limit_and_request_size_limit(tmp_path: Path) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", api_rate_limit=3, max_upload_mb=0.01
    )
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        api = make_api(client)
        too_big = api.post("/v1/jobs", content=b"x" * 20_000)
        assert_problem(too_big, 413, "file-too-large")
        assert too_big.headers["connection"] == "close"
        api.get("/v1/presets")
        api.get("/v1/presets")
        limited = assert_problem(api.get("/v1/presets"), 429, "rate-limited")
        assert limited["detail"]
        assert int(api.get("/v1/presets").headers["retry-after"]) > 0


def test_presets_and_option_schema(api: Api) -> None:
    from glbcompress.engine.api import presets

    catalog = api.get("/v1/presets").json()
    assert catalog["default"] == "balanced"
    assert {p["name"]: p["options"] for p in catalog["presets"]} == {
        n: p["options"] for n, p in presets().items()
    }
    by_name = {o["name"]: o for o in catalog["options"]}
    assert set(by_name) == {o["name"] for o in schema()}
    assert by_name["position_bits"]["min"] == 1 and by_name["position_bits"]["max"] == 16
    assert by_name["position_bits"]["pass"] == "quantize" and by_name["draco"]["type"] == "bool"


def test_usage_agrees_with_the_dashboard(api: Api, models: dict[str, Path]) -> None:
    glb = models["textured_box.glb"].read_bytes()
    assert api.post("/v1/compress", content=glb).status_code == 200
    assert api.post("/v1/compress", content=b"broken").status_code == 422
    figures = api.get("/v1/usage?days=7").json()
    s = api.client.app.state.services
    user_id = api.job(api.get("/v1/jobs").json()["items"][0]["id"]).user_id
    totals = usage.totals(s.db, user_id)
    assert figures["totals"] == {
        "models": 1,
        "failed": 1,
        "bytes_in": totals.bytes_in,
        "bytes_out": totals.bytes_out,
        "bytes_saved": totals.saved,
    }
    assert figures["window"]["days"] == 7 and len(figures["daily"]) == 7
    assert figures["daily"][-1]["models"] == 1 and figures["sources"]["api"]["models"] == 1
    assert figures["sources"]["dashboard"]["models"] == 0
    (key,) = figures["keys"]
    assert key["id"] == figures["key_id"] and key["name"] == "script" and key["active"]
    assert key["models"] == 1 and key["failed"] == 1
    # Requests as the API Keys page counts them (this very request included).
    from glbcompress.service.auth import api_keys

    (row,) = api_keys.list_keys(s.db, user_id)
    assert key["requests"] == s.key_activity.figures(row)[0] - 1 > 0


def test_declared_oversize_is_refused_before_the_body_is_sent(tmp_path: Path) -> None:
    """413 from Content-Length alone: the client has sent no byte of the body when it is answered."""
    import socket

    from glbcompress.service.app import create_app
    from glbcompress.service.auth import accounts, api_keys
    from glbcompress.service.db import migrate

    from .conftest import LiveServer

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", max_upload_mb=1)
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    db = app.state.services.db
    key = api_keys.create_key(
        db, accounts.create_user(db, "ada@example.com", "correct horse battery").id, "k"
    ).key
    with LiveServer(app) as server:
        host, port = server.url.removeprefix("http://").split(":")
        for path, media in (
            ("/v1/compress", "model/gltf-binary"),
            ("/v1/jobs", "multipart/form-data; boundary=x"),
        ):
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                    f"Content-Type: {media}\r\nContent-Length: {10 * 1024**3}\r\n\r\n".encode()
                )
                answer = b""
                while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413"), head
            assert b"application/problem+json" in head and b"connection: close" in head.lower()
            assert json.loads(body)["type"] == "urn:glbcompress:problem:file-too-large"


@pytest.mark.corpus
def test_corpus_gltf_folder_as_multipart_set(sqlite_settings: Settings, tmp_path: Path) -> None:
    """A real .gltf with its .bin and texture, sent part by part, comes back as the very GLB the
    engine makes from the folder on disk."""
    from tests.tools import CORPUS

    folder = CORPUS / "public" / "CesiumMilkTruck"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the shared corpus is not on this machine)")
    local = tmp_path / "local.glb"
    glbcompress.compress(folder / "CesiumMilkTruck.gltf", local)
    with running_app(sqlite_settings) as client:
        api = make_api(client)
        parts = [("file", (path.name, path.read_bytes())) for path in sorted(folder.iterdir())]
        response = api.post("/v1/compress", files=parts)
        assert response.status_code == 200, response.text
        assert response.content == local.read_bytes()
        assert int(response.headers["x-original-size"]) > sum(len(p[1][1]) for p in parts)  # a zip of them
