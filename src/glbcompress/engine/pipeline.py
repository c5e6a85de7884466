"""Running the passes the options select, in the fixed order cleanup -> geometry -> encoding, and
the one entry point `compress`."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from .document import Document
from .limits import DEFAULT_LIMITS, Limits
from .options import Options
from .passes import sanitize
from .presets import resolve
from .progress import Progress, enter, leave, quiet
from .reader import read
from .report import PassReport, Report, scene_stats
from .writer import WriteOptions, write_glb

TEXTURES_SHARE = 0.75
"""Of the progress the passes report (0.1 to 0.9), the textures pass's part where the model has
images: re-encoding them is nearly all of a textured model's time (DamagedHelmet: 4.5 of 4.6 s,
CesiumMilkTruck: 1.50 of 1.54 s), so an equal share per pass would leave the bar standing still
for most of the run."""


def optimize(doc: Document, options: Options, progress: Progress = quiet) -> list[PassReport]:
    """Run the enabled passes on doc in place; returns what each did (a pass may report how far
    it has got: progress.pass_progress)."""
    # The draco pass weighs each mesh against what meshopt would make of it, where the writer uses it.
    doc.info["meshopt"] = options.meshopt is not None
    steps = [("sanitize", sanitize.sanitize, sanitize.DEFAULTS)]
    for name in options.enabled():
        # Imported here, not at the top: a run loads only the passes it runs.
        module = importlib.import_module(f"{__package__}.passes.{name}")
        steps.append((name, getattr(module, name), getattr(options, name)))
    reports = []
    start = 0.1
    try:
        for (name, fn, pass_options), share in zip(steps, _shares(doc, [s[0] for s in steps]), strict=True):
            enter(doc, progress, name, start, 0.8 * share)
            began = time.perf_counter()
            changes = fn(doc, pass_options) or {}
            reports.append(PassReport(name, round(time.perf_counter() - began, 4), changes))
            start += 0.8 * share
    finally:
        leave(doc)
    return reports


def _shares(doc: Document, names: list[str]) -> list[float]:
    """Each pass's share of the progress: equal, but TEXTURES_SHARE for textures where there are
    images to re-encode."""
    if "textures" not in names or not doc.images or len(names) == 1:
        return [1 / len(names)] * len(names)
    rest = (1 - TEXTURES_SHARE) / (len(names) - 1)
    return [TEXTURES_SHARE if name == "textures" else rest for name in names]


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
    progress = progress or quiet
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
