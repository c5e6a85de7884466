"""The SDK against the real server on loopback: compress (answered at once, and as a job), a .gltf
with its files, submit/wait/result, listing and deleting jobs, presets, usage, account, typed
errors for what the server refuses, and the real rate limit's Retry-After."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from glbcompress.client import (
    Client,
    FileTooLarge,
    InvalidModel,
    InvalidOptions,
    InvalidSignature,
    Job,
    LocalFileError,
    NotFound,
    Progress,
    RateLimited,
    Unauthorized,
    UnsupportedExtension,
    verify_webhook,
)
from glbcompress.engine.reader import read
from glbcompress.service.auth.key_rate_limit import KeyRateLimit

from .conftest import Live
from .scripted_server import Reply, ScriptedServer

GLB_MAGIC = b"glTF"


def assert_glb(path: Path) -> None:
    assert path.read_bytes()[:4] == GLB_MAGIC
    read(path)  # the engine's reader accepts it


def test_compress_a_glb_with_progress(live: Live, models: dict[str, Path], tmp_path: Path) -> None:
    events: list[Progress] = []
    with Client(api_key=live.key, base_url=live.url) as client:
        result = client.compress(
            models["glb"], tmp_path / "out" / "box.glb", preset="max", progress=events.append
        )
    assert result.path == tmp_path / "out" / "box.glb"
    assert_glb(result.path)
    assert result.input_bytes == models["glb"].stat().st_size
    assert result.output_bytes == result.path.stat().st_size
    assert result.compression_ratio == pytest.approx(result.input_bytes / result.output_bytes)
    assert result.job_id and result.request_id
    uploads = [e for e in events if e.stage == "upload"]
    downloads = [e for e in events if e.stage == "download"]
    assert uploads and uploads[-1].done == uploads[-1].total and uploads[-1].fraction == 1.0
    assert downloads and downloads[-1].done == result.output_bytes == downloads[-1].total
    assert all(e.file == models["glb"] for e in events)
    assert events.index(uploads[-1]) < events.index(downloads[0])


def test_compress_a_gltf_with_its_files_and_options(live: Live, models: dict[str, Path]) -> None:
    client = Client(api_key=live.key, base_url=live.url)
    result = client.compress(models["gltf"], position_bits=12, meshopt=True)
    assert result.path == models["gltf"].with_name("scene.min.glb")
    assert_glb(result.path)
    job = client.job(result.job_id)
    assert job.succeeded and job.filename == "scene.gltf" and job.data["options"]["position_bits"] == 12
    assert job.input_bytes > models["gltf"].stat().st_size  # the buffer file went too


def test_a_slow_or_large_model_runs_as_a_job(serve, models: dict[str, Path], tmp_path: Path) -> None:
    live = serve(sync_max_mb=0)  # every upload answered 202 with a job
    events: list[Progress] = []
    client = Client(api_key=live.key, base_url=live.url, poll_interval=0.2)
    result = client.compress(models["glb"], tmp_path / "box.glb", progress=events.append)
    assert_glb(result.path)
    assert result.job is not None and result.job.succeeded and result.job.report
    assert result.output_bytes == result.path.stat().st_size
    stages = [e.stage for e in events]
    assert stages[0] == "upload" and stages[-1] == "download"
    assert "compress" in stages or "queued" in stages


def test_submit_wait_result_list_delete(live: Live, models: dict[str, Path], tmp_path: Path) -> None:
    client = Client(api_key=live.key, base_url=live.url, poll_interval=0.2)
    submitted = [client.submit(models["glb"], preset="lossless") for _ in range(3)]
    assert all(isinstance(job, Job) and job.status in ("queued", "running") for job in submitted)
    done = client.wait(submitted[0], timeout=60)
    assert done.succeeded and done.result_url == f"/v1/jobs/{done.id}/result"
    assert done.compression_ratio == pytest.approx(done.input_bytes / done.output_bytes, rel=1e-3)
    result = client.result(done, tmp_path / "r.glb")
    assert_glb(result.path)
    assert result.output_bytes == done.output_bytes == result.path.stat().st_size
    for job in submitted[1:]:
        client.wait(job.id, timeout=60)
    listed = list(client.jobs(page_size=2))  # two pages and a bit
    assert [job.id for job in listed] == [job.id for job in reversed(submitted)]
    assert {job.id for job in client.jobs(status="succeeded")} == {job.id for job in submitted}
    assert client.delete(done) is None
    with pytest.raises(NotFound):
        client.job(done.id)
    assert [job.id for job in client.jobs()] == [submitted[2].id, submitted[1].id]


def test_a_failed_job_raises_its_typed_error(live: Live, models: dict[str, Path]) -> None:
    client = Client(api_key=live.key, base_url=live.url, poll_interval=0.2)
    job = client.submit(models["broken"])
    with pytest.raises(InvalidModel) as caught:
        client.wait(job, timeout=60)
    assert caught.value.job.id == job.id and caught.value.job.status == "failed"
    assert client.wait(job, raise_on_failure=False).status == "failed"


def test_presets_usage_account(live: Live) -> None:
    client = Client(api_key=live.key, base_url=live.url)
    presets = client.presets()
    assert presets["default"] in {p["name"] for p in presets["presets"]}
    assert any(option["name"] == "position_bits" for option in presets["options"])
    assert client.account()["api_key"]["name"] == "sdk tests"
    assert "totals" in client.usage()


def test_typed_errors(live: Live, models: dict[str, Path], tmp_path: Path) -> None:
    client = Client(api_key=live.key, base_url=live.url)
    with pytest.raises(InvalidModel) as bad_model:
        client.compress(models["broken"], tmp_path / "x.glb")
    assert bad_model.value.status == 422 and bad_model.value.job_id and bad_model.value.request_id
    assert not (tmp_path / "x.glb").exists()
    with pytest.raises(InvalidOptions, match="position_bits") as bad_option:
        client.compress(models["glb"], tmp_path / "x.glb", position_bits=40)
    assert bad_option.value.status == 400 and bad_option.value.kind == "invalid-options"
    with pytest.raises(InvalidOptions):
        client.compress(models["glb"], tmp_path / "x.glb", preset="tiniest")
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(UnsupportedExtension):
        client.compress(text, tmp_path / "x.glb")
    with pytest.raises(NotFound):
        client.job("0" * 32)
    with pytest.raises(LocalFileError, match="no such file"):
        client.compress(tmp_path / "missing.glb")
    with pytest.raises(Unauthorized) as unknown:
        Client(api_key="glbc_" + "x" * 46, base_url=live.url).account()
    assert unknown.value.kind in ("malformed-api-key", "unknown-api-key")


def test_a_revoked_key_is_refused(live: Live) -> None:
    client = Client(api_key=live.key, base_url=live.url)
    assert client.account()
    live.revoke()
    with pytest.raises(Unauthorized) as caught:
        client.account()
    assert caught.value.kind == "revoked-api-key" and "revoked" in str(caught.value)


def test_an_upload_over_the_limit(serve, tmp_path: Path) -> None:
    live = serve(max_upload_mb=1)
    big = tmp_path / "big.glb"
    with big.open("wb") as f:  # 64 MB, refused from its Content-Length without being read
        f.truncate(64 * 1024 * 1024)
    client = Client(api_key=live.key, base_url=live.url, max_retries=0)
    started = time.monotonic()
    with pytest.raises(FileTooLarge) as caught:
        client.compress(big, tmp_path / "out.glb")
    assert caught.value.status == 413 and time.monotonic() - started < 20


def test_the_servers_rate_limit_is_waited_out(live: Live) -> None:
    live.app.state.services.key_rate_limit = KeyRateLimit(limit=2, window=2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = Client(api_key=live.key, base_url=live.url, sleep=sleep)
    started = time.monotonic()
    for _ in range(5):
        assert client.account()["api_key"]["name"] == "sdk tests"
    assert waits and all(0 < wait <= 2 for wait in waits)  # the server's Retry-After
    assert time.monotonic() - started >= 2.0
    impatient = Client(api_key=live.key, base_url=live.url, max_retries=0)
    with pytest.raises(RateLimited) as caught:
        for _ in range(3):
            impatient.account()
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 2


def test_a_webhook_delivery_checked_with_the_sdk(serve, models: dict[str, Path]) -> None:
    live = serve(webhook_allow_private=True)
    client = Client(api_key=live.key, base_url=live.url, poll_interval=0.2)
    secret = client.webhook_secret()
    assert secret.startswith("whsec_")
    with ScriptedServer([Reply(200, b"")]) as receiver:
        job = client.submit(models["glb"], callback_url=f"{receiver.url}/hooks/glb")
        client.wait(job, timeout=60)
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.1)
    (delivery,) = receiver.requests
    assert delivery.path == "/hooks/glb"
    event = verify_webhook(secret, delivery.headers, delivery.body)
    assert event["type"] == "job.succeeded" and Job.from_json(event["data"]).id == job.id
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_webhook(secret, delivery.headers, delivery.body.replace(b"succeeded", b"failed"))
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_webhook("whsec_" + "A" * 44, delivery.headers, delivery.body)
    with pytest.raises(InvalidSignature, match="away from now"):
        verify_webhook(secret, delivery.headers, delivery.body, now=time.time() + 3600)
    with pytest.raises(InvalidSignature, match="missing"):
        verify_webhook(secret, {}, delivery.body)


def test_output_to_a_folder_and_an_unwritable_output(
    live: Live, models: dict[str, Path], tmp_path: Path
) -> None:
    client = Client(api_key=live.key, base_url=live.url)
    folder = tmp_path / "dist"
    folder.mkdir()
    assert client.compress(models["glb"], folder).path == folder / "box.glb"
    assert_glb(folder / "box.glb")
    blocker = tmp_path / "file"
    blocker.write_text("")
    jobs_before = len(list(client.jobs()))
    with pytest.raises(LocalFileError, match="cannot write there"):
        client.compress(models["glb"], blocker / "out.glb")  # a "folder" that is a file
    assert len(list(client.jobs())) == jobs_before  # refused before anything was sent


def test_a_zip_of_a_gltf_folder(live: Live, models: dict[str, Path], tmp_path: Path) -> None:
    archive = tmp_path / "scene.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in models["gltf"].parent.iterdir():
            z.write(file, f"scene/{file.name}")
    result = Client(api_key=live.key, base_url=live.url).compress(archive)
    assert result.path == tmp_path / "scene.min.glb"
    assert_glb(result.path)
