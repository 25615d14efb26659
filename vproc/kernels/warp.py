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
from ._common import F0, F1, HALF, output, planar_f32


@njit(cache=True)
def _weights(dx, dy, x, fy, xmax, ymax, w, h):
    """The kernel's per-pixel part: four bilinear weights and four flat (y * w + x) tap offsets."""
    sx = min(max(np.float32(x) + dx, F0), xmax)
    sy = min(max(fy + dy, F0), ymax)
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


@njit(cache=True, inline="always")
def _warp_row(flat, dst, y, fr, xmax, ymax, w, h):
    """Row ``y`` of every plane, its flow row ``fr`` (W, 2)."""
    c_n = flat.shape[0]
    fy = np.float32(y)
    c0 = 0
    while c0 < c_n:
        k = min(c_n - c0, 3)
        if k == 3:
            p0, p1, p2 = flat[c0], flat[c0 + 1], flat[c0 + 2]
            d0, d1, d2 = dst[c0, y], dst[c0 + 1, y], dst[c0 + 2, y]
            for x in range(w):
                w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr[x, 0], fr[x, 1], x, fy, xmax, ymax, w, h)
                d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
                d1[x] = w00 * p1[i00] + w01 * p1[i01] + w10 * p1[i10] + w11 * p1[i11]
                d2[x] = w00 * p2[i00] + w01 * p2[i01] + w10 * p2[i10] + w11 * p2[i11]
        elif k == 2:
            p0, p1 = flat[c0], flat[c0 + 1]
            d0, d1 = dst[c0, y], dst[c0 + 1, y]
            for x in range(w):
                w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr[x, 0], fr[x, 1], x, fy, xmax, ymax, w, h)
                d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
                d1[x] = w00 * p1[i00] + w01 * p1[i01] + w10 * p1[i10] + w11 * p1[i11]
        else:
            p0 = flat[c0]
            d0 = dst[c0, y]
            for x in range(w):
                w00, w01, w10, w11, i00, i01, i10, i11 = _weights(fr[x, 0], fr[x, 1], x, fy, xmax, ymax, w, h)
                d0[x] = w00 * p0[i00] + w01 * p0[i01] + w10 * p0[i10] + w11 * p0[i11]
        c0 += k


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
        _warp_row(flat, dst, y, flow[y], xmax, ymax, w, h)


@njit(parallel=True, cache=True)
def _warp_resampled_twin(src, flow, dst, x0s, x1s, axs, ry, sx, sy):
    """``_warp_twin`` with the flow sampled per pixel from a field of another size (see :func:`warp`):
    per row, the two nearest flow rows blended first (``by f0 + ay f1``), then per pixel the two
    nearest columns of that (``(bx ca + ax cb) * scale``), as the kernel does."""
    c_n, h, w = src.shape
    gh, gw = flow.shape[0], flow.shape[1]
    xmax = np.float32(w - 1)
    ymax = np.float32(h - 1)
    flat = src.reshape(c_n, h * w)
    for y in prange(h):
        gy = max((np.float32(y) + HALF) * ry - HALF, F0)
        fgy = np.floor(gy)
        g0 = min(np.int64(fgy), gh - 1)
        g1 = min(g0 + 1, gh - 1)
        ay = gy - fgy
        by = F1 - ay
        f0 = flow[g0]
        f1 = flow[g1]
        col = np.empty((gw, 2), np.float32)
        for g in range(gw):
            col[g, 0] = by * f0[g, 0] + ay * f1[g, 0]
            col[g, 1] = by * f0[g, 1] + ay * f1[g, 1]
        fr = np.empty((w, 2), np.float32)
        for x in range(w):
            ax = axs[x]
            bx = F1 - ax
            a = x0s[x]
            b = x1s[x]
            fr[x, 0] = (bx * col[a, 0] + ax * col[b, 0]) * sx
            fr[x, 1] = (bx * col[a, 1] + ax * col[b, 1]) * sy
        _warp_row(flat, dst, y, fr, xmax, ymax, w, h)


def _flow_columns(w: int, gw: int):
    """Per output column: the two flow columns and the weight of the right one (float32, the
    kernel's arithmetic: ``max((x + 0.5) * gw / w - 0.5, 0)``)."""
    rx = np.float32(gw / w)
    gx = np.maximum((np.arange(w, dtype=np.float32) + HALF) * rx - HALF, F0)
    fgx = np.floor(gx)
    x0 = np.minimum(fgx.astype(np.int64), gw - 1)
    return x0, np.minimum(x0 + 1, gw - 1), (gx - fgx).astype(np.float32)


def warp(img, flow, *, out=None):
    """Backward-warp ``img`` by ``flow``: ``out(y, x) = img(y + flow[y, x, 1], x + flow[y, x, 0])``.

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        flow: ``(H, W, 2)`` float array of (dx, dy) in pixels, on the same device; or an
            ``(h, w, 2)`` field of another size over the same picture (e.g. computed at half
            size, or at full size for a chroma plane): it is then
            resampled per pixel, bilinearly at pixel centres with a replicated border (what
            ``cv2.resize`` with ``INTER_LINEAR`` gives), and its vectors scaled by ``W / w`` and
            ``H / h``, without building the full-size field.
        out: optional float32 output of the input's shape on the same device.

    Returns:
        float32 array of the input's shape: bilinear samples, sample points clamped to the image.
    """
    who = "warp"
    src, xp, was_2d = planar_f32(img, who)
    c, h, w = src.shape
    if not isinstance(flow, xp.ndarray) or flow.ndim != 3 or flow.shape[2] != 2 \
            or 0 in flow.shape:
        raise ConfigError(f"{who}: flow must be a {xp.__name__} array of shape {(h, w, 2)} or of another "
                          f"(h, w, 2) size (got {type(flow).__name__} {tuple(getattr(flow, 'shape', ()))})")
    flow = xp.ascontiguousarray(flow, dtype=xp.float32)
    dst = output(out, src.shape[1:] if was_2d else src.shape, np.float32, xp, who)
    dst3 = dst[None] if was_2d else dst
    gh, gw = flow.shape[:2]
    resampled = (gh, gw) != (h, w)
    if resampled:
        ry, sx, sy = np.float32(gh / h), np.float32(w / gw), np.float32(h / gh)
    if xp is np:
        if resampled:
            _warp_resampled_twin(src, flow, dst3, *_flow_columns(w, gw), ry, sx, sy)
        else:
            _warp_twin(src, flow, dst3)
        return dst
    i32, f32 = _cuda.i32, _cuda.f32
    if resampled:
        _cuda.kernel("warp", "warp_bilinear_resampled")(
            _cuda.grid(w, h), _cuda.BLOCK,
            (src, flow, dst3, i32(c), i32(h), i32(w), i32(gh), i32(gw), f32(gw / w), ry, sx, sy))
    else:
        _cuda.kernel("warp", "warp_bilinear")(
            _cuda.grid(w, h), _cuda.BLOCK, (src, flow, dst3, i32(c), i32(h), i32(w)))
    return dst


__all__ = ["warp"]
