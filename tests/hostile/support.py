"""Helpers of the hostile-input suite: taking GLBs apart and putting them back together (with lies),
running the engine on a case and classifying what happened, and running the CLI on a case in a
process of its own under an address-space limit and a timeout, measuring its peak memory and time.

Every case must end one of two ways: the engine writes a GLB that our reader reads back, or it
raises one of its typed errors (EngineError) with a one-line message. Anything else -- another
exception, a hang, a crash, memory beyond the limit -- fails the test.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glbcompress.engine import api
from glbcompress.engine.errors import EngineError
from glbcompress.engine.limits import DEFAULT_LIMITS, Limits
from glbcompress.engine.reader import read

JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942
CASE_MEMORY_BYTES = 1024 * 1024**2
"""Address space one hostile case may use in its own process (the engine, numpy and all)."""
CASE_TIMEOUT_SECONDS = 60.0
FAST_OPTIONS: dict[str, Any] = {"texture_format": "keep"}
"""Options for bulk cases: everything but the (slow, separately tested) texture re-encoding."""


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON and BIN chunk of a well-formed GLB."""
    json_length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20 : 20 + json_length])
    binary = data[20 + json_length + 8 :] if len(data) > 20 + json_length else b""
    return gltf, binary


def chunk(kind: int, body: bytes, declared: int | None = None) -> bytes:
    """A GLB chunk, padded to four bytes; declared overrides the length written in its header."""
    pad = b" " if kind == JSON_CHUNK else b"\0"
    body += pad * (-len(body) % 4)
    return struct.pack("<II", len(body) if declared is None else declared, kind) + body


def glb(gltf: dict | bytes, binary: bytes = b"", total: int | None = None) -> bytes:
    """A GLB of the JSON (a dict, or raw bytes for JSON that json cannot write) and a BIN chunk."""
    text = gltf if isinstance(gltf, bytes) else json.dumps(gltf).encode()
    body = chunk(JSON_CHUNK, text) + (chunk(BIN_CHUNK, binary) if binary else b"")
    return header(12 + len(body) if total is None else total) + body


def header(total: int, version: int = 2) -> bytes:
    return struct.pack("<4sII", b"glTF", version, total)


def mutate(src: Path, dst: Path, change: Callable[[dict], Any]) -> Path:
    """dst: the GLB src with change(gltf) applied to its JSON (the BIN chunk kept as it was)."""
    gltf, binary = split_glb(src.read_bytes())
    change(gltf)
    dst.write_bytes(glb(gltf, binary))
    return dst


@dataclass
class Outcome:
    ok: bool
    kind: str
    """"ok", or the EngineError's kind (invalid-model, limit-exceeded, ...)."""
    message: str = ""

    def __str__(self) -> str:
        return self.kind if self.ok else f"{self.kind}: {self.message}"


def check_message(message: str) -> None:
    assert message and "\n" not in message and len(message) < 600, message
    assert "Traceback" not in message, message


