"""What the SDK hands back: a ``Job`` (the API's job JSON, with attributes), a ``Result`` (a
compressed file on disk and its figures) and ``Progress`` (what a progress callback is told)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FINISHED = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class Job:
    """A compression job as ``GET /v1/jobs/{id}`` shows it. ``data`` keeps the whole JSON, so
    members a newer server adds are not lost."""

    id: str
    status: str
    step: str = ""
    progress: float = 0.0
    filename: str = ""
    input_bytes: int = 0
    output_bytes: int | None = None
    compression_ratio: float | None = None
    """Input bytes over output bytes (4.46: four and a half times smaller); set when succeeded."""
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    result_url: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        links = data.get("links") if isinstance(data.get("links"), dict) else {}
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            step=str(data.get("step") or ""),
            progress=float(data.get("progress") or 0.0),
            filename=str(data.get("filename") or ""),
            input_bytes=int(data.get("input_bytes") or 0),
            output_bytes=data.get("output_bytes"),
            compression_ratio=data.get("compression_ratio"),
            report=data.get("report"),
            error=data.get("error"),
            result_url=(links or {}).get("result"),
            data=data,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class Result:
    """A compressed model written to ``path``."""

    path: Path
    input_bytes: int
    output_bytes: int
    request_id: str | None = None
    job_id: str | None = None
    """The job the compression ran as on the server (its History page lists it too)."""
    job: Job | None = None
    """The job's full state, when the model was big or slow enough to be waited for as a job."""

    @property
    def compression_ratio(self) -> float:
        """Input bytes over output bytes: 4.0 is four times smaller."""
        return self.input_bytes / self.output_bytes if self.output_bytes else 0.0

    @property
    def report(self) -> dict[str, Any] | None:
        return self.job.report if self.job is not None else None


Stage = Literal["upload", "queued", "compress", "download"]


@dataclass(frozen=True)
class Progress:
    """One progress report. ``upload`` and ``download`` count bytes (``total`` None when the
    server did not say); ``queued`` and ``compress`` count the job's progress from 0 to 1, and
    ``step`` names the engine's current step."""

    stage: Stage
    done: float
    total: float | None
    file: Path | None = None
    step: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)
