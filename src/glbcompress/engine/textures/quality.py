"""How close an encoded texture is to its source: SSIM and PSNR in numpy, and the per-texture
search for the lowest encoder quality that still meets an SSIM target.

SSIM (Wang et al. 2004, the usual constants) uses a 7x7 box window, strip by strip so that memory
stays bounded for large textures, and is averaged over the windows that have structure (flat
windows, identical in both images, would only dilute the damage). A texture's figure is the lowest
of its channels', so a packed map (occlusion, roughness and metalness in R, G and B) passes only
if every channel it carries does.

Cost is bounded whatever the texture's size (up to the 16383x8192 the limits allow): the search
encodes a mosaic of at most 4 Mpx (SEARCH_TILE, SEARCH_GRID: four 1024x1024 tiles; a texture up to
2048x2048 is searched whole), every figure is measured on at most a million pixels (TILE,
VERIFY_GRID: 64 tiles of 128x128, cut from the decoded image without copying it whole), and the
whole texture is encoded once more, or at most WHOLE_TRIES times where the mosaic misjudged it
(settle()). Small mosaics of small tiles are no stand-in for the search: an encoder makes its own
choices for a whole image (how it spends bits between smooth and busy areas), and a 512x512 mosaic
of 128x128 tiles missed the quality a whole-image search picks by up to 33 steps on corpus
textures (and by over 70 on a smooth one).

Each probe of the search is an encode of those 4 Mpx, so the search interpolates instead of
bisecting (lowest_quality): the log of a texture's error falls almost linearly along an encoder's
own quantiser scale (for WebP, libwebp's mapping of quality, see encoders.quality_axis), which
puts most guesses within a step or two of the answer; it still ends only on a passing quality
whose lower neighbour was probed and missed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

WINDOW = 7
STRIP_ROWS = 256
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
STRUCTURE = 3.0
"""Windows where neither image varies by more than this many 8-bit levels (standard deviation)
are flat and left out of the mean: a UV grid or a label on a plain background would otherwise
average its damaged lines away against thousands of untouched flat windows, while a viewer
magnifying the texture sees exactly those lines."""
MIN_STRUCTURED = 0.005
"""Below this share of structured windows the image counts as flat and every window is used."""
PSNR_CAP = 100.0
"""PSNR of identical images (instead of infinity), as the benchmark reports it."""
TILE = 128
"""Side of the tiles a larger texture's figures are measured on (a multiple of every codec's block
size: JPEG and WebP 16, Basis 4, AVIF 64)."""
VERIFY_GRID = 8
"""Tiles per side of the mosaic on which a larger texture's figures are measured: 64 tiles, a
million pixels (a 4096x4096 texture's SSIM takes seconds; the tiles' is usually within a few
thousandths of it)."""
SEARCH_TILE = 1024
SEARCH_GRID = 2
"""The quality search's sample: 2 x 2 tiles of 1024x1024 (4 Mpx, a second or so per encode);
large enough for an encoder to treat each tile much as it treats the whole image."""
WHOLE_TRIES = 3
"""Most whole-image encodes after a search: the mosaic's choice, one choice corrected by how far
the mosaic misjudged the image, and quality 100 (each is a minute for a 16383x8192 texture)."""


def ssim(a: np.ndarray, b: np.ndarray, tile: int = 0) -> float:
    """Mean SSIM of two uint8 images of equal shape (H, W, C); the lowest channel counts. With
    tile, the images are mosaics of tile x tile pieces (see sample()) and only windows inside one
    piece count: a window across a seam sees an edge the texture does not have, so its figure
    says nothing about the texture (an encoder may smear that edge; or, on a smooth texture, the
    seams are the only structure there is and their windows would hide the damage elsewhere)."""
    a, b = _channels(a), _channels(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of shapes {a.shape} and {b.shape}")
    return min(
        _channel_ssim(np.ascontiguousarray(a[..., c]), np.ascontiguousarray(b[..., c]), tile)
        for c in range(a.shape[2])
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all channels (capped at 100 for identical images)."""
    a, b = _channels(a), _channels(b)
    total = 0
    for row in range(0, a.shape[0], STRIP_ROWS):
        diff = a[row : row + STRIP_ROWS].astype(np.int32) - b[row : row + STRIP_ROWS]
        total += int(np.square(diff, dtype=np.int64).sum())
    if total == 0:
        return PSNR_CAP
    mse = total / a.size
    return min(PSNR_CAP, float(10 * np.log10(255.0**2 / mse)))


