"""estimate_noise: accuracy on synthetic and (when present) Vid4 frames, the twin against a plain
numpy reference of the same formula, and CUDA against the twin (marked ``cuda``).

Accuracy is judged against the standard deviation of the noise actually added (Gaussian, rounded
and clipped to the code range), not the nominal sigma: clipping at 0/255 makes them differ a
little. Real frames carry noise and fine texture of their own, so there the target is
``sqrt(sigma**2 + sigma0**2)`` with ``sigma0`` the estimate on the clean frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels import estimate_noise, estimate_temporal_noise
from vproc.kernels.noise import KAPPA, KEEP, MAX_ROUNDS, QUANTILE_STEP

H, W = 181, 243  # odd, and not multiples of the 32 x 8 CUDA block
SIGMAS = [2, 5, 10, 15, 25]
TOL = 0.15
VID4 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "Vid4" / "GT"
VID4_CLIPS = ["calendar", "city", "foliage", "walk"]


def smooth_image(h=H, w=W):
    """Slow waves plus a ramp, values within 50..210 (float64, before quantization)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return 128 + 60 * np.sin(x / 37.0) * np.cos(y / 29.0) + 0.15 * (x - w / 2)


def textured_image(h=H, w=W):
    """Bars, a 12-pixel checkerboard over gradients, filled and outlined circles, lines and text."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 70 + 0.3 * x + 0.2 * y
    bars = [60, 180, 110, 200, 40, 150, 90]
    bw = w // len(bars)
    for i, level in enumerate(bars):
        img[: h // 3, i * bw:(i + 1) * bw] = level
    checker = ((x // 12 + y // 12) % 2) * 90 + 70
    img[h // 3:2 * h // 3, : w // 2] = checker[h // 3:2 * h // 3, : w // 2]
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    for k in range(15):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, centre, int(rng.integers(5, 30)), int(rng.integers(30, 225)), -1 if k % 2 else 2,
                   lineType=cv2.LINE_AA)
        ends = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(2)]
        cv2.line(img, ends[0], ends[1], int(rng.integers(30, 225)), 1)
    cv2.putText(img, "vproc 42", (10, 2 * h // 3 + 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 220, 2)
    return img.astype(np.float64)


def add_noise(clean, sigma, seed, maxv=255):
    """``(noisy, true_sigma)``: ``clean`` plus Gaussian noise, rounded and clipped to 0..maxv."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, clean.shape)
    noisy = np.clip(np.round(clean + noise), 0, maxv)
    dtype = np.uint8 if maxv == 255 else np.uint16
    return noisy.astype(dtype), float((noisy - clean).std())


def quantized(img, maxv=255):
    return np.clip(np.round(img), 0, maxv)


def vid4_luma(clip):
    frame = sorted((VID4 / clip).glob("*.png"))[0]
    bgr = cv2.imread(str(frame))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 0]  # BT.601 luma (full range)


def reference(luma, scale=1.0):
    """The estimator in plain numpy: the same float32 maps (same operation order), the k-th
    smallest Sobel magnitude by a full sort, whole-array float64 sums, the clipping loop."""
    p = np.asarray(luma).astype(np.float32)
    h, w = p.shape

    def c(dy, dx):
        return p[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]

    gx = (c(-1, 1) + 2 * c(0, 1) + c(1, 1)) - (c(-1, -1) + 2 * c(0, -1) + c(1, -1))
    gy = (c(1, -1) + 2 * c(1, 0) + c(1, 1)) - (c(-1, -1) + 2 * c(-1, 0) + c(-1, 1))
    m = (c(-1, -1) - 2 * c(-1, 0) + c(-1, 1)) - 2 * (c(0, -1) - 2 * c(0, 0) + c(0, 1)) \
        + (c(1, -1) - 2 * c(1, 0) + c(1, 1))
    assert gx.dtype == m.dtype == np.float32
    g = np.abs(gx) + np.abs(gy)
    r = np.abs(m).astype(np.float64)
    sub = g[::QUANTILE_STEP, ::QUANTILE_STEP]  # the threshold is a quantile of this subsample
    k = max(math.ceil(KEEP * sub.size) - 1, 0)
    sel = r[g <= np.sort(sub, axis=None)[k]]
    sigma = sel.mean() * math.sqrt(math.pi / 2) / 6  # Immerkaer over the flattest pixels
    # E|Z| for Z standard normal truncated to |Z| <= KAPPA
    clipped_mean = math.sqrt(2 / math.pi) * (1 - math.exp(-KAPPA ** 2 / 2)) / math.erf(KAPPA / math.sqrt(2))
    last = None
    for _ in range(MAX_ROUNDS):
        kept = sel[sel <= KAPPA * 6 * sigma]
        if kept.size == 0:
            return 0.0
        sigma = kept.mean() / (6 * clipped_mean)
        if kept.size == last:
            break
        last = kept.size
    return sigma * scale


