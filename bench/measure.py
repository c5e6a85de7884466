"""Measuring one model: run every configuration, validate the outputs, render and compare.

The result of one configuration on one model is a plain dict (it goes to the JSON file as is):

    {"model", "config", "tool", "ok", "error", "input_bytes", "output_bytes", "ratio",
     "seconds", "seconds_runs", "peak_mb", "deterministic", "triangles",
     "budget_bytes", "budget_hit", "refused", "refusal" (target-size configurations; a refused
     one has the floor check's "floor_mb", "floor_bytes", "floor_hit", "floor_error",
     "floor_seconds"),
     "validator": {"errors", "warnings", "new_errors"}, "decoded": {... or "error"},
     "fidelity": {"ssim_min", "ssim_mean", "psnr_min", "psnr_mean", "ssim_views", "psnr_views"},
     "render_error"}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import metrics
from .corpus import Model
from .render import BACKGROUND, Renderer, RenderResult
from .runners import CONFIGS, Config, RunResult, run_config
from .validate import decoded_copy, new_errors, validate

BUDGET_CLOSE = 0.95
"""A target-size run hits when its output is at most the budget and at least this share of it."""
MEGABYTE = 1_000_000
"""glbcompress's --target-size-mb counts 10^6 bytes per MB."""
REFUSED = 2
"""glbcompress's exit code for options it refuses, a budget it cannot meet among them."""
_FLOOR = re.compile(r"Ask for (\d+(?:\.\d*)?(?:[eE][+-]?\d+)?) MB or more")


@dataclass(frozen=True)
class Settings:
    out: Path  # outputs go to out/<model>/<config>.glb
    repeat: int = 1
    timeout: float = 300.0
    check_validity: bool = True
    images: Path | None = None  # side-by-side renders are saved here when set


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _failed(config: Config, model: Model, error: str) -> dict[str, Any]:
    return {
        "model": model.name,
        "config": config.name,
        "tool": config.tool,
        "ok": False,
        "error": error,
        "input_bytes": model.input_bytes,
        "seconds_runs": [],
        "seconds": 0.0,
        "peak_mb": None,
    }


def run_repeated(
    config: Config, model: Model, dst: Path, settings: Settings
) -> tuple[dict[str, Any], RunResult]:
    """Run a configuration `repeat` times; time is the median, memory the peak of all runs.

    Returns the row and the last run (whose output a refusal's message is read from)."""
    runs, digests = [], []
    for _ in range(settings.repeat):
        result = run_config(config, model.path, dst, settings.timeout)
        runs.append(result)
        if not result.ok:
            break
        digests.append(_digest(dst))
    last = runs[-1]
    row: dict[str, Any] = {
        "model": model.name,
        "config": config.name,
        "tool": config.tool,
        "ok": last.ok,
        "error": last.error,
        "returncode": last.returncode,
        "input_bytes": model.input_bytes,
        "seconds_runs": [round(r.seconds, 4) for r in runs],
        "seconds": round(metrics.median(r.seconds for r in runs) or 0.0, 4),
        "peak_mb": max((round(r.peak_mb, 1) for r in runs if r.peak_mb is not None), default=None),
    }
    if last.ok:
        size = dst.stat().st_size
        row.update(output_bytes=size, ratio=size / model.input_bytes, deterministic=len(set(digests)) == 1)
    return row, last


def triangles(path: Path) -> int | None:
    """Triangles the model's scenes draw (read with the engine's reader, which decodes Meshopt
    and Draco); None when it cannot be read."""
    from glbcompress.engine.reader import read
    from glbcompress.engine.report import scene_stats

    try:
        return scene_stats(read(path)).triangles
    except Exception:  # a tool's broken output is a figure we do not have, not a crash
        return None


def with_budget(config: Config, budget: int) -> Config:
    """The configuration with --target-size-mb set to budget bytes (10^6 bytes per MB)."""
    return with_target_mb(config, f"{budget / MEGABYTE:.6f}")


def with_target_mb(config: Config, mb: str) -> Config:
    """The configuration with --target-size-mb as written (a refusal's floor is passed verbatim)."""
    command = config.command
    return replace(config, command=lambda src, dst: [*command(src, dst), "--target-size-mb", mb])


def budget_hit(size: int, budget: float) -> bool:
    return BUDGET_CLOSE * budget <= size <= budget


def refusal_message(run: RunResult) -> str:
    """The engine's own words for a refused run: the message of its --json output (whole, where
    the row's error is the stderr's tail, cut at 400 characters), else the row's error."""
    try:
        message = json.loads(run.stdout)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return run.error
    return message if isinstance(message, str) else run.error


def refusal_floor(message: str) -> str | None:
    """The size a refusal says the engine can reach ("... Ask for X MB or more."), as written;
    None when the message names none (such a refusal cannot be verified)."""
    found = _FLOOR.findall(message)
    if not found or not float(found[-1]) > 0:
        return None
    return found[-1]


def check_floor(config: Config, model: Model, refusal: str, dst: Path, settings: Settings) -> dict[str, Any]:
    """Run a refused target-size configuration again at the floor its refusal names; returns the
    row's floor_mb, floor_bytes, floor_hit and floor_error (and floor_seconds). A refusal is only
    as good as the size it names: the floor run shows the engine really reaches it (within 5%
    under it, the rule of every budget)."""
    floor = refusal_floor(refusal)
    found: dict[str, Any] = {"floor_mb": None if floor is None else float(floor), "floor_bytes": None}
    if floor is None:
        return {
            **found,
            "floor_hit": False,
            "floor_error": "the refusal names no size (no 'Ask for X MB or more.')",
        }
    result = run_config(with_target_mb(config, floor), model.path, dst, settings.timeout)
    found["floor_seconds"] = round(result.seconds, 4)
    if not result.ok:
        return {**found, "floor_hit": False, "floor_error": result.error}
    size = dst.stat().st_size
    budget = float(floor) * MEGABYTE
    hit = budget_hit(size, budget)
    error = "" if hit else f"{size:,} bytes, not within 5% under {budget:,.0f}"
    return {**found, "floor_bytes": size, "floor_hit": hit, "floor_error": error}


