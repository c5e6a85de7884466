"""How jobs and numbers are shown in the dashboard: sizes, ratios, dates, the current step in plain
words, and a job as the Compress page's cards and the History table see it (one shape for the
JSON the page polls and for the templates, so both always say the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...texture_table import texture_rows as _texture_rows
from ..db import Job, JobSource, JobStatus, utcnow
from ..jobs.manager import has_result

STEPS = {
    "": "Waiting for a free worker",
    "starting": "Starting",
    "unpack": "Unpacking the zip",
    "read": "Reading the model",
    "sanitize": "Checking the model",
    "prune": "Removing unused data",
    "dedup": "Merging duplicates",
    "join": "Merging meshes",
    "instance": "Instancing repeated meshes",
    "animation": "Optimizing animations",
    "simplify": "Simplifying meshes",
    "quantize": "Quantizing vertex data",
    "weld": "Welding vertices",
    "reorder": "Reordering for the GPU",
    "textures": "Compressing textures",
    "meshopt": "Compressing geometry (Meshopt)",
    "draco": "Compressing geometry (Draco)",
    "write": "Writing the GLB",
    "done": "Done",
}
"""The engine's progress steps in words; an unknown step is shown as the engine names it."""

STATUS = {
    JobStatus.QUEUED: "Queued",
    JobStatus.RUNNING: "Compressing",
    JobStatus.SUCCEEDED: "Done",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELED: "Canceled",
}

FIDELITY = {
    "position_error": ("Largest position error", "of the model's size"),
    "texcoord_error": ("Largest texture coordinate error", "UV units"),
    "normal_error_degrees": ("Largest normal error", "degrees"),
    "texture_min_ssim": ("Lowest texture similarity (SSIM)", "1 = identical"),
    "simplify_hausdorff": ("Simplification: largest surface distance", "of the model's size"),
    "simplify_error_estimate": ("Simplification: estimated error", "of the model's size"),
    "simplify_morph_hausdorff": ("Simplification: largest morph target distance", "of the model's size"),
    "animation error": ("Largest animation error", ""),
    "meshopt normal error (degrees)": ("Meshopt: largest normal error", "degrees"),
    "meshopt rotation error (degrees)": ("Meshopt: largest animation rotation error", "degrees"),
    "meshopt translation error (relative)": ("Meshopt: largest animation translation error", "of the value"),
    "meshopt scale error (relative)": ("Meshopt: largest animation scale error", "of the value"),
}
"""Fidelity figures the report may carry, with a label and a unit; others are shown by name."""


def format_size(n: int | None) -> str:
    """Bytes for people: 950 B, 2.3 kB, 14.1 MB (powers of 1024, three significant digits)."""
    if n is None:
        return "–"
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if abs(n) >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"
    return f"{n} B"


def format_ratio(before: int | None, after: int | None) -> str:
    """'83% smaller', or 'no smaller' (never a negative saving in words)."""
    if not before or after is None:
        return "–"
    saved = 1 - after / before
    if saved <= 0:
        return "no smaller" if saved > -0.005 else f"{-saved:.0%} larger"
    return f"{saved:.0%} smaller" if saved < 0.995 else ">99% smaller"


