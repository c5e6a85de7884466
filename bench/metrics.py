"""Image and summary statistics: SSIM, PSNR, geometric mean, median.

SSIM follows Wang et al. (2004): an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03 on
8-bit values, computed per RGB channel and averaged, over the valid region (no padding). It is computed symmetrically, so identical
images give exactly 1.0 (and the bench checks that before computing anything).

    ssim(a, b)   # 1.0 for identical images, lower the more they differ
    psnr(a, b)   # decibels; PSNR_IDENTICAL for identical images
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

PSNR_IDENTICAL = 100.0  # reported instead of infinity, so that means and JSON stay finite
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


_RADIUS = 5  # of the Gaussian window: 11 x 11


def _gaussian(sigma: float = 1.5, radius: int = _RADIUS) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-(x * x) / (2 * sigma * sigma))
    return w / w.sum()


_WINDOW = _gaussian().astype(np.float32)


def _blur(img: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter over the first two axes, 'valid' region only (no padding)."""
    n = len(_WINDOW)
    rows = sum(w * img[k : img.shape[0] - n + 1 + k] for k, w in enumerate(_WINDOW))
    return sum(w * rows[:, k : rows.shape[1] - n + 1 + k] for k, w in enumerate(_WINDOW))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images of the same shape (H, W[, C])."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if np.array_equal(a, b):
        return 1.0
    x = a.astype(np.float32).reshape(a.shape[0], a.shape[1], -1)
    y = b.astype(np.float32).reshape(x.shape)
    mx, my, xx, yy, xy = np.split(_blur(np.concatenate([x, y, x * x, y * y, x * y], axis=2)), 5, axis=2)
    sxx = xx - mx * mx
    syy = yy - my * my
    sxy = xy - mx * my
    num = (2 * mx * my + _C1) * (2 * sxy + _C2)
    den = (mx * mx + my * my + _C1) * (sxx + syy + _C2)
    return float(np.mean(num / den, dtype=np.float64))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images; PSNR_IDENTICAL when they are equal."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0:
        return PSNR_IDENTICAL
    return min(PSNR_IDENTICAL, 10 * math.log10(255.0**2 / mse))


def object_region(
    a: np.ndarray, b: np.ndarray, background: Sequence[int], pad: int = _RADIUS
) -> tuple[slice, slice]:
    """The rectangle holding every pixel of either image that is not background, with pad pixels
    of margin (so SSIM's window sees the silhouette's edge); the whole image if there is none."""
    bg = np.asarray(background, dtype=a.dtype)
    drawn = np.any(a != bg, axis=2) | np.any(b != bg, axis=2)
    rows, cols = np.any(drawn, axis=1).nonzero()[0], np.any(drawn, axis=0).nonzero()[0]
    if len(rows) == 0:
        return slice(None), slice(None)
    return _span(rows[0], rows[-1], a.shape[0], pad), _span(cols[0], cols[-1], a.shape[1], pad)


def _span(first: int, last: int, size: int, pad: int) -> slice:
    """first..last widened by pad each side, at least one SSIM window wide, inside 0..size."""
    start, stop = max(first - pad, 0), min(last + pad + 1, size)
    short = 2 * _RADIUS + 1 - (stop - start)
    if short > 0:
        start, stop = max(start - short, 0), min(stop + short, size)
    return slice(int(start), int(stop))


def fidelity(
    originals: Sequence[np.ndarray], outputs: Sequence[np.ndarray], background: Sequence[int] | None = None
) -> dict:
    """Per-view SSIM and PSNR of an output's views against the original's, with min and mean.

    With the background colour given, each view is compared on the object's region only, so the
    figures do not depend on how much empty background a view happens to hold."""
    if len(originals) != len(outputs):
        raise ValueError("the original and the output must be rendered from the same views")
    pairs = []
    for a, b in zip(originals, outputs, strict=True):
        region = object_region(a, b, background) if background is not None else (slice(None), slice(None))
        pairs.append((a[region], b[region]))
    s = [ssim(a, b) for a, b in pairs]
    p = [psnr(a, b) for a, b in pairs]
    return {
        "ssim_min": min(s),
        "ssim_mean": sum(s) / len(s),
        "psnr_min": min(p),
        "psnr_mean": sum(p) / len(p),
        "ssim_views": s,
        "psnr_views": p,
    }


def geomean(values: Iterable[float]) -> float | None:
    """Geometric mean of positive numbers; None for none."""
    logs = [math.log(v) for v in values]
    return math.exp(sum(logs) / len(logs)) if logs else None


def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
