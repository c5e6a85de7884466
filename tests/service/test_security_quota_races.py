"""Per-account quotas under concurrency, on SQLite and PostgreSQL: submissions of one account that
all pass the early check (made before a body is read) together, then reach the insert together,
still give no more jobs than the quota allows, and the refused ones leave no stored bytes. Also
jobs from files on this machine (``submit_file``) are held to the quotas like uploads.

The queue is never started, so the accepted jobs stay queued (active) for the whole test.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.types import Message

from glbcompress.service.auth.accounts import create_user
from glbcompress.service.db import Database, Job, JobSource, migrate
from glbcompress.service.jobs import JobManager, LocalQueue
from glbcompress.service.jobs.quotas import QuotaExceeded
from glbcompress.service.storage import make_storage

from .conftest import make_settings
from .support import PASSWORD

MiB = 1024 * 1024
SUBMITTERS = 8
GATE_SECONDS = 60.0

Outcome = Job | BaseException


@pytest.fixture
def managers(tmp_path: Path, database_url: str) -> Iterator[Callable[..., JobManager]]:
    """JobManager(**quotas): one on a migrated database, with those quota settings."""
    databases: list[Database] = []

    def make(**quotas: float) -> JobManager:
        settings = make_settings(tmp_path, database_url, **quotas)
        migrate.upgrade(settings.database_url)
        db = Database(settings.database_url)
        databases.append(db)
        storage = make_storage(settings)
        return JobManager(db, storage, settings, LocalQueue(db, storage, settings))

    yield make
    for db in databases:
        db.dispose()


def concurrently(submit: Callable[[int], Job], gate: Callable[[list[Outcome | None]], None]) -> list[Outcome]:
    """Run submit(0..SUBMITTERS-1) in threads at once; gate(outcomes), run meanwhile, holds them
    where the test wants them together. Each one's job or exception."""
    outcomes: list[Outcome | None] = [None] * SUBMITTERS

    def run(index: int) -> None:
        try:
            outcomes[index] = submit(index)
        except BaseException as exc:  # every outcome is asserted on
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(SUBMITTERS)]
    for thread in threads:
        thread.start()
    gate(outcomes)
    for thread in threads:
        thread.join(GATE_SECONDS)
        assert not thread.is_alive(), f"a submission did not finish: {outcomes}"
    return [outcome for outcome in outcomes if outcome is not None]


def from_pipes(jobs: JobManager, user_id: int, tmp_path: Path, body: bytes) -> list[Outcome]:
    """submit_file from named pipes, fed only once every submitter has opened its pipe, which each
    does after its early quota check: all of them pass that check before any job is inserted."""
    pipes = [tmp_path / f"model-{i}.glb" for i in range(SUBMITTERS)]
    for pipe in pipes:
        os.mkfifo(pipe)

    def submit(index: int) -> Job:
        return jobs.submit_file(pipes[index], user_id=user_id, source=JobSource.DASHBOARD)

    def feed(outcomes: list[Outcome | None]) -> None:
        ends = [open_writer(pipe, lambda i=i: outcomes[i]) for i, pipe in enumerate(pipes)]
        for end in ends:
            rest = memoryview(body)
            while rest:  # the submitter drains the pipe meanwhile
                rest = rest[os.write(end, rest) :]
        for end in ends:
            os.close(end)

    return concurrently(submit, feed)


def open_writer(pipe: Path, outcome: Callable[[], Outcome | None]) -> int:
    """The pipe's writing end (blocking), once its submitter opened the pipe to read it."""
    deadline = time.monotonic() + GATE_SECONDS
    while True:
        try:
            end = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            ended = outcome()
            if exc.errno != errno.ENXIO or ended is not None or time.monotonic() > deadline:
                raise AssertionError(f"{pipe.name} was not opened: {exc}; the submission: {ended!r}") from exc
            time.sleep(0.01)
            continue
        os.set_blocking(end, True)
        return end