def largest_shift(a: np.ndarray, b: np.ndarray, channels: int = 3) -> float:
    """The largest difference between the mean levels of the two images over any WINDOW x WINDOW
    area, in any of the first `channels` channels: how far an area moves as a whole. Posterizing a
    smooth gradient into steps (banding) moves whole bands by up to the step's half; merging the
    colours of edges or noise moves single pixels, which an area's mean averages away."""
    a, b = _channels(a), _channels(b)
    win = min(WINDOW, a.shape[0], a.shape[1])
    largest = 0
    for top, bottom in _window_strips(a.shape[0], win):
        for c in range(min(channels, a.shape[2])):
            diff = b[top:bottom, :, c].astype(np.int32) - a[top:bottom, :, c]
            largest = max(largest, int(np.abs(_box(diff, win)).max()))
    return largest / (win * win)


def _channels(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def _channel_ssim(x: np.ndarray, y: np.ndarray, tile: int = 0) -> float:
    """Mean SSIM of one channel over its windows with structure (see STRUCTURE), or over every
    window when almost none has any; computed in strips of rows (with tile: one row of pieces at
    a time, windows across a seam left out) from exact integer window sums (the usual formula
    with every term multiplied by the window's pixel count squared)."""
    height, width = x.shape
    win = min(WINDOW, height, width)
    n = win * win
    c1, c2 = np.float32(C1 * n * n), np.float32(C2 * n * n)
    flat_below = np.float32(2 * STRUCTURE**2 * n * n)
    total = detailed = 0.0
    count = detailed_count = 0
    if tile:  # strips are the rows of pieces; columns whose window would cross a seam are dropped
        strips = [(top, min(height, top + tile)) for top in range(0, height, tile)]
        starts = np.arange(width - win + 1)
        inside = starts % tile <= tile - win
    else:  # strips of output rows, each with the win - 1 input rows its windows also cover
        strips = _window_strips(height, win)
        inside = None
    for top, bottom in strips:
        if bottom - top < win:
            continue
        sx = x[top:bottom].astype(np.int32)
        sy = y[top:bottom].astype(np.int32)
        mx, my = _box(sx, win), _box(sy, win)
        variance = (n * _box(sx * sx, win) - mx * mx + n * _box(sy * sy, win) - my * my).astype(np.float32)
        cov = (n * _box(sx * sy, win) - mx * my).astype(np.float32)
        mx, my = mx.astype(np.float32), my.astype(np.float32)
        values = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (variance + c2))
        structured = variance > flat_below
        if inside is not None:
            values, structured = values[:, inside], structured[:, inside]
        total += float(values.sum(dtype=np.float64))
        count += values.size
        detailed += float(values[structured].sum(dtype=np.float64))
        detailed_count += int(np.count_nonzero(structured))
    if not count:
        return 1.0
    if detailed_count >= MIN_STRUCTURED * count:
        return detailed / detailed_count
    return total / count


def _window_strips(height: int, win: int) -> list[tuple[int, int]]:
    """Row ranges of at most STRIP_ROWS windows' top rows each, with the win - 1 rows below that
    those windows also cover: together they hold every win-row window exactly once."""
    out_rows = height - win + 1
    return [(top, min(out_rows, top + STRIP_ROWS) + win - 1) for top in range(0, out_rows, STRIP_ROWS)]


