"""``fuse_temporal`` and ``wiener_shrink`` (numba twins) against plain numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels import fuse_temporal, local_mean_var, wiener_shrink

H, W = 23, 31


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def reference_fuse(center, nbrs, s2, h):
    """The documented maths in float64: 3 x 3 patch means (replicated border), rational weights."""
    c = center.astype(np.float64)
    acc, sw, sw2 = c.copy(), np.ones_like(c), np.ones_like(c)
    for n in nbrs.astype(np.float64):
        sq = np.pad((n - c) ** 2, 1, mode="edge")
        d = sum(sq[dy:dy + H, dx:dx + W] for dy in range(3) for dx in range(3)) / 9
        e = np.maximum(d - 2 * s2, 0) / (h * s2)
        w = 1 / (1 + e + e * e / 2 + e ** 3 / 6)
        acc += w * n
        sw += w
        sw2 += w * w
    return acc / sw, s2 * sw2 / sw ** 2


@pytest.mark.parametrize("k", [1, 2, 6])
def test_fuse_matches_the_reference(k):
    center = rand(H, W)
    nbrs = np.clip(center + (rand(k, H, W, seed=1) - 0.5) * 0.3, 0, 1).astype(np.float32)
    fused, resid = fuse_temporal(center, nbrs, 0.003, 1.5)
    want_f, want_r = reference_fuse(center, nbrs, 0.003, 1.5)
    np.testing.assert_allclose(fused, want_f, atol=2e-6)
    np.testing.assert_allclose(resid, want_r, rtol=2e-5)


def test_aligned_neighbours_average_and_misaligned_ones_drop_out():
    center = rand(H, W)
    same = np.stack([center] * 4)
    fused, resid = fuse_temporal(center, same, 0.01, 1.0)
    np.testing.assert_allclose(fused, center, atol=1e-6)
    np.testing.assert_allclose(resid, 0.01 / 5, rtol=1e-5)  # five equal weights
    far = np.stack([1 - center, np.zeros_like(center) + 5])  # wildly different: weights ~0
    far[0, :, :] = np.where(np.abs(far[0] - center) < 0.5, 5, far[0])
    fused, resid = fuse_temporal(center, far, 1e-4, 1.0)
    np.testing.assert_allclose(fused, center, atol=1e-5)
    np.testing.assert_allclose(resid, 1e-4, rtol=1e-3)


def test_out_buffers_are_used():
    center, nbrs = rand(H, W), rand(2, H, W, seed=3)
    out, res = np.empty((H, W), np.float32), np.empty((H, W), np.float32)
    fused, resid = fuse_temporal(center, nbrs, 0.01, out=out, resid=res)
    assert fused is out and resid is res


def test_wiener_shrinks_noise_and_keeps_signal():
    img = rand(H, W)
    mean, var = local_mean_var(img, 5)
    # residual variance above the local variance everywhere: the local mean
    np.testing.assert_allclose(wiener_shrink(img, mean, var, var + 1), mean, atol=1e-6)
    # no residual noise: the image itself
    np.testing.assert_allclose(wiener_shrink(img, mean, var, np.zeros_like(var)), img, atol=1e-6)
    half = wiener_shrink(img, mean, var, var / 2)
    np.testing.assert_allclose(half, mean + (img - mean) / 2, atol=1e-6)
    loud = wiener_shrink(img * 3, mean, var, np.zeros_like(var))
    assert loud.min() >= 0 and loud.max() == 1  # clamped to [0, 1]


def test_bad_arguments():
    center = rand(H, W)
    with pytest.raises(ConfigError, match="neighbours must be"):
        fuse_temporal(center, rand(2, H, W + 1), 0.01)
    with pytest.raises(ConfigError, match="s2 and h must be > 0"):
        fuse_temporal(center, rand(1, H, W), 0.0)
    with pytest.raises(ConfigError, match="mean must be"):
        wiener_shrink(center, rand(H, 3), center, center)
