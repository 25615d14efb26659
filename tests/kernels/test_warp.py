"""warp twin against cv2.remap (INTER_LINEAR, BORDER_REPLICATE) on maps x + dx, y + dy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.warp import warp

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
EPS = np.finfo(np.float32).eps


def reference(img, flow):
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def flow_field(seed, reach=6.0, step=None):
    flow = np.random.default_rng(seed).uniform(-reach, reach, (H, W, 2))
    if step:
        flow = np.round(flow / step) * step
    return flow.astype(np.float32)


def test_exact_on_arange_with_dyadic_flow():
    # Sample points on a 1/32 grid: weights and all products/sums are exact, so any correct
    # bilinear implementation gives the same bits. The flow reaches 6 px past the borders.
    img = (np.arange(H * W, dtype=np.float32) % 97).reshape(H, W)
    flow = flow_field(0, step=1 / 32)
    np.testing.assert_array_equal(warp(img, flow), reference(img, flow))


def test_close_on_random_image_and_flow():
    # OpenCV 5 samples at float coordinates too; its SIMD code sums the four terms in another
    # order: within 2 ulp of the largest value.
    img = np.random.default_rng(1).random((H, W), dtype=np.float32)
    flow = flow_field(2, reach=20.0)  # far outside the image as well
    np.testing.assert_allclose(warp(img, flow), reference(img, flow), rtol=0, atol=2 * EPS)


def test_zero_and_integer_flows_move_pixels():
    img = np.random.default_rng(3).random((3, H, W), dtype=np.float32)
    zero = np.zeros((H, W, 2), np.float32)
    np.testing.assert_array_equal(warp(img, zero), img)
    shift = zero.copy()
    shift[..., 0] = 2  # out(x) = img(x + 2), the last two columns replicate the border
    got = warp(img, shift)
    np.testing.assert_array_equal(got[:, :, : W - 2], img[:, :, 2:])
    np.testing.assert_array_equal(got[:, :, W - 2:], np.repeat(img[:, :, -1:], 2, axis=2))


def test_planar_channels_share_the_flow():
    img = np.random.default_rng(4).random((3, H, W), dtype=np.float32)
    flow = flow_field(5)
    got = warp(img, flow)
    for c in range(3):
        np.testing.assert_array_equal(got[c], warp(img[c], flow))


@pytest.mark.parametrize("planes", [2, 4, 5, 7])
def test_any_number_of_planes(planes):
    # The twin takes planes three at a time (then two or one): every plane as if warped alone.
    img = np.random.default_rng(8).random((planes, H, W), dtype=np.float32)
    flow = flow_field(9, reach=20.0)
    got = warp(img, flow)
    for c in range(planes):
        np.testing.assert_array_equal(got[c], warp(img[c], flow))
        np.testing.assert_allclose(got[c], reference(img[c], flow), rtol=0, atol=2 * EPS)


def test_errors():
    img = np.zeros((H, W), np.float32)
    with pytest.raises(ConfigError, match=r"flow must be .* shape \(37, 53, 2\)"):
        warp(img, np.zeros((H, W), np.float32))
    with pytest.raises(ConfigError, match="out must be"):
        warp(img, np.zeros((H, W, 2), np.float32), out=np.empty((W, H), np.float32))


def test_twin_equals_the_cuda_arithmetic():
    # native/warp.cu in numpy float32: clamp, floor, four weights, sum in the kernel's order.
    img = np.random.default_rng(6).random((H, W), dtype=np.float32)
    flow = flow_field(7, reach=20.0)
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    sx = np.minimum(np.maximum(gx + flow[..., 0], np.float32(0)), np.float32(W - 1))
    sy = np.minimum(np.maximum(gy + flow[..., 1], np.float32(0)), np.float32(H - 1))
    fx0, fy0 = np.floor(sx), np.floor(sy)
    x0, y0 = fx0.astype(int), fy0.astype(int)
    x1, y1 = np.minimum(x0 + 1, W - 1), np.minimum(y0 + 1, H - 1)
    ax, ay = sx - fx0, sy - fy0
    bx, by = np.float32(1) - ax, np.float32(1) - ay
    want = bx * by * img[y0, x0] + ax * by * img[y0, x1] + bx * ay * img[y1, x0] + ax * ay * img[y1, x1]
    np.testing.assert_array_equal(warp(img, flow), want)


@pytest.mark.parametrize("shape, grid", [((37, 53), (19, 27)), ((40, 64), (20, 32)), ((9, 11), (1, 1)), ((20, 30), (40, 60))])
def test_flow_of_another_size_equals_the_resized_flow(shape, grid):
    """A flow of another size is resampled per pixel as cv2.resize (INTER_LINEAR) would, with
    its vectors scaled to the image: the same result as warping by the enlarged field, up to
    float32 rounding of the two different evaluation orders."""
    h, w = shape
    gh, gw = grid
    rng = np.random.default_rng(5)
    img = rng.random((2, h, w), dtype=np.float32)
    flow = ((rng.random((gh, gw, 2)) - 0.5) * 6).astype(np.float32)
    big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.array([w / gw, h / gh], np.float32)
    np.testing.assert_allclose(warp(img, flow), warp(img, big), rtol=0, atol=1e-4)
