"""gaussian_blur / box_blur twins against cv2.GaussianBlur / cv2.blur with BORDER_REPLICATE."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.blur import box_blur, gaussian_blur

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
EPS = np.finfo(np.float32).eps
REPLICATE = dict(borderType=cv2.BORDER_REPLICATE)


def images():
    yield (np.arange(H * W, dtype=np.float32) % 97).reshape(H, W)
    yield np.random.default_rng(0).random((H, W), dtype=np.float32)


@pytest.mark.parametrize("sigma, ksize", [(0.8, 5), (1.0, None), (2.0, 7), (1.5, 3), (3.0, None), (2.0, 1)])
def test_gaussian_matches_opencv(sigma, ksize):
    # Same taps (cv2.getGaussianKernel) and border; OpenCV's SIMD row filter adds the mirrored taps
    # of a symmetric kernel first, so sums round differently: within 8 ulp of the largest value.
    for img in images():
        k = ksize or 0  # 0: OpenCV derives the size from sigma, as gaussian_blur(ksize=None) does
        want = cv2.GaussianBlur(img, (k, k), sigma, **REPLICATE)
        np.testing.assert_allclose(gaussian_blur(img, sigma, ksize), want, rtol=0, atol=8 * EPS * img.max())


@pytest.mark.parametrize("ksize", [3, 5, 4, (3, 5), (6, 1), 9])
def test_box_is_exact_on_integers_and_close_otherwise(ksize):
    kw, kh = (ksize, ksize) if isinstance(ksize, int) else ksize
    arange, rand = images()
    # Integer sums are exact in float32, and the single division rounds like OpenCV's double one.
    np.testing.assert_array_equal(box_blur(arange, ksize), cv2.blur(arange, (kw, kh), **REPLICATE))
    # On real values our float32 running order differs from OpenCV's double sums by a few ulp.
    np.testing.assert_allclose(box_blur(rand, ksize), cv2.blur(rand, (kw, kh), **REPLICATE), rtol=0, atol=4 * EPS)


def test_planar_input_blurs_each_plane():
    img = np.random.default_rng(1).random((3, H, W), dtype=np.float32)
    got = gaussian_blur(img, 1.2)
    assert got.shape == img.shape and got.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(got[c], gaussian_blur(img[c], 1.2))
    box = box_blur(img, 3)
    for c in range(3):
        np.testing.assert_array_equal(box[c], box_blur(img[c], 3))


def test_blur_of_a_constant_is_the_constant():
    img = np.full((3, H, W), 0.25, np.float32)
    np.testing.assert_array_equal(box_blur(img, 5), img)
    np.testing.assert_allclose(gaussian_blur(img, 2.0), img, rtol=0, atol=4 * EPS)


def test_out_and_errors():
    img = next(images())
    out = np.empty_like(img)
    assert box_blur(img, 3, out=out) is out
    assert gaussian_blur(img, 1.0, out=out) is out
    with pytest.raises(ConfigError, match="sigma must be positive"):
        gaussian_blur(img, 0)
    with pytest.raises(ConfigError, match="positive odd"):
        gaussian_blur(img, 1.0, ksize=4)
    with pytest.raises(ConfigError, match=">= 1"):
        box_blur(img, (0, 3))


def mirror_of_cuda(img, kx, ky, norm):
    """numpy float32 model of native/blur.cu: row taps summed from zero in order, then column
    taps likewise, then one division by ``norm``."""
    h, w = img.shape
    rx, ry = len(kx) // 2, len(ky) // 2
    pad = np.pad(img, ((0, 0), (rx, len(kx) - 1 - rx)), mode="edge")
    t = np.zeros((h, w), np.float32)
    for j, k in enumerate(kx):
        t = t + k * pad[:, j:j + w]
    pad = np.pad(t, ((ry, len(ky) - 1 - ry), (0, 0)), mode="edge")
    out = np.zeros((h, w), np.float32)
    for j, k in enumerate(ky):
        out = out + k * pad[j:j + h]
    return out / np.float32(norm)


@pytest.mark.parametrize("kind, size", [("gauss", 3), ("gauss", 13), ("gauss", 25), ("box", 3), ("box", 5),
                                        ("box", 8), ("box", 13)])
def test_twin_equals_the_cuda_arithmetic(kind, size):
    # The twin groups taps per pass and keeps rows in a ring; the sums must still be the CUDA
    # kernels', bit for bit (sizes around the group sizes of 4 and 6).
    from vproc.kernels.blur import gaussian_kernel

    img = np.random.default_rng(4).random((H, W), dtype=np.float32)
    if kind == "gauss":
        k = gaussian_kernel(size, size / 6)
        np.testing.assert_array_equal(gaussian_blur(img, size / 6, size), mirror_of_cuda(img, k, k, 1))
    else:
        ones = np.ones(size, np.float32)
        np.testing.assert_array_equal(box_blur(img, size), mirror_of_cuda(img, ones, ones, size * size))
