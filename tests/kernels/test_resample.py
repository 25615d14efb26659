"""resize twin against cv2.resize (INTER_LINEAR / INTER_CUBIC, float32)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.resample import resize

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
SIZES = [(74, 106), (111, 159), (20, 31), (50, 41), (91, 17), (19, 27), (37, 53), (1, 5)]
CV = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
EPS = np.finfo(np.float32).eps


def arange_image(c=None, h=H, w=W):
    shape = (h, w) if c is None else (c, h, w)
    return (np.arange(np.prod(shape), dtype=np.float32) % 97).reshape(shape)


def reference(cv, img, oh, ow, method):
    if img.ndim == 2:
        return cv.resize(img, (ow, oh), interpolation=CV[method])
    return np.stack([cv.resize(p, (ow, oh), interpolation=CV[method]) for p in img])


@pytest.mark.parametrize("oh, ow", SIZES)
def test_bilinear_is_bit_exact_with_opencv(cv_plain, oh, ow):
    for img in (arange_image(), np.random.default_rng(0).random((H, W), dtype=np.float32)):
        np.testing.assert_array_equal(resize(img, oh, ow, "bilinear"), reference(cv_plain, img, oh, ow, "bilinear"))


@pytest.mark.parametrize("oh, ow", SIZES)
def test_bicubic_matches_opencv_to_a_few_ulp(cv_plain, oh, ow):
    # Same taps and weights (bit for bit), but OpenCV's SIMD vertical pass fuses multiply-adds,
    # so sums of non-dyadic weights may differ in the last bits: 4 ulp of the largest value.
    for img in (arange_image(), np.random.default_rng(0).random((H, W), dtype=np.float32)):
        got = resize(img, oh, ow, "bicubic")
        np.testing.assert_allclose(got, reference(cv_plain, img, oh, ow, "bicubic"), rtol=0,
                                   atol=4 * EPS * np.abs(img).max())


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
def test_dyadic_scales_are_exact_on_arange(cv_plain, method):
    # x2 up and x0.5 down have weights that are short binary fractions: every sum is exact.
    for img, oh, ow in [(arange_image(), 2 * H, 2 * W), (arange_image(h=36, w=52), 18, 26)]:
        np.testing.assert_array_equal(resize(img, oh, ow, method), reference(cv_plain, img, oh, ow, method))


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
def test_opencv_default_build_agrees_closely(method):
    # With IPP (the wheels' default) OpenCV maps coordinates in a slightly different precision.
    img = np.random.default_rng(1).random((H, W), dtype=np.float32)
    for oh, ow in SIZES:
        np.testing.assert_allclose(resize(img, oh, ow, method), reference(cv2, img, oh, ow, method),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
def test_planar_channels_are_independent(cv_plain, method):
    img = np.random.default_rng(2).random((3, H, W), dtype=np.float32)
    got = resize(img, 60, 80, method)
    assert got.shape == (3, 60, 80) and got.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(got[c], resize(img[c], 60, 80, method))
    np.testing.assert_allclose(got, reference(cv_plain, img, 60, 80, method), rtol=0, atol=4 * EPS)


def test_non_contiguous_and_other_dtypes_are_converted():
    img = arange_image(3)
    view = img[:, ::-1, :]
    np.testing.assert_array_equal(resize(view, 20, 30, "bilinear"),
                                  resize(np.ascontiguousarray(view), 20, 30, "bilinear"))
    np.testing.assert_array_equal(resize(img.astype(np.float64), 20, 30), resize(img, 20, 30))


def test_out_and_errors():
    img = arange_image()
    out = np.empty((10, 12), np.float32)
    assert resize(img, 10, 12, out=out) is out
    with pytest.raises(ConfigError, match="method must be one of"):
        resize(img, 10, 12, "lanczos")
    with pytest.raises(ConfigError, match="must be positive"):
        resize(img, 0, 12)
    with pytest.raises(ConfigError, match=r"\(H, W\) or \(C, H, W\)"):
        resize(np.zeros((2, 3, 4, 5), np.float32), 10, 12)
    with pytest.raises(ConfigError, match="out must be"):
        resize(img, 10, 12, out=np.empty((12, 10), np.float32))


def mirror_of_cuda(img, oh, ow, method):
    """numpy float32 model of native/resample.cu: per output pixel, the row sums of its taps,
    then their weighted sum, each accumulated from zero in tap order."""
    from vproc.kernels.resample import tables

    _, h, w = img.shape
    xi, wx = tables(w, ow, method, True)
    yi, wy = tables(h, oh, method, False)
    acc = np.zeros((img.shape[0], oh, ow), np.float32)
    for k in range(yi.shape[0]):
        rows = img[:, yi[k], :]
        hsum = np.zeros_like(acc)
        for j in range(xi.shape[0]):
            hsum = hsum + wx[j] * rows[:, :, xi[j]]
        acc = acc + wy[k][:, None] * hsum
    return acc


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
@pytest.mark.parametrize("oh, ow", [(74, 106), (111, 159), (148, 212), (20, 31), (91, 17), (37, 53), (5, 1)])
def test_twin_equals_the_cuda_arithmetic(method, oh, ow):
    # The twin computes columns by phase for integer factors (x2, x3, x4 here) and keeps rows in
    # a ring; whatever the route, each value must be the CUDA kernel's, bit for bit.
    img = np.random.default_rng(3).random((2, H, W), dtype=np.float32)
    np.testing.assert_array_equal(resize(img, oh, ow, method), mirror_of_cuda(img, oh, ow, method))


# Rows wide enough for the twin's rational route (out/in close to a small P/Q, see `_runs_plan`):
# exactly 2/3, near 2/3 with even and odd output widths, 1/2, 3/2 (three phases), 3/5 (five sub-rows).
WIDE = [(300, 200), (301, 200), (300, 201), (300, 150), (200, 300), (500, 300)]


@pytest.mark.parametrize("method", ["bilinear", "bicubic"])
@pytest.mark.parametrize("w, ow", WIDE)
def test_rational_route_equals_the_cuda_arithmetic_and_opencv(cv_plain, method, w, ow):
    from vproc.kernels.resample import _x_plan

    assert _x_plan(w, ow, method).q > 0  # the route under test
    img = np.random.default_rng(4).random((2, 23, w), dtype=np.float32)
    for oh in (15, 46):
        got = resize(img, oh, ow, method)
        np.testing.assert_array_equal(got, mirror_of_cuda(img, oh, ow, method))
        want = reference(cv_plain, img, oh, ow, method)
        if method == "bilinear":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=0, atol=4 * EPS)
