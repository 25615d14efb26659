"""Argument handling shared by the kernel ops: array module, shapes, dtypes, output buffers."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ConfigError
from . import _cuda

# float32 constants for the numba twins: a bare 0.0 or 1.0 in a twin is a float64 and would
# promote the float32 arithmetic, giving results that differ from the CUDA kernels.
F0 = np.float32(0.0)
F1 = np.float32(1.0)
HALF = np.float32(0.5)


@njit(cache=True, inline="always")
def replicate_row(row, pad, left):
    """``row`` into ``pad`` with ``left`` copies of its first sample before it and copies of its
    last after it: the replicated border every filter twin shares (taps need no bounds checks)."""
    w = row.shape[0]
    for x in range(left):
        pad[x] = row[0]
    for x in range(w):
        pad[left + x] = row[x]
    for x in range(left + w, pad.shape[0]):
        pad[x] = row[w - 1]


# The patch-weighted temporal kernels' shared parts (native/patch.cuh on the CUDA side).
_NINE = np.float32(9.0)
_SIXTH = np.float32(1.0 / 6.0)


@njit(cache=True, inline="always")
def patch_columns(c0, c1, c2, a0, a1, a2, col):
    """``col[x + 1]`` = sum over the three rows (in order) of ``(a - c)^2`` at column ``x``, and
    ``col[0]``, ``col[w + 1]`` replicating the ends, so :func:`patch_mean` needs no clamps."""
    w = c1.shape[0]
    for x in range(w):
        e0 = a0[x] - c0[x]
        e1 = a1[x] - c1[x]
        e2 = a2[x] - c2[x]
        v = e0 * e0
        v += e1 * e1
        v += e2 * e2
        col[x + 1] = v
    col[0] = col[1]
    col[w + 1] = col[w]


@njit(cache=True, inline="always")
def patch_mean(col, x):
    """The 3 x 3 patch mean of the squared differences at ``x``, from :func:`patch_columns`."""
    d = col[x]
    d += col[x + 1]
    d += col[x + 2]
    return d / _NINE


@njit(cache=True, inline="always")
def rational_weight(e):
    """``1 / (1 + e + e^2/2 + e^3/6)``: about ``exp(-e)`` for small ``e``, falling as ``6 / e^3``."""
    return F1 / (F1 + e * (F1 + e * (HALF + e * _SIXTH)))


def array_module(array, who: str):
    """``numpy`` or ``cupy``, whichever ``array`` belongs to; anything else is a TypeError."""
    if _cuda.is_cupy(array):  # first: only vproc.device tells the devices apart
        return _cuda.cupy()
    if isinstance(array, np.ndarray):
        return np
    raise TypeError(f"{who}: expected a numpy or CuPy array (got {type(array).__name__})")


def planar_f32(img, who: str):
    """``img`` as a C-contiguous float32 ``(C, H, W)`` array (a view when it already is one).

    Returns ``(array, xp, was_2d)``; ``was_2d`` tells the caller to drop the plane axis again.
    """
    xp = array_module(img, who)
    if img.ndim not in (2, 3) or 0 in img.shape:
        raise ConfigError(f"{who}: expected a non-empty (H, W) or (C, H, W) array (got shape {tuple(img.shape)})")
    was_2d = img.ndim == 2
    arr = xp.ascontiguousarray(img, dtype=xp.float32)  # no copy when already float32 and contiguous
    return (arr[None] if was_2d else arr), xp, was_2d


def output(out, shape: tuple[int, ...], dtype, xp, who: str):
    """A C-contiguous output of ``shape`` and ``dtype``: ``out`` checked, or a new array."""
    if out is None:
        return xp.empty(shape, dtype)
    if not isinstance(out, xp.ndarray) or tuple(out.shape) != tuple(shape) or out.dtype != dtype \
            or not out.flags.c_contiguous:
        raise ConfigError(f"{who}: out must be a C-contiguous {np.dtype(dtype).name} array of shape "
                          f"{tuple(shape)} on the input's device (got {type(out).__name__} "
                          f"{getattr(out, 'dtype', '?')} {tuple(getattr(out, 'shape', ()))})")
    return out
