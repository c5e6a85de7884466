"""The compression endpoints: ``POST /v1/compress`` (upload, wait, download in one request) and the
job resource ``/v1/jobs`` (submit, list, status, result, cancel or delete). The contract is
``docs/api.md``.

``/v1/compress`` is a job too: it is queued like any other and the request waits for it — up to
``settings.sync_wait_seconds``, and not at all for uploads above ``settings.sync_max_mb`` — then
answers with the GLB, or with 202 and the job when waiting longer would risk proxies' timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import anyio
from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..context import Services, services
from ..db import Job, JobStatus
from ..jobs.manager import has_result
from ..storage import MissingBlob
from ..web.compress import content_disposition, download_name
from ..webhooks import deliveries
from . import problems
from .job_models import JobOut, compression_ratio, job_out
from .key_auth import ApiKeyAuth
from .model_input import UploadParams, submit
from .problems import job_error_kind, of_kind
from .uploads_openapi import GLB_RESPONSE, UPLOAD_BODY

router = APIRouter(prefix="/v1", tags=["jobs"])

JobId = Annotated[str, Path(description="The job's id, as POST /v1/jobs answered it.")]
Preset = Annotated[str | None, Query(description="lossless, balanced (default) or max.", max_length=64)]
OptionsJson = Annotated[
    str | None,
    Query(description='Option overrides as a JSON object, e.g. {"position_bits":12}.', max_length=8192),
]
Filename = Annotated[
    str | None, Query(description="The upload's file name (its extension says what it is).", max_length=255)
]
CallbackUrl = Annotated[
    str | None,
    Query(description="A URL to POST the job to when it ends (a signed webhook).", max_length=2048),
]
StatusFilter = Literal["queued", "running", "succeeded", "failed", "canceled"]
POLL_FIRST, POLL_MAX = 0.05, 0.5
"""Seconds between looks at a job /v1/compress waits for: from the first, growing to the max."""
CANCEL_WAIT_SECONDS = 10.0


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    """Jobs matching the query in all pages."""
    limit: int
    offset: int
    next: str | None
    """The next page's URL, or null on the last page."""


def _find(s: Services, user_id: int, job_id: str) -> Job:
    job = s.jobs.get(job_id, user_id) if len(job_id) <= 64 else None
    if job is None:
        raise of_kind("not-found", "There is no job with this id in this API key's account.")
    return job


def _out(s: Services, job: Job) -> JobOut:
    return job_out(job, deliveries.for_job(s.db, job.id))


def _accepted(s: Services, job: Job) -> JSONResponse:
    body = _out(s, job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def _failure(job: Job) -> problems.Problem:
    """The problem a failed or canceled job stands for, naming the job."""
    if job.status == JobStatus.CANCELED:
        return of_kind("job-failed", "The job was canceled before it finished.", job_id=job.id)
    return of_kind(job_error_kind(job.error_kind), job.error_message or "The job failed.", job_id=job.id)


async def _result(s: Services, job: Job) -> Response:
    """The job's GLB as a streamed download, with the size headers."""
    if not has_result(job):
        if job.status in (JobStatus.FAILED, JobStatus.CANCELED):
            what = "was canceled" if job.status == JobStatus.CANCELED else "failed"
            raise of_kind(
                "job-failed", f"The job {what} and has no result. {job.error_message or ''}".strip()
            )
        if job.finished:
            raise of_kind(
                "result-expired", "The result was deleted after the retention period; submit the model again."
            )
        problem = of_kind("job-not-finished", f"The job is {job.status}; poll it, then download the result.")
        problem.headers["Retry-After"] = "1"
        raise problem
    try:
        assert job.output_key is not None
        size = s.storage.size(job.output_key)
        stream = await to_thread.run_sync(s.storage.open, job.output_key)
    except MissingBlob:
        raise of_kind("result-expired", "The result is no longer stored; submit the model again.") from None

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    ratio = compression_ratio(job.input_bytes, size)
    headers = {
        "Content-Disposition": content_disposition(download_name(job.filename)),
        "Content-Length": str(size),
        "Cache-Control": "private, no-store",
        "X-Original-Size": str(job.input_bytes),
        "X-Compressed-Size": str(size),
        "X-Compression-Ratio": f"{ratio:.4f}" if ratio else "0",
        "X-Job-ID": job.id,
    }
    return StreamingResponse(chunks(), media_type="model/gltf-binary", headers=headers)


async def _wait(s: Services, job_id: str, seconds: float) -> Job:
    """The job once finished, or as it is when the time is up."""
    deadline = time.monotonic() + seconds
    delay = POLL_FIRST
    while True:
        job = await to_thread.run_sync(s.jobs.get, job_id)
        if job is None:  # deleted meanwhile (its account was deleted)
            raise of_kind("not-found", "The job was deleted while it ran.")
        remaining = deadline - time.monotonic()
        if job.finished or remaining <= 0:
            return job
        await anyio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, POLL_MAX)


_UPLOAD_ERRORS = problems.responses(400, 401, 408, 413, 415, 422, 429)


