"""``blur``: separable Gaussian and box blurs of float32 images, border replicate.

Both are one separable filter: a horizontal pass into float32 rows, then a vertical pass
(``native/blur.cu`` and the numba twin ``_sep_filter_twin`` share the order of every sum). They
match ``cv2.GaussianBlur`` and ``cv2.blur`` with ``BORDER_REPLICATE``: the Gaussian taps come from
``cv2.getGaussianKernel`` itself; the box filter sums with unit weights and divides by the window
area at the end, so integer-valued inputs give OpenCV's (double-precision) means exactly.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F0, F1, output, planar_f32, replicate_row


# Output rows per parallel task. A task keeps the horizontally filtered rows its window needs in
# a ring of n rows (in cache) rather than a whole-image temporary; the n - 1 rows above a band are
# filtered twice (by two tasks), which costs a few percent.
_BAND = 128


@njit(cache=True, inline="always")
def _tap(src, idx, step, w, k, j, zero):
    """Row and weight of tap ``j``, or a zero row with weight 0 past the last tap."""
    if j < k.shape[0]:
        return src[idx[j], j * step:j * step + w], k[j]
    return zero, F0


@njit(cache=True, inline="always")
def _taps_into(acc, src, idx, step, w, k, unit, norm, zero):
    """``acc[x] = (sum_j k[j] * rows[j][x]) / norm`` over the taps ``j`` in order; tap ``j`` reads
    ``rows[j] = src[idx[j], j * step : j * step + w]`` (the padded row shifted by ``j`` in the
    horizontal pass, a ring row in the vertical one).

    Several taps per pass over ``acc``, in branch-free loops: four weighted taps (LLVM stops
    vectorizing these loops at six), or six unit taps when ``unit`` (box filters: ``x * 1 == x``,
    so the products are left out; one pass for the usual sizes 3 and 5 measured faster than two
    vectorized ones). The additions happen in the same order as in a one-tap-at-a-time loop (and
    in the CUDA kernels); missing taps of the last group add zeros, which changes no sum (up to
    the sign of a zero). ``norm`` divides the finished sum (skipped when 1). Each case is its own
    loop: a loop reading ``acc`` through a second name would get an overlap guard that fails.
    """
    n = k.shape[0]
    group = 6 if unit else 4
    for j in range(0, n, group):
        a, wa = _tap(src, idx, step, w, k, j, zero)
        b, wb = _tap(src, idx, step, w, k, j + 1, zero)
        c, wc = _tap(src, idx, step, w, k, j + 2, zero)
        d, wd = _tap(src, idx, step, w, k, j + 3, zero)
        divide = j + group >= n and norm != F1
        if unit:
            e, _ = _tap(src, idx, step, w, k, j + 4, zero)
            f, _ = _tap(src, idx, step, w, k, j + 5, zero)
            if j == 0 and divide:
                for x in range(w):
                    acc[x] = (F0 + a[x] + b[x] + c[x] + d[x] + e[x] + f[x]) / norm
            elif j == 0:
                for x in range(w):
                    acc[x] = F0 + a[x] + b[x] + c[x] + d[x] + e[x] + f[x]
            elif divide:
                for x in range(w):
                    acc[x] = (acc[x] + a[x] + b[x] + c[x] + d[x] + e[x] + f[x]) / norm
            else:
                for x in range(w):
                    acc[x] = acc[x] + a[x] + b[x] + c[x] + d[x] + e[x] + f[x]
        else:
            if j == 0:
                for x in range(w):
                    acc[x] = F0 + wa * a[x] + wb * b[x] + wc * c[x] + wd * d[x]
            else:
                for x in range(w):
                    acc[x] = acc[x] + wa * a[x] + wb * b[x] + wc * c[x] + wd * d[x]
            if divide:
                for x in range(w):
                    acc[x] = acc[x] / norm


@njit(parallel=True, cache=True)
def _sep_filter_twin(src, dst, kx, ky, unit, norm, band):
    c_n, h, w = src.shape
    nx = kx.shape[0]
    ny = ky.shape[0]
    rx = nx // 2
    ry = ny // 2
    nb = (h + band - 1) // band
    for i in prange(c_n * nb):
        c = i // nb
        y0 = (i % nb) * band
        ring = np.empty((ny, w), np.float32)
        held = np.full(ny, -1, np.int64)
        pad2 = np.empty((1, w + nx - 1), np.float32)
        pad = pad2[0]
        zeros = np.zeros(nx, np.int64)  # every horizontal tap reads row 0 of pad2, shifted by j
        slots = np.empty(ny, np.int64)
        zero = np.zeros(w, np.float32)
        for y in range(y0, min(y0 + band, h)):
            for j in range(ny):
                r = min(max(y - ry + j, 0), h - 1)
                slot = r % ny  # a window's rows are consecutive: distinct slots
                if held[slot] != r:
                    held[slot] = r
                    replicate_row(src[c, r], pad, rx)
                    _taps_into(ring[slot], pad2, zeros, 1, w, kx, unit, F1, zero)
                slots[j] = slot
            _taps_into(dst[c, y], ring, slots, 0, w, ky, unit, norm, zero)


def _filter(img, kx: np.ndarray, ky: np.ndarray, norm: float, out, who: str, unit: bool = False):
    src, xp, was_2d = planar_f32(img, who)
    c, h, w = src.shape
    dst = output(out, src.shape[1:] if was_2d else src.shape, np.float32, xp, who)
    dst3 = dst[None] if was_2d else dst
    norm = np.float32(norm)
    if xp is np:
        _sep_filter_twin(src, dst3, kx, ky, unit, norm, _BAND)
        return dst
    tmp = xp.empty_like(src)
    dkx, dky = xp.asarray(kx), xp.asarray(ky)
    i32 = _cuda.i32
    g = _cuda.grid(w, h, c)
    _cuda.kernel("blur", "sep_rows")(g, _cuda.BLOCK, (src, tmp, dkx, i32(kx.size), i32(h), i32(w)))
    _cuda.kernel("blur", "sep_cols")(g, _cuda.BLOCK, (tmp, dst3, dky, i32(ky.size), norm, i32(h), i32(w)))
    return dst


def separable_filter(img, kx: np.ndarray, ky: np.ndarray, *, out=None):
    """Separable filter with float32 taps ``kx`` (along rows) and ``ky`` (along columns), border
    replicate: the pass that :func:`gaussian_blur` and :func:`box_blur` run, for other kernels.
    Tap ``n // 2`` of ``n`` sits on the output pixel (for an even ``n`` the filter's centre is
    half a pixel to its left).

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        kx, ky: 1-D float32 numpy arrays, at least one tap each (already normalised).
        out: optional float32 output of the input's shape on the same device.
    """
    kx = np.ascontiguousarray(kx, np.float32)
    ky = np.ascontiguousarray(ky, np.float32)
    if kx.ndim != 1 or ky.ndim != 1 or kx.size == 0 or ky.size == 0:
        raise ConfigError(f"separable_filter: taps must be non-empty 1-D arrays (got {kx.shape} and {ky.shape})")
    return _filter(img, kx, ky, 1.0, out, "separable_filter")


@functools.lru_cache(maxsize=32)
def gaussian_kernel(ksize: int, sigma: float) -> np.ndarray:
    """float32 taps of ``cv2.getGaussianKernel(ksize, sigma, CV_32F)`` (read-only, cached)."""
    import cv2  # here, not at the top: importing the kernels must not load OpenCV for every node
    k = cv2.getGaussianKernel(ksize, sigma, ktype=cv2.CV_32F).ravel().astype(np.float32)
    k.flags.writeable = False
    return k


def gaussian_ksize(sigma: float) -> int:
    """OpenCV's kernel size for float images when none is given: ``round(8 sigma + 1) | 1``."""
    return int(np.floor(sigma * 8 + 1 + 0.5)) | 1  # cvRound(sigma * 4 * 2 + 1) | 1 for non-8-bit depths


