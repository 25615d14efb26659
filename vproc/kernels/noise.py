"""``noise``: the noise sigma of a plane, for ``strength: auto`` of the temporal denoiser.

Two estimators. :func:`estimate_noise` (below) works on one frame and assumes white noise;
:func:`estimate_temporal_noise` compares a frame with its motion-aligned neighbour and finds noise
that varies in time whatever its spatial correlation (camera noise after demosaicing, noise
through a codec), which the first sees only a fraction of. The node takes the larger.

:func:`estimate_noise`'s method (``native/noise.cu``, twins ``_maps_twin`` and ``_sums_twin``), for
additive white Gaussian noise of standard deviation sigma:

1. Immerkaer's mask (J. Immerkaer, "Fast Noise Variance Estimation", CVIU 64(2), 1996):
   ``r = |I * M|`` with ``M = [[1,-2,1],[-2,4,-2],[1,-2,1]]`` over the interior pixels; ``M`` is
   the difference of two Laplacians, so it cancels locally linear structure, and on pure noise
   ``I * M`` is Gaussian with standard deviation ``6 sigma`` (sum of ``M**2`` is 36), hence
   ``sigma = sqrt(pi / 2) / 6 * mean(r)``.
2. Edge exclusion after Tai & Yang (S.-C. Tai, S.-M. Yang, "A fast method for image noise
   estimation using Laplacian operator and adaptive edge detection", ISCCSP 2008): ``g`` is the
   Sobel magnitude ``|Gx| + |Gy|``; only pixels with ``g <= t`` count, ``t`` the
   ``KEEP``-quantile of ``g`` (the k-th smallest value, ``k = ceil(KEEP * n) - 1``, taken over a
   2 x 2 subsample of the map; ties at ``t``
   are all kept). Tai & Yang keep the flattest 90 %; measured on textured content (checkerboards,
   text, Vid4's calendar) 90 % leaves too much structure in (+50 % at sigma 5), 50 % does best.
   The Sobel taps are odd and ``M`` is even, so on Gaussian noise ``g``'s components and ``I * M``
   are uncorrelated, hence independent: selecting by ``g`` does not bias the estimate.
3. Sigma clipping of what is left (the classical iterative kappa-sigma clipping of robust
   statistics): texture that the Sobel operator does not see (corners, saddles, fine detail)
   shows up as outliers of ``r``. Starting from step 2's estimate, the mean is taken again over
   the pixels with ``r <= KAPPA * 6 * sigma`` and divided by the mean of a half-normal truncated
   at ``KAPPA`` (so pure Gaussian noise still comes out unbiased), until the kept set stops
   changing (its count repeats; the sets are nested, so the estimate is then a fixed point), at
   most ``MAX_ROUNDS`` times. It converges in 2-6 rounds on the test images.

Measured (tests/kernels/test_noise.py, 8-bit, Gaussian noise clipped to 0..255) the estimate is
within 5 % of the true sigma 2..25 on smooth and textured synthetic images, and within 13 % of
``sqrt(sigma**2 + sigma0**2)`` on the Vid4 frames (sigma0: the estimate on the clean frame, which
carries some noise and texture of its own; worst +12 %, calendar at sigma 2, over 10 noise seeds).
Plain Immerkaer is +220 % on the textured image at sigma 2, Tai & Yang alone (50 %) +42 %.

Cost on the CPU (2 cores, 1920 x 1080 uint8): about 3.7 ms for the quantile (``np.partition``
over the 2 x 2 subsample; 13.9 ms over the whole map, measured side by side), 1 ms for the maps
and 1 ms per clipping round.

Arithmetic: the maps ``g`` and ``r`` are float32 (exact for integer samples), computed operation
for operation alike on both sides; ``t`` is the same order statistic of the same map; sums of
``r`` and counts are per map row in float64 (left to right in the twin, a tree per row in CUDA),
then added over the rows with numpy/CuPy. For uint8/uint16 input every sum is an exact integer
in float64, so the CPU and CUDA results are identical; for float32 input they differ by rounding
of the float64 sums only (documented tolerance: 1e-9 relative).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import array_module

#: Fraction of pixels, flattest first by Sobel magnitude, that the estimate uses (step 2).
KEEP = 0.5
#: The quantile of step 2 is taken over every QUANTILE_STEP-th sample of every QUANTILE_STEP-th row.
QUANTILE_STEP = 2
#: Clip ``r`` at ``KAPPA`` standard deviations of the mask response (step 3).
KAPPA = 3.0
#: Upper bound on the clipping rounds (they stop earlier, when the kept set repeats).
MAX_ROUNDS = 20

_F2 = np.float32(2.0)
_MASK_SD = 6.0  # standard deviation of I * M per unit of sigma: sqrt(sum of M**2)
# E|Z| for a standard normal Z, and E[|Z| given |Z| <= KAPPA] (the half-normal truncated at KAPPA).
_ABS_MEAN = math.sqrt(2.0 / math.pi)
_ABS_MEAN_CLIPPED = _ABS_MEAN * (1.0 - math.exp(-KAPPA * KAPPA / 2.0)) / math.erf(KAPPA / math.sqrt(2.0))

_KERNELS = {np.dtype(np.uint8): "noise_maps_u8", np.dtype(np.uint16): "noise_maps_u16",
            np.dtype(np.float32): "noise_maps_f32"}
_SUMS_THREADS = 256  # SUMS_THREADS in noise.cu


@njit(parallel=True, cache=True)
def _maps_twin(src, g, r):
    hi, wi = g.shape
    for y in prange(hi):
        a = src[y]
        b = src[y + 1]
        c = src[y + 2]
        g_row = g[y]
        ry = r[y]
        for x in range(wi):
            p00 = np.float32(a[x])
            p01 = np.float32(a[x + 1])
            p02 = np.float32(a[x + 2])
            p10 = np.float32(b[x])
            p11 = np.float32(b[x + 1])
            p12 = np.float32(b[x + 2])
            p20 = np.float32(c[x])
            p21 = np.float32(c[x + 1])
            p22 = np.float32(c[x + 2])
            gx = (p02 + _F2 * p12 + p22) - (p00 + _F2 * p10 + p20)
            gy = (p20 + _F2 * p21 + p22) - (p00 + _F2 * p01 + p02)
            m = (p00 - _F2 * p01 + p02) - _F2 * (p10 - _F2 * p11 + p12) + (p20 - _F2 * p21 + p22)
            g_row[x] = abs(gx) + abs(gy)
            ry[x] = abs(m)


@njit(parallel=True, cache=True)
def _sums_twin(g, r, t, rmax, part):
    rows, cols = g.shape
    for y in prange(rows):
        gy = g[y]
        ry = r[y]
        s = 0.0
        n = 0.0
        for x in range(cols):
            v = np.float64(ry[x])
            kept = (gy[x] <= t) & (v <= rmax)  # branch-free: a select, not a mispredicted jump
            s += v if kept else 0.0
            n += 1.0 if kept else 0.0
        part[0, y] = s
        part[1, y] = n


def _check(luma, bits: int, who: str):
    """``(xp, scale)``: the array module and the factor from the input's units to code values."""
    xp = array_module(luma, who)
    if luma.ndim != 2 or luma.shape[0] < 3 or luma.shape[1] < 3:
        raise ConfigError(f"{who}: expected an (H, W) luma plane of at least 3 x 3 (got shape {tuple(luma.shape)})")
    dtype = np.dtype(luma.dtype)
    bits = int(bits)
    if dtype == np.uint8:
        if bits != 8:
            raise ConfigError(f"{who}: uint8 samples are 8 bits deep (got bits={bits})")
        return xp, 1.0
    if dtype == np.uint16:
        if not 9 <= bits <= 16:
            raise ConfigError(f"{who}: uint16 samples need bits within 9..16 (got bits={bits})")
        return xp, 1.0
    if dtype == np.float32:
        if not 1 <= bits <= 16:
            raise ConfigError(f"{who}: bits must be within 1..16 (got {bits})")
        return xp, float((1 << bits) - 1)
    raise ConfigError(f"{who}: expected uint8, uint16 or float32 samples (got {dtype.name})")


