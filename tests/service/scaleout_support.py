"""What the scale-out tests share: the machine's real Redis (a key prefix of its own per test, so
parallel test workers never meet), the environment of a scale-out deployment, and real
``glbcompress worker`` / ``glbcompress serve`` processes.

Redis is taken from GLBCOMPRESS_TEST_REDIS_URL (default redis://127.0.0.1:6379/3, a database
number the service's own default does not use); the tests skip, saying why, when it is absent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

REDIS_ENV = "GLBCOMPRESS_TEST_REDIS_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"
GLBCOMPRESS = str(Path(sys.executable).with_name("glbcompress"))


def redis_base() -> str:
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS)
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        pytest.skip(f"Redis at {url} is unreachable ({type(exc).__name__}); .ci/run starts it")
    return url


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(Redis URL, a key prefix of this test's own); the test's keys are deleted afterwards."""
    from redis import Redis

    url = redis_base()
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield url, prefix
    client = Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def scaleout_env(
    data_dir: Path, database_url: str, redis_url: str, prefix: str, **extra: object
) -> dict[str, str]:
    """The environment of every process of one deployment: shared database, storage, Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLBCOMPRESS_")}
    env.update(
        GLBCOMPRESS_DATA_DIR=str(data_dir),
        GLBCOMPRESS_DATABASE_URL=database_url,
        GLBCOMPRESS_QUEUE="celery",
        GLBCOMPRESS_BROKER_URL=redis_url,
        GLBCOMPRESS_REDIS_PREFIX=prefix,
        GLBCOMPRESS_SECRET_KEY="scale-out-secret-" + "x" * 32,
        GLBCOMPRESS_LOG_LEVEL="INFO",
    )
    env.update({f"GLBCOMPRESS_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Process:
    """A glbcompress command running in its own session, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [GLBCOMPRESS, *args], env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError(f"process exited ({self.proc.returncode}):\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} after {timeout} s:\n{self.output()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Kill it and whatever it started (job processes, the forkserver)."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()


def start_worker(env: dict[str, str], log: Path, task: str | None = None, concurrency: int = 1) -> Process:
    args = ["worker", f"--concurrency={concurrency}"]
    if task:
        args.append(f"--task={task}")
    return Process(args, env, log)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], log: Path) -> tuple[Process, str]:
    """``glbcompress serve`` on a free loopback port; returns it with its base URL once it answers."""
    import httpx2

    port = free_port()
    server = Process(["serve", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx2.TransportError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"the server did not start:\n{server.output()[-3000:]}")
        time.sleep(0.2)
