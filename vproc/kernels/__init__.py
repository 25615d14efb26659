"""Compute kernels: one module per op, each a public function that runs a CUDA kernel from
``native/<op>.cu`` on CuPy arrays and its numba twin (same arithmetic, same border rule) on numpy
arrays. See :mod:`vproc.kernels._cuda` for how the CUDA sources are found and compiled.

Ops are imported on first use (``vproc.kernels.resize`` or ``from vproc.kernels import
resample``), so a node pays only for the ops, and their compile caches, that it uses.
"""

from __future__ import annotations

import importlib
import os

# numba's OpenMP workers spin while waiting by default; beside OpenCV's and FFmpeg's threads on a
# few cores that spinning starved them (numba calls measured at 8-24 ms instead of 2-5 ms when
# alternating with cv2 in one process). Must be set before the threading layer starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_OPS = {
    "box_blur": "blur", "gaussian_blur": "blur", "local_mean_var": "local_stats",
    "resize": "resample", "rgb_to_yuv": "yuvrgb", "warp": "warp", "yuv_to_rgb": "yuvrgb",
}
__all__ = sorted(_OPS)


def __getattr__(name: str):
    if name in _OPS:
        return getattr(importlib.import_module(f"{__name__}.{_OPS[name]}"), name)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