def _threshold(g, xp) -> np.float32:
    """The ``KEEP``-quantile of the Sobel map: its k-th smallest value, ``k = ceil(KEEP n) - 1``,
    over every ``QUANTILE_STEP``-th sample of every ``QUANTILE_STEP``-th row (the quantile of a
    quarter of a map's ~1e5..2e6 samples is within a few 1e-3 of the full one's in rank; the
    partition was most of the estimator's time)."""
    flat = xp.ascontiguousarray(g[::QUANTILE_STEP, ::QUANTILE_STEP]).reshape(-1)
    k = max(math.ceil(KEEP * flat.size) - 1, 0)
    return np.float32(float(xp.partition(flat, k)[k]))  # float(): CuPy scalars do not convert implicitly


def _sigma(sums) -> float:
    """Steps 2 and 3 of the module docstring; ``sums(rmax) -> (sum of r, count)`` over the pixels
    with ``g <= t`` and ``r <= rmax``."""
    total, count = sums(math.inf)
    if count == 0:
        return 0.0
    sigma = total / count / (_MASK_SD * _ABS_MEAN)
    last = None
    for _ in range(MAX_ROUNDS):
        total, count = sums(KAPPA * _MASK_SD * sigma)
        if count == 0:
            return 0.0
        sigma = total / count / (_MASK_SD * _ABS_MEAN_CLIPPED)
        if count == last:
            break
        last = count
    return sigma


