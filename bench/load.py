"""Load test of a scale-out deployment, on loopback only: 2 web processes (``glbcompress serve``)
and 2 workers (``glbcompress worker``) sharing PostgreSQL, Redis and a storage folder; N concurrent
API compressions of small models (POST /v1/compress, spread over both web processes, following a
202 to the job when the answer takes too long), then one large upload (POST /v1/jobs, streamed).

It reports throughput, p50/p99 latency, errors (must be none), jobs lost (submitted but not
finished; must be none) and each process's peak memory before and after the large upload (must
not grow with the upload's size). Bounded in count and time: it stops by itself.

    python -m bench.load                           # 200 compressions, one 500 MB upload
    python -m bench.load --jobs 20 --big-mb 50     # a quick run

PostgreSQL: ``--database-url`` (default GLBCOMPRESS_TEST_POSTGRES_URL, else the machine's
``test`` database), in a schema of its own dropped afterwards. Redis: ``--redis-url`` (default
database 4 of the machine's Redis), under a key prefix of its own deleted afterwards. Writes
``bench/out/load.json``; exits 1 when a requirement is not met.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .paths import DEFAULT_OUT, ROOT

GLBCOMPRESS = str(Path(sys.executable).with_name("glbcompress"))
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/4"
MEMORY_GROWTH_LIMIT_MB = 64.0
"""Peak memory a process may gain during the large upload (a fraction of its size)."""


# --- the deployment ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        with open(f"/proc/{self.popen.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield str(make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    from redis import Redis

    prefix = f"load-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def start(name: str, args: list[str], env: dict[str, str], folder: Path) -> Proc:
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [GLBCOMPRESS, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log)


def wait_until_ready(proc: Proc, deadline: float) -> None:
    import httpx2

    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not start in time")
        if proc.url:
            with suppress(httpx2.TransportError):
                if httpx2.get(f"{proc.url}/healthz", timeout=2).status_code == 200:
                    return
        elif "ready." in proc.log.read_text(errors="replace"):
            return
        time.sleep(0.2)


def stop(procs: list[Proc]) -> None:
    for proc in procs:
        with suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait(10)


# --- the load --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    error: str = ""
    job_id: str = ""
    via_job: bool = False
    """Answered 202 (took longer than the server waits) and followed to the job's result."""


def compress_one(url: str, key: str, name: str, body: bytes, deadline: float) -> Outcome:
    import httpx2

    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "model/gltf-binary"}
    try:
        with httpx2.Client(base_url=url, headers={"Authorization": headers["Authorization"]}) as client:
            answer = client.post(
                "/v1/compress", params={"filename": name}, content=body, headers=headers, timeout=300
            )
            if answer.status_code == 200:
                if not answer.content.startswith(b"glTF"):
                    return Outcome(time.monotonic() - started, "the answer is not a GLB")
                return Outcome(time.monotonic() - started, job_id=answer.headers.get("X-Job-Id", ""))
            if answer.status_code != 202:
                return Outcome(time.monotonic() - started, f"HTTP {answer.status_code}: {answer.text[:200]}")
            job_id = answer.json()["id"]
            while time.monotonic() < deadline:
                job = client.get(f"/v1/jobs/{job_id}", timeout=30).json()
                if job["status"] in ("succeeded", "failed", "canceled"):
                    break
                time.sleep(0.25)
            else:
                return Outcome(time.monotonic() - started, "the job did not finish in time", job_id, True)
            if job["status"] != "succeeded":
                return Outcome(
                    time.monotonic() - started, f"job {job['status']}: {job.get('error')}", job_id, True
                )
            result = client.get(f"/v1/jobs/{job_id}/result", timeout=120)
            if result.status_code != 200 or not result.content.startswith(b"glTF"):
                return Outcome(time.monotonic() - started, f"result: HTTP {result.status_code}", job_id, True)
            return Outcome(time.monotonic() - started, job_id=job_id, via_job=True)
    except Exception as exc:
        return Outcome(time.monotonic() - started, f"{type(exc).__name__}: {exc}")


def large_glb(path: Path, size: int) -> Path:
    """A valid GLB of about size bytes: a small triangle and a large buffer nothing uses (the
    engine prunes it), written in pieces, never held in memory."""
    payload = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    filler = max(0, size - 4096)
    binary = (len(payload) + filler + 3) // 4 * 4
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": binary}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(payload)}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            }
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + binary
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as out:
        out.write(struct.pack("<4sII", b"glTF", 2, total))
        out.write(struct.pack("<I4s", len(text), b"JSON") + text)
        out.write(struct.pack("<I4s", binary, b"BIN\0") + payload)
        left = binary - len(payload)
        while left > 0:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return path


