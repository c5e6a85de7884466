"""A crash inside a native library (meshoptimizer, Draco, Pillow, basisu) fails that one job with a
readable message; the server and the other jobs live on.

No test-only switch in the product makes the crash: the real engine runs a real, big job in the
server's real job process, and the test kills that process the way a native fault does (SIGSEGV)
or the way the kernel's OOM killer does (SIGKILL) while it works. Meanwhile a second job runs on
the other worker, and a job submitted afterwards must succeed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from glbcompress.engine.reader import read
from glbcompress.service.auth.accounts import create_user
from glbcompress.service.db import JobSource, JobStatus, migrate
from glbcompress.service.jobs import JobManager
from tests.fixtures.models import UINT, USHORT, Builder, textured_box
from tests.service.conftest import make_settings, running_app
from tests.service.support import PASSWORD, wait_for


def big_grid(path: Path, side: int = 600) -> Path:
    """A side x side vertex grid (some 700,000 triangles): seconds of native work."""
    b = Builder()
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    pos = np.stack([xs, np.sin(xs * 20) * np.cos(ys * 20) * 0.05, ys], -1).reshape(-1, 3)
    i = np.arange(side - 1)
    r, c = np.meshgrid(i, i, indexing="ij")
    v = (r * side + c).reshape(-1)
    idx = np.stack([v, v + side, v + 1, v + 1, v + side, v + side + 1], -1).reshape(-1)
    prim = {
        "attributes": {"POSITION": b.accessor(pos, target=34962, minmax=True)},
        "indices": b.accessor(idx, UINT if len(pos) > 65535 else USHORT, target=34963),
    }
    b.add("scenes", {"nodes": [b.add("nodes", {"mesh": b.add("meshes", {"primitives": [prim]})})]})
    b.gltf["scene"] = 0
    return b.write_glb(path)


def _ppid(pid: int) -> int | None:
    """The parent of a live process (None for a zombie: a job that already ended, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        return None if state == "Z" else int(ppid)
    except (OSError, ValueError, IndexError):
        return None


def _is_forkserver(pid: int) -> bool:
    """Whether the process is a multiprocessing forkserver (not, say, a server subprocess that an
    earlier test of this worker started and whose own job processes must not count)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"forkserver" in f.read()
    except OSError:
        return False


def job_processes() -> list[int]:
    """Pids of job processes: children of a forkserver that is a child of ours."""
    me = os.getpid()
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    parents = {pid: _ppid(pid) for pid in pids}
    servers = {pid for pid, parent in parents.items() if parent == me and _is_forkserver(pid)}
    return [pid for pid, parent in parents.items() if parent in servers and pid not in servers]


def wait_running(jobs: JobManager, job_id: str, known: set[int], timeout: float = 60.0) -> int:
    """Wait until the job is busy in the engine (past reading) in a job process not in `known`
    (processes that were there before it was submitted, including any an earlier test of this
    worker left winding down); returns that process's pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        assert job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING), job.error_message
        if job.status == JobStatus.RUNNING and job.step not in ("", "read", "unpack"):
            new = set(job_processes()) - known
            if len(new) == 1:
                return new.pop()
        time.sleep(0.02)
    raise AssertionError("the big job never got going")


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_crashed_job_fails_alone(tmp_path: Path, sig: signal.Signals) -> None:
    """Two big jobs run side by side; the first one's process is killed mid-work. It fails with a
    readable message; the other finishes, and so does a job submitted afterwards."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db'}", workers=2)
    migrate.upgrade(settings.database_url)
    big = big_grid(tmp_path / "big.glb")
    bigger = big_grid(tmp_path / "bigger.glb", side=1000)  # still working when it is killed
    small = textured_box(tmp_path / "small.glb")
    options = {"texture_format": "keep"}
    with running_app(settings, heartbeat_seconds=0.1) as client:
        jobs = client.app.state.services.jobs
        user = create_user(jobs.db, "crash@example.com", PASSWORD).id

        def submit(path: Path) -> str:
            return jobs.submit_file(path, user_id=user, source=JobSource.DASHBOARD, options=options).id

        before = set(job_processes())
        doomed = submit(bigger)
        doomed_pid = wait_running(jobs, doomed, before)
        neighbour = submit(big)
        wait_running(jobs, neighbour, before | {doomed_pid})
        assert jobs.get(doomed).status == JobStatus.RUNNING
        os.kill(doomed_pid, sig)
        crashed = wait_for(jobs, doomed)
        survived = wait_for(jobs, neighbour, timeout=300)
        finished = wait_for(jobs, submit(small))
        assert client.get("/healthz").status_code == 200

    assert survived.status == JobStatus.SUCCEEDED, survived.error_message
    assert (crashed.status, crashed.error_kind) == (JobStatus.FAILED, "crashed")
    assert sig.name in crashed.error_message and "stopped unexpectedly" in crashed.error_message
    assert "Traceback" not in crashed.error_message and "\n" not in crashed.error_message
    assert finished.status == JobStatus.SUCCEEDED, finished.error_message
    assert crashed.output_key is None
    with settings.blob_dir.joinpath(finished.output_key).open("rb") as f:
        assert f.read(4) == b"glTF"
    read(settings.blob_dir / finished.output_key)
    assert set(job_processes()) <= before  # none of this test's job processes is left
