"""``vsr`` kernels (numba twins): robust weights, residual, back-projection and the degradation blur
against plain numpy references, the degradation model against MATLAB ``imresize`` (BI), and
argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels import vsr_backproject, vsr_blur, vsr_residual, vsr_weights
from vproc.kernels.vsr import degradation_taps, sample_offset

H, W = 13, 17  # LR size: odd, small


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def bilinear(p: np.ndarray, sx: float, sy: float) -> float:
    """Bilinear sample of ``p`` at (sx, sy), the point clamped into the image (float64)."""
    h, w = p.shape
    sx, sy = min(max(sx, 0.0), w - 1.0), min(max(sy, 0.0), h - 1.0)
    x0, y0 = int(math.floor(sx)), int(math.floor(sy))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    ax, ay = sx - x0, sy - y0
    return ((1 - ax) * p[y0, x0] + ax * p[y0, x1]) * (1 - ay) + ((1 - ax) * p[y1, x0] + ax * p[y1, x1]) * ay


def cubic(x):
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1,
                    np.where(ax < 2, -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2, 0.0))


def imresize_down(img: np.ndarray, s: int) -> np.ndarray:
    """MATLAB ``imresize(img, 1/s, 'bicubic')`` (antialiased), float64, as BasicSR writes it."""
    def weights(n_in: int, n_out: int):
        u = np.arange(1, n_out + 1) * s + 0.5 * (1 - s)  # x / scale + 0.5 (1 - 1 / scale)
        kw = 4.0 * s
        left = np.floor(u - kw / 2)
        idx = left[:, None] + np.arange(int(math.ceil(kw)) + 2)[None, :]
        wt = cubic((u[:, None] - idx) / s) / s
        wt /= wt.sum(1, keepdims=True)
        idx = idx.astype(np.int64) - 1
        idx = np.where(idx < 0, -idx - 1, idx)
        idx = np.where(idx >= n_in, 2 * n_in - idx - 1, idx)  # symmetric padding
        return wt, idx

    wy, iy = weights(img.shape[0], img.shape[0] // s)
    wx, ix = weights(img.shape[1], img.shape[1] // s)
    rows = np.einsum("op,opw->ow", wy, img[iy])
    return np.einsum("op,hop->ho", wx, rows[:, ix])


def test_weights_follow_the_patch_distance():
    center = rand(H, W)
    nbrs = np.clip(center + (rand(3, H, W, seed=1) - 0.5) * np.array([0.0, 0.1, 0.6])[:, None, None], 0, 1)
    nbrs = nbrs.astype(np.float32)
    tol = 0.05
    got = vsr_weights(center, nbrs, tol)
    pad = lambda a: np.pad(a.astype(np.float64), 1, mode="edge")  # noqa: E731
    for k in range(3):
        sq = pad(nbrs[k].astype(np.float64) - center) ** 2
        d = sum(sq[dy:dy + H, dx:dx + W] for dy in range(3) for dx in range(3)) / 9
        e = d / tol ** 2
        want = 1 / (1 + e + e ** 2 / 2 + e ** 3 / 6)
        np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-7)
    assert np.all(got[0] == 1.0)  # identical: full weight
    assert got[2].mean() < 0.1 < 0.5 < got[1].mean()  # far off: rejected; close: kept


def test_residual_samples_the_blurred_estimate_through_the_flow():
    s = 3
    z = rand(s * H, s * W)
    frames = rand(3, H, W, seed=1)
    flows = (rand(2, H, W, 2, seed=2) - 0.5) * 6  # also reaches past the borders
    got = vsr_residual(z, frames, flows, s)
    off = sample_offset(s)
    for k in range(3):
        g = np.zeros((H, W, 2)) if k == 0 else flows[k - 1]
        want = np.array([[frames[k, y, x] - bilinear(z, s * (x + g[y, x, 0]) + off, s * (y + g[y, x, 1]) + off)
                          for x in range(W)] for y in range(H)])
        np.testing.assert_allclose(got[k], want, rtol=0, atol=2e-6)


def backproject_ref(hr, resid, flows, weights, s, step):
    out = np.empty(hr.shape)
    for y in range(hr.shape[0]):
        for x in range(hr.shape[1]):
            ux, uy = (x + 0.5) / s - 0.5, (y + 0.5) / s - 0.5
            acc, sw = bilinear(resid[0], ux, uy), 1.0
            for k in range(len(resid) - 1):
                wt = bilinear(weights[k], ux, uy)
                dx, dy = bilinear(flows[k, ..., 0], ux, uy), bilinear(flows[k, ..., 1], ux, uy)
                acc += wt * bilinear(resid[k + 1], ux + dx, uy + dy)
                sw += wt
            out[y, x] = hr[y, x] + step * acc / sw
    return out


@pytest.mark.parametrize("s", [2, 3, 4])
def test_backproject_adds_the_weighted_mean_of_the_residuals(s):
    hr = rand(s * H, s * W)
    resid = (rand(3, H, W, seed=1) - 0.5) * 0.2
    flows = (rand(2, H, W, 2, seed=2) - 0.5) * 4
    weights = rand(2, H, W, seed=3)
    got = vsr_backproject(hr, resid, flows, weights, s, 1.5)
    np.testing.assert_allclose(got, backproject_ref(hr, resid, flows, weights, s, 1.5), rtol=0, atol=2e-6)
    assert vsr_backproject(hr, resid, flows, weights, s, 1.5, out=hr) is hr  # in place
    np.testing.assert_array_equal(hr, got)
    # the centre alone (no neighbours): single-frame back-projection
    alone = vsr_backproject(hr, resid[:1], None, None, s, 1.0)
    np.testing.assert_allclose(alone, backproject_ref(hr, resid[:1], None, None, s, 1.0), rtol=0, atol=2e-6)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_the_model_without_motion_is_matlab_imresize(s):
    """Blur + residual with no motion predicts exactly MATLAB's antialiased bicubic downscale
    (the BI degradation), away from the border (there imresize mirrors, the blur replicates)."""
    rng = np.random.default_rng(s)
    hr = rng.random((s * 12, s * 14)).astype(np.float32)
    taps = degradation_taps(s)
    assert taps.sum() == pytest.approx(1.0, abs=1e-6) and len(taps) == (4 * s if s % 2 == 0 else 4 * s - 1)
    zero = np.zeros((1, 12, 14), np.float32)
    predicted = -vsr_residual(vsr_blur(hr, s), zero, np.zeros((0, 12, 14, 2), np.float32), s)[0]
    want = imresize_down(hr.astype(np.float64), s)
    np.testing.assert_allclose(predicted[2:-2, 2:-2], want[2:-2, 2:-2], rtol=0, atol=2e-6)


def test_refuses_bad_arguments():
    hr, frames = rand(2 * H, 2 * W), rand(2, H, W)
    with pytest.raises(ConfigError, match="scale must be one of 2, 3, 4"):
        vsr_blur(hr, 5)
    with pytest.raises(ConfigError, match="blurred must be"):
        vsr_residual(rand(2 * H + 1, 2 * W), frames, np.zeros((1, H, W, 2), np.float32), 2)
    with pytest.raises(ConfigError, match="flows must be"):
        vsr_residual(hr, frames, np.zeros((2, H, W, 2), np.float32), 2)
    with pytest.raises(ConfigError, match="weights must be"):
        vsr_backproject(hr, frames, np.zeros((1, H, W, 2), np.float32), rand(1, H, W + 1), 2)
    with pytest.raises(ConfigError, match="tolerance"):
        vsr_weights(frames[0], frames[1:], 0)