def upload_large(url: str, key: str, path: Path, deadline: float) -> dict[str, Any]:
    import httpx2

    def body() -> Iterator[bytes]:
        with open(path, "rb") as src:
            while piece := src.read(1 << 20):
                yield piece

    started = time.monotonic()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "model/gltf-binary"}
    out: dict[str, Any] = {"bytes": path.stat().st_size}
    with httpx2.Client(base_url=url, headers={"Authorization": headers["Authorization"]}) as client:
        answer = client.post(
            "/v1/jobs", params={"filename": path.name}, content=body(), headers=headers, timeout=600
        )
        out["upload_seconds"] = round(time.monotonic() - started, 2)
        if answer.status_code != 202:
            out["error"] = f"HTTP {answer.status_code}: {answer.text[:200]}"
            return out
        job_id = out["job_id"] = answer.json()["id"]
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}", timeout=30).json()
            if job["status"] in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.5)
        else:
            out["error"] = "the job did not finish in time"
            return out
        out["status"] = job["status"]
        out["output_bytes"] = job["output_bytes"]
        out["total_seconds"] = round(time.monotonic() - started, 2)
        if job["status"] != "succeeded":
            out["error"] = f"job {job['status']}: {job.get('error')}"
    return out


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    jobs: int
    concurrency: int
    seconds: float = 0.0
    throughput_per_second: float = 0.0
    latency_p50_seconds: float = 0.0
    latency_p99_seconds: float = 0.0
    answered_via_job: int = 0
    errors: list[str] = field(default_factory=list)
    jobs_lost: int = 0
    large_upload: dict[str, Any] = field(default_factory=dict)
    peak_memory_mb: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def small_models(folder: Path) -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.models import generate_all

    paths = generate_all(folder)
    return [(p.name, p.read_bytes()) for p in paths.values() if p.suffix == ".glb"]


def run(args: argparse.Namespace) -> Report:
    from glbcompress.service.auth.accounts import create_user
    from glbcompress.service.auth.api_keys import create_key
    from glbcompress.service.db import Database, Job, JobStatus, migrate

    report = Report(args.jobs, args.concurrency)
    deadline = time.monotonic() + args.timeout
    with (
        tempfile.TemporaryDirectory(prefix="glbcompress-load-") as tmp,
        postgres_schema(args.database_url) as database_url,
        redis_prefix(args.redis_url) as prefix,
    ):
        folder = Path(tmp)
        migrate.upgrade(database_url)
        db = Database(database_url)
        user = create_user(db, "load@example.com", "load test password")
        key = create_key(db, user.id, "load test").key
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLBCOMPRESS_")}
        env.update(
            GLBCOMPRESS_DATA_DIR=str(folder / "data"),
            GLBCOMPRESS_DATABASE_URL=database_url,
            GLBCOMPRESS_QUEUE="celery",
            GLBCOMPRESS_BROKER_URL=args.redis_url,
            GLBCOMPRESS_REDIS_PREFIX=prefix,
            GLBCOMPRESS_SECRET_KEY="load-test-" + "k" * 40,
            GLBCOMPRESS_API_RATE_LIMIT="0",
            GLBCOMPRESS_MAX_UPLOAD_MB=str(args.big_mb + 64),
            GLBCOMPRESS_LOG_LEVEL="WARNING",
        )
        procs: list[Proc] = []
        try:
            worker_env = {**env, "GLBCOMPRESS_LOG_LEVEL": "INFO"}  # says "ready." when it takes jobs
            for i in (1, 2):
                procs.append(start(f"worker{i}", ["worker", "--concurrency=1"], worker_env, folder))
                web = start(f"web{i}", ["serve", "--port", str(port := free_port())], env, folder)
                web.url = f"http://127.0.0.1:{port}"
                procs.append(web)
            for proc in procs:
                wait_until_ready(proc, min(deadline, time.monotonic() + 120))
            webs = [p for p in procs if p.url]

            models = small_models(folder / "models")
            started = time.monotonic()
            with ThreadPoolExecutor(args.concurrency) as pool:
                outcomes = list(
                    pool.map(
                        lambda i: compress_one(
                            webs[i % 2].url,
                            key,
                            models[i % len(models)][0],
                            models[i % len(models)][1],
                            deadline,
                        ),
                        range(args.jobs),
                    )
                )
            report.seconds = round(time.monotonic() - started, 2)
            latencies = [o.seconds for o in outcomes]
            report.throughput_per_second = round(args.jobs / report.seconds, 2)
            report.latency_p50_seconds = round(statistics.median(latencies), 3)
            report.latency_p99_seconds = round(percentile(latencies, 0.99), 3)
            report.answered_via_job = sum(o.via_job for o in outcomes)
            report.errors = [o.error for o in outcomes if o.error]
            before = {p.name: p.peak_rss_mb() for p in procs}

            if args.big_mb > 0:
                big = large_glb(folder / "large.glb", int(args.big_mb * 1024 * 1024))
                sampler = MemorySampler(procs)
                with sampler:
                    report.large_upload = upload_large(webs[0].url, key, big, deadline)
                big.unlink()
                if "error" in report.large_upload:
                    report.errors.append(f"large upload: {report.large_upload['error']}")
            after = {p.name: p.peak_rss_mb() for p in procs}
            report.peak_memory_mb = {
                name: {"before_large_upload": round(before[name], 1), "after": round(after[name], 1)}
                for name in before
            }
            with db.session() as session:
                from sqlalchemy import func, select

                total = session.scalar(select(func.count()).select_from(Job)) or 0
                unfinished = session.scalar(
                    select(func.count()).select_from(Job).where(Job.status.not_in(JobStatus.FINISHED))
                )
            expected = args.jobs + (1 if args.big_mb > 0 else 0)
            report.jobs_lost = int(unfinished or 0) + max(0, expected - total)
        finally:
            stop(procs)
            db.dispose()
    if report.errors:
        report.failures.append(f"{len(report.errors)} request(s) failed")
    if report.jobs_lost:
        report.failures.append(f"{report.jobs_lost} job(s) lost")
    for name, peak in report.peak_memory_mb.items():
        growth = peak["after"] - peak["before_large_upload"]
        if growth > MEMORY_GROWTH_LIMIT_MB:
            report.failures.append(f"{name}'s peak memory grew by {growth:.0f} MB during the large upload")
    return report


