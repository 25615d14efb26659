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


__all__ = ["BINS", "apply_curve", "intensity_histogram", "strength_of"]
