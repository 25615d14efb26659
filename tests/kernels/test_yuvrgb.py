"""yuv_to_rgb / rgb_to_yuv twins against an independent float64 numpy model and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.yuvrgb import KR_KB, decode_coefficients, encode_coefficients, rgb_to_yuv, yuv_to_rgb

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
MATRICES = sorted(KR_KB)


# ---------------------------------------------------------------------------------------------
# Independent float64 model, written from the definitions (not from the kernels' coefficients)


def _levels(bits, full):
    s = 2.0 ** (bits - 8)
    top = 2.0**bits - 1
    # (black, Y' span, chroma centre, chroma span)
    return (0.0, top, 128 * s, top) if full else (16 * s, 219 * s, 128 * s, 224 * s)


def model_yuv_to_rgb(y, u, v, matrix, full, bits):
    kr, kb = KR_KB[matrix]
    kg = 1 - kr - kb
    black, yspan, centre, cspan = _levels(bits, full)
    h, w = y.shape
    up = lambda c: np.repeat(np.repeat(c.astype(np.float64), 2, 0), 2, 1)[:h, :w]  # nearest
    luma = (y - black) / yspan
    cb = (up(u) - centre) / cspan
    cr = (up(v) - centre) / cspan
    r = luma + 2 * (1 - kr) * cr
    b = luma + 2 * (1 - kb) * cb
    g = (luma - kr * r - kb * b) / kg
    return np.clip(np.stack([r, g, b]), 0, 1)


def model_rgb_to_yuv(rgb, matrix, full, bits):
    kr, kb = KR_KB[matrix]
    kg = 1 - kr - kb
    black, yspan, centre, cspan = _levels(bits, full)
    top = 2**bits - 1
    rgb = rgb.astype(np.float64)
    code = lambda x: np.clip(np.floor(x + 0.5), 0, top)
    luma = lambda c: kr * c[0] + kg * c[1] + kb * c[2]
    y = code(luma(rgb) * yspan + black)
    _, h, w = rgb.shape
    ch, cw = (h + 1) // 2, (w + 1) // 2
    # Mean colour of each 2x2 block; partial blocks on odd edges average what they have.
    pad = np.pad(rgb, ((0, 0), (0, 2 * ch - h), (0, 2 * cw - w)))
    ones = np.pad(np.ones((h, w)), ((0, 2 * ch - h), (0, 2 * cw - w)))
    block = lambda a: a.reshape(*a.shape[:-2], ch, 2, cw, 2).sum(axis=(-3, -1))
    mean = block(pad) / block(ones)
    lm = luma(mean)
    u = code((mean[2] - lm) / (2 * (1 - kb)) * cspan + centre)
    v = code((mean[0] - lm) / (2 * (1 - kr)) * cspan + centre)
    return y, u, v


def random_planes(rng, bits, h=H, w=W):
    dtype = np.uint8 if bits == 8 else np.uint16
    top = 2**bits
    ch, cw = (h + 1) // 2, (w + 1) // 2
    return (rng.integers(0, top, (h, w)).astype(dtype), rng.integers(0, top, (ch, cw)).astype(dtype),
            rng.integers(0, top, (ch, cw)).astype(dtype))


# float32 evaluation of the same formula: a few ulp of values up to ~2 before clipping.
RGB_ATOL = 2e-6


# ---------------------------------------------------------------------------------------------
# YUV -> RGB


@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("matrix", MATRICES)
def test_yuv_to_rgb_matches_float64_model(matrix, full, bits):
    y, u, v = random_planes(np.random.default_rng(bits), bits)
    got = yuv_to_rgb(y, u, v, matrix=matrix, full_range=full, bits=bits)
    assert got.shape == (3, H, W) and got.dtype == np.float32
    np.testing.assert_allclose(got, model_yuv_to_rgb(y, u, v, matrix, full, bits), rtol=0, atol=RGB_ATOL)


def test_yuv_to_rgb_on_arange_planes_and_grey_ramp():
    # Every 8-bit code, with neutral chroma: R = G = B = (Y - 16) / 219, clipped.
    y = (np.arange(H * W) % 256).astype(np.uint8).reshape(H, W)
    u = np.full(((H + 1) // 2, (W + 1) // 2), 128, np.uint8)
    got = yuv_to_rgb(y, u, u.copy(), matrix="bt709", full_range=False, bits=8)
    grey = np.clip((y.astype(np.float64) - 16) / 219, 0, 1)
    for c in range(3):
        np.testing.assert_allclose(got[c], grey, rtol=0, atol=RGB_ATOL)


@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("matrix", ["bt601", "bt709", "bt2020"])
def test_nv12_and_p010_equal_planar(matrix, bits):
    y, u, v = random_planes(np.random.default_rng(3), bits)
    planar = yuv_to_rgb(y, u, v, matrix=matrix, full_range=False, bits=bits)
    uv = np.stack([u, v], axis=-1)
    np.testing.assert_array_equal(yuv_to_rgb(y, uv, matrix=matrix, full_range=False, bits=bits, nv12=True), planar)
    if bits == 10:  # P010: the same 10-bit codes in the high bits of 16
        p010 = yuv_to_rgb(y << 6, uv << 6, matrix=matrix, full_range=False, bits=10, nv12=True, msb_aligned=True)
        np.testing.assert_array_equal(p010, planar)


@pytest.mark.parametrize("code, layout", [(cv2.COLOR_YUV2RGB_I420, "i420"), (cv2.COLOR_YUV2RGB_NV12, "nv12")])
def test_yuv_to_rgb_agrees_with_opencv_bt601_limited(code, layout):
    # OpenCV's YUV420 converters are BT.601 limited range, fixed point, nearest chroma: within
    # one 8-bit code of ours once ours is rounded to 8 bits. OpenCV raises luma below 16 to 16
    # before converting, so the test stays within legal codes (16..235 / 16..240).
    h, w = 36, 54  # OpenCV needs even sizes
    rng = np.random.default_rng(5)
    y = rng.integers(16, 236, (h, w)).astype(np.uint8)
    u, v = rng.integers(16, 241, (2, h // 2, w // 2)).astype(np.uint8)
    if layout == "i420":
        packed = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w)
        ours = yuv_to_rgb(y, u, v, matrix="bt601", full_range=False, bits=8)
    else:
        packed = np.concatenate([y.ravel(), np.stack([u, v], -1).ravel()]).reshape(h * 3 // 2, w)
        ours = yuv_to_rgb(y, np.stack([u, v], -1), matrix="bt601", full_range=False, bits=8, nv12=True)
    ref = cv2.cvtColor(packed, code).transpose(2, 0, 1).astype(int)
    assert np.abs(np.rint(ours * 255).astype(int) - ref).max() <= 1


def test_yuv_to_rgb_writes_into_out():
    y, u, v = random_planes(np.random.default_rng(1), 8)
    out = np.empty((3, H, W), np.float32)
    assert yuv_to_rgb(y, u, v, matrix="bt709", full_range=False, out=out) is out
    with pytest.raises(ConfigError, match="out must be"):
        yuv_to_rgb(y, u, v, matrix="bt709", full_range=False, out=np.empty((3, H, W), np.float64))


@pytest.mark.parametrize("kwargs, message", [
    (dict(matrix="bt710", full_range=False), "did you mean 'bt709'"),
    (dict(matrix="bt709", full_range=False, bits=10), "must be uint16"),
    (dict(matrix="bt709", full_range=False, bits=7), "bits must be within"),
    (dict(matrix="bt709", full_range=False, msb_aligned=True), "msb_aligned"),
])
def test_yuv_to_rgb_rejects_bad_options(kwargs, message):
    y, u, v = random_planes(np.random.default_rng(1), 8)
    with pytest.raises(ConfigError, match=message):
        yuv_to_rgb(y, u, v, **kwargs)


def test_yuv_to_rgb_rejects_wrong_plane_shapes():
    y, u, v = random_planes(np.random.default_rng(1), 8)
    with pytest.raises(ConfigError, match=r"v must be .* of shape \(19, 27\)"):
        yuv_to_rgb(y, u, v[:-1], matrix="bt709", full_range=False)
    with pytest.raises(ConfigError, match="pass v=None"):
        yuv_to_rgb(y, np.stack([u, v], -1), v, matrix="bt709", full_range=False, nv12=True)
    with pytest.raises(TypeError, match="numpy or CuPy"):
        yuv_to_rgb(y.tolist(), u, v, matrix="bt709", full_range=False)


# ---------------------------------------------------------------------------------------------
# RGB -> YUV


@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("matrix", MATRICES)
def test_rgb_to_yuv_matches_float64_model(matrix, full, bits):
    rgb = np.random.default_rng(7).random((3, H, W), dtype=np.float32)
    got = rgb_to_yuv(rgb, matrix=matrix, full_range=full, bits=bits)
    want = model_rgb_to_yuv(rgb, matrix, full, bits)
    for g, m in zip(got, want):
        assert g.dtype == (np.uint8 if bits == 8 else np.uint16) and g.shape == m.shape
        # float32 evaluation can land on the other side of a .5 rounding boundary than float64:
        # at most one code, and rarely.
        diff = np.abs(g.astype(np.int64) - m)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.parametrize("bits", [8, 10])
def test_rgb_to_yuv_nv12_and_p010_layouts(bits):
    rgb = np.random.default_rng(8).random((3, H, W), dtype=np.float32)
    y, u, v = rgb_to_yuv(rgb, matrix="bt709", full_range=False, bits=bits)
    y2, uv = rgb_to_yuv(rgb, matrix="bt709", full_range=False, bits=bits, nv12=True)
    assert uv.shape == ((H + 1) // 2, (W + 1) // 2, 2)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(uv, np.stack([u, v], -1))
    if bits == 10:
        y3, uv3 = rgb_to_yuv(rgb, matrix="bt709", full_range=False, bits=10, nv12=True, msb_aligned=True)
        np.testing.assert_array_equal(y3, y << 6)
        np.testing.assert_array_equal(uv3, uv << 6)


def test_rgb_to_yuv_levels_and_clipping():
    # Black, white and out-of-range values land on the documented codes.
    rgb = np.zeros((3, 4, 6), np.float32)
    rgb[:, :, 2:4] = 1.0
    rgb[:, :, 4:] = 2.0  # beyond white: clipped to the largest code in full range
    y, u, v = rgb_to_yuv(rgb, matrix="bt709", full_range=False, bits=8)
    assert y[0].tolist() == [16, 16, 235, 235, 255, 255] and set(u.ravel()) == {128}
    y, _, _ = rgb_to_yuv(rgb, matrix="bt709", full_range=True, bits=10)
    assert y[0].tolist() == [0, 0, 1023, 1023, 1023, 1023]


def _half_code_bound(matrix, full, bits):
    """Worst RGB error from rounding Y, Cb, Cr to the nearest code (half a code each)."""
    kr, kb = KR_KB[matrix]
    kg = 1 - kr - kb
    _, yspan, _, cspan = _levels(bits, full)
    chroma_gain = max(2 * (1 - kr), 2 * (1 - kb), 2 * (kb * (1 - kb) + kr * (1 - kr)) / kg)
    return 0.5 / yspan + 0.5 / cspan * chroma_gain


@pytest.mark.parametrize("nv12", [False, True])
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("matrix", MATRICES)
def test_round_trip_error_is_within_quantisation(matrix, full, bits, nv12):
    # Colours constant over each 2x2 block lose nothing to chroma subsampling, so the round trip
    # error is the rounding to integer codes only.
    rng = np.random.default_rng(11)
    blocks = rng.random((3, (H + 1) // 2, (W + 1) // 2))
    rgb = np.repeat(np.repeat(blocks, 2, 1), 2, 2)[:, :H, :W].astype(np.float32)
    planes = rgb_to_yuv(rgb, matrix=matrix, full_range=full, bits=bits, nv12=nv12)
    back = yuv_to_rgb(*planes, matrix=matrix, full_range=full, bits=bits, nv12=nv12)
    err = np.abs(back - rgb).max()
    assert err <= _half_code_bound(matrix, full, bits) + 1e-5
    assert err < (0.007 if bits == 8 else 0.0018)


# ---------------------------------------------------------------------------------------------
# The twins against a numpy float32 mirror of native/yuvrgb.cu (one thread's arithmetic, op for
# op). The twins loop differently (vectorized by rows and planes) but must produce the same bits:
# this is what lets the CUDA tests demand identical results.


def mirror_yuv_to_rgb(y, u, v, matrix, full, bits, shift=0):
    yoff, yscale, coff, cscale, rv, gu, gv, bu = decode_coefficients(matrix, full, bits)
    h, w = y.shape
    up = lambda c: np.repeat(np.repeat(c >> shift, 2, 0), 2, 1)[:h, :w].astype(np.float32)
    uf = (up(u) - coff) * cscale
    vf = (up(v) - coff) * cscale
    yf = ((y >> shift).astype(np.float32) - yoff) * yscale
    clip = lambda x: np.minimum(np.maximum(x, np.float32(0)), np.float32(1))
    return np.stack([clip(yf + rv * vf), clip(yf - gu * uf - gv * vf), clip(yf + bu * uf)])


def mirror_rgb_to_yuv(rgb, matrix, full, bits):
    yr, yg, yb, ur, ug, ub, vr, vg, vb, yoff, yscale, coff, cscale, maxv = encode_coefficients(matrix, full, bits)
    quant = lambda q: np.floor(np.minimum(np.maximum(q + np.float32(0.5), np.float32(0)), maxv)).astype(np.int64)
    r, g, b = rgb
    y = quant((yr * r + yg * g + yb * b) * yscale + yoff)
    _, h, w = rgb.shape
    ch, cw = (h + 1) // 2, (w + 1) // 2
    pad = np.pad(rgb, ((0, 0), (0, 2 * ch - h), (0, 2 * cw - w)))  # x + 0 == x: same as skipping
    n = np.pad(np.ones((h, w), np.float32), ((0, 2 * ch - h), (0, 2 * cw - w)))
    acc = np.zeros((3, ch, cw), np.float32)
    count = np.zeros((ch, cw), np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            acc = acc + pad[:, dy::2, dx::2]
            count = count + n[dy::2, dx::2]
    r, g, b = acc / count
    return y, quant((ur * r + ug * g + ub * b) * cscale + coff), quant((vr * r + vg * g + vb * b) * cscale + coff)


@pytest.mark.parametrize("shape", [(H, W), (36, 54), (1, 1), (2, 3), (5, 2)])
@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("matrix, full", [("bt709", False), ("bt601", True), ("fcc", False)])
def test_twins_equal_the_cuda_arithmetic(matrix, full, bits, shape):
    h, w = shape
    rng = np.random.default_rng(21)
    rgb = rng.random((3, h, w), dtype=np.float32)
    for got, want in zip(rgb_to_yuv(rgb, matrix=matrix, full_range=full, bits=bits),
                         mirror_rgb_to_yuv(rgb, matrix, full, bits)):
        np.testing.assert_array_equal(got, want)
    y, u, v = random_planes(rng, bits, h, w)
    np.testing.assert_array_equal(yuv_to_rgb(y, u, v, matrix=matrix, full_range=full, bits=bits),
                                  mirror_yuv_to_rgb(y, u, v, matrix, full, bits))
