"""``local_stats``: mean and variance over a small window, for noise and exposure estimation.

``mean = box(x)`` and ``var = max(box(x*x) - mean**2, 0)`` over a ``k`` x ``k`` window with a
replicated border; ``box`` is ``cv2.blur(..., borderType=cv2.BORDER_REPLICATE)``. Both come from
one pair of passes (``native/local_stats.cu``, twin ``_local_stats_twin``): horizontal sums of x
and x*x into float32 temporaries, then vertical sums divided by ``k*k``. The variance is computed
in float32 as E[x^2] - E[x]^2, fine for images in [0, 1]; on large offsets it loses precision.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F0, planar_f32, replicate_row


@njit(parallel=True, cache=True)
def _local_stats_twin(src, mean, var, s1, s2, k, n):
    c_n, h, w = src.shape
    r = k // 2
    for i in prange(c_n * h):
        c = i // h
        y = i % h
        s = src[c, y]
        a = s1[c, y]
        b = s2[c, y]
        pad = np.empty(w + k - 1, np.float32)
        replicate_row(s, pad, r)
        for x in range(w):
            a[x] = F0
            b[x] = F0
        for t in range(k):
            for x in range(w):
                p = pad[x + t]
                a[x] += p
                b[x] += p * p
    for i in prange(c_n * h):
        c = i // h
        y = i % h
        m = mean[c, y]
        v = var[c, y]
        for x in range(w):
            m[x] = F0
            v[x] = F0
        for t in range(k):
            yy = min(max(y - r + t, 0), h - 1)
            a = s1[c, yy]
            b = s2[c, yy]
            for x in range(w):
                m[x] += a[x]
                v[x] += b[x]
        for x in range(w):
            mx = m[x] / n
            m[x] = mx
            v[x] = max(v[x] / n - mx * mx, F0)


def local_mean_var(img, ksize: int = 3):
    """Local mean and variance over a ``ksize`` x ``ksize`` window (border replicate).

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        ksize: odd window size, e.g. 3 or 5.

    Returns:
        ``(mean, var)``: float32 arrays of the input's shape; ``var >= 0``.
    """
    who = "local_mean_var"
    ksize = int(ksize)
    if ksize < 1 or ksize % 2 == 0:
        raise ConfigError(f"{who}: ksize must be a positive odd number (got {ksize})")
    src, xp, was_2d = planar_f32(img, who)
    c, h, w = src.shape
    mean, var = xp.empty_like(src), xp.empty_like(src)
    s1, s2 = xp.empty_like(src), xp.empty_like(src)
    n = np.float32(ksize * ksize)
    if xp is np:
        _local_stats_twin(src, mean, var, s1, s2, ksize, n)
    else:
        i32 = _cuda.i32
        g = _cuda.grid(w, h, c)
        _cuda.kernel("local_stats", "stats_rows")(g, _cuda.BLOCK, (src, s1, s2, i32(ksize), i32(h), i32(w)))
        _cuda.kernel("local_stats", "stats_cols")(
            g, _cuda.BLOCK, (s1, s2, mean, var, i32(ksize), n, i32(h), i32(w)))
    if was_2d:
        return mean[0], var[0]
    return mean, var


__all__ = ["local_mean_var"]
