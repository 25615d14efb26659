"""CUDA kernels (CuPy arrays) against their numba twins (numpy arrays), op by op.

Tolerance: both sides evaluate the same float32 operations in the same order, and the CUDA
sources are compiled with ``--fmad=false`` (no fused multiply-add), so results are expected to be
identical. The asserts still allow 1e-6 on [0, 1] data (a few ulp), for a compiler that reorders
or contracts anyway, and one code for integer YUV samples (a .5 rounding decision flipping).

All tests are marked ``cuda``: skipped without CuPy or a GPU unless ``VPROC_REQUIRE_CUDA=1``.
"""

from __future__ import annotations

import numpy as np
import pytest

from vproc.kernels import (
    box_blur, fuse_temporal, gaussian_blur, local_mean_var, resize, rgb_to_yuv, warp, wiener_shrink, yuv_to_rgb,
)

pytestmark = pytest.mark.cuda

H, W = 37, 53  # odd, and not multiples of the 32 x 8 block: exercises the bounds checks
ATOL = 1e-6


def same(cp, got, want, atol=ATOL):
    assert type(got).__module__.startswith("cupy")
    np.testing.assert_allclose(cp.asnumpy(got), want, rtol=0, atol=atol)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("nv12", [False, True])
@pytest.mark.parametrize("bits, msb", [(8, False), (10, False), (10, True)])
@pytest.mark.parametrize("matrix, full", [("bt709", False), ("bt601", True), ("bt2020", False)])
def test_yuvrgb(cp, matrix, full, bits, msb, nv12):
    rgb = rand(3, H, W)
    kw = dict(matrix=matrix, full_range=full, bits=bits, nv12=nv12, msb_aligned=msb)
    cpu = rgb_to_yuv(rgb, **kw)
    gpu = rgb_to_yuv(cp.asarray(rgb), **kw)
    for g, c in zip(gpu, cpu):
        assert g.dtype == c.dtype and g.shape == c.shape
        diff = np.abs(cp.asnumpy(g).astype(np.int64) - c) >> (16 - bits if msb else 0)
        assert diff.max() <= 1
    back_cpu = yuv_to_rgb(*cpu, **kw)
    back_gpu = yuv_to_rgb(*(cp.asarray(p) for p in cpu), **kw)
    same(cp, back_gpu, back_cpu)


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
@pytest.mark.parametrize("shape", [(H, W), (3, H, W)])
def test_resize(cp, method, shape):
    img = rand(*shape)
    for oh, ow in [(74, 106), (20, 31), (50, 41), (H, W)]:
        same(cp, resize(cp.asarray(img), oh, ow, method), resize(img, oh, ow, method))


@pytest.mark.parametrize("shape", [(H, W), (3, H, W)])
def test_blurs(cp, shape):
    img = rand(*shape)
    dev = cp.asarray(img)
    for sigma, k in [(1.0, None), (2.0, 7), (0.8, 3)]:
        same(cp, gaussian_blur(dev, sigma, k), gaussian_blur(img, sigma, k))
    for k in [3, 5, (4, 3)]:
        same(cp, box_blur(dev, k), box_blur(img, k))


@pytest.mark.parametrize("k", [3, 5])
def test_local_stats(cp, k):
    img = rand(H, W)
    mean, var = local_mean_var(cp.asarray(img), k)
    want_mean, want_var = local_mean_var(img, k)
    same(cp, mean, want_mean)
    same(cp, var, want_var)


@pytest.mark.parametrize("shape", [(H, W), (3, H, W)])
def test_warp(cp, shape):
    img = rand(*shape)
    flow = (rand(H, W, 2, seed=1) - 0.5) * 24  # reaches past every border
    same(cp, warp(cp.asarray(img), cp.asarray(flow)), warp(img, flow))


def test_outputs_stay_on_the_device_and_out_is_used(cp):
    img = cp.asarray(rand(3, H, W))
    out = cp.empty((3, 20, 30), cp.float32)
    assert resize(img, 20, 30, out=out) is out
    flow = cp.zeros((H, W, 2), cp.float32)
    np.testing.assert_array_equal(cp.asnumpy(warp(img, flow)), cp.asnumpy(img))


@pytest.mark.parametrize("k", [1, 4])
def test_denoise_ops(cp, k):
    center = rand(H, W)
    nbrs = np.clip(center + (rand(k, H, W, seed=2) - 0.5) * 0.2, 0, 1).astype(np.float32)
    want = fuse_temporal(center, nbrs, 0.002, 1.0)
    got = fuse_temporal(cp.asarray(center), cp.asarray(nbrs), 0.002, 1.0)
    for g, w in zip(got, want):
        same(cp, g, w)
    mean, var = local_mean_var(want[0], 5)
    same(cp, wiener_shrink(*(cp.asarray(a) for a in (want[0], mean, var, want[1]))),
         wiener_shrink(want[0], mean, var, want[1]))


