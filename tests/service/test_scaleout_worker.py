"""Jobs through real ``glbcompress worker`` processes (Celery on the machine's Redis) with the web
side on the machine's PostgreSQL: a job runs on a worker and never in the web process; a worker
killed mid-job loses nothing and the job completes once, on another worker; a worker asked to
stop (SIGTERM) hands its job back to the queue, or finishes it within its grace period."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glbcompress.engine.reader import read
from glbcompress.service.app import create_app
from glbcompress.service.auth.accounts import create_user
from glbcompress.service.db import Job, JobSource, JobStatus, migrate
from glbcompress.service.jobs import JobManager
from glbcompress.service.settings import Settings
from tests.fixtures.models import textured_box

from .conftest import make_settings
from .scaleout_support import Process, redis_prefix, scaleout_env, start_worker
from .support import PASSWORD, wait_for

__all__ = ["redis_prefix"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[2]
HOLD = "tests.service.scaleout_tasks:hold"
FAST = {
    "job_lease_seconds": 5,
    "broker_visibility_timeout_seconds": 8,
    "worker_shutdown_grace_seconds": 1,
}
"""Short lease and visibility timeout, so recovery happens within the test's time."""


@dataclass
class Deployment:
    tmp: Path
    settings: Settings
    env: dict[str, str]
    hold: Path
    processes: list[Process] = field(default_factory=list)

    def worker(self, name: str, task: str | None = None, **env: str) -> Process:
        process = start_worker({**self.env, **env}, self.tmp / f"{name}.log", task)
        self.processes.append(process)
        return process

    def web(self) -> TestClient:
        """The web side, in this process: its queue only sends messages."""
        return TestClient(create_app(self.settings))


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str, redis_prefix: tuple[str, str]) -> Iterator[Deployment]:
    redis_url, prefix = redis_prefix
    settings = make_settings(
        tmp_path, postgres_url, queue="celery", broker_url=redis_url, redis_prefix=prefix, **FAST
    )
    migrate.upgrade(postgres_url)
    hold = tmp_path / "hold"
    hold.mkdir()
    env = scaleout_env(settings.data_dir, postgres_url, redis_url, prefix, test_hold_dir=hold, **FAST)
    env["PYTHONPATH"] = str(ROOT)
    deployment = Deployment(tmp_path, settings, env, hold)
    try:
        yield deployment
    finally:
        for process in deployment.processes:
            process.stop()


def submit(client: TestClient, path: Path) -> tuple[JobManager, Job]:
    jobs: JobManager = client.app.state.services.jobs
    user = create_user(jobs.db, "ada@example.com", PASSWORD).id
    return jobs, jobs.submit_file(path, user_id=user, source=JobSource.DASHBOARD)


def worker_pid(job: Job) -> int:
    assert job.worker, "the job has no worker"
    return int(job.worker.split(":")[1])


def results(jobs: JobManager, job_id: str) -> list[str]:
    return sorted(k for k in jobs.storage.list_keys(f"jobs/{job_id}") if "/result-" in k)


def test_a_job_runs_on_a_worker_process_not_in_the_web_process(deployment: Deployment) -> None:
    worker = deployment.worker("worker")
    model = textured_box(deployment.tmp / "box.glb")
    with deployment.web() as client:
        health = client.get("/healthz").json()
        assert health["queue"] == {"backend": "celery", "broker": "ok"}
        jobs, job = submit(client, model)
        done = wait_for(jobs, job.id, timeout=90)
        assert done.status == JobStatus.SUCCEEDED, done.error_message
        assert worker_pid(done) == worker.pid != os.getpid()
        assert (done.attempts, done.step, done.progress) == (1, "done", 1.0)
        with jobs.storage.local_path(done.output_key) as output:
            assert output.stat().st_size == done.output_bytes
            assert read(output).meshes  # the real engine ran: a readable GLB
        assert results(jobs, job.id) == [done.output_key]