def outcome(
    model: Path,
    options: dict[str, Any] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    preset: str | None = None,
) -> Outcome:
    """Compress model in this process; the output, if any, must read back."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        out = Path(tmp) / "out.glb"
        try:
            api.compress(
                model, out, dict(FAST_OPTIONS if options is None else options), preset=preset, limits=limits
            )
        except EngineError as exc:
            check_message(exc.message)
            return Outcome(False, exc.kind, exc.message)
        read(out)
    return Outcome(True, "ok")


@dataclass
class Measured:
    """A CLI run in its own process: exit code, stderr, wall time and peak resident memory."""

    code: int
    stderr: str
    seconds: float
    peak_rss_mb: float

    def __str__(self) -> str:
        return f"exit {self.code} in {self.seconds:.2f} s, peak RSS {self.peak_rss_mb:.0f} MB"


def _limit_child(memory_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_cli(
    model: Path,
    out: Path,
    *,
    extra: tuple[str, ...] = ("--texture-format", "keep"),
    inputs: list[Path] | tuple[Path, ...] = (),
    memory_bytes: int = CASE_MEMORY_BYTES,
    timeout: float = CASE_TIMEOUT_SECONDS,
) -> Measured:
    """`glbcompress compress model [inputs...] -o out` in a process limited to memory_bytes of address space,
    killed after timeout seconds; its peak RSS comes from wait4's resource usage of that process
    alone."""
    exe = Path(sys.executable).with_name("glbcompress")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        process = subprocess.Popen(
            [str(exe), "compress", str(model), *map(str, inputs), "-o", str(out), "--quiet", *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            preexec_fn=_limit_child(memory_bytes),
        )
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                raise AssertionError(f"{model.name}: still running after {timeout:g} s (a hang)")
            time.sleep(0.01)
        seconds = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Measured(process.returncode, stderr, seconds, usage.ru_maxrss / 1024)


def assert_refused_by_cli(measured: Measured, case: str) -> None:
    """Exit 2 with one line on stderr that names the error (no traceback, no internal error)."""
    lines = measured.stderr.strip().splitlines()
    assert measured.code == 2, f"{case}: {measured}; stderr: {measured.stderr[-800:]}"
    assert len(lines) == 1 and lines[0].startswith("glbcompress: error: "), (case, measured.stderr)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def record(attack: str, case: str, measured: Measured) -> None:
    """Append a measured run to test-artifacts/hostile-bounds.tsv (the closing note's table)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "hostile-bounds.tsv", "a") as f:
        f.write(f"{attack}\t{case}\t{measured.code}\t{measured.seconds:.3f}\t{measured.peak_rss_mb:.1f}\n")


_context: Any = None


def _forkserver() -> Any:
    """A forkserver with the engine imported: each bounded case is a fork of it, so it starts in
    milliseconds with a small, clean baseline of memory."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(
            ["glbcompress.engine.api", "glbcompress.service.jobs.runner", "tests.hostile.support"]
        )
    return _context


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def job_outcome(upload: Path, options: dict[str, Any] | None = None) -> Outcome:
    """What the service's job task does with an upload (a zip is unpacked first)."""
    from glbcompress.service.jobs.runner import compress_model

    with tempfile.TemporaryDirectory(prefix="hostile-job-") as tmp:
        out = Path(tmp) / "output.glb"
        chosen = dict(FAST_OPTIONS if options is None else options)
        try:
            compress_model(upload, out, {"options": chosen}, lambda _step, _fraction: None)
        except EngineError as exc:
            check_message(exc.message)
            return Outcome(False, exc.kind, exc.message)
        read(out)
    return Outcome(True, "ok")


def _bounded_child(
    conn: Any, model: str, options: dict[str, Any] | None, memory_bytes: int, job: bool
) -> None:
    limit = _vm_size() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    start = time.monotonic()
    try:
        result = (job_outcome if job else outcome)(Path(model), options)
        answer: tuple = (result.ok, result.kind, result.message)
    except BaseException as exc:  # reported to the test, which fails on it
        answer = (False, f"unexpected {type(exc).__name__}", str(exc)[:500])
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send((*answer, seconds, peak))
    conn.close()


@dataclass
class Bounded:
    """A case run in a process of its own whose address space may grow by at most memory_bytes."""

    outcome: Outcome
    seconds: float
    peak_rss_mb: float

    def __str__(self) -> str:
        return f"{self.outcome} in {self.seconds:.2f} s, peak RSS {self.peak_rss_mb:.0f} MB"


def run_bounded(
    model: Path,
    options: dict[str, Any] | None = None,
    *,
    memory_bytes: int = CASE_MEMORY_BYTES,
    timeout: float = CASE_TIMEOUT_SECONDS,
    job: bool = False,
) -> Bounded:
    """outcome(model) in a forked process limited to memory_bytes more address space than it
    starts with, killed after timeout seconds (a hang fails the test, as does a crash). With job,
    the upload goes through the service's job task (zips unpacked) instead."""
    context = _forkserver()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_bounded_child, args=(sender, str(model), options, memory_bytes, job))
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise AssertionError(f"{model.name}: still running after {timeout:g} s (a hang)")
        try:
            ok, kind, message, seconds, peak = receiver.recv()
        except EOFError:
            process.join(5)
            raise AssertionError(f"{model.name}: the process died (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()
    assert not kind.startswith("unexpected"), f"{model.name}: {kind}: {message}"
    return Bounded(Outcome(ok, kind, message), seconds, peak)


def record_bounded(attack: str, case: str, bounded: Bounded) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "hostile-bounds.tsv", "a") as f:
        f.write(
            f"{attack}\t{case}\t{bounded.outcome.kind}\t{bounded.seconds:.3f}\t{bounded.peak_rss_mb:.1f}\n"
        )
