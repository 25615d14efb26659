"""``vsr``: the per-pixel steps of flow-based video super-resolution, on float32 planes in [0, 1].

The model (what :mod:`vproc.nodes.vsr` inverts): each observed low-res (LR) frame ``k`` is the
high-res (HR) centre frame ``X`` moved by the motion between them, blurred by the degradation
filter ``B`` and sampled every ``s`` pixels: ``y_k(q) = (B * X)(s (q + 0.5 + g_k(q)) - 0.5)``,
``g_k`` the flow from frame ``k`` to the centre in LR pixels. ``B`` is the bicubic kernel
(Keys, a = -0.5) stretched by ``s``, i.e. MATLAB ``imresize``'s antialiased bicubic downscaling,
the "BI" degradation of the video SR literature. Four ops, CUDA kernels in ``native/vsr.cu`` and
numba twins here with the same float32 operations in the same order:

- :func:`vsr_blur`: ``B * X`` by the separable filter of :mod:`vproc.kernels.blur` (its taps
  are ``B`` sampled at the HR pixels, normalised to sum 1; for even ``s`` they sit half a pixel
  off the grid, so that with no motion a sample lands on a pixel and the model is ``imresize``
  itself, up to the border rule).
- :func:`vsr_residual`: per observed frame, on its own LR grid, ``y_k - `` the model's prediction
  (a bilinear sample of the blurred estimate where the frame's pixel lands in the centre).
- :func:`vsr_weights`: robust weights of neighbours already warped onto the centre's LR grid,
  from their 3 x 3 patch distance to the centre (rejects occlusions and wrong flow).
- :func:`vsr_backproject`: one Irani-Peleg back-projection step: every HR pixel adds ``step``
  times the weighted mean of the residuals of the frames at the point it maps to in each (a
  bilinear sample), the centre's with weight 1.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F0, F1, HALF, array_module, output, patch_columns, patch_mean, rational_weight
from .blur import separable_filter

SCALES = (2, 3, 4)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic with a = -0.5 (MATLAB ``imresize``'s), in float64."""
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1,
                    np.where(ax < 2, -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2, 0.0))


@functools.lru_cache(maxsize=8)
def degradation_taps(scale: int) -> np.ndarray:
    """The taps of ``B`` on the HR grid (read-only float32, sum 1): ``4 s`` of them for even
    ``s`` (tap ``t`` at offset ``t - 2 s``, weighing ``cubic((t - 2 s + 0.5) / s)``: centred half
    a pixel left of the output pixel), ``4 s - 1`` for odd ``s`` (centred on it)."""
    s = int(scale)
    n = 4 * s if s % 2 == 0 else 4 * s - 1
    offsets = np.arange(n) - n // 2 + (0.5 if s % 2 == 0 else 0.0)
    w = _cubic(offsets / s)
    taps = (w / w.sum()).astype(np.float32)
    taps.flags.writeable = False
    return taps


