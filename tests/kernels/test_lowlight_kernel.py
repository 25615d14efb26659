"""The lowlight curve op (twin against plain numpy formulas) and the intensity histogram."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels.lowlight import (BINS, KNEE, TRANSFERS, to_linear, from_linear, apply_curve, apply_linear_gain,
                                    intensity_histogram, linear_intensity, transfer_code)

H, W = 37, 53  # odd, and not multiples of the 32 x 8 CUDA block
A_GRID = [1e-3, 0.01, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1e4]


def rand_rgb(seed=0, h=H, w=W):
    return np.random.default_rng(seed).random((3, h, w), dtype=np.float32)


def numpy_curve(rgb: np.ndarray, a: float) -> np.ndarray:
    """native/lowlight.cu written in numpy float32: gain = (1 + s) / (1 + s I), s = 1 / a."""
    s = np.float32(1.0 / a)
    one = np.float32(1)
    v = np.maximum(rgb[0], np.maximum(rgb[1], rgb[2]))
    gain = (one + s) / (one + s * v)
    return np.minimum(rgb * gain, one)


def exact_curve(rgb: np.ndarray, a: float) -> np.ndarray:
    """The definition in float64: every channel scaled by f(I) / I, f(x) = (a + 1) x / (x + a)."""
    rgb = rgb.astype(np.float64)
    v = rgb.max(0)
    f = (a + 1) * v / (v + a)
    ratio = np.divide(f, v, out=np.zeros_like(v), where=v > 0)
    return rgb * ratio


def intensity_ramp(n: int = 4097) -> np.ndarray:
    """(3, 3, n) RGB whose intensity runs 0..1 in n steps, in three hues (grey, orange, blue)."""
    t = np.linspace(0, 1, n, dtype=np.float32)
    hues = np.array([[1, 1, 1], [1, 0.6, 0.1], [0.2, 0.4, 1]], np.float32)  # (row, channel)
    return (hues.T[:, :, None] * t[None, None, :]).astype(np.float32)


@pytest.mark.parametrize("a", A_GRID)
def test_curve_is_monotonic_and_maps_the_unit_interval_into_itself(a):
    rgb = intensity_ramp()
    out = apply_curve(rgb, a)
    v_in, v_out = rgb.max(0), out.max(0)
    assert out.min() >= 0 and out.max() <= 1
    assert (np.diff(v_out, axis=1) >= 0).all()  # monotonic in the input intensity
    assert (v_out >= v_in - 1e-7).all()  # the curve only brightens
    assert (v_out[:, 0] == 0).all() and (v_out[:, -1] == 1).all()  # f(0) = 0, f(1) = 1


@pytest.mark.parametrize("a", A_GRID)
def test_twin_is_the_numpy_formula_exactly(a):
    rgb = rand_rgb(1)
    np.testing.assert_array_equal(apply_curve(rgb, a), numpy_curve(rgb, a))


@pytest.mark.parametrize("a", A_GRID)
def test_twin_is_the_definition_to_float32_precision(a):
    rgb = rand_rgb(2)
    np.testing.assert_allclose(apply_curve(rgb, a), exact_curve(rgb, a), rtol=0, atol=1e-6)


def test_channel_ratios_are_kept_and_nothing_clips():
    rgb = rand_rgb(3)
    out = apply_curve(rgb, 0.05)  # strong: gain 21 on the darkest tones
    v = rgb.max(0)
    keep = v > 1e-3
    ratios_in = rgb[:, keep] / v[keep]
    ratios_out = out[:, keep] / out.max(0)[keep]
    np.testing.assert_allclose(ratios_out, ratios_in, rtol=0, atol=1e-5)
    assert out.max() <= 1
    assert (out.max(0) < 1)[v < 1].mean() > 0.99  # below-white stays below white (bar rounding)


def test_huge_a_is_the_identity_and_inf_is_exact():
    rgb = rand_rgb(4)
    np.testing.assert_allclose(apply_curve(rgb, 1e9), rgb, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(apply_curve(rgb, math.inf), rgb)


def test_iterating_the_curve_is_one_curve():
    """Why the op has no ``iterations``: f(., a2) after f(., a1) is f(., a) with
    1 + 1/a = (1 + 1/a1)(1 + 1/a2)."""
    rgb = rand_rgb(5)
    a1, a2 = 0.5, 0.2
    a = 1 / ((1 + 1 / a1) * (1 + 1 / a2) - 1)
    np.testing.assert_allclose(apply_curve(apply_curve(rgb, a1), a2), apply_curve(rgb, a), rtol=0, atol=2e-6)


def test_out_argument_and_errors():
    rgb = rand_rgb(6)
    out = np.empty_like(rgb)
    assert apply_curve(rgb, 0.3, out=out) is out
    np.testing.assert_array_equal(out, numpy_curve(rgb, 0.3))
    np.testing.assert_array_equal(apply_curve(rgb.astype(np.float64), 0.3), out)  # converted, not refused
    for bad in (0, -1, math.nan):
        with pytest.raises(ConfigError, match="a must be > 0"):
            apply_curve(rgb, bad)
    with pytest.raises(ConfigError, match=r"\(3, H, W\)"):
        apply_curve(rgb[0], 0.3)
    with pytest.raises(ConfigError, match="out must be"):
        apply_curve(rgb, 0.3, out=np.empty((3, H, W + 1), np.float32))


@pytest.mark.parametrize("step", [1, 2, 4])
def test_histogram_counts_and_sums(step):
    rgb = rand_rgb(7)
    rgb[:, 0, 0] = 1.0  # white goes to the last bin
    rgb[:, 0, 2] = 0.0
    counts, sums = intensity_histogram(rgb, step)
    v = rgb[:, ::step, ::step].max(0).ravel().astype(np.float64)
    idx = np.minimum(np.floor(v * BINS).astype(int), BINS - 1)
    assert counts.shape == sums.shape == (BINS,)
    assert counts.dtype == np.int64 and sums.dtype == np.float64
    assert counts.sum() == v.size == len(range(0, H, step)) * len(range(0, W, step))
    np.testing.assert_array_equal(counts, np.bincount(idx, minlength=BINS))
    np.testing.assert_allclose(sums, np.bincount(idx, weights=v, minlength=BINS), rtol=1e-12)
    used = counts > 0
    means = sums[used] / counts[used]
    lo = np.flatnonzero(used) / BINS
    assert (means >= lo).all() and (means <= lo + 1 / BINS).all()  # each bin's mean lies in the bin
    with pytest.raises(ConfigError, match="step"):
        intensity_histogram(rgb, 0)


# -- the linear-light gain ---------------------------------------------------------------------------

CODES = sorted(set(TRANSFERS.values()))


@pytest.mark.parametrize("tf", CODES)
def test_transfer_functions_invert_each_other(tf):
    v = np.linspace(0, 1, 2001)
    np.testing.assert_allclose(from_linear(to_linear(v, tf), tf), v, rtol=0, atol=1e-6)
    assert (np.diff(to_linear(v, tf)) >= 0).all()


def test_srgb_and_bt709_are_the_standards():
    # sRGB (IEC 61966-2-1): 0.5 coded is 0.2140 linear; BT.709: 0.5 linear codes to 0.7055
    assert to_linear(np.array(0.5), 0) == pytest.approx(0.21404, abs=1e-5)
    assert from_linear(np.array(0.5), 1) == pytest.approx(0.70551, abs=1e-4)
    # PQ: 100 cd/m2 (0.01 of 10000) codes to 0.5081; HLG: 1/12 of scene light codes to 0.5
    assert from_linear(np.array(0.01), 2) == pytest.approx(0.5081, abs=1e-4)
    assert from_linear(np.array(1 / 12), 3) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("tf", CODES)
def test_gain_one_is_the_identity(tf):
    rgb = rand_rgb(3)
    np.testing.assert_allclose(apply_linear_gain(rgb, 1.0, tf), rgb, rtol=0, atol=2e-5)


def test_gain_is_linear_below_the_knee_and_the_shoulder_never_clips():
    rgb = rand_rgb(4) * np.float32(0.3)
    rgb[:, :2, :2] = 1.0  # full scale
    gain = 6.0
    out = apply_linear_gain(rgb, gain, 0)
    lin_in, lin_out = to_linear(rgb.astype(np.float64), 0), to_linear(out.astype(np.float64), 0)
    below = lin_in.max(0) * gain < KNEE
    ratio = lin_out[:, below] / np.maximum(lin_in[:, below], 1e-9)
    assert np.abs(ratio[lin_in[:, below] > 1e-3] - gain).max() < 1e-3  # a pure gain in linear light
    assert out.max() <= 1.0 and out[:, 0, 0].min() > 0.9999  # full scale lands on 1, nothing beyond
    m = lin_out.max(0)
    keep = lin_in.max(0) > 1e-3
    for c in range(3):  # channel ratios (hue) kept in linear light
        np.testing.assert_allclose((lin_out[c] / m)[keep], (lin_in[c] / lin_in.max(0))[keep], atol=2e-3)
    np.testing.assert_allclose(out.max(0), linear_intensity(rgb.max(0), gain, 0), atol=1e-6)  # the search's model


def test_transfer_of_a_stream():
    assert transfer_code(None, "rgb") == TRANSFERS["iec61966-2-1"] and transfer_code(None, "yuv") == TRANSFERS["bt709"]
    assert transfer_code("smpte2084") == 2 and transfer_code("arib-std-b67") == 3
    with pytest.raises(ConfigError, match="log100"):
        transfer_code("log100")


# -- CUDA against the twin (see tests/kernels/test_cuda.py for the tolerance) --------------------


@pytest.mark.cuda
@pytest.mark.parametrize("tf", CODES)
@pytest.mark.parametrize("gain", [1.0, 2.5, 16.0])
def test_cuda_linear_gain_equals_the_twin(cp, tf, gain):
    rgb = rand_rgb(5)
    got = apply_linear_gain(cp.asarray(rgb), gain, tf)
    assert type(got).__module__.startswith("cupy")
    np.testing.assert_allclose(cp.asnumpy(got), apply_linear_gain(rgb, gain, tf), rtol=0, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.parametrize("a", [0.01, 0.3, 10.0, math.inf])
def test_cuda_curve_equals_the_twin(cp, a):
    rgb = rand_rgb(8)
    got = apply_curve(cp.asarray(rgb), a)
    assert type(got).__module__.startswith("cupy")
    np.testing.assert_allclose(cp.asnumpy(got), apply_curve(rgb, a), rtol=0, atol=1e-6)


@pytest.mark.cuda
def test_cuda_histogram_equals_the_cpu_one(cp):
    rgb = rand_rgb(9, 120, 160)
    counts, sums = intensity_histogram(cp.asarray(rgb), 2)
    want_counts, want_sums = intensity_histogram(rgb, 2)
    np.testing.assert_array_equal(cp.asnumpy(counts), want_counts)
    np.testing.assert_allclose(cp.asnumpy(sums), want_sums, rtol=1e-12)  # atomic adds: any order
