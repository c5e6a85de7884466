"""Compressing to a size budget (``target_size_mb``): the most faithful output that fits.

A user who needs "at most 5 MB" should not have to guess a simplification ratio and a texture
size. The search compresses the model a bounded number of times, trying geometry first:

1. As the options say, without simplification. If that fits, done: nothing is lost.
2. Per texture level (as given, then colour, normal and data maps at 1/2, 1/4 and 1/8 of their
   size, when the textures pass is on): compress with the geometric error allowed to reach
   ``GEOMETRY_CAP`` (1% of the scene's diagonal, measured as a Hausdorff distance). If that still
   does not fit, the textures must give more: next level. If it fits, bisect (in log scale) for
   the smallest geometric error that fits at this level; then, below the first level, bisect the
   texture scale towards the level above while the output still fits (levels are far apart), and
   where that ends at pixel granularity, try textures a few pixels larger than the scale that did
   not fit (an encoder's output does not grow pixel by pixel).
   Where that still leaves more than 5% of the budget unused (an encoder's choices jump between
   scales), the auto texture quality's SSIM targets are raised towards 1 while the output fits.
3. With the smallest textures, the error may grow to ``MAX_ERROR`` (5%). Past that the model
   would be destroyed rather than simplified: the search stops with ``BudgetUnreachable``, whose
   message says how small the model can go.

Simplification runs as ``simplify_ratio=0`` with ``simplify_error=e``: one error bound for the
whole scene, so triangles go where they show least, whatever mesh they are in. The report is the
chosen run's, with a "target size" entry saying what was tried and chosen.

>>> compress_to_budget("in.glb", "out.glb", resolve("balanced", {"target_size_mb": 2}))
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import InvalidOptions
from .limits import DEFAULT_LIMITS, Limits
from .options import FIELD_OWNER, Options
from .passes.simplify import DEFAULTS as SIMPLIFY_DEFAULTS
from .progress import quiet
from .report import PassReport, Report

MEGABYTE = 1_000_000
GEOMETRY_CAP = 0.01
"""Largest geometric error (fraction of the scene's diagonal) spent before textures shrink."""
MAX_ERROR = 0.05
"""Largest geometric error at all: beyond it the model is destroyed, not simplified."""
MIN_ERROR = 1e-5
"""Smallest error the bisection considers (below a 16-bit position grid's step)."""
BISECTION_STEPS = 8
TRIM_STEPS = 2
AIM = 0.975
"""The narrowing aims at this fraction of the budget..."""
CLOSE_ENOUGH = 0.95
"""...and stops once an output that fits is at least this fraction of it."""
TEXTURE_SCALES = (1.0, 0.5, 0.25, 0.125)
"""Texture levels: factors on every texture scale option (colour, normal and data maps)."""
TEXTURE_STEPS = 5
"""Bisection steps on the texture scale between two levels, when the lower one leaves room (each
stops early once the output is CLOSE_ENOUGH). Five bring the scale within 2^(1/32), about 2%, of
where the output stops fitting: texture bytes go roughly with the scale squared, so the last
fitting output is within about 5% of the budget, the window CLOSE_ENOUGH asks for."""
PIXEL_GRAIN = 2
EDGE_TRIES = 3
"""Past the texture scale that did not fit, at pixel granularity (_past_the_edge): the textures'
longest side 1, 2 and 3 pixels longer."""
TEXTURE_SCALE_OPTIONS = ("texture_scale", "texture_scale_normal", "texture_scale_data")
TEXTURE_SSIM_OPTIONS = ("texture_ssim", "texture_ssim_normal", "texture_ssim_data")
LIFT_STEPS = 5
"""Bisection steps on how far the SSIM targets are raised towards 1 (lift), after the texture
scale's: the auto quality search then picks higher qualities, in smaller steps of bytes than a
change of scale brings (which also changes what the search sees)."""


class BudgetUnreachable(InvalidOptions):
    """The target size cannot be met without destroying the model."""


@dataclass
class _Trial:
    path: Path
    report: Report
    scale: float
    error: float
    ratio: float = 0.0
    lift: float = 0.0

    @property
    def size(self) -> int:
        return self.report.output_bytes

    def changes(self, name: str) -> dict:
        """What the named pass reported in this trial ({} where it did not run)."""
        return next((p.changes for p in self.report.passes if p.name == name), {})

    @property
    def kept(self) -> float:
        """Fraction of the triangles the simplify pass kept (1 if it did nothing)."""
        changes = self.changes("simplify")
        before = changes.get("triangles before", 0)
        return changes.get("triangles after", 0) / before if before else 1.0

    @property
    def largest_side(self) -> int:
        """The longest side, in pixels, of the textures the textures pass wrote (0: none)."""
        sizes = (
            str(row.get("after", {}).get("size", "")) for row in self.changes("textures").get("textures", [])
        )
        return max((int(side) for size in sizes for side in size.split("x") if side.isdigit()), default=0)


class _Search:
    def __init__(self, src: str | Path, dst: Path, options: Options, progress, limits: Limits):
        from . import pipeline

        self.compress = pipeline.compress
        self.src = src
        self.dst = dst
        self.options = options
        self.progress = progress
        self.limits = limits
        self.budget = int(options.simplify.target_size_mb * MEGABYTE)
        self.trials: list[_Trial] = []
        self.best: _Trial | None = None
        self.smallest: _Trial | None = None

    def run(self, scale: float, error: float, ratio: float = 0.0, lift: float = 0.0) -> _Trial:
        """Compress once with the given texture scale, error bound (and triangle ratio); keeps the
        best fitting and the smallest outputs, deletes the others' files."""
        n = len(self.trials)
        path = self.dst.with_name(f".{self.dst.name}.budget{n}.glb")
        base = n / (3 + len(TEXTURE_SCALES) * 2 + BISECTION_STEPS)
        self.progress(f"target size: try {n + 1}", min(base, 0.95))
        report = self.compress(self.src, path, self._options(scale, error, ratio, lift), None, self.limits)
        trial = _Trial(path, report, scale, error, ratio, lift)
        self.trials.append(trial)
        if trial.size <= self.budget and (self.best is None or self._better(trial, self.best)):
            self.best = trial
        if self.smallest is None or trial.size < self.smallest.size:
            self.smallest = trial
        for other in self.trials:
            if other is not self.best and other is not self.smallest:
                other.path.unlink(missing_ok=True)
        return trial

    @staticmethod
    def _better(a: _Trial, b: _Trial) -> bool:
        """More faithful: larger textures first, then a tighter error bound, then stricter texture
        targets, then more triangles."""
        return (a.scale, -a.error, a.lift, a.size) > (b.scale, -b.error, b.lift, b.size)

    def _options(self, scale: float, error: float, ratio: float = 0.0, lift: float = 0.0) -> Options:
        simplify = replace(
            self.options.simplify or SIMPLIFY_DEFAULTS,
            target_size_mb=0.0,
            simplify_ratio=ratio if error > 0 else 1.0,
            simplify_error=min(error, 1.0),
        )
        options = replace(self.options, simplify=simplify)
        if scale < 1.0:
            changes = {}
            for key in TEXTURE_SCALE_OPTIONS:
                owner = FIELD_OWNER.get(key)
                current = getattr(options, owner, None) if owner else None
                if current is not None:
                    changes[key] = getattr(current, key) * scale
            options = options.override(changes)
        if lift > 0 and options.textures is not None:
            targets = {key: getattr(options.textures, key) for key in TEXTURE_SSIM_OPTIONS}
            options = options.override({key: value + (1 - value) * lift for key, value in targets.items()})
        return options

    def texture_scales(self) -> tuple[float, ...]:
        """The texture levels this run can use: all of them when the textures pass is on."""
        owners = {FIELD_OWNER.get(k) for k in TEXTURE_SCALE_OPTIONS}
        usable = any(o is not None and getattr(self.options, o, None) is not None for o in owners)
        return TEXTURE_SCALES if usable else TEXTURE_SCALES[:1]

    def search(self) -> _Trial:
        if self.run(1.0, 0.0).size <= self.budget:
            return self.best
        scales = self.texture_scales()
        for k, scale in enumerate(scales):
            unsimplified = self.trials[0] if scale == 1.0 else self.run(scale, 0.0)
            if unsimplified.size <= self.budget:
                self._fill_with_textures(scales[k - 1], scale)  # k > 0: level 1.0 was tried first
                self._fill_with_quality()
                assert self.best is not None
                return self.best
            caps = (GEOMETRY_CAP, MAX_ERROR) if k == len(scales) - 1 else (GEOMETRY_CAP,)
            low = (MIN_ERROR, unsimplified.size)
            for cap in caps:
                high = self.run(scale, cap)
                if high.size <= self.budget:
                    self._narrow(scale, low, (cap, high.size))
                    if k:
                        self._fill_with_textures(scales[k - 1], scale)
                    self._fill_with_quality()
                    assert self.best is not None
                    return self.best
                low = (cap, high.size)
        raise BudgetUnreachable(self._refusal())

    def _narrow(self, scale: float, low: tuple[float, int], high: tuple[float, int]) -> _Trial:
        """Close in on the smallest error that fits, between low (error, size: too large) and high
        (fits): each step halves the bracket (in log scale) or, once both ends are within a factor 2
        of the budget, guesses where log(size) against log(error) crosses AIM of the budget (kept
        inside the middle 60% of the bracket, so it always shrinks). Stops once the output is
        within CLOSE_ENOUGH under the budget."""
        aim = math.log(AIM * self.budget)
        for _step in range(BISECTION_STEPS):
            if high[1] >= CLOSE_ENOUGH * self.budget or high[0] / low[0] < 1.02:
                break
            x0, x1 = math.log(low[0]), math.log(high[0])
            y0, y1 = math.log(max(low[1], 1)), math.log(max(high[1], 1))
            t = 0.5  # far from the budget on either side the curve is no guide: halve the bracket
            if low[1] < 2 * self.budget and high[1] > self.budget / 2 and y0 != y1:
                t = min(max((y0 - aim) / (y0 - y1), 0.2), 0.8)
            error = math.exp(x0 + (x1 - x0) * t)
            trial = self.run(scale, error)
            if trial.size <= self.budget:
                high = (error, trial.size)
            else:
                low = (error, trial.size)
        self._trim(scale, low[0])
        assert self.best is not None
        return self.best

    def _trim(self, scale: float, error: float) -> None:
        """Fill the budget where the error bound steps over it (the output's size jumps at some
        errors): keep the tighter bound of the smallest output that did not fit, and cap the
        triangles at a ratio between what that one and the best fitting one kept."""
        over = [t for t in self.trials if t.scale == scale and t.error == error and t.size > self.budget]
        for _step in range(TRIM_STEPS):
            best = self.best
            if best is None or best.size >= CLOSE_ENOUGH * self.budget or not over or best.kept >= 1:
                return
            high = over[-1]
            share = (AIM * self.budget - best.size) / (high.size - best.size)
            ratio = best.kept + (high.kept - best.kept) * min(max(share, 0.0), 1.0)
            trial = self.run(scale, error, ratio)
            if trial.size > self.budget:
                over.append(trial)

    def _fill_with_textures(self, larger: float, smaller: float) -> None:
        """Texture levels are far apart (each halves the textures' size), so the level that fits
        may leave much of the budget unused: bisect (in log scale) for the largest texture scale
        between it and the level above that still fits at the chosen geometric error."""
        for _step in range(TEXTURE_STEPS):
            best = self.best
            if best is None or best.size >= CLOSE_ENOUGH * self.budget:
                return
            middle = math.sqrt(larger * smaller)
            if self.run(middle, best.error, best.ratio).size <= self.budget:
                smaller = middle
            else:
                larger = middle
        self._past_the_edge(larger)

    def _past_the_edge(self, larger: float) -> None:
        """The bisection takes the output to grow with the texture scale. Pixel by pixel it need
        not: an encoder's output for a texture one or three pixels wider can be 10% larger or
        smaller (BoxTexturedDraco's logo: 2,278 bytes at 103 px, 2,596 at 104, 2,376 at 106).
        Where the bisection ends with the textures' sides within PIXEL_GRAIN pixels of the scale
        that did not fit and still leaves room, a few scales just above that one are tried: any
        that fits has larger textures, so it is the more faithful output."""
        best = self.best
        over = [t for t in self.trials if t.scale == larger and t.size > self.budget]
        if best is None or not over or best.size >= CLOSE_ENOUGH * self.budget:
            return
        side = over[0].largest_side
        if not side or side - best.largest_side > PIXEL_GRAIN:
            return
        for k in range(1, EDGE_TRIES + 1):
            scale = min(1.0, larger * (side + k) / side)
            self.run(scale, best.error, best.ratio)
            if self.best.size >= CLOSE_ENOUGH * self.budget or scale == 1.0:
                return

    def _fill_with_quality(self) -> None:
        """Where the best fitting output still leaves more than 5% of the budget unused, bisect how
        far the auto quality's SSIM targets are raised towards 1 (at its scale and error) for the
        strictest that still fits: the room goes to more faithful textures."""
        textures = self.options.textures
        if textures is None or textures.texture_quality or textures.texture_format == "keep":
            return
        low, high = 0.0, 1.0
        for _step in range(LIFT_STEPS):
            best = self.best
            if best is None or best.size >= CLOSE_ENOUGH * self.budget:
                return
            middle = (low + high) / 2
            trial = self.run(best.scale, best.error, best.ratio, middle)
            if trial.size == best.size:
                return  # the encoders chose as before (a near-lossless texture, say): nothing to gain
            if trial.size <= self.budget:
                low = middle
            else:
                high = middle

    def _refusal(self) -> str:
        smallest = self.smallest
        assert smallest is not None
        textures = f", textures at 1/{round(1 / smallest.scale)} of their size" if smallest.scale < 1 else ""
        mb = smallest.size / MEGABYTE
        step = 10 ** (math.floor(math.log10(mb)) - 2)  # three significant digits, rounded up
        need = math.ceil(mb / step) * step
        return (
            f"The model cannot be made {self.options.simplify.target_size_mb:g} MB or smaller without "
            f"destroying it: its smallest faithful version (geometric error {smallest.error:.0%} of its "
            f"size{textures}) is {mb:.3g} MB. Ask for {need:.3g} MB or more."
        )

    def cleanup(self, keep: _Trial | None) -> None:
        for trial in self.trials:
            if trial is not keep:
                trial.path.unlink(missing_ok=True)


def compress_to_budget(
    src: str | Path,
    dst: str | Path,
    options: Options,
    progress=None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Compress src into dst at most ``options.simplify.target_size_mb`` megabytes (10^6 bytes),
    as faithfully as the search finds; raises BudgetUnreachable if that would destroy the model."""
    if options.simplify is None or options.simplify.target_size_mb <= 0:
        raise InvalidOptions("target_size_mb must be a positive number of megabytes.")
    started = time.perf_counter()
    dst = Path(dst)
    search = _Search(src, dst, options, progress or quiet, limits)
    chosen = None
    try:
        chosen = search.search()
        os.replace(chosen.path, dst)
    finally:
        search.cleanup(chosen)
    report = chosen.report
    changes = {
        "target bytes": search.budget,
        "output bytes": chosen.size,
        "compressions tried": len(search.trials),
        "geometric error allowed": chosen.error,
    }
    if chosen.ratio:
        changes["triangle ratio"] = round(chosen.ratio, 4)
    if chosen.lift:
        changes["texture SSIM targets raised towards 1 by"] = chosen.lift
    if chosen.scale < 1:
        changes["texture scale"] = chosen.scale
        report.warnings.append(
            f"To fit {options.simplify.target_size_mb:g} MB, textures were scaled to {chosen.scale:g} of their size."
        )
    report.passes.append(PassReport("target size", round(time.perf_counter() - started, 4), changes))
    report.options = {**report.options, "target_size_mb": options.simplify.target_size_mb}
    report.seconds = time.perf_counter() - started
    return report
