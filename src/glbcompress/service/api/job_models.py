"""A job as the REST API shows it: one pydantic model (``JobOut``) for every endpoint that answers
with a job, and for the ``data`` of webhook deliveries, so all say the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..db import Job, JobStatus, WebhookDelivery
from ..jobs.manager import has_result
from .problems import TYPE_PREFIX, job_error_kind

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]


class JobError(BaseModel):
    type: str
    """The problem type the failure stands for (``urn:glbcompress:problem:invalid-model``, ...)."""
    detail: str


class JobLinks(BaseModel):
    self: str
    result: str | None
    """Where to download the GLB; null until the job has succeeded, and after the result expired."""


class WebhookInfo(BaseModel):
    url: str
    state: Literal["waiting", "pending", "delivered", "failed"]
    """waiting (the job runs), pending (being sent or retried), delivered, failed (given up)."""
    attempts: int
    last_status: int | None
    """The receiver's last HTTP status (null when it could not be reached)."""
    last_error: str | None
    delivered_at: datetime | None


class JobOut(BaseModel):
    id: str
    status: Status
    step: str
    """The engine's current step while running (``read``, ``quantize``, ``textures``, ...)."""
    progress: float = Field(ge=0, le=1)
    filename: str
    preset: str | None
    options: dict[str, Any]
    """The option overrides the job was submitted with (flat names)."""
    source: Literal["api", "dashboard"]
    api_key_id: int | None
    input_bytes: int
    output_bytes: int | None
    compression_ratio: float | None
    """Input bytes over output bytes (4.0: four times smaller); null until succeeded."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    """When the input and result are deleted (set when the job ends)."""
    report: dict[str, Any] | None
    """The engine's report (bytes by category, scene counts, fidelity, warnings); succeeded jobs only."""
    error: JobError | None
    links: JobLinks
    webhook: WebhookInfo | None = None


def compression_ratio(input_bytes: int, output_bytes: int | None) -> float | None:
    """Original over compressed size, as the X-Compression-Ratio header and the job say it."""
    if not output_bytes or not input_bytes:
        return None
    return round(input_bytes / output_bytes, 4)


def job_out(job: Job, delivery: WebhookDelivery | None = None) -> JobOut:
    options = job.options or {}
    error = None
    if job.status in (JobStatus.FAILED, JobStatus.CANCELED):
        kind = "job-failed" if job.status == JobStatus.CANCELED else job_error_kind(job.error_kind)
        error = JobError(type=TYPE_PREFIX + kind, detail=job.error_message or "The job failed.")
    succeeded = job.status == JobStatus.SUCCEEDED
    ratio = compression_ratio(job.input_bytes, job.output_bytes) if succeeded else None
    path = f"/v1/jobs/{job.id}"
    webhook = None
    if delivery is not None:
        webhook = WebhookInfo(
            url=delivery.url,
            state=delivery.state,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
        )
    return JobOut(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        step=job.step or "",
        progress=max(0.0, min(1.0, float(job.progress or 0.0))),
        filename=job.filename,
        preset=options.get("preset"),
        options=dict(options.get("options") or {}),
        source=job.source,  # type: ignore[arg-type]
        api_key_id=job.api_key_id,
        input_bytes=job.input_bytes,
        output_bytes=job.output_bytes if succeeded else None,
        compression_ratio=ratio,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        report=job.report if succeeded else None,
        error=error,
        links=JobLinks(self=path, result=f"{path}/result" if has_result(job) else None),
        webhook=webhook,
    )


def job_json(job: Job) -> dict[str, Any]:
    """The job as JSON-ready values (webhook payloads)."""
    return job_out(job).model_dump(mode="json", exclude={"webhook"})