def from_requests(jobs: JobManager, user_id: int, body: bytes) -> list[Outcome]:
    """submit_upload of request bodies whose first chunk is held until every submitter asked for
    it, which each does after its early quota check."""
    together = threading.Barrier(SUBMITTERS, timeout=GATE_SECONDS)

    def submit(index: int) -> Job:
        asked = threading.Event()

        async def receive() -> Message:
            asked.set()
            together.wait()
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {"type": "http", "method": "POST", "path": "/v1/jobs", "headers": []}
        upload = jobs.submit_upload(
            Request(scope, receive), user_id=user_id, source=JobSource.API, filename=f"m{index}.glb"
        )
        try:
            return asyncio.run(upload)
        except BaseException:
            if not asked.is_set():
                together.abort()  # ended before the gate: the others need not wait for it
            raise

    return concurrently(submit, lambda _: None)


def submit_together(how: str, jobs: JobManager, user_id: int, tmp_path: Path, body: bytes) -> list[Outcome]:
    if how == "file":
        return from_pipes(jobs, user_id, tmp_path, body)
    return from_requests(jobs, user_id, body)


def assert_refusals(outcomes: list[Outcome], accepted: int, status: int, kind: str) -> list[Job]:
    """Exactly accepted jobs, every other submission refused with (status, kind)."""
    assert len(outcomes) == SUBMITTERS
    jobs = [outcome for outcome in outcomes if isinstance(outcome, Job)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Job)]
    unexpected = [exc for exc in refused if not isinstance(exc, QuotaExceeded)]
    assert not unexpected, unexpected
    assert {(exc.status, exc.kind) for exc in refused if isinstance(exc, QuotaExceeded)} <= {(status, kind)}
    assert len(jobs) == accepted, f"{len(jobs)} jobs accepted, quota allows {accepted}"
    return jobs


def assert_stored_only(jobs: JobManager, user_id: int, accepted: list[Job]) -> None:
    """The database has the accepted jobs and storage their inputs, nothing of refused ones."""
    with jobs.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user_id))
    assert rows == len(accepted)
    assert sorted(jobs.storage.list_keys()) == sorted(job.input_key for job in accepted)


@pytest.mark.parametrize("how", ["file", "upload"])
def test_concurrent_submissions_keep_active_job_quota(
    managers: Callable[..., JobManager], tmp_path: Path, how: str
) -> None:
    manager = managers(max_active_jobs_per_account=2)
    ada = create_user(manager.db, "ada@example.com", PASSWORD).id
    outcomes = submit_together(how, manager, ada, tmp_path, b"glTF" + bytes(4096))
    accepted = assert_refusals(outcomes, 2, 429, "too-many-active-jobs")
    assert_stored_only(manager, ada, accepted)


@pytest.mark.parametrize("how", ["file", "upload"])
def test_concurrent_submissions_keep_storage_quota(
    managers: Callable[..., JobManager], tmp_path: Path, how: str
) -> None:
    manager = managers(max_active_jobs_per_account=0, account_storage_mb=1)
    ada = create_user(manager.db, "ada@example.com", PASSWORD).id
    outcomes = submit_together(how, manager, ada, tmp_path, bytes(MiB // 2))  # each half the quota
    accepted = assert_refusals(outcomes, 2, 413, "storage-quota-exceeded")
    assert_stored_only(manager, ada, accepted)


def test_jobs_from_files_are_held_to_the_quotas(managers: Callable[..., JobManager], tmp_path: Path) -> None:
    manager = managers(max_active_jobs_per_account=1, account_storage_mb=1)
    ada = create_user(manager.db, "ada@example.com", PASSWORD).id
    small, big = tmp_path / "small.glb", tmp_path / "big.glb"
    small.write_bytes(bytes(1024))
    big.write_bytes(bytes(MiB + 1))

    with pytest.raises(QuotaExceeded) as too_big:  # more than the account's whole storage quota
        manager.submit_file(big, user_id=ada, source=JobSource.DASHBOARD)
    assert (too_big.value.status, too_big.value.kind) == (413, "storage-quota-exceeded")

    first = manager.submit_file(small, user_id=ada, source=JobSource.DASHBOARD)
    with pytest.raises(QuotaExceeded) as busy:
        manager.submit_file(small, user_id=ada, source=JobSource.DASHBOARD)
    assert (busy.value.status, busy.value.kind) == (429, "too-many-active-jobs")
    assert_stored_only(manager, ada, [first])

    bob = create_user(manager.db, "bob@example.com", PASSWORD).id  # another account: its own quota
    assert manager.submit_file(small, user_id=bob, source=JobSource.DASHBOARD).user_id == bob
