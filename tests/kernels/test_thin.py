"""``thin`` (Zhang-Suen skeleton): the numba twin against scikit-image's ``skeletonize(method="zhang")``
(exact), and the skeleton's properties: one pixel wide, connectivity kept, idempotent.

The CUDA kernel is checked against the twin in tests/kernels/test_cuda.py.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels import thin
from vproc.kernels.thin import LUT

try:
    from skimage.morphology import skeletonize
except ImportError:  # the `test` extra installs it; a bare environment may not have it
    skeletonize = None

needs_skimage = pytest.mark.skipif(skeletonize is None, reason="scikit-image is not installed (pip install -e .[test])")


def blobs(h, w, sigma, frac, seed):
    noise = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w), dtype=np.float32), (0, 0), sigma)
    return (noise > np.quantile(noise, frac)).astype(np.uint8)


def shapes():
    out = {}
    m = np.zeros((60, 90), np.uint8)
    m[10:40, 5:80] = 1
    out["rectangle"] = m
    m = np.zeros((41, 41), np.uint8)
    out["square_odd"] = cv2.rectangle(m, (3, 3), (37, 37), 1, -1)
    m = np.zeros((101, 101), np.uint8)
    out["disc"] = cv2.circle(m, (50, 50), 40, 1, -1)
    m = np.zeros((120, 130), np.uint8)
    cv2.circle(m, (65, 60), 50, 1, -1)
    out["ring"] = cv2.circle(m, (65, 60), 30, 0, -1)
    m = np.zeros((80, 400), np.uint8)
    out["letters"] = cv2.putText(m, "Thin 4x8", (5, 65), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 1, 7)
    m = np.zeros((40, 50), np.uint8)
    m[:, :] = 1
    m[10:30, 10:40] = 0
    out["frame_at_border"] = m
    m = np.zeros((30, 30), np.uint8)
    m[0:12, 5:25] = 1  # touches the top edge
    m[20:, 0:8] = 1  # touches the bottom-left corner
    out["touching_border"] = m
    m = np.zeros((9, 9), np.uint8)
    m[4, 4] = m[0, 0] = m[8, 8] = m[0, 8] = 1
    out["single_pixels"] = m
    m = np.eye(20, dtype=np.uint8)
    m[1:, :] |= np.eye(20, dtype=np.uint8)[:-1, :]  # a two-pixel-thick diagonal
    out["thick_diagonal"] = m
    out["empty"] = np.zeros((17, 23), np.uint8)
    out["full"] = np.ones((17, 23), np.uint8)
    out["row"] = np.ones((1, 12), np.uint8)
    out["column"] = np.ones((12, 2), np.uint8)
    for i, (sigma, frac) in enumerate([(1.0, 0.5), (2.5, 0.3), (4.0, 0.6), (8.0, 0.45)]):
        out[f"blobs{i}"] = blobs(97, 131, sigma, frac, i)
    return out


SHAPES = shapes()


def reference(mask):
    return skeletonize(mask.astype(bool), method="zhang").astype(np.uint8)


@needs_skimage
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_equals_skimage_on_shapes(name):
    mask = SHAPES[name]
    np.testing.assert_array_equal(thin(mask), reference(mask))


@needs_skimage
def test_equals_skimage_on_random_masks():
    rng = np.random.default_rng(11)
    for seed in range(25):
        h, w = (int(v) for v in rng.integers(3, 150, 2))
        mask = blobs(h, w, float(rng.uniform(0.3, 6)), float(rng.uniform(0.1, 0.9)), seed)
        np.testing.assert_array_equal(thin(mask), reference(mask), err_msg=f"seed {seed}, {h}x{w}")


@needs_skimage
def test_every_single_neighbourhood_equals_skimage():
    # each of the 256 codes around a foreground centre, alone in a 3 x 3 window (the LUT itself)
    # and in a 5 x 5 window with a zero frame
    for code in range(256):
        bits = [(code >> k) & 1 for k in range(8)]  # NW N NE E SE S SW W
        m = np.zeros((5, 5), np.uint8)
        m[1, 1], m[1, 2], m[1, 3], m[2, 3], m[3, 3], m[3, 2], m[3, 1], m[2, 1] = bits
        m[2, 2] = 1
        np.testing.assert_array_equal(thin(m), reference(m), err_msg=f"code {code}")
        np.testing.assert_array_equal(thin(m[1:4, 1:4]), reference(m[1:4, 1:4]), err_msg=f"code {code}")


def test_lut_semantics():
    assert LUT.shape == (256,) and LUT.dtype == np.uint8 and set(np.unique(LUT)) <= {0, 1, 2, 3}
    assert LUT[0] == 0 and LUT[255] == 0  # isolated and interior pixels stay


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_one_pixel_wide_connected_and_idempotent(name):
    mask = SHAPES[name]
    skel = thin(mask)
    assert skel.dtype == np.uint8 and skel.shape == mask.shape and set(np.unique(skel)) <= {0, 1}
    assert not (skel & ~mask.astype(bool)).any()  # a subset of the mask
    blocks = skel[:-1, :-1] & skel[1:, :-1] & skel[:-1, 1:] & skel[1:, 1:]
    if name.startswith("blobs"):
        # Zhang-Suen (scikit-image's output too, which thin matches exactly) keeps a 2 x 2 block
        # where three or more branches meet and no pixel of it passes the one-transition test;
        # on ragged noise blobs that happens at a few junctions.
        assert blocks.sum() <= max(2, skel.sum() // 100)
    else:
        assert not blocks.any(), "a 2 x 2 block of foreground left"
    n_in = cv2.connectedComponents(mask, connectivity=8)[0]
    n_out = cv2.connectedComponents(skel, connectivity=8)[0]
    assert n_in == n_out, "8-connected components changed"
    np.testing.assert_array_equal(thin(skel), skel)


def test_bool_and_nonzero_input_and_out():
    mask = SHAPES["letters"]
    want = thin(mask)
    np.testing.assert_array_equal(thin(mask.astype(bool)), want)
    np.testing.assert_array_equal(thin(mask * 200), want)
    out = np.full(mask.shape, 7, np.uint8)
    got = thin(mask, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want)
    assert mask.max() == 1  # the input is untouched


@pytest.mark.parametrize("bad", [np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.float32),
                                 np.zeros((0, 5), np.uint8), np.zeros(5, np.uint8)])
def test_bad_inputs(bad):
    with pytest.raises(ConfigError):
        thin(bad)


def test_bad_out():
    with pytest.raises(ConfigError):
        thin(np.ones((4, 5), np.uint8), out=np.empty((4, 5), np.float32))
    with pytest.raises(ConfigError):
        thin(np.ones((4, 5), np.uint8), out=np.empty((5, 4), np.uint8))
