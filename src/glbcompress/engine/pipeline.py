"""Running the passes the options select, in the fixed order cleanup -> geometry -> encoding, and
the one entry point `compress`."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from .document import Document
from .limits import DEFAULT_LIMITS, Limits
from .options import Options
from .passes import sanitize
from .presets import resolve
from .reader import read
from .report import PassReport, Report, scene_stats
from .writer import WriteOptions, write_glb

Progress = Callable[[str, float], None]


def _quiet(step: str, fraction: float) -> None:
    pass


def optimize(doc: Document, options: Options, progress: Progress = _quiet) -> list[PassReport]:
    """Run the enabled passes on doc in place; returns what each did."""
    # The draco pass weighs each mesh against what meshopt would make of it, where the writer uses it.
    doc.info["meshopt"] = options.meshopt is not None
    steps = [("sanitize", sanitize.sanitize, sanitize.DEFAULTS)]
    for name in options.enabled():
        # Imported here, not at the top: a run loads only the passes it runs.
        module = importlib.import_module(f"{__package__}.passes.{name}")
        steps.append((name, getattr(module, name), getattr(options, name)))
    reports = []
    for i, (name, fn, pass_options) in enumerate(steps):
        progress(name, 0.1 + 0.8 * i / len(steps))
        start = time.perf_counter()
        changes = fn(doc, pass_options) or {}
        reports.append(PassReport(name, round(time.perf_counter() - start, 4), changes))
    return reports


def compress(
    src: str | Path,
    dst: str | Path,
    options: Options | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Compress the model at src (.glb or .gltf with its files) into the GLB dst.

    Raises InvalidModel, UnsupportedModel, LimitExceeded or InvalidOptions with a message for the
    user. Deterministic: the same input and options give the same bytes.

    >>> report = compress("in.glb", "out.glb", resolve("balanced", {"position_bits": 12}))
    """
    started = time.perf_counter()
    options = options or resolve()
    if options.simplify is not None and options.simplify.target_size_mb > 0:
        from .budget import compress_to_budget  # compresses repeatedly, calling back here

        return compress_to_budget(src, dst, options, progress, limits)
    progress = progress or _quiet
    progress("read", 0.0)
    doc = read(src, limits)
    before = scene_stats(doc)
    passes = optimize(doc, options, progress)
    progress("write", 0.9)
    write_options = WriteOptions(
        meshopt=options.meshopt is not None, float32_json=options.quantize is not None
    )
    written = write_glb(doc, dst, write_options)
    fidelity: dict[str, float] = {}
    warnings: list[str] = []
    for p in passes:
        fidelity.update(p.changes.pop("fidelity", {}))
        warnings.extend(p.changes.pop("warnings", []))
    progress("done", 1.0)
    return Report(
        input_bytes=doc.info["input_bytes"],
        output_bytes=written.bytes_written,
        before=doc.info["input_breakdown"],
        after=written.breakdown,
        scene_before=before,
        scene_after=scene_stats(doc, written=True),
        passes=passes,
        fidelity=fidelity,
        warnings=warnings,
        options=options.flat(),
        seconds=time.perf_counter() - started,
    )
