"""local_mean_var twin against cv2.blur of x and of x*x (BORDER_REPLICATE)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.local_stats import local_mean_var

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
EPS = np.finfo(np.float32).eps


def reference(img, k):
    mean = cv2.blur(img, (k, k), borderType=cv2.BORDER_REPLICATE)
    sq = cv2.blur(img * img, (k, k), borderType=cv2.BORDER_REPLICATE)
    return mean, np.maximum(sq - mean * mean, 0)


@pytest.mark.parametrize("k", [3, 5])
def test_exact_on_integer_images(k):
    # Sums of integers and of their squares are exact in float32; each mean is one rounding, as in
    # OpenCV's double-precision box sums, so mean and variance match bit for bit.
    img = (np.arange(H * W, dtype=np.float32) % 97).reshape(H, W)
    mean, var = local_mean_var(img, k)
    want_mean, want_var = reference(img, k)
    np.testing.assert_array_equal(mean, want_mean)
    np.testing.assert_array_equal(var, want_var)


@pytest.mark.parametrize("k", [3, 5])
def test_close_on_real_images(k):
    img = np.random.default_rng(0).random((H, W), dtype=np.float32)
    mean, var = local_mean_var(img, k)
    want_mean, want_var = reference(img, k)
    assert mean.dtype == var.dtype == np.float32 and mean.shape == var.shape == (H, W)
    np.testing.assert_allclose(mean, want_mean, rtol=0, atol=4 * EPS)
    # E[x^2] - E[x]^2 cancels: the few-ulp difference of the two means shows up absolutely.
    np.testing.assert_allclose(var, want_var, rtol=0, atol=16 * EPS)
    assert (var >= 0).all()


def test_flat_and_noisy_regions():
    rng = np.random.default_rng(1)
    img = np.full((H, W), 0.5, np.float32)
    img[:, W // 2:] += rng.normal(0, 0.1, (H, W - W // 2)).astype(np.float32)
    mean, var = local_mean_var(img, 5)
    assert (var[:, : W // 2 - 3] == 0).all()  # flat: exactly zero (clamped, never negative)
    # noise of sigma 0.1: var ~ 0.01, less the part a 5x5 window's mean absorbs
    assert 0.005 < np.median(var[:, W // 2 + 3:]) < 0.02


def test_planar_input_and_errors():
    img = np.random.default_rng(2).random((2, H, W), dtype=np.float32)
    mean, var = local_mean_var(img, 3)
    assert mean.shape == var.shape == (2, H, W)
    m1, v1 = local_mean_var(img[1], 3)
    np.testing.assert_array_equal(mean[1], m1)
    np.testing.assert_array_equal(var[1], v1)
    with pytest.raises(ConfigError, match="positive odd"):
        local_mean_var(img, 4)


@pytest.mark.parametrize("k", [3, 5, 7])
def test_twin_equals_the_cuda_arithmetic(k):
    # native/local_stats.cu: row sums of x and x*x from zero in tap order, column sums likewise,
    # mean = S1 / n, var = max(S2 / n - mean * mean, 0), all in float32.
    img = np.random.default_rng(5).random((H, W), dtype=np.float32)
    r = k // 2
    pad = np.pad(img, ((0, 0), (r, r)), mode="edge")
    s1 = np.zeros((H, W), np.float32)
    s2 = np.zeros((H, W), np.float32)
    for j in range(k):
        p = pad[:, j:j + W]
        s1 = s1 + p
        s2 = s2 + p * p
    p1, p2 = np.pad(s1, ((r, r), (0, 0)), mode="edge"), np.pad(s2, ((r, r), (0, 0)), mode="edge")
    a = np.zeros((H, W), np.float32)
    b = np.zeros((H, W), np.float32)
    for j in range(k):
        a = a + p1[j:j + H]
        b = b + p2[j:j + H]
    n = np.float32(k * k)
    mean = a / n
    mean_got, var_got = local_mean_var(img, k)
    np.testing.assert_array_equal(mean_got, mean)
    np.testing.assert_array_equal(var_got, np.maximum(b / n - mean * mean, np.float32(0)))