# -- accuracy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("kind", ["smooth", "textured"])
def test_accuracy_on_synthetic_images(kind, sigma):
    clean = quantized(smooth_image() if kind == "smooth" else textured_image())
    noisy, true = add_noise(clean, sigma, seed=sigma)
    got = estimate_noise(noisy)
    assert abs(got / true - 1) < TOL, (kind, sigma, got, true)


def test_clean_images_give_small_estimates():
    assert estimate_noise(quantized(smooth_image()).astype(np.uint8)) < 1.5
    assert estimate_noise(quantized(textured_image()).astype(np.uint8)) < 1.5
    assert estimate_noise(np.full((H, W), 77, np.uint8)) == 0.0  # flat: exactly zero
    ramp = np.add.outer(np.arange(H), 2 * np.arange(W)).astype(np.float32) / (H + 2 * W)
    assert estimate_noise(ramp) < 1e-3  # linear structure cancels


@pytest.mark.skipif(not VID4.is_dir(), reason=f"Vid4 frames not found at {VID4}")
@pytest.mark.parametrize("clip", VID4_CLIPS)
def test_accuracy_on_vid4_frames(clip):
    clean = vid4_luma(clip)
    sigma0 = estimate_noise(clean)
    assert sigma0 < 5
    for sigma in SIGMAS:
        noisy, true = add_noise(clean.astype(np.float64), sigma, seed=100 + sigma)
        got = estimate_noise(noisy)
        want = math.hypot(true, sigma0)
        assert abs(got / want - 1) < TOL, (clip, sigma, got, want)


@pytest.mark.parametrize("sigma", [2, 5, 15])
def test_ten_bit_samples_give_four_times_the_sigma(sigma):
    base = textured_image()
    est8 = estimate_noise(add_noise(quantized(base), sigma, seed=7)[0])
    noisy10, true10 = add_noise(quantized(base * 1023 / 255, 1023), 4 * sigma, seed=7, maxv=1023)
    assert noisy10.dtype == np.uint16 and noisy10.max() <= 1023
    est10 = estimate_noise(noisy10, bits=10)
    assert abs(est10 / true10 - 1) < TOL
    assert abs(est10 / (4 * est8) - 1) < 0.1


def test_float_samples_are_scaled_to_code_values():
    noisy, _ = add_noise(quantized(smooth_image()), 5, seed=9)
    est8 = estimate_noise(noisy)
    unit = (noisy / np.float32(255)).astype(np.float32)
    assert estimate_noise(unit) == pytest.approx(est8, rel=1e-3)
    assert estimate_noise(unit, bits=10) == pytest.approx(est8 * 1023 / 255, rel=1e-3)


# -- twin against the plain reference --------------------------------------------------------------


@pytest.mark.parametrize("dtype, maxv, bits", [(np.uint8, 255, 8), (np.uint16, 1023, 10), (np.uint16, 65535, 16)])
@pytest.mark.parametrize("kind", ["smooth", "textured"])
def test_twin_equals_reference_on_integer_samples(kind, dtype, maxv, bits):
    # Integer samples: float32 maps and float64 sums are exact integers, whatever the order.
    clean = (smooth_image() if kind == "smooth" else textured_image()) * maxv / 255
    noisy, _ = add_noise(quantized(clean, maxv), 4 * maxv / 255, seed=11, maxv=maxv)
    noisy = noisy.astype(dtype)
    assert estimate_noise(noisy, bits=bits) == reference(noisy)


def test_twin_equals_reference_on_small_arange_inputs():
    img = (np.arange(7 * 9) * 37 % 256).reshape(7, 9).astype(np.uint8)
    assert estimate_noise(img) == reference(img)
    tiny = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], np.uint8)  # one interior pixel: |M| = 36
    clipped_mean = math.sqrt(2 / math.pi) * (1 - math.exp(-KAPPA ** 2 / 2)) / math.erf(KAPPA / math.sqrt(2))
    got = estimate_noise(tiny)
    assert type(got) is float and got == reference(tiny) == pytest.approx(36 / (6 * clipped_mean))


def test_twin_close_to_reference_on_float_samples():
    # float32 maps match to the bit; float64 sums add in a different order (rows, then rows).
    noisy = np.random.default_rng(12).random((H, W), dtype=np.float32)
    noisy += textured_image().astype(np.float32) / 255
    got, want = estimate_noise(noisy, bits=8), reference(noisy, 255.0)
    assert got == pytest.approx(want, rel=1e-9)


def test_strided_planes_are_read_in_place():
    noisy, _ = add_noise(quantized(textured_image(2 * H, W + 40)), 5, seed=13)
    view = noisy[::2, 17:17 + W]  # row pitch and offset of a padded decoder plane, and then some
    assert not view.flags.c_contiguous
    assert estimate_noise(view) == estimate_noise(np.ascontiguousarray(view)) == reference(view)


