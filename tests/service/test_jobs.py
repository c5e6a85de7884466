"""Jobs on the real queue, on SQLite and PostgreSQL: run, fail, limits, cancel, resume after a
restart (graceful, and the server killed), expire."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi import Request
from sqlalchemy import update

from glbcompress.engine.errors import InvalidOptions
from glbcompress.engine.reader import read
from glbcompress.service.app import create_app
from glbcompress.service.auth.accounts import create_user
from glbcompress.service.db import Job, JobSource, JobStatus, migrate, utcnow
from glbcompress.service.jobs import JobManager, store
from glbcompress.service.settings import Settings
from tests.fixtures.models import textured_box

from .conftest import make_settings, running_app
from .support import PASSWORD, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPTED = "tests.service.tasks:scripted"


def make_user(jobs: JobManager, email: str = "ada@example.com") -> int:
    return create_user(jobs.db, email, PASSWORD).id


def script(tmp_path: Path, behaviour: str) -> Path:
    path = tmp_path / f"{behaviour}.glb"
    path.write_bytes(behaviour.encode())
    return path


def submit(jobs: JobManager, path: Path, user_id: int, **kwargs: object) -> Job:
    return jobs.submit_file(path, user_id=user_id, source=JobSource.DASHBOARD, **kwargs)


def job_pids(settings: Settings) -> list[int]:
    """Pids of job processes of the `slow` task that are still alive."""
    alive = []
    for marker in (settings.blob_dir / ".partial").glob("*/pid-*"):
        pid = int(marker.name.split("-")[1])
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# --- run and fail -------------------------------------------------------------------------------------


def test_job_runs_the_engine(settings: Settings, tmp_path: Path) -> None:
    model = textured_box(tmp_path / "box.glb")
    with running_app(settings) as client:
        jobs = client.app.state.services.jobs
        user = make_user(jobs)
        job = submit(jobs, model, user, preset="max", options={"position_bits": 12})
        assert job.status == JobStatus.QUEUED
        done = wait_for(jobs, job.id)
        assert done.status == JobStatus.SUCCEEDED, done.error_message
        assert (done.input_bytes, done.filename, done.source) == (
            model.stat().st_size,
            "box.glb",
            "dashboard",
        )
        assert done.options == {"preset": "max", "options": {"position_bits": 12}}
        assert done.report["options"]["position_bits"] == 12
        assert done.report["output_bytes"] == done.output_bytes
        assert (done.step, done.progress, done.attempts) == ("done", 1.0, 1)
        assert done.started_at <= done.finished_at
        assert done.expires_at == done.finished_at + timedelta(hours=settings.retention_hours)
        storage = client.app.state.services.storage
        with storage.local_path(done.output_key) as output:
            assert output.stat().st_size == done.output_bytes
            assert read(output).meshes  # a real, readable GLB
        assert jobs.get(job.id, user_id=user) is not None
        assert jobs.get(job.id, user_id=user + 1) is None  # only its owner sees it
        assert [j.id for j in jobs.list(user)] == [job.id]


def test_upload_becomes_a_job(sqlite_settings: Settings, tmp_path: Path) -> None:
    """The path upload endpoints take: the request body streamed into storage, then queued."""
    model = textured_box(tmp_path / "box.glb")
    with running_app(sqlite_settings) as client:
        jobs = client.app.state.services.jobs
        user = make_user(jobs)

        async def upload(request: Request) -> dict:
            name = request.query_params["name"]
            job = await jobs.submit_upload(request, user_id=user, source=JobSource.API, filename=name)
            return {"id": job.id}

        client.app.add_api_route("/test-submit", upload, methods=["PUT"])
        response = client.put("/test-submit?name=../../etc/box.glb", content=model.read_bytes())
        done = wait_for(jobs, response.json()["id"])
    assert done.status == JobStatus.SUCCEEDED, done.error_message
    assert (done.filename, done.source, done.input_bytes) == ("box.glb", "api", model.stat().st_size)
    assert done.input_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert done.input_key == f"jobs/{done.id}/input.glb"


def test_bad_model_fails_with_the_engines_message(settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "page.glb"
    page.write_text("<!doctype html><html><body>Not found</body></html>")
    with running_app(settings) as client:
        jobs = client.app.state.services.jobs
        done = wait_for(jobs, submit(jobs, page, make_user(jobs)).id)
    assert done.status == JobStatus.FAILED
    assert done.error_kind == "invalid-model"
    assert "HTML" in done.error_message
    assert done.output_key is None and done.report is None


def test_bad_options_are_refused_before_anything_is_stored(sqlite_settings: Settings, tmp_path: Path) -> None:
    model = textured_box(tmp_path / "box.glb")
    app = create_app(sqlite_settings)
    jobs = app.state.services.jobs
    user = make_user(jobs)
    with pytest.raises(InvalidOptions, match="position_bits"):
        submit(jobs, model, user, options={"position_bits": 99})
    with pytest.raises(InvalidOptions, match="preset"):
        submit(jobs, model, user, preset="tiny")
    assert list(app.state.services.storage.list_keys()) == []
    assert jobs.list(user) == []


def test_misbehaving_jobs_fail_and_the_server_lives_on(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db'}", job_timeout_seconds=1.5, job_memory_mb=512, workers=2
    )
    migrate.upgrade(settings.database_url)
    with running_app(settings, task=SCRIPTED) as client:
        jobs = client.app.state.services.jobs
        user = make_user(jobs)
        ids = {
            kind: submit(jobs, script(tmp_path, kind), user).id
            for kind in ("hungry", "crash", "buggy", "slow", "copy")
        }
        done = {kind: wait_for(jobs, job_id) for kind, job_id in ids.items()}
        assert client.get("/healthz").status_code == 200

    assert (done["hungry"].status, done["hungry"].error_kind) == ("failed", "limit-exceeded")
    assert "more than the 512 MB of memory" in done["hungry"].error_message
    assert (done["crash"].status, done["crash"].error_kind) == ("failed", "crashed")
    assert "SIGSEGV" in done["crash"].error_message
    assert (done["buggy"].status, done["buggy"].error_kind) == ("failed", "internal-error")
    assert ids["buggy"] in done["buggy"].error_message
    assert "secret internal detail" not in done["buggy"].error_message
    assert (done["slow"].status, done["slow"].error_kind) == ("failed", "timeout")
    assert "took longer than a job may run (1.5 s)" in done["slow"].error_message
    assert done["copy"].status == "succeeded"
    assert job_pids(settings) == []


def test_progress_is_reported(sqlite_settings: Settings, tmp_path: Path) -> None:
    with running_app(sqlite_settings, task=SCRIPTED, heartbeat_seconds=0.1) as client:
        jobs = client.app.state.services.jobs
        job = submit(jobs, script(tmp_path, "slow"), make_user(jobs))
        wait_until(lambda: (jobs.get(job.id).progress or 0) > 0)
        running = jobs.get(job.id)
        assert (running.status, running.step) == ("running", "waiting")
        assert running.heartbeat_at is not None
        jobs.cancel(job.id)
        wait_for(jobs, job.id)


# --- cancel and delete --------------------------------------------------------------------------------


def test_cancel_queued_and_running_jobs(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, workers=1)
    migrate.upgrade(settings.database_url)
    with running_app(settings, task=SCRIPTED) as client:
        jobs = client.app.state.services.jobs
        user = make_user(jobs)
        running = submit(jobs, script(tmp_path, "slow"), user)
        queued = submit(jobs, script(tmp_path, "copy"), user)
        wait_for(jobs, running.id, status=(JobStatus.RUNNING,))
        wait_until(lambda: len(job_pids(settings)) == 1)

        assert jobs.cancel(queued.id, user_id=user + 1) is None  # not someone else's to cancel
        canceled = jobs.cancel(queued.id, user_id=user)
        assert canceled.status == JobStatus.CANCELED and canceled.started_at is None

        started = time.monotonic()
        jobs.cancel(running.id, user_id=user)
        done = wait_for(jobs, running.id)
        assert done.status == JobStatus.CANCELED
        assert done.error_message == "The job was canceled."
        assert time.monotonic() - started < 3
        wait_until(lambda: job_pids(settings) == [])
        assert jobs.cancel(running.id).status == JobStatus.CANCELED  # canceling again changes nothing
        assert wait_for(jobs, queued.id).started_at is None  # never ran


def test_delete_running_job(sqlite_settings: Settings, tmp_path: Path) -> None:
    with running_app(sqlite_settings, task=SCRIPTED) as client:
        services = client.app.state.services
        jobs = services.jobs
        job = submit(jobs, script(tmp_path, "slow"), make_user(jobs))
        wait_for(jobs, job.id, status=(JobStatus.RUNNING,))
        assert jobs.delete(job.id)
        assert jobs.get(job.id) is None
        wait_until(lambda: job_pids(sqlite_settings) == [])
        wait_until(lambda: list(services.storage.list_keys()) == [])


# --- resume after restart ----------------------------------------------------------------------------


def test_jobs_resume_after_a_graceful_restart(settings: Settings, tmp_path: Path) -> None:
    with running_app(settings, task=SCRIPTED) as client:
        jobs = client.app.state.services.jobs
        user = make_user(jobs)
        ids = [submit(jobs, script(tmp_path, "slow"), user).id for _ in range(3)]  # 2 run, 1 waits
        wait_until(lambda: sum(jobs.get(i).status == JobStatus.RUNNING for i in ids) == 2)
    # The app stopped: running jobs went back to the queue, their processes are gone.
    assert [jobs.get(i).status for i in ids] == [JobStatus.QUEUED] * 3
    assert [jobs.get(i).attempts for i in ids] == [0, 0, 0]
    assert job_pids(settings) == []
    with running_app(settings, task="tests.service.tasks:copy") as client:
        jobs = client.app.state.services.jobs
        done = [wait_for(jobs, i) for i in ids]
    assert [(j.status, j.attempts) for j in done] == [(JobStatus.SUCCEEDED, 1)] * 3


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_interrupted_jobs_are_recovered(settings: Settings, tmp_path: Path) -> None:
    """Rows left "running" by a server that died: requeued when their worker is gone or silent,
    left alone while another machine's worker still beats, failed after too many attempts."""
    host = socket.gethostname()
    app = create_app(settings)  # not started: only used to create the jobs
    jobs = app.state.services.jobs
    user = make_user(jobs)
    now = utcnow()
    rows = {
        "dead process": (f"{host}:{dead_pid()}:abcd", now, 1),
        "silent machine": ("elsewhere:1:abcd", now - timedelta(minutes=5), 1),
        "busy machine": ("elsewhere:1:abcd", now + timedelta(minutes=5), 1),
        "too many tries": (f"{host}:{dead_pid()}:abcd", now, settings.job_max_attempts),
    }
    ids = {}
    for name, (worker, heartbeat, attempts) in rows.items():
        job = submit(jobs, script(tmp_path, "copy"), user)
        with jobs.db.session() as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(
                    status="running", worker=worker, heartbeat_at=heartbeat, attempts=attempts, started_at=now
                )
            )
        ids[name] = job.id
    with running_app(settings, task="tests.service.tasks:copy") as client:
        jobs = client.app.state.services.jobs
        assert wait_for(jobs, ids["dead process"]).status == JobStatus.SUCCEEDED
        assert wait_for(jobs, ids["silent machine"]).status == JobStatus.SUCCEEDED
        failed = wait_for(jobs, ids["too many tries"])
        assert (failed.status, failed.error_kind) == (JobStatus.FAILED, "interrupted")
        assert failed.error_message == store.interrupted_message(settings.job_max_attempts)
        assert jobs.get(ids["busy machine"]).status == JobStatus.RUNNING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings: Settings, task: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.service.server_process",
            str(settings.data_dir),
            settings.database_url,
            str(port),
            task,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the server did not start")
        time.sleep(0.1)