class MemorySampler:
    """Nothing but a guard that the processes stay alive while the large upload runs (their peak
    memory is read from the kernel's VmHWM, which misses no spike)."""

    def __init__(self, procs: list[Proc]):
        self.procs = procs
        self.dead: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self.dead = [p.name for p in self.procs if p.popen.poll() is not None]

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        if self.dead:
            raise RuntimeError(f"process(es) died during the large upload: {', '.join(self.dead)}")


def print_report(report: Report) -> None:
    print(f"compressions: {report.jobs} at {report.concurrency} at once over 2 web processes + 2 workers")
    print(f"  wall time {report.seconds} s, throughput {report.throughput_per_second} jobs/s")
    print(f"  latency p50 {report.latency_p50_seconds} s, p99 {report.latency_p99_seconds} s")
    print(f"  answered 202 and followed to the job: {report.answered_via_job}")
    print(f"  errors: {len(report.errors)}, jobs lost: {report.jobs_lost}")
    for error in report.errors[:10]:
        print(f"    {error}")
    if report.large_upload:
        big = report.large_upload
        print(
            f"large upload: {big['bytes'] / 2**20:.0f} MB in {big.get('upload_seconds')} s, "
            f"job {big.get('status', '?')} after {big.get('total_seconds')} s"
        )
    print("peak memory (MB)      before large upload   after")
    for name, peak in report.peak_memory_mb.items():
        print(f"  {name:<20} {peak['before_large_upload']:>18.1f} {peak['after']:>7.1f}")
    print("PASS" if not report.failures else "FAIL: " + "; ".join(report.failures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="small-model compressions (default 200)")
    parser.add_argument("--concurrency", type=int, default=200, help="requests at once (default 200)")
    parser.add_argument("--big-mb", type=float, default=500, help="size of the large upload (0: none)")
    parser.add_argument(
        "--database-url", default=os.environ.get("GLBCOMPRESS_TEST_POSTGRES_URL", DEFAULT_DATABASE)
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--timeout", type=float, default=900, help="seconds the whole run may take")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / "load.json")
    args = parser.parse_args(argv)
    # Stopped from outside (timeout, Ctrl-C): still stop the processes and drop the schema.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not 1 <= args.jobs <= 2000 or not 1 <= args.concurrency <= 500:
        parser.error("--jobs must be 1..2000 and --concurrency 1..500")
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print_report(report)
    print(f"figures written to {args.out}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