def gaussian_blur(img, sigma: float, ksize: int | None = None, *, out=None):
    """Gaussian blur with a replicated border, as ``cv2.GaussianBlur(img, (k, k), sigma,
    borderType=cv2.BORDER_REPLICATE)``.

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        sigma: standard deviation in pixels, > 0 (both axes).
        ksize: odd kernel size; None picks OpenCV's ``round(8 sigma + 1) | 1``.
        out: optional float32 output of the input's shape on the same device.

    Returns:
        float32 array of the input's shape.
    """
    who = "gaussian_blur"
    if not sigma > 0:
        raise ConfigError(f"{who}: sigma must be positive (got {sigma})")
    ksize = gaussian_ksize(sigma) if ksize is None else int(ksize)
    if ksize < 1 or ksize % 2 == 0:
        raise ConfigError(f"{who}: ksize must be a positive odd number (got {ksize})")
    k = gaussian_kernel(ksize, float(sigma))
    return _filter(img, k, k, 1.0, out, who)


def box_blur(img, ksize, *, out=None):
    """Mean over a ``kw`` x ``kh`` window with a replicated border, as ``cv2.blur(img, (kw, kh),
    borderType=cv2.BORDER_REPLICATE)``; even sizes use OpenCV's anchor (window from ``-k//2``).

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        ksize: window size, an int or ``(kw, kh)``, each >= 1.
        out: optional float32 output of the input's shape on the same device.

    Returns:
        float32 array of the input's shape.
    """
    who = "box_blur"
    kw, kh = (ksize, ksize) if np.isscalar(ksize) else tuple(ksize)
    kw, kh = int(kw), int(kh)
    if kw < 1 or kh < 1:
        raise ConfigError(f"{who}: ksize must be >= 1 (got {ksize})")
    return _filter(img, _ones(kw), _ones(kh), kw * kh, out, who, unit=True)


@functools.lru_cache(maxsize=32)
def _ones(n: int) -> np.ndarray:
    k = np.ones(n, np.float32)
    k.flags.writeable = False
    return k


__all__ = ["box_blur", "gaussian_blur", "gaussian_kernel", "gaussian_ksize"]
