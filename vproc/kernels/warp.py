"""``warp``: backward warping of float32 images by a dense optical flow, bilinear, border clamp.

``out[c, y, x]`` is ``img[c]`` sampled bilinearly at ``(x + flow[y, x, 0], y + flow[y, x, 1])``,
the point first clamped into ``[0, W-1] x [0, H-1]``; this equals ``cv2.remap`` with
``INTER_LINEAR`` and ``BORDER_REPLICATE`` on maps ``x + dx``, ``y + dy``. CUDA kernel:
``native/warp.cu``; the numba twin ``_warp_twin`` does the same float32 operations in order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F0, F1, output, planar_f32


@njit(cache=True)
def _weights(fr, x, fy, xmax, ymax, w, h):
    """The kernel's per-pixel part: four bilinear weights and four flat (y * w + x) tap offsets."""
    sx = min(max(np.float32(x) + fr[x, 0], F0), xmax)
    sy = min(max(fy + fr[x, 1], F0), ymax)
    fx0 = np.floor(sx)
    fy0 = np.floor(sy)
    x0 = np.int64(fx0)
    y0 = np.int64(fy0)
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    ax = sx - fx0
    ay = sy - fy0
    bx = F1 - ax
    by = F1 - ay
    # unsigned offsets: no negative-index wraparound test per load (they are >= 0 by the clamp)
    r0 = y0 * w
    r1 = y1 * w
    return (bx * by, ax * by, bx * ay, ax * ay,
            np.uint64(r0 + x0), np.uint64(r0 + x1), np.uint64(r1 + x0), np.uint64(r1 + x1))


# Planes are processed in groups of up to three, the pixel loop innermost, each group with its own
# loop: a loop over a runtime plane count inside the pixel loop gets vectorized over the planes by
# LLVM (with per-pixel alias checks and a scalar remainder for 3 planes), which was 1.5x slower
# for RGB and 3x for 5 planes. A group recomputes the weights: the same operations, the same bits.
@njit(parallel=True, cache=True)
def _warp_twin(src, flow, dst):
    c_n, h, w = src.shape
    xmax = np.float32(w - 1)
    ymax = np.float32(h - 1)
    flat = src.reshape(c_n, h * w)
    for y in prange(h):
        fy = np.float32(y)
        fr = flow[y]
        c0 = 0
        while c0 < c_n:
            k = min(c_n - c0, 3)
            if k == 3:
                p0, p1, p2 = flat[c0], flat[c0 + 1], flat[c0 + 2]
                d0, d1, d2 = dst[c0, y], dst[c0 + 1, y], dst[c0 + 2, y]
                for x in range(w):
                    w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr, x, fy, xmax, ymax, w, h)
                    d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
                    d1[x] = w00 * p1[i00] + w01 * p1[i01] + w10 * p1[i10] + w11 * p1[i11]
                    d2[x] = w00 * p2[i00] + w01 * p2[i01] + w10 * p2[i10] + w11 * p2[i11]
            elif k == 2:
                p0, p1 = flat[c0], flat[c0 + 1]
                d0, d1 = dst[c0, y], dst[c0 + 1, y]
                for x in range(w):
                    w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr, x, fy, xmax, ymax, w, h)
                    d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
                    d1[x] = w00 * p1[i00] + w01 * p1[i01] + w10 * p1[i10] + w11 * p1[i11]
            else:
                p0 = flat[c0]
                d0 = dst[c0, y]
                for x in range(w):
                    w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr, x, fy, xmax, ymax, w, h)
                    d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
            c0 += k


def warp(img, flow, *, out=None):
    """Backward-warp ``img`` by ``flow``: ``out(y, x) = img(y + flow[y, x, 1], x + flow[y, x, 0])``.

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        flow: ``(H, W, 2)`` float array of (dx, dy) in pixels, on the same device.
        out: optional float32 output of the input's shape on the same device.

    Returns:
        float32 array of the input's shape: bilinear samples, sample points clamped to the image.
    """
    who = "warp"
    src, xp, was_2d = planar_f32(img, who)
    c, h, w = src.shape
    if not isinstance(flow, xp.ndarray) or tuple(flow.shape) != (h, w, 2):
        raise ConfigError(f"{who}: flow must be a {xp.__name__} array of shape {(h, w, 2)} "
                          f"(got {type(flow).__name__} {tuple(getattr(flow, 'shape', ()))})")
    flow = xp.ascontiguousarray(flow, dtype=xp.float32)
    dst = output(out, src.shape[1:] if was_2d else src.shape, np.float32, xp, who)
    dst3 = dst[None] if was_2d else dst
    if xp is np:
        _warp_twin(src, flow, dst3)
        return dst
    i32 = _cuda.i32
    _cuda.kernel("warp", "warp_bilinear")(
        _cuda.grid(w, h), _cuda.BLOCK, (src, flow, dst3, i32(c), i32(h), i32(w)))
    return dst


__all__ = ["warp"]