def test_errors():
    with pytest.raises(ConfigError, match="3 x 3"):
        estimate_noise(np.zeros((2, 10), np.uint8))
    with pytest.raises(ConfigError, match=r"\(H, W\)"):
        estimate_noise(np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(ConfigError, match="float64"):
        estimate_noise(np.zeros((10, 10)))
    with pytest.raises(ConfigError, match="8 bits"):
        estimate_noise(np.zeros((10, 10), np.uint8), bits=10)
    with pytest.raises(ConfigError, match="9..16"):
        estimate_noise(np.zeros((10, 10), np.uint16))  # 16-bit samples need their depth
    with pytest.raises(TypeError):
        estimate_noise([[1, 2, 3]] * 3)


# -- CUDA against the twin -------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("dtype, maxv, bits", [(np.uint8, 255, 8), (np.uint16, 1023, 10)])
@pytest.mark.parametrize("kind", ["smooth", "textured"])
def test_cuda_equals_twin_on_integer_samples(cp, kind, dtype, maxv, bits):
    # Exact: the maps are the same float32 operations (--fmad=false) and the sums exact integers.
    clean = (smooth_image() if kind == "smooth" else textured_image()) * maxv / 255
    for sigma in (0, 2, 10):
        noisy = add_noise(quantized(clean, maxv), sigma * maxv / 255, seed=sigma, maxv=maxv)[0].astype(dtype)
        assert estimate_noise(cp.asarray(noisy), bits=bits) == estimate_noise(noisy, bits=bits)


@pytest.mark.cuda
def test_cuda_close_to_twin_on_float_samples(cp):
    # The float64 sums add in another order (a tree per row on the GPU): 1e-9 relative.
    noisy = np.random.default_rng(14).random((H, W), dtype=np.float32) * np.float32(0.05)
    noisy += textured_image().astype(np.float32) / 255
    assert estimate_noise(cp.asarray(noisy)) == pytest.approx(estimate_noise(noisy), rel=1e-9)


@pytest.mark.cuda
def test_cuda_reads_pitched_planes(cp):
    noisy, _ = add_noise(quantized(textured_image(2 * H, W + 40)), 5, seed=15)
    dev = cp.asarray(noisy)
    for view, host in [(dev[:, 17:17 + W], noisy[:, 17:17 + W]), (dev[::2], noisy[::2])]:
        assert estimate_noise(view) == estimate_noise(host)


# -- estimate_temporal_noise ------------------------------------------------------------------


def correlated_noise(shape, std, seed, blur=0.8):
    """White noise blurred by a Gaussian of ``blur`` px, rescaled to ``std``: camera-like."""
    field = cv2.GaussianBlur(np.random.default_rng(seed).normal(0.0, 1.0, shape), (0, 0), blur)
    return field * (std / field.std())


@pytest.mark.parametrize("kind", ["smooth", "textured"])
@pytest.mark.parametrize("blur", [0.0, 0.8, 1.5])
@pytest.mark.parametrize("sigma", [3, 10])
def test_temporal_estimate_sees_correlated_noise(kind, blur, sigma):
    """Two frames of one (static, aligned) picture with independent noise: the temporal estimate
    finds the per-pixel sigma whether the noise is white or blurred, where the spatial one does
    not (it sees a fraction of blurred noise)."""
    clean = smooth_image() if kind == "smooth" else textured_image()
    noise = [correlated_noise(clean.shape, sigma, seed, blur) if blur else
             np.random.default_rng(seed).normal(0.0, sigma, clean.shape) for seed in (1, 2)]
    a, b = (quantized(clean + n).astype(np.float32) / 255 for n in noise)
    got = estimate_temporal_noise(a, b)
    assert got == pytest.approx(sigma, rel=TOL), got
    if blur >= 0.8:
        assert estimate_noise((a * 255).astype(np.uint8)) < 0.5 * sigma  # why the temporal one exists


def test_temporal_estimate_ignores_a_brightness_change_and_scales_with_bits():
    clean = smooth_image()
    rng = np.random.default_rng(5)
    a = (clean + rng.normal(0, 6, clean.shape)) / 255
    b = (clean + rng.normal(0, 6, clean.shape)) / 255 + 20 / 255  # a fade: 20 codes brighter
    a, b = a.astype(np.float32), b.astype(np.float32)
    assert estimate_temporal_noise(a, b) == pytest.approx(6, rel=TOL)
    assert estimate_temporal_noise(a, b, bits=10) == pytest.approx(estimate_temporal_noise(a, b) * 1023 / 255)
    assert estimate_temporal_noise(a, a) == 0.0


def test_temporal_estimate_refuses_bad_shapes():
    with pytest.raises(ConfigError, match="estimate_temporal_noise"):
        estimate_temporal_noise(np.zeros((8, 8), np.float32), np.zeros((8, 9), np.float32))
    with pytest.raises(ConfigError, match="bits"):
        estimate_temporal_noise(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32), bits=0)