@router.post(
    "/compress",
    summary="Compress a model and download the result",
    response_class=Response,
    responses={
        200: GLB_RESPONSE,
        202: {
            "model": JobOut,
            "description": "Too large or too slow to wait for: the job, to poll (Location: its URL).",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **_UPLOAD_ERRORS,
        409: problems.responses(409)[409],
        500: problems.responses(500)[500],
    },
    openapi_extra=UPLOAD_BODY,
)
async def compress(
    request: Request,
    caller: ApiKeyAuth,
    preset: Preset = None,
    options: OptionsJson = None,
    filename: Filename = None,
    callback_url: CallbackUrl = None,
) -> Response:
    """Upload one model (raw body or multipart) and get the compressed GLB back in the answer, with
    X-Original-Size, X-Compressed-Size and X-Compression-Ratio. Uploads above the server's sync
    limit, and jobs that take longer than its wait, are answered 202 with the job instead. A model
    the engine refuses is answered with its problem (invalid-model, ...) and the job's id."""
    s = services(request)
    job = await submit(request, caller, UploadParams(preset, options, filename, callback_url))
    if job.input_bytes > s.settings.sync_max_bytes:
        return await to_thread.run_sync(_accepted, s, job)
    job = await _wait(s, job.id, s.settings.sync_wait_seconds)
    if not job.finished:
        return await to_thread.run_sync(_accepted, s, job)
    if job.status != JobStatus.SUCCEEDED:
        raise _failure(job)
    return await _result(s, job)


@router.post(
    "/jobs",
    summary="Submit a model to compress in the background",
    status_code=202,
    response_model=JobOut,
    responses={**_UPLOAD_ERRORS, 202: {"headers": {"Location": {"schema": {"type": "string"}}}}},
    openapi_extra=UPLOAD_BODY,
)
async def submit_job(
    request: Request,
    caller: ApiKeyAuth,
    preset: Preset = None,
    options: OptionsJson = None,
    filename: Filename = None,
    callback_url: CallbackUrl = None,
) -> JSONResponse:
    """Queue a compression and answer at once (202) with the job and its URL (Location). Poll
    GET /v1/jobs/{id}, or pass callback_url to be called when it ends."""
    s = services(request)
    job = await submit(request, caller, UploadParams(preset, options, filename, callback_url))
    return await to_thread.run_sync(_accepted, s, job)


def _page_url(limit: int, offset: int, status: str | None) -> str:
    return f"/v1/jobs?limit={limit}&offset={offset}" + (f"&status={status}" if status else "")


@router.get(
    "/jobs", summary="List your jobs", response_model=JobPage, responses=problems.responses(401, 422, 429)
)
def list_jobs(
    request: Request,
    caller: ApiKeyAuth,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Jobs to skip.")] = 0,
    status: Annotated[StatusFilter | None, Query(description="Only jobs in this state.")] = None,
) -> JobPage:
    """The account's jobs, newest first (those deleted through the API or the dashboard are not
    listed)."""
    s = services(request)
    where = [Job.user_id == caller.user.id, Job.removed_at.is_(None)]
    if status:
        where.append(Job.status == status)
    with s.db.session() as session:
        total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
        jobs = session.scalars(
            select(Job).where(*where).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
        ).all()
    hooks = deliveries.for_jobs(s.db, [job.id for job in jobs])
    more = offset + len(jobs) < total
    return JobPage(
        items=[job_out(job, hooks.get(job.id)) for job in jobs],
        total=total,
        limit=limit,
        offset=offset,
        next=_page_url(limit, offset + limit, status) if more else None,
    )


@router.get(
    "/jobs/{job_id}",
    summary="A job's status",
    response_model=JobOut,
    responses=problems.responses(401, 404, 429),
)
def get_job(request: Request, caller: ApiKeyAuth, job_id: JobId) -> JobOut:
    """The job's status, progress, report (when succeeded) or error (when failed)."""
    s = services(request)
    return _out(s, _find(s, caller.user.id, job_id))


@router.get(
    "/jobs/{job_id}/result",
    summary="Download a job's result",
    response_class=Response,
    responses={200: GLB_RESPONSE, **problems.responses(401, 404, 409, 410, 429)},
)
async def job_result(request: Request, caller: ApiKeyAuth, job_id: JobId) -> Response:
    """Download the compressed GLB of a succeeded job (409 while it runs, with Retry-After)."""
    s = services(request)
    job = await to_thread.run_sync(_find, s, caller.user.id, job_id)
    return await _result(s, job)


@router.delete(
    "/jobs/{job_id}",
    summary="Cancel or delete a job",
    response_model=JobOut,
    responses={
        200: {"description": "The job was queued or running and is now canceled."},
        202: {
            "model": JobOut,
            "description": "Cancellation was asked for, but the job has not stopped yet: poll it.",
        },
        204: {"description": "The job had finished and is deleted with its files."},
        **problems.responses(401, 404, 429),
    },
)
async def delete_job(request: Request, caller: ApiKeyAuth, job_id: JobId) -> Any:
    """Cancel a queued or running job (200 with the job, which stays listed; 202 if it has not
    stopped within a few seconds), or delete a finished one with its files (204). Usage figures
    still count deleted jobs."""
    s = services(request)
    job = await to_thread.run_sync(_find, s, caller.user.id, job_id)
    if not job.finished:
        await to_thread.run_sync(s.jobs.cancel, job.id, caller.user.id)
        # A running job's process is stopped by its worker: give it a moment to say so.
        canceled = await _wait(s, job.id, CANCEL_WAIT_SECONDS)
        body = (await to_thread.run_sync(_out, s, canceled)).model_dump(mode="json")
        return JSONResponse(body, status_code=200 if canceled.finished else 202)
    await to_thread.run_sync(s.jobs.remove, job.id, caller.user.id)
    return Response(status_code=204)