def test_a_worker_killed_mid_job_loses_nothing_and_the_job_finishes_once(deployment: Deployment) -> None:
    first, second = deployment.worker("a", HOLD), deployment.worker("b", HOLD)
    model = deployment.tmp / "model.glb"
    model.write_bytes(b"held model")
    with deployment.web() as client:
        jobs, job = submit(client, model)
        running = wait_for(jobs, job.id, timeout=60, status=(JobStatus.RUNNING,))
        victim = {first.pid: first, second.pid: second}[worker_pid(running)]
        survivor = second if victim is first else first
        deadline = time.monotonic() + 30
        while not list(deployment.hold.glob("started-*")):
            assert time.monotonic() < deadline, "the job process never started"
            time.sleep(0.05)

        os.kill(victim.pid, signal.SIGKILL)  # mid-job, without a word
        victim.proc.wait(10)
        (deployment.hold / "release").touch()

        done = wait_for(jobs, job.id, timeout=60)
        assert done.status == JobStatus.SUCCEEDED, done.error_message
        assert worker_pid(done) == survivor.pid
        assert done.attempts == 2
        assert results(jobs, job.id) == [done.output_key]

        # The killed worker's message comes back after the visibility timeout; taking it again
        # must change nothing.
        survivor.wait_for_output("job message ignored", timeout=30)
        again = jobs.get(job.id)
        assert again is not None
        assert (again.status, again.attempts, again.output_key, again.finished_at) == (
            done.status,
            done.attempts,
            done.output_key,
            done.finished_at,
        )
        assert results(jobs, job.id) == [done.output_key]


def test_a_stopped_worker_hands_its_job_back_to_another(deployment: Deployment) -> None:
    model = deployment.tmp / "model.glb"
    model.write_bytes(b"held model")
    stopping = deployment.worker("stopping", HOLD)
    with deployment.web() as client:
        jobs, job = submit(client, model)
        running = wait_for(jobs, job.id, timeout=60, status=(JobStatus.RUNNING,))
        assert worker_pid(running) == stopping.pid
        other = deployment.worker("other", HOLD)
        other.wait_for_output("ready.", timeout=60)

        stopping.proc.send_signal(signal.SIGTERM)  # grace: 1 s, then the job is handed back
        assert stopping.proc.wait(30) == 0, stopping.output()[-2000:]
        assert "job handed back to the queue" in stopping.output()

        moved = wait_for(jobs, job.id, timeout=30, status=(JobStatus.RUNNING,))
        assert worker_pid(moved) == other.pid
        (deployment.hold / "release").touch()
        done = wait_for(jobs, job.id, timeout=30)
        assert done.status == JobStatus.SUCCEEDED, done.error_message
        assert (worker_pid(done), done.attempts) == (other.pid, 1)  # a hand-back is not an attempt
        assert results(jobs, job.id) == [done.output_key]


def test_cancel_reaches_the_worker_and_a_stopped_worker_finishes_its_job(deployment: Deployment) -> None:
    model = deployment.tmp / "model.glb"
    model.write_bytes(b"held model")
    worker = deployment.worker("worker", HOLD, GLBCOMPRESS_WORKER_SHUTDOWN_GRACE_SECONDS="60")
    with deployment.web() as client:
        # Canceled in the web process, stopped on the worker (which reads the mark at its heartbeat).
        jobs, doomed = submit(client, model)
        wait_for(jobs, doomed.id, timeout=60, status=(JobStatus.RUNNING,))
        jobs.cancel(doomed.id)
        canceled = wait_for(jobs, doomed.id, timeout=30)
        assert canceled.status == JobStatus.CANCELED
        assert results(jobs, doomed.id) == []

        job = jobs.submit_file(model, user_id=canceled.user_id, source=JobSource.DASHBOARD)
        wait_for(jobs, job.id, timeout=60, status=(JobStatus.RUNNING,))
        worker.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert worker.proc.poll() is None, "the worker left before its job ended"
        (deployment.hold / "release").touch()
        assert worker.proc.wait(30) == 0, worker.output()[-2000:]
        done = jobs.get(job.id)
        assert done is not None
        assert (done.status, worker_pid(done), done.attempts) == (JobStatus.SUCCEEDED, worker.pid, 1)
