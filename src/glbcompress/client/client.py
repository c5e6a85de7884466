"""``glbcompress.Client``: the REST API from Python.

>>> from glbcompress import Client
>>> client = Client()       # GLBCOMPRESS_API_KEY, and GLBCOMPRESS_URL (default http://127.0.0.1:8000)
>>> result = client.compress("scene.gltf", "scene.glb", preset="max", draco=True)
>>> result.input_bytes, result.output_bytes
>>> job = client.submit("city.glb", callback_url="https://example.com/hook")
>>> client.result(client.wait(job, timeout=600), "city.min.glb")

Every method raises a subclass of ``errors.ClientError``; errors the server answered with are
``errors.ApiError`` subclasses named after their problem type (``InvalidModel``,
``RateLimited``, ...). Requests are retried on 429/503 and failed connections, waiting as the
server's ``Retry-After`` says or backing off exponentially with jitter. One client may be shared
by threads; close it (or use ``with Client() as client``) to release its connections.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from .errors import ApiError, ConfigurationError, LocalFileError, WaitTimeout, from_job_error
from .models import Job, Progress, Result
from .retry import RetryPolicy
from .upload import prepare

API_KEY_ENV = "GLBCOMPRESS_API_KEY"
URL_ENV = "GLBCOMPRESS_URL"
DEFAULT_URL = "http://127.0.0.1:8000"
OUTPUT_SUFFIX = ".min.glb"

OnProgress = Callable[[Progress], None]
JobRef = Job | str


class Client:
    """A connection to a glbcompress server, authenticated with an API key.

    ``api_key`` defaults to ``$GLBCOMPRESS_API_KEY`` and ``base_url`` to ``$GLBCOMPRESS_URL``
    (else ``http://127.0.0.1:8000``, where ``glbcompress serve`` listens). ``timeout`` bounds
    each network read or write (not a whole upload); ``max_retries`` bounds the retries of one
    request."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        key = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).strip()
        if not key:
            raise ConfigurationError(
                f"no API key: set {API_KEY_ENV} or pass api_key= (create a key on the dashboard's API Keys page)"
            )
        url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).strip()
        if not url.lower().startswith(("http://", "https://")):
            raise ConfigurationError(f"the server URL must start with http:// or https://, not {url!r}")
        from .transport import Transport

        policy = RetryPolicy(max_retries, backoff, max_backoff, max_retry_after)
        self.base_url = url.rstrip("/")
        self.poll_interval = poll_interval
        self._sleep = sleep
        self._http = Transport(
            self.base_url,
            key,
            timeout=timeout,
            retry=policy,
            user_agent=f"glbcompress-python/{__version__}",
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"  # never the key

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- compressing ---------------------------------------------------------------------------

    def compress(
        self,
        path: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        *,
        preset: str | None = None,
        progress: OnProgress | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Result:
        """Compress one model (.glb, .gltf with its files, or .zip) into the GLB file ``out``
        (a file, or a folder to write ``<name>.glb`` in; default ``<name>.min.glb`` beside the
        input) and wait for it. Options are the engine's flat
        option names (``draco=True``, ``position_bits=12``; see ``presets()``). A large or slow
        model runs as a job on the server: this then waits up to ``timeout`` seconds (default:
        no limit) for it."""
        source = Path(path)
        dest = _destination(source, out)
        body = prepare(source, _fields(preset, options, None))
        _check_writable(dest)  # before the upload, not after the server's work
        response = self._http.request(
            "POST", "/v1/compress", body=body, on_sent=_upload_reporter(progress, source), stream=True
        )
        if response.status_code == 202:
            self._http.read(response)
            job = Job.from_json(self._http.json(response))
            job = self.wait(job, timeout=timeout, progress=progress, file=source)
            return self.result(job, dest, progress=progress, file=source)
        if not response.headers.get("content-type", "").startswith("model/gltf-binary"):
            response.close()
            raise ApiError(
                f"The answer from {self.base_url} to POST /v1/compress is not a GLB: is the base URL a "
                "glbcompress server?",
                status=response.status_code,
            )
        size = self._http.download(
            "POST", "/v1/compress", dest, _download_reporter(progress, source), response=response
        )
        headers = response.headers
        return Result(
            path=dest,
            input_bytes=_int(headers.get("x-original-size"), body.file_bytes),
            output_bytes=_int(headers.get("x-compressed-size"), size),
            request_id=headers.get("x-request-id"),
            job_id=headers.get("x-job-id"),
        )

    def submit(
        self,
        path: str | os.PathLike[str],
        *,
        preset: str | None = None,
        callback_url: str | None = None,
        progress: OnProgress | None = None,
        **options: Any,
    ) -> Job:
        """Upload a model as a job and return at once (the job is queued). With callback_url the
        server POSTs the finished job there, signed (see the API docs' webhooks section)."""
        source = Path(path)
        body = prepare(source, _fields(preset, options, callback_url))
        response = self._http.request(
            "POST", "/v1/jobs", body=body, on_sent=_upload_reporter(progress, source)
        )
        return Job.from_json(self._http.json(response))

    def job(self, job: JobRef) -> Job:
        """The job's current state."""
        return Job.from_json(self._http.json(self._http.request("GET", f"/v1/jobs/{_job_id(job)}")))

    def wait(
        self,
        job: JobRef,
        timeout: float | None = None,
        *,
        progress: OnProgress | None = None,
        raise_on_failure: bool = True,
        file: Path | None = None,
    ) -> Job:
        """Poll the job until it has finished; raises the error it failed with (``InvalidModel``,
        ``LimitExceeded``, ``JobFailed`` when canceled, ... with ``.job`` set) unless
        raise_on_failure is False, and WaitTimeout after timeout seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = min(0.2, self.poll_interval)
        current = job if isinstance(job, Job) else self.job(job)
        while True:
            if progress:
                stage = "queued" if current.status == "queued" else "compress"
                done = 1.0 if current.finished else current.progress
                progress(Progress(stage, done, 1.0, file, current.step))
            if current.finished:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"job {current.id} is still {current.status} after {timeout:g} s", job=current
                )
            pause = interval if deadline is None else min(interval, max(0.0, deadline - time.monotonic()))
            self._sleep(pause)
            interval = min(self.poll_interval, interval * 1.5)
            current = self.job(current.id)
        if raise_on_failure and not current.succeeded:
            raise from_job_error(current.error or {}, current)
        return current

    def result(
        self,
        job: JobRef,
        out: str | os.PathLike[str],
        *,
        progress: OnProgress | None = None,
        file: Path | None = None,
    ) -> Result:
        """Download a succeeded job's GLB to out (a file, or a folder to write ``<name>.glb`` in)."""
        ref = job if isinstance(job, Job) else self.job(job)
        dest = Path(out)
        if dest.is_dir():
            dest = dest / (Path(ref.filename or ref.id).stem + ".glb")
        size = self._http.download(
            "GET", f"/v1/jobs/{ref.id}/result", dest, _download_reporter(progress, file)
        )
        if not ref.finished:
            ref = self.job(ref.id)
        return Result(
            path=dest,
            input_bytes=ref.input_bytes,
            output_bytes=ref.output_bytes or size,
            job_id=ref.id,
            job=ref,
        )

    # --- managing jobs -----------------------------------------------------------------------------

    def jobs(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Job]:
        """Every job of the account (or those with the given status), newest first, fetched a
        page at a time as the iteration goes on."""
        params: dict[str, Any] | None = {"limit": page_size, **({"status": status} if status else {})}
        path: str | None = "/v1/jobs"
        while path:
            data = self._http.json(self._http.request("GET", path, params=params))
            for item in data.get("items", []):
                yield Job.from_json(item)
            path, params = data.get("next"), None  # the next page's path carries its query

    def delete(self, job: JobRef) -> Job | None:
        """Cancel a job that has not finished (returns it, now canceled), or delete a finished
        one with its files (returns None)."""
        response = self._http.request("DELETE", f"/v1/jobs/{_job_id(job)}")
        return (
            Job.from_json(self._http.json(response))
            if response.status_code == 200 and response.content
            else None
        )

    # --- the account -----------------------------------------------------------------------------

    def presets(self) -> dict[str, Any]:
        """The server's presets and its option schema (names, types, ranges, defaults)."""
        return self._http.json(self._http.request("GET", "/v1/presets"))

    def usage(self) -> dict[str, Any]:
        """Usage of the account, and per API key."""
        return self._http.json(self._http.request("GET", "/v1/usage"))

    def webhook_secret(self) -> str:
        """The ``whsec_`` secret that signs this account's webhook deliveries (check them with
        ``glbcompress.client.verify_webhook``)."""
        return str(self._http.json(self._http.request("GET", "/v1/webhooks/secret"))["secret"])

    def account(self) -> dict[str, Any]:
        """The account and the API key in use (the cheapest check that a key works)."""
        return self._http.json(self._http.request("GET", "/v1/account"))


# --- helpers -------------------------------------------------------------------------------------


def _fields(preset: str | None, options: dict[str, Any], callback_url: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    if preset:
        fields["preset"] = preset
    if options:
        fields["options"] = json.dumps(options, separators=(",", ":"))
    if callback_url:
        fields["callback_url"] = callback_url
    return fields


def _destination(source: Path, out: str | os.PathLike[str] | None) -> Path:
    """Where compress() writes: out, or ``<name>.glb`` inside out when it is a folder, or
    ``<name>.min.glb`` beside the input."""
    if out is None:
        return source.with_name(source.stem + OUTPUT_SUFFIX)
    dest = Path(out)
    return dest / (source.stem + ".glb") if dest.is_dir() else dest


def _check_writable(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalFileError(f"{dest}: cannot write there ({exc.strerror or exc})") from None
    if not os.access(dest.parent, os.W_OK):
        raise LocalFileError(f"{dest}: cannot write there (permission denied)")


def _job_id(job: JobRef) -> str:
    return job.id if isinstance(job, Job) else str(job)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _upload_reporter(progress: OnProgress | None, file: Path) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda sent, total: progress(Progress("upload", sent, total, file))


def _download_reporter(
    progress: OnProgress | None, file: Path | None
) -> Callable[[int, int | None], None] | None:
    if progress is None:
        return None
    return lambda received, total: progress(Progress("download", received, total, file))