def format_time(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "–"


def step_label(step: str) -> str:
    """A step in words; a pass's own progress ("textures 2/5") as "Compressing textures (2 of 5)"."""
    if step.startswith("target size"):
        detail = step[len("target size") :].lstrip(": ")
        return "Searching for the target size" + (f" ({detail})" if detail else "")
    name, _, detail = step.partition(" ")
    if detail and name in STEPS:
        return f"{STEPS[name]} ({detail.replace('/', ' of ')})"
    return STEPS.get(step, step)


def expires_in(when: datetime | None, now: datetime | None = None) -> str:
    """'in 23 h', 'in 40 min', or 'expired'."""
    if when is None:
        return "–"
    left = (when - (now or utcnow())).total_seconds()
    if left <= 0:
        return "expired"
    if left >= 48 * 3600:
        return f"in {left / 86400:.0f} days"
    if left >= 3600:
        return f"in {left / 3600:.0f} h"
    return f"in {max(1, round(left / 60))} min"


def source_label(job: Job, key_labels: dict[Any, str] | None = None) -> str:
    """'Dashboard', or the API key the job came through: its label from ``history.key_labels``
    ('API key “build script”', '... (revoked)'); 'API (key deleted)' once its row is gone."""
    if job.source == JobSource.DASHBOARD:
        return "Dashboard"
    if job.api_key_id is None:
        return "API (key deleted)"
    return (key_labels or {}).get(job.api_key_id, "API")


def fidelity_value(value: Any, unit: str) -> str:
    """A fidelity figure with its unit: '0.0012% of the model's size', '0.4°', '0.962 (1 = identical)'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if unit.startswith("of "):
        return f"{'0' if value == 0 else f'{value * 100:.3g}%'} {unit}"
    if unit == "degrees":
        return f"{value:.3g}°"
    if unit.startswith("1 ="):
        return f"{value:.4g} ({unit})"
    return f"{value:.3g} {unit}".strip()


def fidelity_rows(fidelity: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for key, value in fidelity.items():
        label, unit = FIDELITY.get(key, (key.replace("_", " ").capitalize(), ""))
        rows.append({"label": label, "value": fidelity_value(value, unit)})
    return rows


def texture_rows(report: dict[str, Any] | None) -> list[dict[str, str]]:
    """The result card's Textures table: one row of text per texture the report lists (image,
    class, before, after, quality, ssim, psnr), sizes as format_size words them."""
    return _texture_rows((report or {}).get("passes") or [], format_size)


def report_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the result card shows of an engine report (not the per-pass details or options)."""
    if not report:
        return None
    before, after = report.get("scene_before") or {}, report.get("scene_after") or {}
    counts = [
        ("Triangles", "triangles"),
        ("Vertices", "vertices"),
        ("Draw calls", "draw_calls"),
        ("Textures", "textures"),
        ("Images", "images"),
        ("Materials", "materials"),
        ("Animations", "animations"),
    ]
    return {
        "input_bytes": report.get("input_bytes"),
        "output_bytes": report.get("output_bytes"),
        "ratio": report.get("ratio"),
        "saved": format_ratio(report.get("input_bytes"), report.get("output_bytes")),
        "input_size": format_size(report.get("input_bytes")),
        "output_size": format_size(report.get("output_bytes")),
        "bytes_before": report.get("bytes_before") or {},
        "bytes_after": report.get("bytes_after") or {},
        "counts": [
            {"label": label, "before": before.get(key, 0), "after": after.get(key, 0)}
            for label, key in counts
            if before.get(key) or after.get(key)
        ],
        "triangles_before": before.get("triangles", 0),
        "triangles_after": after.get("triangles", 0),
        "fidelity": fidelity_rows(report.get("fidelity") or {}),
        "textures": texture_rows(report),
        "warnings": [str(w) for w in report.get("warnings") or []],
        "seconds": report.get("seconds"),
        "preset": (report.get("options") or {}).get("preset"),
    }


def job_view(
    job: Job, key_labels: dict[Any, str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A job as the dashboard shows it (JSON-ready: plain values only)."""
    now = now or utcnow()
    summary = report_summary(job.report) if job.status == JobStatus.SUCCEEDED else None
    before = summary["input_bytes"] if summary else job.input_bytes
    after = summary["output_bytes"] if summary else job.output_bytes
    can_download = has_result(job, now)
    return {
        "id": job.id,
        "filename": job.filename,
        "status": job.status,
        "status_label": STATUS.get(job.status, job.status),
        "finished": job.finished,
        "step": job.step,
        "step_label": step_label(job.step) if job.status == JobStatus.RUNNING else STATUS.get(job.status, ""),
        "progress": round(float(job.progress or 0.0), 4),
        "error": job.error_message if job.status in (JobStatus.FAILED, JobStatus.CANCELED) else None,
        "source": source_label(job, key_labels),
        "created_at": job.created_at.isoformat(),
        "created": format_time(job.created_at),
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "expires": format_time(job.expires_at),
        "expires_in": expires_in(job.expires_at, now) if job.finished else "–",
        "input_bytes": before,
        "output_bytes": after,
        "input_size": format_size(before),
        "output_size": format_size(after) if after is not None else "–",
        "saved": format_ratio(before, after) if after is not None else "–",
        "options": dict(job.options or {}),
        "download_url": f"/jobs/{job.id}/download" if can_download else None,
        "report": summary,
    }