def _box(values: np.ndarray, win: int) -> np.ndarray:
    """Sums over every win x win window that fits (separable: win shifted adds per axis; exact in
    int32 for 8-bit values and their products)."""
    height, width = values.shape
    rows = values[:, : width - win + 1].copy()
    for k in range(1, win):
        rows += values[:, k : width - win + 1 + k]
    out = rows[: height - win + 1].copy()
    for k in range(1, win):
        out += rows[k : height - win + 1 + k]
    return out


def sample(image: np.ndarray, tile: int = SEARCH_TILE, grid: int = SEARCH_GRID) -> np.ndarray:
    """A bounded stand-in for a large texture: a mosaic of grid x grid evenly spaced tiles of
    tile x tile pixels (by default the quality search's; TILE and VERIFY_GRID for measuring).
    Textures no larger than the mosaic are returned whole."""
    if not sampled(image.shape, tile, grid):
        return image
    return mosaic(lambda top, left: image[top : top + tile, left : left + tile], image.shape, tile, grid)


def measured(image: np.ndarray, mosaic_tile: int = 0) -> tuple[np.ndarray, int]:
    """The part of image that a figure is measured on, and the tile size to give ssim(): at most
    a million pixels in tiles of TILE (VERIFY_GRID per side), or the image itself if that small.
    For the search's mosaic of tiles of mosaic_tile pixels, the tiles are cut inside each of its
    tiles, so that none straddles a seam."""
    if mosaic_tile:
        per = max(1, VERIFY_GRID // SEARCH_GRID)
        rows, cols = range(0, image.shape[0], mosaic_tile), range(0, image.shape[1], mosaic_tile)
        parts = [[image[r : r + mosaic_tile, c : c + mosaic_tile] for c in cols] for r in rows]
        return np.concatenate(
            [np.concatenate([sample(part, TILE, per) for part in row], axis=1) for row in parts], axis=0
        ), TILE
    if not sampled(image.shape, TILE, VERIFY_GRID):
        return image, 0
    return sample(image, TILE, VERIFY_GRID), TILE


def sampled(shape: tuple[int, ...], tile: int, grid: int) -> bool:
    return shape[0] > tile * grid or shape[1] > tile * grid


def mosaic(cut: Callable[[int, int], np.ndarray], shape: tuple[int, ...], tile: int, grid: int) -> np.ndarray:
    """The sample's tiles, cut(top, left) each (at most tile x tile, clipped at the image's edges),
    laid out as in the image; so a caller holding the image in another form (a decoder's buffer)
    can cut the same tiles without making a whole array of it."""
    rows, cols = _starts(shape[0], tile, grid), _starts(shape[1], tile, grid)
    return np.concatenate([np.concatenate([cut(r, c) for c in cols], axis=1) for r in rows], axis=0)


def _starts(size: int, tile: int, grid: int) -> list[int]:
    """Tile starts along one side: evenly spaced, aligned to 16 pixels, inside the image."""
    if size <= tile:
        return [0]
    count = min(grid, size // tile)
    span = size - tile
    return [min(span, round(span * i / max(1, count - 1)) // 16 * 16) for i in range(count)]


@dataclass(frozen=True)
class Goal:
    """What an encoding must reach: SSIM (structure) and PSNR (absolute values: a roughness map
    off by ten levels everywhere keeps its structure but not its meaning)."""

    ssim: float
    psnr: float

    def met(self, probe: Probe) -> bool:
        return probe.ssim >= self.ssim and probe.psnr >= self.psnr


@dataclass(frozen=True)
class Probe:
    quality: int
    ssim: float
    psnr: float
    size: int


@dataclass(frozen=True)
class Axis:
    """An encoder's quality scale as the search sees it: position(quality), along which the log
    of its error falls about linearly (the scale of its quantiser), and, where known, how fast
    on a typical texture (log(1 - SSIM) and PSNR per unit of position), so that a first guess
    can be made from the top probe alone."""

    position: Callable[[float], float] = float
    ssim_slope: float = 0.0
    psnr_slope: float = 0.0


def lowest_quality(
    measure: Callable[[int], Probe],
    goal: Goal,
    low: int = 1,
    high: int = 100,
    axis: Axis | None = None,
    start: int | None = None,
) -> Probe | None:
    """The lowest quality in [low, high] whose probe meets the goal (both figures rise with
    quality); None if none does. Each probe is a whole encode, so the search interpolates rather
    than bisects. It probes start (high by default; see below); then, while no probe has failed,
    where the axis's typical slopes from the lowest passing probe say the goal is met (low itself
    without them); then where the line between the bracket's ends, in log error (log(1 - SSIM);
    PSNR, a log of the squared error) against the axis's position (encoders.quality_axis), meets
    the goal; until a passing quality's lower neighbour has failed. On corpus WebP textures that
    is 4 to 7 probes (about 5 from high, 4 from 80), where bisection takes 7 or 8 (2 where the
    lowest quality passes: a flat or synthetic texture). A bracket that interpolation does not
    close quickly is bisected (SEARCH_BUDGET), so no search takes more than a few probes beyond
    bisection's.

    start: probe this quality first instead of high, where the answer usually lies near it; high
    is probed only if start misses (then the two bracket the answer). An encode at high is the
    largest and slowest of all, and from high the first guess is often far off."""
    axis = axis or Axis()
    bottom: Probe | None = None
    first = measure(high if start is None else min(max(start, low), high))
    if goal.met(first) or first.quality == high:
        top, used = first, 1
    else:
        bottom, top, used = first, measure(high), 2
    if not goal.met(top):
        return None
    budget = SEARCH_BUDGET + math.ceil(math.log2(max(2, high - low)))
    above: Probe | None = None  # the passing probe before top
    drop = 1  # before any probe fails: how far below the guess to go after a pass (doubles)
    stale = [1.0, 1.0]  # Illinois: an end kept twice in a row counts half as far from the goal
    last_met = None
    while top.quality > low and (bottom is None or top.quality - bottom.quality > 1):
        if bottom is None:
            guess = None
            if used + 2 + math.ceil(math.log2(top.quality - low)) <= budget:  # guess, low, bisection
                guess = _descent(top, above, goal, axis, low)
            quality = low if guess is None else max(low, min(round(guess), top.quality - drop))
        else:
            guess = None
            if used + math.ceil(math.log2(top.quality - bottom.quality)) < budget:
                guess = _crossing(bottom, top, goal, axis.position, stale)
            if guess is None:  # interpolation has had its share: bisect
                quality = (bottom.quality + top.quality) // 2
            else:
                quality = min(max(round(guess), bottom.quality + 1), top.quality - 1)
        probe = measure(quality)
        used += 1
        met = goal.met(probe)
        if bottom is None and met:
            drop *= 2
        if met:
            above, top = top, probe
        else:
            bottom = probe
        kept = 0 if met else 1  # the end that stayed: 0 bottom, 1 top
        stale[kept] = stale[kept] / 2 if last_met == met else 1.0
        stale[1 - kept] = 1.0
        last_met = met
    return top


SEARCH_BUDGET = 5
"""Probes the interpolation search may spend beyond what bisecting [low, high] would (its two
ends are among them): past that it bisects what is left of the bracket."""
BEYOND_GOAL = 30.0
"""The search counts an error at most this many times smaller than the goal's: a probe far
beyond the goal (quality 100 of a flat texture, SSIM 1.0) would otherwise stretch the line
towards itself and tell nothing about where the goal is met."""
FAR_BEYOND = 100.0
"""A top probe whose 1 - SSIM is this many times below the goal's is a flat or synthetic texture
(a photograph's quality 100 is 5 to 10 times below): its search tries the lowest quality next."""


def _errors(probe: Probe, goal: Goal) -> tuple[tuple[float, float], ...]:
    """(error, the goal's error) per figure, on scales where the error falls about linearly
    along the encoder's quantiser axis (the log of 1 - SSIM; minus PSNR, a log of the mean
    squared error), no lower than BEYOND_GOAL allows; a probe meets the goal where every error
    is at most the goal's."""
    want = max(1.0 - goal.ssim, 1e-9)
    return (
        (math.log(max(want / BEYOND_GOAL, 1.0 - probe.ssim)), math.log(want)),
        (-min(probe.psnr, goal.psnr + 10 * math.log10(BEYOND_GOAL)), -goal.psnr),
    )


def _descent(top: Probe, above: Probe | None, goal: Goal, axis: Axis, low: int) -> float | None:
    """The quality below a passing probe where the goal would be missed, going down at the slopes
    of the line from the passing probe above it (where both figures fall along it), else at the
    axis's typical slopes (the first figure to reach the goal's error decides); low for a probe
    FAR_BEYOND the goal (a flat or synthetic texture); None without slopes."""
    if axis.ssim_slope >= 0 or axis.psnr_slope <= 0:
        return None
    if 1.0 - top.ssim <= (1.0 - goal.ssim) / FAR_BEYOND:
        return low
    (ssim_error, ssim_want), (psnr_error, psnr_want) = _errors(top, goal)
    x = axis.position(top.quality)
    slopes = (axis.ssim_slope, -axis.psnr_slope)  # of the errors, per unit of position
    if above is not None:
        run = axis.position(above.quality) - x
        pairs = zip(_errors(top, goal), _errors(above, goal), strict=True)
        measured = tuple((e1 - e0) / run for (e0, _), (e1, _) in pairs)
        if all(slope < 0 for slope in measured):
            slopes = measured
    distance = min((ssim_want - ssim_error) / -slopes[0], (psnr_want - psnr_error) / -slopes[1])
    return _quality_at(x - distance, low, top.quality, axis.position)


def _crossing(
    fail: Probe, passed: Probe, goal: Goal, position: Callable[[float], float], weights: list[float]
) -> float:
    """The quality where the line from a failing probe to a passing one meets the goal in every
    figure (the highest of the figures' crossings). weights: how far each end counts from the
    goal (Illinois)."""
    x0, x1 = position(fail.quality), position(passed.quality)
    crossing = x0
    for (e0, want), (e1, _) in zip(_errors(fail, goal), _errors(passed, goal), strict=True):
        if e0 <= want:
            continue  # this figure already passes at the failing quality (so e1 <= want < e0 below)
        over, under = (e0 - want) * weights[0], (want - e1) * weights[1]
        crossing = max(crossing, x0 + over / (over + under) * (x1 - x0))
    return _quality_at(crossing, fail.quality, passed.quality, position)


def _quality_at(x: float, low: float, high: float, position: Callable[[float], float]) -> float:
    """The quality in [low, high] at position x (clamped to the ends), by bisecting the rising
    position."""
    if x <= position(low):
        return low
    if x >= position(high):
        return high
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if position(middle) < x else (low, middle)
    return (low + high) / 2


def settle(
    chosen: int,
    whole: Callable[[int], float],
    estimate: Callable[[int], Probe],
    goal: Goal,
    slack: float,
    tries: int = WHOLE_TRIES,
    axis: Axis | None = None,
) -> int:
    """The quality to keep once the search's choice has been encoded whole. whole(q) encodes the
    image at q and returns its SSIM; while that falls more than slack below the goal, the search's
    sample (estimate(q), cached by the caller) is searched again for the goal raised by the gap the
    last whole encode showed, so that one more whole encode usually settles it; the last try is
    quality 100. At most `tries` whole encodes, the first included. axis: as for lowest_quality."""
    quality = chosen
    measured = whole(quality)
    for attempt in range(1, tries):
        if measured >= goal.ssim - slack or quality >= 100:
            break
        if attempt == tries - 1:
            quality = 100
        else:
            gap = estimate(quality).ssim - measured
            raised = Goal(goal.ssim + gap, goal.psnr)
            found = lowest_quality(estimate, raised, low=quality + 1, axis=axis, start=quality + 1)
            quality = found.quality if found else 100
        measured = whole(quality)
    return quality
