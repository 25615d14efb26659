"""``lowlight``: the reciprocal light-enhancement curve on the intensity of planar float RGB.

The curve family is ``f(x, a) = (a + 1) x / (x + a)``, ``a > 0``: ``f(0) = 0``, ``f(1) = 1``,
increasing and concave; the smaller ``a``, the more it brightens (its slope at 0, the gain on the
darkest tones, is ``(a + 1) / a``); ``a = inf`` is the identity. It is applied to the intensity
``I = max(R, G, B)`` and all three channels are scaled by ``f(I) / I = (1 + s) / (1 + s I)`` with
``s = 1 / a``: channel ratios (hue, saturation) are kept and no channel exceeds 1, so highlights
are not clipped. ``native/lowlight.cu`` runs it on CuPy arrays, ``_curve_twin`` (the same float32
operations in the same order) on numpy arrays. In float32 the output intensity is monotonic in the
input's up to rounding: close inputs may come out up to two ulp (3e-7) in the wrong order
(measured over 2e6 sorted values for a = 0.01..10).

Why no ``iterations``: the family is closed under composition (Moebius maps fixing 0 and 1);
applying ``f(., a1)`` then ``f(., a2)`` is exactly one ``f(., a)`` with
``1 + 1/a = (1 + 1/a1)(1 + 1/a2)``, so iterating the curve (as Zero-DCE does with its quadratic
curve) would add nothing but passes over the frame.

:func:`apply_linear_gain` is the ``linear`` method's op: the pixel linearised with the stream's
transfer function (:data:`TRANSFERS`), multiplied by one gain, a highlight shoulder above
:data:`KNEE` that takes up only what the gain adds (full scale lands on 1, gain 1 is the
identity), channel ratios kept in linear light, and encoded back; :func:`linear_intensity` is
the same in float64 on intensities, for the search on the histogram.

:func:`intensity_histogram` gives what the per-frame parameter search needs: a 256-bin histogram of
``I`` over a subsample of the pixels, with the sum of ``I`` in each bin.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F1, output, planar_f32

#: Bins of :func:`intensity_histogram` over [0, 1] (bin ``b`` holds ``b / 256 <= I < (b + 1) / 256``).
BINS = 256


@njit(parallel=True, cache=True)
def _curve_twin(src, dst, s):
    _, h, w = src.shape
    num = F1 + s
    for y in prange(h):
        r, g, b = src[0, y], src[1, y], src[2, y]
        ro, go, bo = dst[0, y], dst[1, y], dst[2, y]
        for x in range(w):
            v = max(r[x], max(g[x], b[x]))
            gain = num / (F1 + s * v)
            ro[x] = min(r[x] * gain, F1)
            go[x] = min(g[x] * gain, F1)
            bo[x] = min(b[x] * gain, F1)


#: Transfer characteristics :func:`apply_linear_gain` linearises with (FFmpeg's names -> the
#: kernels' codes); BT.601 and BT.2020 use BT.709's function.
TRANSFERS = {"iec61966-2-1": 0, "bt709": 1, "smpte170m": 1, "bt2020-10": 1, "bt2020-12": 1, "smpte240m": 1,
             "smpte2084": 2, "arib-std-b67": 3, "linear": 4, "gamma22": 5, "gamma28": 6}
#: Where the highlight shoulder starts, in linear light (see native/lowlight.cu).
KNEE = 0.75

# The transfer functions' constants, once for the float32 twin and the float64 search (the
# CUDA source spells the same float32 values). sRGB: linear below _SRGB_LIN (coded _SRGB_CODED);
# BT.709: exact alpha and beta, so that its two pieces meet.
_SRGB_CODED, _SRGB_LIN, _SRGB_SLOPE = np.float32(0.04045), np.float32(0.0031308), np.float32(12.92)
_SRGB_A, _SRGB_OFF, _SRGB_GAMMA = np.float32(1.055), np.float32(0.055), np.float32(2.4)
_709_CODED, _709_LIN, _709_SLOPE = np.float32(0.08124286), np.float32(0.01805397), np.float32(4.5)
_709_A, _709_OFF, _709_POWER = np.float32(1.0992968), np.float32(0.09929683), np.float32(0.45)
_PQ_M1, _PQ_M2 = np.float32(0.1593017578125), np.float32(78.84375)
_PQ_C1, _PQ_C2, _PQ_C3 = np.float32(0.8359375), np.float32(18.8515625), np.float32(18.6875)
_HLG_A, _HLG_B, _HLG_C = np.float32(0.17883277), np.float32(0.28466892), np.float32(0.55991073)
_GAMMA = {5: np.float32(2.2), 6: np.float32(2.8)}
_G22, _G28 = _GAMMA[5], _GAMMA[6]


@njit(cache=True, inline="always")
def _eotf(v, tf):
    v = min(max(v, np.float32(0.0)), F1)
    if tf == 0:
        return v / _SRGB_SLOPE if v <= _SRGB_CODED else ((v + _SRGB_OFF) / _SRGB_A) ** _SRGB_GAMMA
    if tf == 1:
        return v / _709_SLOPE if v < _709_CODED else ((v + _709_OFF) / _709_A) ** (F1 / _709_POWER)
    if tf == 2:
        p = v ** (F1 / _PQ_M2)
        num = max(p - _PQ_C1, np.float32(0.0))
        return (num / (_PQ_C2 - _PQ_C3 * p)) ** (F1 / _PQ_M1)
    if tf == 3:
        return v * v / np.float32(3.0) if v <= np.float32(0.5) else \
            (np.exp((v - _HLG_C) / _HLG_A) + _HLG_B) / np.float32(12.0)
    if tf == 5:
        return v ** _G22
    if tf == 6:
        return v ** _G28
    return v


@njit(cache=True, inline="always")
def _oetf(lin, tf):
    lin = min(max(lin, np.float32(0.0)), F1)
    if tf == 0:
        return _SRGB_SLOPE * lin if lin <= _SRGB_LIN else _SRGB_A * lin ** (F1 / _SRGB_GAMMA) - _SRGB_OFF
    if tf == 1:
        return _709_SLOPE * lin if lin < _709_LIN else _709_A * lin ** _709_POWER - _709_OFF
    if tf == 2:
        p = lin ** _PQ_M1
        return ((_PQ_C1 + _PQ_C2 * p) / (F1 + _PQ_C3 * p)) ** _PQ_M2
    if tf == 3:
        return np.sqrt(np.float32(3.0) * lin) if lin <= F1 / np.float32(12.0) else \
            _HLG_A * np.log(np.float32(12.0) * lin - _HLG_B) + _HLG_C
    if tf == 5:
        return lin ** (F1 / _G22)
    if tf == 6:
        return lin ** (F1 / _G28)
    return lin


@njit(parallel=True, cache=True)
def _linear_twin(src, dst, gain, knee, tf):
    _, h, w = src.shape
    for y in prange(h):
        for x in range(w):
            r, g, b = _eotf(src[0, y, x], tf), _eotf(src[1, y, x], tf), _eotf(src[2, y, x], tf)
            m = max(r, max(g, b))
            scale = gain
            t = m * gain
            if t > knee and gain > F1:
                e = t - knee
                c = (gain - F1) / ((gain - knee) * (F1 - knee))
                scale = (knee + e / (F1 + c * e)) / m
            dst[0, y, x] = _oetf(r * scale, tf)
            dst[1, y, x] = _oetf(g * scale, tf)
            dst[2, y, x] = _oetf(b * scale, tf)


def transfer_code(transfer: str | None, family: str = "yuv") -> int:
    """The kernels' code for a stream's transfer characteristic (FFmpeg's name). Untagged: sRGB
    for RGB sources (images, screen captures), BT.709 for YUV video, as players assume."""
    if transfer is None:
        return TRANSFERS["iec61966-2-1" if family == "rgb" else "bt709"]
    if transfer not in TRANSFERS:
        raise ConfigError(f"lowlight method linear: no linearisation known for transfer '{transfer}' "
                          f"(known: {', '.join(sorted(TRANSFERS))})")
    return TRANSFERS[transfer]


def apply_linear_gain(rgb, gain: float, transfer: int, knee: float = KNEE, out=None):
    """Multiply planar float RGB by ``gain`` in linear light, with a highlight shoulder above
    ``knee`` that brings full scale to 1 exactly (see ``native/lowlight.cu``), and encode it back
    with the same transfer.

    Args:
        rgb: ``(3, H, W)`` float array in [0, 1] (converted to float32), numpy or CuPy.
        gain: >= 0; 1 is the identity up to rounding (the shoulder only takes up what the gain adds).
        transfer: a code of :data:`TRANSFERS` (:func:`transfer_code`).
        out: optional C-contiguous float32 ``(3, H, W)`` array on the input's device.
    """
    who = "apply_linear_gain"
    src, xp, was_2d = planar_f32(rgb, who)
    if was_2d or src.shape[0] != 3:
        raise ConfigError(f"{who}: expected a (3, H, W) RGB array (got shape {tuple(rgb.shape)})")
    if not gain >= 0 or not 0 < knee < 1 or transfer not in TRANSFERS.values():
        raise ConfigError(f"{who}: needs gain >= 0, 0 < knee < 1 and a transfer code (got {gain}, {knee}, {transfer})")
    _, h, w = src.shape
    dst = output(out, src.shape, np.float32, xp, who)
    g, k = np.float32(gain), np.float32(knee)
    if xp is np:
        _linear_twin(src, dst, g, k, int(transfer))
    else:
        _cuda.kernel("lowlight", "lowlight_linear")(_cuda.grid(w, h), _cuda.BLOCK,
                                                    (src, dst, g, k, _cuda.i32(transfer), _cuda.i32(h), _cuda.i32(w)))
    return dst


def linear_intensity(v: np.ndarray, gain: float, transfer: int, knee: float = KNEE) -> np.ndarray:
    """What :func:`apply_linear_gain` makes of intensities ``v`` = max(R, G, B) (float64, for
    the per-frame search on the histogram: the largest channel maps through this alone)."""
    v = np.clip(np.asarray(v, np.float64), 0, 1)
    lin = to_linear(v, transfer) * gain
    if gain > 1:
        c = (gain - 1) / ((gain - knee) * (1 - knee))
        lin = np.where(lin > knee, knee + (lin - knee) / (1 + c * (lin - knee)), lin)
    return from_linear(lin, transfer)


def to_linear(v, tf):
    """Coded values ``v`` (float64 numpy) to linear light with transfer code ``tf`` (the kernels'
    functions in double precision, for the per-frame search)."""
    if tf == 0:
        return np.where(v <= _SRGB_CODED, v / _SRGB_SLOPE, ((v + _SRGB_OFF) / _SRGB_A) ** _SRGB_GAMMA)
    if tf == 1:
        return np.where(v < _709_CODED, v / _709_SLOPE, ((v + _709_OFF) / _709_A) ** (1 / _709_POWER))
    if tf == 2:
        p = v ** (1 / _PQ_M2)
        return (np.maximum(p - _PQ_C1, 0) / (_PQ_C2 - _PQ_C3 * p)) ** (1 / _PQ_M1)
    if tf == 3:
        return np.where(v <= 0.5, v * v / 3, (np.exp((v - _HLG_C) / _HLG_A) + _HLG_B) / 12)
    return v ** _GAMMA[tf] if tf in _GAMMA else v


def from_linear(lin, tf):
    """Linear light back to coded values: the inverse of :func:`to_linear`."""
    lin = np.clip(lin, 0, 1)
    if tf == 0:
        return np.where(lin <= _SRGB_LIN, _SRGB_SLOPE * lin, _SRGB_A * lin ** (1 / _SRGB_GAMMA) - _SRGB_OFF)
    if tf == 1:
        return np.where(lin < _709_LIN, _709_SLOPE * lin, _709_A * lin ** _709_POWER - _709_OFF)
    if tf == 2:
        p = lin ** _PQ_M1
        return ((_PQ_C1 + _PQ_C2 * p) / (1 + _PQ_C3 * p)) ** _PQ_M2
    if tf == 3:
        log = np.log(np.maximum(12 * lin - _HLG_B, 1e-12))  # (the branch below 1/12 takes the rest)
        return np.where(lin <= 1 / 12, np.sqrt(3 * lin), _HLG_A * log + _HLG_C)
    return lin ** (1 / _GAMMA[tf]) if tf in _GAMMA else lin


def strength_of(a: float) -> np.float32:
    """``s = 1 / a`` as the kernels take it (float32; ``a = inf`` gives exactly 0)."""
    a = float(a)
    if not a > 0 or math.isnan(a):
        raise ConfigError(f"apply_curve: a must be > 0 (got {a})")
    return np.float32(1.0 / a)


def apply_curve(rgb, a: float, out=None):
    """Brighten planar float RGB by the reciprocal curve on its intensity ``max(R, G, B)``.

    Args:
        rgb: ``(3, H, W)`` float array in [0, 1] (converted to float32), numpy or CuPy.
        a: curve parameter, ``> 0``; ``math.inf`` is the identity (the output equals the input).
        out: optional C-contiguous float32 ``(3, H, W)`` array on the input's device.

    Returns:
        float32 ``(3, H, W)``: each pixel scaled by ``f(I, a) / I``, at most 1.
    """
    who = "apply_curve"
    src, xp, was_2d = planar_f32(rgb, who)
    if was_2d or src.shape[0] != 3:
        raise ConfigError(f"{who}: expected a (3, H, W) RGB array (got shape {tuple(rgb.shape)})")
    s = strength_of(a)
    _, h, w = src.shape
    dst = output(out, src.shape, np.float32, xp, who)
    if xp is np:
        _curve_twin(src, dst, s)
    else:
        _cuda.kernel("lowlight", "lowlight_curve")(_cuda.grid(w, h), _cuda.BLOCK,
                                                   (src, dst, s, _cuda.i32(h), _cuda.i32(w)))
    return dst


def intensity_histogram(rgb, step: int = 4):
    """Histogram of the intensity ``I = max(R, G, B)`` over every ``step``-th pixel of every
    ``step``-th row, in :data:`BINS` bins over [0, 1].

    One numpy/CuPy formulation for both devices (strided max, ``bincount``), not a kernel pair:
    at 720p with ``step=4`` it reads 57600 pixels, well under a millisecond on the CPU. The bin
    index ``min(int(I * 256), 255)`` is exact in float32 (a multiplication by a power of two), so
    counts agree to the sample; the per-bin sums are float64 (CuPy adds them atomically, in no
    fixed order: they agree to float64 rounding).

    Returns:
        ``(counts, sums)``: int64 and float64 arrays of ``BINS`` on the input's device; ``sums[b]``
        is the sum of ``I`` over the samples in bin ``b`` (their mean is ``sums / counts``).
    """
    who = "intensity_histogram"
    step = int(step)
    if step < 1:
        raise ConfigError(f"{who}: step must be >= 1 (got {step})")
    src, xp, was_2d = planar_f32(rgb, who)
    if was_2d or src.shape[0] != 3:
        raise ConfigError(f"{who}: expected a (3, H, W) RGB array (got shape {tuple(rgb.shape)})")
    v = src[:, ::step, ::step].max(axis=0).ravel()
    idx = xp.clip((v * np.float32(BINS)).astype(xp.int32), 0, BINS - 1)
    counts = xp.bincount(idx, minlength=BINS)
    sums = xp.bincount(idx, weights=v.astype(xp.float64), minlength=BINS)
    return counts.astype(xp.int64), sums


__all__ = ["BINS", "KNEE", "TRANSFERS", "apply_curve", "apply_linear_gain", "from_linear", "intensity_histogram",
           "linear_intensity", "strength_of", "to_linear", "transfer_code"]