def _validity(input_report: dict, out_report: dict) -> dict[str, Any]:
    if out_report.get("fatal"):
        return {"error": out_report["fatal"], "new_errors": new_errors(input_report, out_report)}
    return {
        "errors": out_report["errors"],
        "warnings": out_report["warnings"],
        "new_errors": new_errors(input_report, out_report),
    }


def check_validity(model: Model, rows: list[dict], outputs: dict[str, Path]) -> dict:
    """Validate the input, each output and a decoded copy of each; returns the input's report."""
    copies: dict[str, Path] = {}
    copy_errors: dict[str, str] = {}
    for name, path in outputs.items():
        copy = path.with_name(path.stem + ".decoded.glb")
        error = decoded_copy(path, copy)
        if error:
            copy_errors[name] = error
        else:
            copies[name] = copy
    files = [model.path, *outputs.values(), *copies.values()]
    reports = validate(files)
    input_report, rest = reports[0], reports[1:]
    by_output = dict(zip(outputs, rest[: len(outputs)], strict=True))
    by_copy = dict(zip(copies, rest[len(outputs) :], strict=True))
    for row in rows:
        name = row["config"]
        if name in by_output:
            row["validator"] = _validity(input_report, by_output[name])
        if name in by_copy:
            row["decoded"] = _validity(input_report, by_copy[name])
        elif name in copy_errors:
            row["decoded"] = {"error": copy_errors[name], "new_errors": {"DECODE_FAILED": 1}}
    summary = {k: input_report.get(k) for k in ("errors", "warnings", "fatal") if k in input_report}
    summary["error_codes"] = input_report.get("error_codes", {})
    return summary


def save_side_by_side(original: list[np.ndarray], output: list[np.ndarray], path: Path) -> None:
    """One PNG: the original's views on top, the output's below."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = np.concatenate([np.concatenate(original, axis=1), np.concatenate(output, axis=1)], axis=0)
    Image.fromarray(grid).save(path)


def check_fidelity(
    renderer: Renderer, model: Model, rows: list[dict], outputs: dict[str, Path], settings: Settings
) -> str:
    """Render the original, then each output with the original's cameras; compare per view.

    Returns the original's render error ('' when it rendered)."""
    original: RenderResult = renderer.render(model.path)
    if not original.ok:
        return original.error
    for row in rows:
        path = outputs.get(row["config"])
        if path is None:
            continue
        result = renderer.render(path, original.frame)
        if not result.ok:
            row["render_error"] = result.error
            continue
        row["fidelity"] = metrics.fidelity(original.images, result.images, BACKGROUND)
        if settings.images is not None:
            target = settings.images / slug(model.name) / f"{slug(row['config'])}.png"
            save_side_by_side(original.images, result.images, target)
    return ""


def measure_model(
    model: Model,
    configs: list[Config],
    settings: Settings,
    renderer: Renderer | None,
    step: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Everything the bench knows about one model: its input figures and one row per config."""
    folder = settings.out / slug(model.name)
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    outputs: dict[str, Path] = {}
    floors: dict[tuple[str | None, ...], dict[str, Any]] = {}  # (command line..., floor) -> floor check

    def run(config: Config) -> None:
        step(f"{model.name}: {config.name}")
        dst = folder / f"{slug(config.name)}.glb"
        budget = None
        base = config
        if config.budget_of is not None:
            reference, fraction = config.budget_of
            if not any(r["config"] == reference for r in rows):
                run(CONFIGS[reference])
            if reference not in outputs:
                rows.append(_failed(config, model, f"{reference} failed: no budget"))
                return
            budget = int(fraction * outputs[reference].stat().st_size)
            config = replace(with_budget(config, budget), name=config.name)
        row, last = run_repeated(config, model, dst, settings)
        if row["ok"]:
            outputs[config.name] = dst
            row["triangles"] = triangles(dst)
        if budget is not None:
            row["budget_bytes"] = budget
            row["budget_hit"] = bool(row["ok"]) and budget_hit(row["output_bytes"], budget)
            row["refused"] = last.returncode == REFUSED
            if row["refused"]:
                row["refusal"] = refusal_message(last)
                key = (*base.command(model.path, Path("OUT")), refusal_floor(row["refusal"]))
                if key not in floors:  # two budgets refused with one floor: one run says it all
                    step(f"{model.name}: {config.name} floor check")
                    floor_dst = folder / f"{slug(config.name)}-floor.glb"
                    floors[key] = check_floor(base, model, row["refusal"], floor_dst, settings)
                row.update(floors[key])
        rows.append(row)

    for config in configs:
        if not any(r["config"] == config.name for r in rows):
            run(config)
    entry: dict[str, Any] = {
        "name": model.name,
        "path": str(model.path),
        "input_bytes": model.input_bytes,
        "triangles": triangles(model.path),
    }
    if settings.check_validity:
        step(f"{model.name}: validating")
        entry["input_validator"] = check_validity(model, rows, outputs)
    if renderer is not None:
        step(f"{model.name}: rendering")
        error = check_fidelity(renderer, model, rows, outputs, settings)
        if error:
            entry["render_error"] = error
    entry["results"] = rows
    return entry
