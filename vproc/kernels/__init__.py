"""Compute kernels: one module per op, each a public function that runs a CUDA kernel from
``native/<op>.cu`` on CuPy arrays and its numba twin (same arithmetic, same border rule) on numpy
arrays. See :mod:`vproc.kernels._cuda` for how the CUDA sources are found and compiled.
"""

import os

# numba's OpenMP workers spin while waiting by default; beside OpenCV's and FFmpeg's threads on a
# few cores that spinning starved them (numba calls measured at 8-24 ms instead of 2-5 ms when
# alternating with cv2 in one process). Must be set before the threading layer starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .blur import box_blur, gaussian_blur, separable_filter  # noqa: E402  (after the OpenMP setting above)
from .denoise import fuse_temporal, wiener_shrink  # noqa: E402
from .local_stats import local_mean_var  # noqa: E402
from .lowlight import apply_curve, intensity_histogram  # noqa: E402
from .noise import estimate_noise, estimate_temporal_noise  # noqa: E402
from .resample import resize  # noqa: E402
from .thin import thin  # noqa: E402
from .vsr import vsr_backproject, vsr_blur, vsr_residual, vsr_weights  # noqa: E402
from .warp import warp  # noqa: E402
from .yuvrgb import rgb_to_yuv, yuv_to_rgb  # noqa: E402

__all__ = [
    "apply_curve", "box_blur", "estimate_noise", "estimate_temporal_noise", "fuse_temporal", "gaussian_blur", "intensity_histogram",
    "local_mean_var", "resize", "rgb_to_yuv", "separable_filter", "thin", "vsr_backproject", "vsr_blur", "vsr_residual", "vsr_weights",
    "warp", "wiener_shrink", "yuv_to_rgb",
]
