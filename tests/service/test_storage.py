"""Storage: limits, checksums, atomic commits, keys that cannot escape the folder, and uploads
streamed through the real app without being held in memory."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import Request

from glbcompress.service.settings import Settings
from glbcompress.service.storage import InvalidKey, LocalStorage, MissingBlob, TooLarge
from glbcompress.service.storage.uploads import receive_upload

from .conftest import LiveServer, make_settings, running_app


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "blobs")


def leftovers(storage: LocalStorage) -> list[Path]:
    return [p for p in storage.root.rglob("*") if p.is_file()]


def test_write_hash_and_read_back(storage: LocalStorage) -> None:
    data = os.urandom(300_000)
    with storage.writer(limit=len(data)) as out:
        for i in range(0, len(data), 65536):
            out.write(data[i : i + 65536])
        blob = out.commit("jobs/1/input.glb")
    assert (blob.size, blob.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    with storage.open("jobs/1/input.glb") as f:
        assert f.read() == data
    assert storage.size("jobs/1/input.glb") == len(data)
    assert list(storage.list_keys()) == ["jobs/1/input.glb"]
    with storage.local_path("jobs/1/input.glb") as path:
        assert path.read_bytes() == data


def test_limit_is_enforced_and_nothing_is_left(storage: LocalStorage) -> None:
    with pytest.raises(TooLarge, match="larger than the 1 kB limit"), storage.writer(limit=1024) as out:
        out.write(b"x" * 1000)
        out.write(b"x" * 25)
    assert leftovers(storage) == []
    with storage.writer(limit=1024) as out:  # exactly the limit is fine
        out.write(b"x" * 1024)
        out.commit("exact")
    assert storage.size("exact") == 1024


def test_uncommitted_blob_never_appears(storage: LocalStorage) -> None:
    with storage.writer() as out:
        out.write(b"half a model")
        assert list(storage.list_keys()) == []
    assert leftovers(storage) == []


@pytest.mark.parametrize(
    "key", ["../escape", "/etc/passwd", "a/../../b", ".hidden", "a//b", "", "a\\b", "x" * 300]
)
def test_keys_cannot_escape(storage: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.path(key)
    with pytest.raises(InvalidKey), storage.writer() as out:
        out.write(b"x")
        out.commit(key)
    assert leftovers(storage) == []


def test_delete_and_missing(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "result.glb"
    source.write_bytes(b"glb")
    storage.save_file("jobs/7/result.glb", source)
    assert not source.exists()  # moved in
    storage.delete_prefix("jobs/7")
    assert list(storage.list_keys()) == []
    assert not (storage.root / "jobs").exists()  # no empty folders pile up
    with pytest.raises(MissingBlob):
        storage.open("jobs/7/result.glb")
    storage.delete("jobs/7/result.glb")  # deleting what is gone is fine


def test_sweep_partial_removes_only_old_work_files(storage: LocalStorage) -> None:
    old, fresh = storage.partial_dir / "old", storage.partial_dir / "fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert storage.sweep_partial(3600) == 1
    assert not old.exists() and fresh.exists()


# --- uploads through the app ---------------------------------------------------------------------


LIMIT_MB = 32


@pytest.fixture
def upload_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The real app, served over real HTTP, with one extra route that stores its request body the
    way upload endpoints do."""
    from glbcompress.service.app import create_app
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db'}", max_upload_mb=LIMIT_MB)
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    storage = app.state.services.storage

    async def upload(request: Request) -> dict:
        blob = await receive_upload(request, storage, "uploads/model.glb", settings.max_upload_bytes)
        return {"size": blob.size, "sha256": blob.sha256}

    app.add_api_route("/test-upload", upload, methods=["PUT"])
    with LiveServer(app) as server:
        server.storage = storage
        yield server


def chunks(total: int, sent: list[int], size: int = 256 * 1024) -> Iterator[bytes]:
    """total bytes in chunks, counting in sent[0] how many the client actually sent."""
    block = bytes(range(256)) * (size // 256)
    while sent[0] < total:
        part = block[: min(size, total - sent[0])]
        sent[0] += len(part)
        yield part


def put(server: LiveServer, body: Iterator[bytes], headers: dict[str, str] | None = None) -> int | None:
    """The status of the upload, or None when the server cut the connection before answering."""
    try:
        return httpx2.put(f"{server.url}/test-upload", content=body, headers=headers, timeout=30).status_code
    except httpx2.TransportError:
        return None


def test_upload_is_streamed_with_a_checksum(upload_server: LiveServer) -> None:
    total = LIMIT_MB * 1024 * 1024  # the limit exactly
    tracemalloc.start()
    try:
        response = httpx2.put(f"{upload_server.url}/test-upload", content=chunks(total, [0]), timeout=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    expected = hashlib.sha256(b"".join(chunks(total, [0]))).hexdigest()
    assert response.json() == {"size": total, "sha256": expected}
    assert peak < total / 4, f"peak {peak} bytes: the upload was held in memory"
    with upload_server.storage.open("uploads/model.glb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == expected


def test_declared_oversize_is_refused_before_reading(upload_server: LiveServer) -> None:
    sent, big = [0], 256 * 1024 * 1024
    try:
        response = httpx2.put(
            f"{upload_server.url}/test-upload",
            content=chunks(big, sent),
            headers={"content-length": str(big)},
            timeout=30,
        )
    except httpx2.TransportError:
        pass  # the server answered and closed while the client was still sending: fine too
    else:
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == f"The file is larger than the {LIMIT_MB} MB limit."
    assert sent[0] < 64 * 1024 * 1024, f"the client could send {sent[0]} bytes: the server kept reading"
    assert leftovers(upload_server.storage) == []


def test_streamed_oversize_is_cut_off(upload_server: LiveServer) -> None:
    sent = [0]
    status = put(upload_server, chunks(256 * 1024 * 1024, sent))  # chunked: no length declared
    assert status in (413, None)
    assert sent[0] < 64 * 1024 * 1024, f"the client could send {sent[0]} bytes: the server kept reading"
    assert leftovers(upload_server.storage) == []


def test_settings_limit_applies_to_jobs_from_files(tmp_path: Path) -> None:
    from glbcompress.service.db import JobSource, migrate

    settings: Settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db'}", max_upload_mb=0.001)
    migrate.upgrade(settings.database_url)
    model = tmp_path / "big.glb"
    model.write_bytes(b"x" * 2048)
    with running_app(settings) as client:
        services = client.app.state.services
        with pytest.raises(TooLarge):
            services.jobs.submit_file(model, user_id=1, source=JobSource.DASHBOARD)
        assert list(services.storage.list_keys()) == []
