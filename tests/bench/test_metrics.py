"""SSIM, PSNR and the summary statistics the bench reports."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import metrics


def _image(seed: int = 0, shape: tuple[int, ...] = (64, 80, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _smooth() -> np.ndarray:
    """A smooth gradient picture, closer to a render than noise."""
    y, x = np.mgrid[0:96, 0:96]
    rgb = np.stack([x * 2, y * 2, (x + y)], axis=2)
    return rgb.astype(np.uint8)


@pytest.mark.parametrize(
    "image", [_image(), _smooth(), np.zeros((16, 16, 3), np.uint8)], ids=["noise", "smooth", "black"]
)
def test_identical_images_give_exactly_one(image: np.ndarray) -> None:
    assert metrics.ssim(image, image.copy()) == 1.0
    assert metrics.psnr(image, image.copy()) == metrics.PSNR_IDENTICAL


def test_ssim_of_constant_images_matches_the_formula() -> None:
    # With no variance SSIM reduces to its luminance term (2ab + C1) / (a^2 + b^2 + C1).
    a = np.full((32, 32, 3), 100, np.uint8)
    b = np.full((32, 32, 3), 110, np.uint8)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert metrics.ssim(a, b) == pytest.approx(expected, rel=1e-6)


def test_ssim_falls_as_noise_grows_and_is_symmetric() -> None:
    base = _smooth()
    rng = np.random.default_rng(1)
    scores = []
    for sigma in (2, 8, 32):
        noisy = np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
        scores.append(metrics.ssim(base, noisy))
        assert metrics.ssim(noisy, base) == pytest.approx(scores[-1], abs=1e-6)
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0


def test_ssim_sees_a_colour_shift_in_one_channel() -> None:
    base = _smooth()
    shifted = base.copy()
    shifted[..., 2] = np.clip(shifted[..., 2].astype(int) + 40, 0, 255)
    assert metrics.ssim(base, shifted) < 0.99


def test_psnr_of_a_known_error() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.ones((8, 8, 3), np.uint8)  # mse = 1
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2))


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        metrics.ssim(_image(shape=(16, 16, 3)), _image(shape=(16, 17, 3)))


def test_fidelity_reports_min_and_mean_per_view() -> None:
    base = [_smooth(), _smooth()]
    out = [_smooth(), np.clip(_smooth().astype(int) + 30, 0, 255).astype(np.uint8)]
    fid = metrics.fidelity(base, out)
    assert fid["ssim_views"][0] == 1.0 and fid["ssim_views"][1] < 1.0
    assert fid["ssim_min"] == fid["ssim_views"][1]
    assert fid["ssim_mean"] == pytest.approx((1.0 + fid["ssim_views"][1]) / 2)
    assert fid["psnr_min"] == fid["psnr_views"][1] < metrics.PSNR_IDENTICAL
    with pytest.raises(ValueError):
        metrics.fidelity(base, out[:1])


def test_fidelity_compares_the_object_region_not_the_empty_background() -> None:
    grey = (128, 128, 128)
    small, wide = np.full((200, 200, 3), 128, np.uint8), np.full((200, 200, 3), 128, np.uint8)
    patch = _smooth()[:40, :40]
    small[80:120, 80:120] = patch
    wide[80:120, 80:120] = np.clip(patch.astype(int) + 25, 0, 255).astype(np.uint8)
    whole = metrics.fidelity([small], [wide])["ssim_min"]
    cropped = metrics.fidelity([small], [wide], grey)["ssim_min"]
    region = metrics.object_region(small, wide, grey)
    assert region == (slice(75, 125), slice(75, 125))  # the patch and 5 pixels of margin
    assert cropped == pytest.approx(metrics.ssim(small[region], wide[region]))
    assert cropped < whole < 1.0  # the background no longer dilutes the difference
    assert metrics.fidelity([small], [small.copy()], grey)["ssim_min"] == 1.0


def test_object_region_is_at_least_one_window_wide() -> None:
    grey = (128, 128, 128)
    a = np.full((50, 50, 3), 128, np.uint8)
    b = a.copy()
    b[0, 49] = 0  # one pixel, in a corner
    rows, cols = metrics.object_region(a, b, grey)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 11, 39, 50)
    assert metrics.object_region(a, a.copy(), grey) == (slice(None), slice(None))
    assert 0 < metrics.fidelity([a], [b], grey)["ssim_min"] < 1.0


def test_geomean_and_median() -> None:
    assert metrics.geomean([1, 4]) == pytest.approx(2.0)
    assert metrics.geomean([0.5, 2, 8]) == pytest.approx(2.0)
    assert metrics.geomean([]) is None
    assert metrics.median([3, 1, 2]) == 2
    assert metrics.median([4, 1, 3, 2]) == 2.5
    assert metrics.median([]) is None