def test_job_survives_the_server_being_killed(sqlite_settings: Settings, tmp_path: Path) -> None:
    """kill -9 a real server process mid-job: the job's process dies with it, and the next start
    of the service finishes the job. (SQLite only, to keep the suite quick.)"""
    settings = sqlite_settings
    app = create_app(settings)
    jobs = app.state.services.jobs
    job = submit(jobs, script(tmp_path, "slow"), make_user(jobs))
    server, _url = start_server(settings, SCRIPTED)
    try:
        running = wait_for(jobs, job.id, status=(JobStatus.RUNNING,), timeout=90)
        assert running.worker.split(":")[1] == str(server.pid)
        wait_until(lambda: len(job_pids(settings)) == 1)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        wait_until(lambda: job_pids(settings) == [], timeout=30)  # no orphan goes on computing
        assert jobs.get(job.id).status == JobStatus.RUNNING  # as the dead server left it
    finally:
        server.kill()
        server.wait(10)

    with running_app(settings, task="tests.service.tasks:copy") as client:  # the next start
        jobs = client.app.state.services.jobs
        done = wait_for(jobs, job.id, timeout=90)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)


# --- retention ----------------------------------------------------------------------------------------


def test_results_expire(settings: Settings, tmp_path: Path) -> None:
    model = textured_box(tmp_path / "box.glb")
    with running_app(settings) as client:
        services = client.app.state.services
        jobs = services.jobs
        done = wait_for(jobs, submit(jobs, model, make_user(jobs)).id)
        keys = list(services.storage.list_keys(f"jobs/{done.id}"))
        assert len(keys) == 2  # input and result

        assert jobs.sweep(now=done.expires_at - timedelta(seconds=1))["jobs expired"] == 0
        assert list(services.storage.list_keys(f"jobs/{done.id}")) == keys
        assert jobs.sweep(now=done.expires_at + timedelta(seconds=1))["jobs expired"] == 1
        assert list(services.storage.list_keys()) == []
        expired = jobs.get(done.id)
        assert expired.purged_at is not None
        assert (expired.input_key, expired.output_key) == (None, None)
        assert expired.output_bytes == done.output_bytes  # the figures stay for history and usage
        assert jobs.sweep(now=done.expires_at + timedelta(days=1))["jobs expired"] == 0


def test_periodic_sweep(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db'}", retention_hours=0.5 / 3600, sweep_interval_seconds=0.1
    )
    migrate.upgrade(settings.database_url)
    with running_app(settings, task="tests.service.tasks:copy") as client:
        services = client.app.state.services
        jobs = services.jobs
        job = submit(jobs, script(tmp_path, "copy"), make_user(jobs))
        wait_for(jobs, job.id)
        wait_until(lambda: jobs.get(job.id).purged_at is not None, timeout=10)
        assert list(services.storage.list_keys()) == []