def estimate_noise(luma, *, bits: int = 8) -> float:
    """The standard deviation of additive white noise in a luma plane, robust to edges and texture.

    Args:
        luma: ``(H, W)`` plane, at least 3 x 3, numpy or CuPy (any row pitch; the last axis must
            be contiguous on CUDA, else the plane is copied): ``uint8`` (``bits`` 8), ``uint16``
            holding ``bits``-bit code values (``bits`` 9..16, LSB-aligned), or ``float32`` with
            white at 1.0.
        bits: the depth whose code values the result is given in; for integer samples it must be
            their depth, for float32 it scales the result by ``2**bits - 1``.

    Returns:
        sigma in code values of a ``bits``-bit sample (a Python float; 0.0 on a flat plane).
    """
    who = "estimate_noise"
    xp, scale = _check(luma, bits, who)
    h, w = luma.shape
    rows, cols = h - 2, w - 2
    g = xp.empty((rows, cols), np.float32)
    r = xp.empty((rows, cols), np.float32)
    part = xp.empty((2, rows), np.float64)
    if xp is np:
        _maps_twin(luma, g, r)
        t = _threshold(g, np)

        def sums(rmax):
            _sums_twin(g, r, t, np.float64(rmax), part)
            total, count = part.sum(axis=1)
            return float(total), float(count)
    else:
        item = luma.dtype.itemsize
        if luma.strides[1] != item or luma.strides[0] < w * item or luma.strides[0] % item:
            luma = xp.ascontiguousarray(luma)
        i32 = _cuda.i32
        _cuda.kernel("noise", _KERNELS[np.dtype(luma.dtype)])(
            _cuda.grid(cols, rows), _cuda.BLOCK,
            (luma, np.int64(luma.strides[0] // item), g, r, i32(h), i32(w)))
        t = _threshold(g, xp)
        fn = _cuda.kernel("noise", "noise_sums")

        def sums(rmax):
            fn((rows, 1, 1), (_SUMS_THREADS, 1, 1), (g, r, t, np.float64(rmax), part, i32(rows), i32(cols)))
            total, count = part.sum(axis=1).get()
            return float(total), float(count)
    return _sigma(sums) * scale


#: Normal quantile of 0.75: the median of ``|Z|`` for a standard normal ``Z``.
_MEDIAN_ABS = 0.6744897501960817


def estimate_temporal_noise(plane, aligned, *, bits: int = 8) -> float:
    """The standard deviation of noise that changes from frame to frame, from a frame and its
    neighbour aligned onto it (motion-compensated), whatever its spatial correlation.

    :func:`estimate_noise` looks at the finest spatial frequencies only, so it misses noise that
    demosaicing, ISP filtering or a codec made spatially correlated (measured: 1.3 for a true
    per-pixel 6.9 on blurred white noise). The difference ``plane - aligned`` holds both frames'
    noise (variance ``2 sigma^2`` when it is independent in time) plus what the alignment got
    wrong; over the flattest ``KEEP`` of the pixels (the smallest central-difference gradients
    ``|I(x+1) - I(x-1)| + |I(y+1) - I(y-1)|``, which do not involve the pixel itself) the latter
    is small, and the median absolute difference, less the median difference (a fade or a
    brightness step between the frames is not noise), is divided by ``0.6745 sqrt(2)``.
    Every ``QUANTILE_STEP``-th sample of every ``QUANTILE_STEP``-th row is used.

    A bilinear alignment averages the neighbour's noise where the motion is sub-pixel, so on
    white noise with moving content the result is low by up to 15 % (``sqrt((1 + (2/3)^2) / 2)``
    for uniformly spread sub-pixel shifts); static pixels are unbiased.

    Args:
        plane, aligned: ``(H, W)`` float arrays of the same shape on one device (numpy or CuPy),
            white at 1.0; at least 3 x 3.
        bits: the depth whose code values the result is given in.

    Returns:
        sigma in code values of a ``bits``-bit sample (a Python float).
    """
    who = "estimate_temporal_noise"
    xp = array_module(plane, who)
    if plane.ndim != 2 or plane.shape != aligned.shape or plane.shape[0] < 3 or plane.shape[1] < 3:
        raise ConfigError(f"{who}: expected two (H, W) planes of one shape, at least 3 x 3 "
                          f"(got {tuple(plane.shape)} and {tuple(aligned.shape)})")
    if not 1 <= int(bits) <= 16:
        raise ConfigError(f"{who}: bits must be within 1..16 (got {bits})")
    q = QUANTILE_STEP
    centre = plane[1:-1:q, 1:-1:q]
    g = (xp.abs(plane[1:-1:q, 2::q] - plane[1:-1:q, :-2:q])
         + xp.abs(plane[2::q, 1:-1:q] - plane[:-2:q, 1:-1:q])).reshape(-1)
    d = (centre - aligned[1:-1:q, 1:-1:q]).reshape(-1)
    k = max(math.ceil(KEEP * g.size) - 1, 0)
    t = xp.partition(g, k)[k]
    d = d[g <= t]
    d = xp.abs(d - xp.median(d))
    sigma = float(xp.median(d)) / (_MEDIAN_ABS * math.sqrt(2.0))
    return sigma * float((1 << int(bits)) - 1)


__all__ = ["estimate_noise", "estimate_temporal_noise"]