def test_temporal_noise_estimate(cp):
    from vproc.kernels import estimate_temporal_noise

    a, b = rand(H, W), rand(H, W, seed=1)
    assert estimate_temporal_noise(cp.asarray(a), cp.asarray(b)) == pytest.approx(
        estimate_temporal_noise(a, b), rel=1e-6)


def test_warp_by_a_flow_of_another_size(cp):
    img = rand(2, H, W)
    flow = (rand(19, 27, 2, seed=4) - 0.5) * 10
    same(cp, warp(cp.asarray(img), cp.asarray(flow)), warp(img, flow))


# -- vsr (native/vsr.cu against vproc/kernels/vsr.py) -----------------------------------------


@pytest.mark.parametrize("s", [2, 3, 4])
def test_vsr_ops(cp, s):
    from vproc.kernels import vsr_backproject, vsr_blur, vsr_residual, vsr_weights

    hr = rand(s * H, s * W)
    frames = rand(3, H, W, seed=1)
    to_center = (rand(2, H, W, 2, seed=2) - 0.5) * 8  # reaches past the borders
    to_nbr = (rand(2, H, W, 2, seed=3) - 0.5) * 8
    blurred = vsr_blur(hr, s)
    same(cp, vsr_blur(cp.asarray(hr), s), blurred)
    resid = vsr_residual(blurred, frames, to_center, s)
    same(cp, vsr_residual(cp.asarray(blurred), cp.asarray(frames), cp.asarray(to_center), s), resid)
    weights = vsr_weights(frames[0], frames[1:], 0.1)
    same(cp, vsr_weights(cp.asarray(frames[0]), cp.asarray(frames[1:]), 0.1), weights)
    want = vsr_backproject(hr, resid, to_nbr, weights, s, 1.5)
    dev = cp.asarray(hr)
    got = vsr_backproject(dev, cp.asarray(resid), cp.asarray(to_nbr), cp.asarray(weights), s, 1.5, out=dev)
    assert got is dev
    same(cp, got, want)
    alone = vsr_backproject(hr, resid[:1], None, None, s, 1.0)  # the centre alone
    same(cp, vsr_backproject(cp.asarray(hr), cp.asarray(resid[:1]), None, None, s, 1.0), alone)
    zero = vsr_residual(blurred, frames[:1], None, s)
    same(cp, vsr_residual(cp.asarray(blurred), cp.asarray(frames[:1]), None, s), zero)


@pytest.mark.parametrize("shape", [(H, W), (1, 40), (300, 517)])
def test_thin(cp, shape):
    import cv2

    from vproc.kernels import thin

    rng = np.random.default_rng(5)
    noise = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 3)
    mask = (noise > np.median(noise)).astype(np.uint8) * 255  # touches the borders
    want = thin(mask)
    out = cp.empty(shape, cp.uint8)
    got = thin(cp.asarray(mask), out=out)
    assert got is out and type(got).__module__.startswith("cupy")
    np.testing.assert_array_equal(cp.asnumpy(got), want)
    assert want.any() or not mask.any()


@pytest.mark.parametrize("radius", [0, 3, 40, 250])
def test_thin_batches_of_iterations(cp, radius, monkeypatch):
    """Discs that converge after 1 to about 130 iterations: the batches of 1, 2, 4, 8, 16
    iterations between reads of the counter (and the no-op iterations after convergence) give
    the twin's result exactly; the launches come in those batches (one read after each)."""
    import cv2

    from vproc.kernels import _cuda, thin

    size = 2 * radius + 9
    mask = cv2.circle(np.zeros((size, size + 3), np.uint8), (radius + 4, radius + 4), radius, 1, -1)
    want = thin(mask)
    launches = []
    real_kernel = _cuda.kernel

    def counting_kernel(op, name):
        fn = real_kernel(op, name)
        return lambda *args: (launches.append(name), fn(*args))[1]

    monkeypatch.setattr(_cuda, "kernel", counting_kernel)
    got = thin(cp.asarray(mask))
    np.testing.assert_array_equal(cp.asnumpy(got), want)
    iterations = len(launches) // 2
    schedule = np.cumsum([1, 2, 4, 8] + [16] * 64)  # iterations run after each read
    assert iterations in schedule
    if radius == 250:  # 178 iterations one read at a time (the last deletes nothing); 15 batches here
        assert 178 <= iterations < 178 + 16 and int(np.searchsorted(schedule, iterations)) + 1 == 15