def sample_offset(scale: int) -> float:
    """Where LR pixel ``q`` lands in the blurred estimate: ``s q + s // 2`` (see :func:`vsr_blur`)."""
    return float(int(scale) // 2)


def _check_scale(scale, who: str) -> int:
    if scale not in SCALES:
        raise ConfigError(f"{who}: scale must be one of {', '.join(map(str, SCALES))} (got {scale})")
    return int(scale)


def vsr_blur(hr, scale: int, *, out=None):
    """The HR estimate blurred by the degradation filter ``B`` (:func:`degradation_taps`).

    Pixel ``m`` of the result holds the filtered value at ``m - 0.5`` for even ``scale`` and at
    ``m`` for odd ones; either way LR pixel ``q`` (no motion) is pixel ``s q + s // 2`` of it.

    Args:
        hr: ``(H, W)`` float32 plane, numpy or CuPy.
        scale: 2, 3 or 4.
        out: optional float32 ``(H, W)`` output on the same device.
    """
    s = _check_scale(scale, "vsr_blur")
    taps = degradation_taps(s)
    return separable_filter(hr, taps, taps, out=out)


# -- twins -------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _bilinear(p, h, w, sx, sy):
    sx = min(max(sx, F0), np.float32(w - 1))
    sy = min(max(sy, F0), np.float32(h - 1))
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
    return (bx * p[y0, x0] + ax * p[y0, x1]) * by + (bx * p[y1, x0] + ax * p[y1, x1]) * ay


@njit(parallel=True, cache=True)
def _weights_twin(center, nbrs, weights, inv_t2):
    k_n, h, w = nbrs.shape
    for i in prange(k_n * h):
        k = i // h
        y = i % h
        c0, c1, c2 = center[max(y - 1, 0)], center[y], center[min(y + 1, h - 1)]
        a0, a1, a2 = nbrs[k, max(y - 1, 0)], nbrs[k, y], nbrs[k, min(y + 1, h - 1)]
        out = weights[k, y]
        col = np.empty(w + 2, np.float32)  # column sums with a replicated border
        patch_columns(c0, c1, c2, a0, a1, a2, col)
        for x in range(w):
            out[x] = rational_weight(patch_mean(col, x) * inv_t2)


@njit(parallel=True, cache=True)
def _residual_twin(z, obs, flows, resid, s, off):
    k_n, h, w = obs.shape
    hh, ww = z.shape
    for i in prange(k_n * h):
        k = i // h
        y = i % h
        o = obs[k, y]
        r = resid[k, y]
        fy = np.float32(y)
        if k == 0:
            py = s * (fy + F0) + off
            for x in range(w):
                px = s * (np.float32(x) + F0) + off
                r[x] = o[x] - _bilinear(z, hh, ww, px, py)
        else:
            f = flows[k - 1, y]
            for x in range(w):
                px = s * (np.float32(x) + f[x, 0]) + off
                py = s * (fy + f[x, 1]) + off
                r[x] = o[x] - _bilinear(z, hh, ww, px, py)


@njit(parallel=True, cache=True)
def _backproject_twin(hr, resid, flows, weights, inv_s, step, ux, x0s, x1s, axs):
    """Per HR row: the two LR rows of every map blended first (``by m0 + ay m1``, vectorised over
    the LR width), then per pixel the two nearest columns of that (``bx c[a] + ax c[b]``), as the
    kernel does; the residual of each neighbour is then sampled where the pixel lands in it."""
    hh, ww = hr.shape
    k_n, h, w = weights.shape
    fl = flows.reshape(k_n, h, w * 2)
    for y in prange(hh):
        uy = (np.float32(y) + HALF) * inv_s - HALF
        cy = min(max(uy, F0), np.float32(h - 1))
        fy0 = np.floor(cy)
        y0 = np.int64(fy0)
        y1 = min(y0 + 1, h - 1)
        ay = cy - fy0
        by = F1 - ay
        acc = np.empty(ww, np.float32)
        sw = np.ones(ww, np.float32)
        cw = np.empty(w, np.float32)
        cf = np.empty(2 * w, np.float32)
        r0, r1 = resid[0, y0], resid[0, y1]
        for a in range(w):
            cw[a] = by * r0[a] + ay * r1[a]
        for x in range(ww):
            ax = axs[x]
            acc[x] = (F1 - ax) * cw[x0s[x]] + ax * cw[x1s[x]]
        for k in range(k_n):  # frame by frame: per pixel the same additions in the same order
            w0, w1 = weights[k, y0], weights[k, y1]
            f0, f1 = fl[k, y0], fl[k, y1]
            for a in range(w):
                cw[a] = by * w0[a] + ay * w1[a]
            for a in range(2 * w):
                cf[a] = by * f0[a] + ay * f1[a]
            rk = resid[k + 1]
            for x in range(ww):
                a = x0s[x]
                b = x1s[x]
                ax = axs[x]
                bx = F1 - ax
                wt = bx * cw[a] + ax * cw[b]
                dx = bx * cf[2 * a] + ax * cf[2 * b]
                dy = bx * cf[2 * a + 1] + ax * cf[2 * b + 1]
                r = _bilinear(rk, h, w, ux[x] + dx, uy + dy)
                acc[x] += wt * r
                sw[x] += wt
        out = hr[y]
        for x in range(ww):
            out[x] = out[x] + step * (acc[x] / sw[x])


def _columns(ww: int, w: int, inv_s: np.float32):
    """Per HR column: its LR position ``u`` and the two LR columns and weight of the clamped one
    (float32, the kernel's arithmetic)."""
    ux = (np.arange(ww, dtype=np.float32) + HALF) * inv_s - HALF
    cx = np.minimum(np.maximum(ux, F0), np.float32(w - 1))
    fx0 = np.floor(cx)
    x0 = fx0.astype(np.int64)
    return ux, x0, np.minimum(x0 + 1, w - 1), (cx - fx0).astype(np.float32)


# -- public ops --------------------------------------------------------------------------------


def _plane(img, who: str, xp=None, shape=None, name: str = "plane", ndim: int = 2):
    mod = array_module(img, who)
    if xp is not None and mod is not xp:
        raise ConfigError(f"{who}: {name} is on another device than the first argument")
    if img.ndim != ndim or 0 in img.shape[ndim - 2:] or (shape is not None and tuple(img.shape) != tuple(shape)):
        want = f" of shape {tuple(shape)}" if shape is not None else ""
        raise ConfigError(f"{who}: {name} must be a {ndim}-d array{want} (got shape {tuple(img.shape)})")
    return mod.ascontiguousarray(img, dtype=mod.float32), mod


def vsr_weights(center, nbrs, tolerance: float, *, out=None):
    """Robust weights of neighbours warped onto ``center``: ``1 / (1 + e + e^2/2 + e^3/6)``
    (about ``exp(-e)``) with ``e = d / tolerance^2``, ``d`` the mean squared difference to the
    centre over a 3 x 3 patch (replicated border).

    Args:
        center: ``(h, w)`` float32 plane, numpy or CuPy.
        nbrs: ``(K, h, w)`` float32 neighbours aligned onto it, same device.
        tolerance: the patch RMS difference (in the planes' units) at which a weight has fallen
            to about ``1/e``; > 0.
        out: optional float32 ``(K, h, w)`` output on the same device.
    """
    who = "vsr_weights"
    if not tolerance > 0:
        raise ConfigError(f"{who}: tolerance must be > 0 (got {tolerance})")
    c, xp = _plane(center, who, name="centre")
    n, _ = _plane(nbrs, who, xp, None, "neighbours", 3)
    if tuple(n.shape[1:]) != tuple(c.shape):
        raise ConfigError(f"{who}: neighbours must be (K, {c.shape[0]}, {c.shape[1]}) (got {tuple(n.shape)})")
    k, h, w = n.shape
    dst = output(out, n.shape, np.float32, xp, who)
    inv_t2 = np.float32(1.0 / (float(tolerance) ** 2))
    if k == 0:
        return dst
    if xp is np:
        _weights_twin(c, n, dst, inv_t2)
    else:
        _cuda.kernel("vsr", "vsr_weights")(
            _cuda.grid(w, h, k), _cuda.BLOCK, (c, n, dst, _cuda.i32(k), _cuda.i32(h), _cuda.i32(w), inv_t2))
    return dst


def vsr_residual(blurred, frames, flows, scale: int, *, out=None):
    """Observed minus predicted, for every frame on its own LR grid.

    Args:
        blurred: ``(H, W)`` float32 HR estimate after :func:`vsr_blur`, numpy or CuPy.
        frames: ``(K + 1, h, w)`` float32 observed LR frames, the centre first, with
            ``H = scale * h`` and ``W = scale * w``; same device.
        flows: ``(K, h, w, 2)`` float32 flows (dx, dy) in LR pixels from each of ``frames[1:]``
            to the centre, on that frame's grid (``frame(x) ~ centre(x + flow(x))``).
        scale: 2, 3 or 4.
        out: optional float32 ``(K + 1, h, w)`` output on the same device.

    Returns:
        ``frames[k](q) - bilinear(blurred, s (q + flow_k(q)) + s // 2)`` per frame.
    """
    who = "vsr_residual"
    s = _check_scale(scale, who)
    z, xp = _plane(blurred, who, name="blurred")
    obs, _ = _plane(frames, who, xp, None, "frames", 3)
    k1, h, w = obs.shape
    if k1 < 1:
        raise ConfigError(f"{who}: frames must hold at least the centre")
    hh, ww = z.shape
    if (hh, ww) != (s * h, s * w):
        raise ConfigError(f"{who}: blurred must be {s * h}x{s * w} ({s} x the frames' {h}x{w}) (got {hh}x{ww})")
    f = _flows(flows, xp, k1 - 1, h, w, who)
    dst = output(out, obs.shape, np.float32, xp, who)
    sf, off = np.float32(s), np.float32(sample_offset(s))
    if xp is np:
        _residual_twin(z, obs, f, dst, sf, off)
    else:
        i32 = _cuda.i32
        _cuda.kernel("vsr", "vsr_residual")(
            _cuda.grid(w, h, k1), _cuda.BLOCK, (z, obs, f, dst, i32(k1), i32(h), i32(w), i32(hh), i32(ww), sf, off))
    return dst


def vsr_backproject(hr, resid, flows, weights, scale: int, step: float = 1.0, *, out=None):
    """One back-projection step: ``hr + step * (r_0(u) + sum_k w_k(u) r_k(u + f_k(u))) / (1 +
    sum_k w_k(u))`` per HR pixel, ``u`` its position on the centre's LR grid.

    Args:
        hr: ``(H, W)`` float32 HR estimate, numpy or CuPy.
        resid: ``(K + 1, h, w)`` residuals (:func:`vsr_residual`), the centre's first.
        flows: ``(K, h, w, 2)`` flows from the centre to each neighbour, on the centre's grid.
        weights: ``(K, h, w)`` robust weights of the neighbours, on the centre's grid.
        scale: 2, 3 or 4 (``H = scale * h``, ``W = scale * w``).
        step: step size (1 is Irani and Peleg's).
        out: optional float32 ``(H, W)`` output on the same device; may be ``hr`` (in place).
    """
    who = "vsr_backproject"
    s = _check_scale(scale, who)
    x, xp = _plane(hr, who, name="hr")
    r, _ = _plane(resid, who, xp, None, "resid", 3)
    k1, h, w = r.shape
    if k1 < 1:
        raise ConfigError(f"{who}: resid must hold at least the centre's")
    hh, ww = x.shape
    if (hh, ww) != (s * h, s * w):
        raise ConfigError(f"{who}: hr must be {s * h}x{s * w} ({s} x the residuals' {h}x{w}) (got {hh}x{ww})")
    f = _flows(flows, xp, k1 - 1, h, w, who)
    if weights is None and k1 == 1:  # the centre alone
        wts = xp.zeros((0, h, w), np.float32)
    else:
        wts, _ = _plane(weights, who, xp, (k1 - 1, h, w), "weights", 3)
    dst = output(out, x.shape, np.float32, xp, who)
    if dst is not x:
        dst[...] = x
    inv_s, st = np.float32(1.0 / s), np.float32(step)
    if xp is np:
        _backproject_twin(dst, r, f, wts, inv_s, st, *_columns(ww, w, inv_s))
    else:
        i32 = _cuda.i32
        _cuda.kernel("vsr", "vsr_backproject")(
            _cuda.grid(ww, hh), _cuda.BLOCK, (dst, r, f, wts, i32(k1 - 1), i32(h), i32(w), i32(hh), i32(ww), inv_s, st))
    return dst


def _flows(flows, xp, k: int, h: int, w: int, who: str):
    if flows is None and k == 0:
        return xp.zeros((0, h, w, 2), np.float32)
    if not isinstance(flows, xp.ndarray) or tuple(flows.shape) != (k, h, w, 2):
        raise ConfigError(f"{who}: flows must be a {xp.__name__} array of shape {(k, h, w, 2)} "
                          f"(got {type(flows).__name__} {tuple(getattr(flows, 'shape', ()))})")
    return xp.ascontiguousarray(flows, dtype=xp.float32)


__all__ = ["SCALES", "degradation_taps", "sample_offset", "vsr_backproject", "vsr_blur", "vsr_residual",
           "vsr_weights"]
