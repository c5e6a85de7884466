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
"""

from __future__ import annotations

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
        out_rows = height - win + 1
        strips = [(top, min(out_rows, top + STRIP_ROWS) + win - 1) for top in range(0, out_rows, STRIP_ROWS)]
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


def lowest_quality(
    measure: Callable[[int], Probe], goal: Goal, low: int = 1, high: int = 100
) -> Probe | None:
    """Bisect for the lowest quality in [low, high] whose probe meets the goal (both figures rise
    with quality); None if none does. About log2(high - low) probes."""
    best = None
    while low <= high:
        middle = (low + high) // 2
        probe = measure(middle)
        if goal.met(probe):
            best, high = probe, middle - 1
        else:
            low = middle + 1
    return best


def settle(
    chosen: int,
    whole: Callable[[int], float],
    estimate: Callable[[int], Probe],
    goal: Goal,
    slack: float,
    tries: int = WHOLE_TRIES,
) -> int:
    """The quality to keep once the search's choice has been encoded whole. whole(q) encodes the
    image at q and returns its SSIM; while that falls more than slack below the goal, the search's
    sample (estimate(q), cached by the caller) is searched again for the goal raised by the gap the
    last whole encode showed, so that one more whole encode usually settles it; the last try is
    quality 100. At most `tries` whole encodes, the first included."""
    quality = chosen
    measured = whole(quality)
    for attempt in range(1, tries):
        if measured >= goal.ssim - slack or quality >= 100:
            break
        if attempt == tries - 1:
            quality = 100
        else:
            gap = estimate(quality).ssim - measured
            found = lowest_quality(estimate, Goal(goal.ssim + gap, goal.psnr), low=quality + 1)
            quality = found.quality if found else 100
        measured = whole(quality)
    return quality
