"""How close an encoded texture is to its source: SSIM and PSNR in numpy, and the per-texture
search for the lowest encoder quality that still meets an SSIM target.

SSIM (Wang et al. 2004, the usual constants) uses a 7x7 box window, strip by strip so that memory
stays bounded for large textures, and is averaged over the windows that have structure (flat
windows, identical in both images, would only dilute the damage). A texture's figure is the lowest
of its channels', so a packed map (occlusion, roughness and metalness in R, G and B) passes only
if every channel it carries does.
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
"""Side of the tiles the quality search samples from a large texture (a multiple of every codec's
block size: JPEG and WebP 16, Basis 4, AVIF 64)."""
GRID = 4
"""Tiles per side of the search mosaic: 16 tiles of 128x128, a 512x512 image."""
VERIFY_GRID = 8
"""Tiles per side of the mosaic on which a larger texture's result is measured: 64 tiles, a
million pixels (a 4096x4096 texture's SSIM takes seconds; the sample's is usually within a
hundredth of it)."""


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 images of equal shape (H, W, C); the lowest channel counts."""
    a, b = _channels(a), _channels(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of shapes {a.shape} and {b.shape}")
    return min(
        _channel_ssim(np.ascontiguousarray(a[..., c]), np.ascontiguousarray(b[..., c]))
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


def _channel_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Mean SSIM of one channel over its windows with structure (see STRUCTURE), or over every
    window when almost none has any; computed in strips of rows from exact integer window sums
    (the usual formula with every term multiplied by the window's pixel count squared)."""
    height, width = x.shape
    win = min(WINDOW, height, width)
    n = win * win
    c1, c2 = np.float32(C1 * n * n), np.float32(C2 * n * n)
    flat_below = np.float32(2 * STRUCTURE**2 * n * n)
    total = detailed = 0.0
    count = detailed_count = 0
    out_rows = height - win + 1
    for start in range(0, out_rows, STRIP_ROWS):
        stop = min(out_rows, start + STRIP_ROWS)
        sx = x[start : stop + win - 1].astype(np.int32)
        sy = y[start : stop + win - 1].astype(np.int32)
        mx, my = _box(sx, win), _box(sy, win)
        variance = (n * _box(sx * sx, win) - mx * mx + n * _box(sy * sy, win) - my * my).astype(np.float32)
        cov = (n * _box(sx * sy, win) - mx * my).astype(np.float32)
        mx, my = mx.astype(np.float32), my.astype(np.float32)
        values = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (variance + c2))
        structured = variance > flat_below
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


def sample(image: np.ndarray, grid: int = GRID) -> np.ndarray:
    """A small stand-in for a large texture: a mosaic of grid x grid evenly spaced tiles, so the
    quality search encodes 512x512 pixels instead of millions (and the check of the result measures
    1024x1024 with VERIFY_GRID). Textures that small are returned whole."""
    height, width = image.shape[:2]
    if height <= TILE * grid and width <= TILE * grid:
        return image
    rows = _starts(height, grid)
    cols = _starts(width, grid)
    return np.concatenate(
        [np.concatenate([image[r : r + TILE, c : c + TILE] for c in cols], axis=1) for r in rows], axis=0
    )


def sampled(shape: tuple[int, ...], grid: int) -> bool:
    return shape[0] > TILE * grid or shape[1] > TILE * grid


def _starts(size: int, grid: int) -> list[int]:
    """Tile starts along one side: evenly spaced, aligned to 16 pixels, inside the image."""
    if size <= TILE:
        return [0]
    count = min(grid, size // TILE)
    span = size - TILE
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
