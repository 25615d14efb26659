"""Compute kernels: one module per op, each a public function that runs a CUDA kernel from
``native/<op>.cu`` on CuPy arrays and its numba twin (same arithmetic, same border rule) on numpy
arrays. See :mod:`vproc.kernels._cuda` for how the CUDA sources are found and compiled.
"""

from .blur import box_blur, gaussian_blur
from .local_stats import local_mean_var
from .resample import resize
from .warp import warp
from .yuvrgb import rgb_to_yuv, yuv_to_rgb

__all__ = ["box_blur", "gaussian_blur", "local_mean_var", "resize", "rgb_to_yuv", "warp", "yuv_to_rgb"]
