"""``resample``: bilinear and bicubic resizing of float32 images, pixel-centre aligned like OpenCV.

The mapping, weights and borders are those of ``cv2.resize`` with ``INTER_LINEAR`` /
``INTER_CUBIC`` (Keys cubic with a = -0.75) in OpenCV's own (non-IPP) code: output pixel ``d``
samples source coordinate ``(d + 0.5) * in / out - 0.5``, taps outside the image replicate the
border, and (an OpenCV detail kept for bit-exactness) a bilinear sample left of the first or right
of the last column takes that column with weight 1. Rows are resampled first, then columns.

The tables (tap positions and float32 weights) are built here in numpy, once per size pair, and
used by both the numba twin and the CUDA kernel (``native/resample.cu``), so the two compute the
same sums in the same order. Each output value is ``sum_k wy[k] * (sum_j wx[j] * src[row_k, col_j])``
accumulated from zero in tap order.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ..errors import ConfigError
from . import _cuda
from ._common import F0, output, planar_f32

METHODS = ("bilinear", "bicubic")

_A = np.float32(-0.75)  # OpenCV's bicubic parameter (Keys' a)
U1, U2, U3 = np.uint64(1), np.uint64(2), np.uint64(3)


def _cubic_weights(fx: np.ndarray) -> np.ndarray:
    """OpenCV's ``interpolateCubic`` in float32, operation for operation (so the bits match)."""
    one, a = np.float32(1), _A
    x1 = fx + one
    c0 = ((a * x1 - np.float32(5) * a) * x1 + np.float32(8) * a) * x1 - np.float32(4) * a
    c1 = ((a + np.float32(2)) * fx - (a + np.float32(3))) * fx * fx + one
    rx = one - fx
    c2 = ((a + np.float32(2)) * rx - (a + np.float32(3))) * rx * rx + one
    c3 = one - c0 - c1 - c2
    return np.stack([c0, c1, c2, c3], axis=1)  # (n, 4)


@functools.lru_cache(maxsize=64)
def tables(n_in: int, n_out: int, method: str, snap_edges: bool) -> tuple[np.ndarray, np.ndarray]:
    """Tap indices ``(taps, n_out)`` int32 (clamped into the image) and weights float32.

    ``snap_edges`` applies OpenCV's horizontal rule for linear taps beyond the first/last pixel
    (OpenCV does it for columns, not for rows). Tap-major layout: row ``j`` holds tap ``j`` of
    every output position. The arrays are read-only: they are cached.
    """
    first, weights = _first_taps(n_in, n_out, method, snap_edges)
    taps = weights.shape[0]
    idx = np.clip(first[None, :] + np.arange(taps)[:, None], 0, n_in - 1).astype(np.int32)
    idx.flags.writeable = False
    return idx, weights


@functools.lru_cache(maxsize=64)
def _first_taps(n_in: int, n_out: int, method: str, snap_edges: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unclamped index of the first tap (int64, ``(n_out,)``) and weights ``(taps, n_out)``."""
    scale = 1.0 / (n_out / n_in)  # as OpenCV: scale = 1 / inv_scale, inv_scale = out / in (doubles)
    f = ((np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f)
    f = (f - s).astype(np.float32)
    s = s.astype(np.int64)
    if method == "bilinear":
        if snap_edges:
            low, high = s < 0, s >= n_in - 1
            f[low | high] = 0
            s[low], s[high] = 0, n_in - 1
        weights = np.stack([np.float32(1) - f, f])
        first = s
    else:
        weights = _cubic_weights(f).T
        first = s - 1
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    first.flags.writeable = weights.flags.writeable = False
    return first, weights


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class _Plan(NamedTuple):
    """What the twin needs for one (in, out) size pair along x (see :func:`_x_plan`)."""

    phases: int  # P > 0: out = P * in, columns computed by phase; 0: column by column
    first: np.ndarray  # (OW,) first tap in the padded row (generic), or (P,) per phase
    weights: np.ndarray  # (taps, OW) or (taps, P)
    pad_left: int
    pad_right: int
    fix: np.ndarray  # columns the phase formula does not cover (OpenCV's snapped edges)
    xidx: np.ndarray  # (taps, OW) clamped indices (for `fix`)
    wx: np.ndarray  # (taps, OW) weights (for `fix`)
    # Rows are phase-major when p > 1 (the integer plan: p = phases; the rational plan):
    p: int = 1  # P: output column m*P + p is entry starts[p] + m of a resampled row
    starts: np.ndarray = _frozen(np.array([0, 0], np.int64))  # (P + 1,) where each phase starts
    # Rational plan (phases == 0, q > 0; see :func:`_runs_plan`):
    q: int = 0  # Q: the padded source row is split into Q interleaved sub-rows
    runs: np.ndarray = _frozen(np.zeros((0, 2), np.int64))  # (n, 2 + taps): start, length, then
    # per tap the index in the sub-rows of the run's first sample
    wpm: np.ndarray = _frozen(np.zeros((0, 0), np.float32))  # (taps, OW) weights, phase-major
    nsub: int = 0  # length of one sub-row


@functools.lru_cache(maxsize=64)
def _x_plan(w: int, out_w: int, method: str) -> _Plan:
    """How the twin resamples rows of width ``w`` to ``out_w``.

    Integer upscales (the common x2, x3, x4) have periodic tables: output column ``m*P + p`` uses
    the taps of column ``p`` shifted by ``m`` source pixels. Computing one phase at a time turns the
    per-column gathers into contiguous, vectorizable loops over ``m`` (x2 at 1080p: twice as fast);
    the few columns that break the period (OpenCV's snapped linear edges) are recomputed one by
    one. Every column still gets the same weights, taps and order of additions as in the tables.
    """
    first, weights = _first_taps(w, out_w, method, True)
    xidx, wx = tables(w, out_w, method, True)
    taps = weights.shape[0]
    phases = out_w // w if out_w % w == 0 and 2 <= out_w // w <= 8 else 0
    if phases:
        cols = np.arange(out_w)
        m, p = cols // phases, cols % phases
        ref = (w // 2) * phases + np.arange(phases)  # a column far from both edges, per phase
        base = first[ref] - w // 2
        pw = np.ascontiguousarray(weights[:, ref])
        pw.flags.writeable = False  # like `weights`: one numba signature for both plans
        ok = (first == base[p] + m) & (weights == pw[:, p]).all(axis=0)
        fix = np.flatnonzero(~ok)
        if fix.size <= 4 * taps:  # else it is not worth it: go column by column
            pad_left = int(max(0, -base.min()))
            pad_right = int(max(0, base.max() + w - 1 + taps - w))
            starts = np.arange(phases + 1, dtype=np.int64) * w
            starts.flags.writeable = False
            return _Plan(phases, (base + pad_left).astype(np.int64), pw, pad_left, pad_right,
                         fix.astype(np.int64), xidx, wx, p=phases, starts=starts)
    pad_left = int(max(0, -first.min()))
    pad_right = int(max(0, first.max() + taps - w))
    generic = _Plan(0, (first + pad_left).astype(np.int64), weights, pad_left, pad_right,
                    np.zeros(0, np.int64), xidx, wx)
    return _runs_plan(generic, w, out_w) or generic


def _runs_plan(plan: _Plan, w: int, out_w: int) -> _Plan | None:
    """The rational plan for other ratios (downscales above all), or None where it does not pay.

    Column by column, the taps are gathered (``pad[first[dx] + j]``), which LLVM cannot vectorize:
    a scalar loop of ~4 cycles per column, 80% of a 1080p -> 720p bicubic resize. With out/in close
    to a small fraction P/Q, the first tap of column ``m*P + p`` is ``Q*m + off``, ``off`` constant
    over long runs of ``m`` (exactly constant for an exact ratio such as 1920 -> 1280; a few runs
    otherwise, e.g. 1280 -> 853). After splitting the padded source row into Q sub-rows
    (``sub[r][i] = pad[Q*i + r]``), each run of each phase is a contiguous, vectorizable loop:
    ``t[m] = 0 + w0[m] * sub[r0][i0 + m] + ... `` with the columns' own weights (in phase-major
    order), so every value keeps its taps, weights and order of additions.
    """
    frac = Fraction(out_w, w).limit_denominator(8)
    q, p = frac.denominator, frac.numerator
    if not 1 <= p <= 8 or w < 2 * q:
        return None
    taps = plan.weights.shape[0]
    first = plan.first  # into the padded row, >= 0
    nsub = -(-(int(first.max()) + taps) // q)
    counts = [len(range(ph, out_w, p)) for ph in range(p)]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    runs = []
    for ph in range(p):
        m = np.arange(counts[ph])
        pos = first[m * p + ph]
        off = pos - q * m
        cuts = np.flatnonzero(np.diff(off)) + 1
        for a, b in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(m)]])):
            p0 = pos[a] + np.arange(taps)  # padded position of each tap of the run's first column
            runs.append([starts[ph] + a, b - a, *((p0 % q) * nsub + p0 // q)])
    if len(runs) * 32 > out_w:  # short runs: not worth it
        return None
    order = np.concatenate([np.arange(ph, out_w, p) for ph in range(p)])
    wpm = np.ascontiguousarray(plan.weights[:, order])
    runs = np.array(runs, np.int64).reshape(-1, 2 + taps)
    for a in (starts, runs, wpm):
        a.flags.writeable = False
    return plan._replace(q=q, p=p, starts=starts, runs=runs, wpm=wpm, nsub=nsub)


@njit(cache=True)
def _hrow_runs(s, t, sub, q, pl, nsub, runs, wpm):
    """Resample source row ``s`` along x into ``t`` (phase-major) by the rational plan."""
    w = s.shape[0]
    # sub-row r: sub[r * nsub + i] = padded[q * i + r] (border replicated); the clamp only near
    # the ends, and constant strides for q = 2 and 3 (interleaved loads that LLVM vectorizes)
    lo = min(-(-pl // q), nsub)
    hi = max(min((w - q + pl) // q + 1, nsub), lo)
    for r in range(q):
        for i in range(lo):
            sub[r * nsub + i] = s[min(max(q * i + r - pl, 0), w - 1)]
        for i in range(hi, nsub):
            sub[r * nsub + i] = s[min(max(q * i + r - pl, 0), w - 1)]
    src = s[q * lo - pl:]
    n = hi - lo
    if q == 3:
        u0, u1, u2 = sub[lo:lo + n], sub[nsub + lo:nsub + lo + n], sub[2 * nsub + lo:2 * nsub + lo + n]
        for i in range(n):
            u0[i] = src[3 * i]
            u1[i] = src[3 * i + 1]
            u2[i] = src[3 * i + 2]
    elif q == 2:
        u0, u1 = sub[lo:lo + n], sub[nsub + lo:nsub + lo + n]
        for i in range(n):
            u0[i] = src[2 * i]
            u1[i] = src[2 * i + 1]
    else:
        for r in range(q):
            u = sub[r * nsub + lo:r * nsub + lo + n]
            for i in range(n):
                u[i] = src[q * i + r]
    taps = wpm.shape[0]
    for k in range(runs.shape[0]):
        a = runs[k, 0]
        n = runs[k, 1]
        d = t[a:a + n]
        if taps == 4:
            w0, w1, w2, w3 = wpm[0, a:a + n], wpm[1, a:a + n], wpm[2, a:a + n], wpm[3, a:a + n]
            s0, s1 = sub[runs[k, 2]:runs[k, 2] + n], sub[runs[k, 3]:runs[k, 3] + n]
            s2, s3 = sub[runs[k, 4]:runs[k, 4] + n], sub[runs[k, 5]:runs[k, 5] + n]
            for m in range(n):
                d[m] = F0 + w0[m] * s0[m] + w1[m] * s1[m] + w2[m] * s2[m] + w3[m] * s3[m]
        elif taps == 2:
            w0, w1 = wpm[0, a:a + n], wpm[1, a:a + n]
            s0, s1 = sub[runs[k, 2]:runs[k, 2] + n], sub[runs[k, 3]:runs[k, 3] + n]
            for m in range(n):
                d[m] = F0 + w0[m] * s0[m] + w1[m] * s1[m]
        else:
            for m in range(n):
                d[m] = F0
            for j in range(taps):
                wj = wpm[j, a:a + n]
                sj = sub[runs[k, 2 + j]:runs[k, 2 + j] + n]
                for m in range(n):
                    d[m] += wj[m] * sj[m]


# Output rows per parallel task: each task keeps the few horizontally resampled source rows it
# needs in a small ring (in cache) instead of a whole-image temporary; rows shared by two tasks
# are computed twice (a few percent at this size).
_BAND = 64


@njit(cache=True)
def _hrow(s, t, pad, plan_phases, first, weights, pl, pr, fix, xidx, wx):
    """Resample source row ``s`` along x into ``t`` (phase-major when ``plan_phases``)."""
    w = s.shape[0]
    ow = t.shape[0]
    taps = weights.shape[0]
    for x in range(pl):
        pad[x] = s[0]
    for x in range(w):
        pad[pl + x] = s[x]
    for x in range(pr):
        pad[pl + w + x] = s[w - 1]
    if plan_phases:
        for p in range(plan_phases):
            tp = t[p * w:(p + 1) * w]
            for m in range(w):
                tp[m] = F0
            for j in range(taps):
                wj = weights[j, p]
                seg = pad[first[p] + j:first[p] + j + w]
                for m in range(w):
                    tp[m] += wj * seg[m]
        for i in range(fix.shape[0]):
            dx = fix[i]
            acc = F0
            for j in range(taps):
                acc += wx[j, dx] * s[xidx[j, dx]]
            t[(dx % plan_phases) * w + dx // plan_phases] = acc
    elif taps == 4:  # unrolled: a loop over a runtime tap count would not be
        w0, w1, w2, w3 = weights[0], weights[1], weights[2], weights[3]
        for dx in range(ow):
            x0 = np.uint64(first[dx])  # unsigned: no negative-index wraparound test per load
            t[dx] = F0 + w0[dx] * pad[x0] + w1[dx] * pad[x0 + U1] + w2[dx] * pad[x0 + U2] + w3[dx] * pad[x0 + U3]
    elif taps == 2:
        for dx in range(ow):
            x0 = np.uint64(first[dx])
            t[dx] = F0 + weights[0, dx] * pad[x0] + weights[1, dx] * pad[x0 + U1]
    else:
        for dx in range(ow):
            x0 = first[dx]
            acc = F0
            for j in range(taps):
                acc += weights[j, dx] * pad[x0 + j]
            t[dx] = acc


@njit(parallel=True, cache=True)
def _resize_twin(src, dst, phases, first, weights, pl, pr, fix, xidx, wx, yidx, wy, band,
                 q, p_out, starts, runs, wpm, nsub):
    c_n, h, w = src.shape
    _, oh, ow = dst.shape
    ky = wy.shape[0]
    nb = (oh + band - 1) // band
    slots = ky + 1  # the rows of one output row are consecutive: distinct modulo ky + 1
    for i in prange(c_n * nb):
        c = i // nb
        b0 = (i % nb) * band
        ring = np.empty((slots, ow), np.float32)
        held = np.full(slots, -1, np.int64)
        pad = np.empty(max(w + pl + pr, q * nsub), np.float32)
        acc = np.empty(ow, np.float32)
        for dy in range(b0, min(b0 + band, oh)):
            for k in range(ky):  # the horizontally resampled source rows of this output row
                sy = yidx[k, dy]
                if held[sy % slots] != sy:
                    held[sy % slots] = sy
                    if q:
                        _hrow_runs(src[c, sy], ring[sy % slots], pad, q, pl, nsub, runs, wpm)
                    else:
                        _hrow(src[c, sy], ring[sy % slots], pad, phases, first, weights, pl, pr, fix, xidx, wx)
            _vrow(dst[c, dy], acc, ring, slots, yidx, wy, dy, p_out, starts)


@njit(cache=True)
def _vrow(out, acc, ring, slots, yidx, wy, dy, p_out, starts):
    """Output row ``dy`` from the ring's resampled rows: ``sum_k wy[k] * row_k`` from zero, in order.

    Phase-major rows (``p_out > 1``) are put back into pixel order, for two phases in the same pass.
    """
    ow = out.shape[0]
    ky = wy.shape[0]
    d = acc if p_out > 1 else out
    if ky == 4 and p_out == 2:
        t0, t1 = ring[yidx[0, dy] % slots], ring[yidx[1, dy] % slots]
        t2, t3 = ring[yidx[2, dy] % slots], ring[yidx[3, dy] % slots]
        w0, w1, w2, w3 = wy[0, dy], wy[1, dy], wy[2, dy], wy[3, dy]
        n1 = ow // 2  # columns of phase 1; phase 0 has n0 = starts[1] = n1 or n1 + 1
        n0 = ow - n1
        # sliced first: with plain offsets (t0[n0 + m]) these loops do not vectorize (4x slower)
        a0, a1, a2, a3 = t0[:n1], t1[:n1], t2[:n1], t3[:n1]
        e0, e1, e2, e3 = t0[n0:ow], t1[n0:ow], t2[n0:ow], t3[n0:ow]
        for m in range(n1):
            out[2 * m] = F0 + w0 * a0[m] + w1 * a1[m] + w2 * a2[m] + w3 * a3[m]
            out[2 * m + 1] = F0 + w0 * e0[m] + w1 * e1[m] + w2 * e2[m] + w3 * e3[m]
        if n0 > n1:
            x = n0 - 1
            out[ow - 1] = F0 + w0 * t0[x] + w1 * t1[x] + w2 * t2[x] + w3 * t3[x]
        return
    if ky == 4:  # one pass, the same sums as the loop below
        t0, t1 = ring[yidx[0, dy] % slots], ring[yidx[1, dy] % slots]
        t2, t3 = ring[yidx[2, dy] % slots], ring[yidx[3, dy] % slots]
        w0, w1, w2, w3 = wy[0, dy], wy[1, dy], wy[2, dy], wy[3, dy]
        for x in range(ow):
            d[x] = F0 + w0 * t0[x] + w1 * t1[x] + w2 * t2[x] + w3 * t3[x]
    elif ky == 2:
        t0, t1 = ring[yidx[0, dy] % slots], ring[yidx[1, dy] % slots]
        w0, w1 = wy[0, dy], wy[1, dy]
        for x in range(ow):
            d[x] = F0 + w0 * t0[x] + w1 * t1[x]
    else:
        for x in range(ow):
            d[x] = F0
        for k in range(ky):
            t = ring[yidx[k, dy] % slots]
            wk = wy[k, dy]
            for x in range(ow):
                d[x] += wk * t[x]
    if p_out == 2:  # phase-major -> pixel order
        n1 = ow // 2
        n0 = ow - n1
        a0 = acc[:n1]
        e0 = acc[n0:ow]
        for m in range(n1):
            out[2 * m] = a0[m]
            out[2 * m + 1] = e0[m]
        if n0 > n1:
            out[ow - 1] = acc[n0 - 1]
    elif p_out > 2:
        for ph in range(p_out):
            a0 = acc[starts[ph]:starts[ph + 1]]
            for m in range(a0.shape[0]):
                out[m * p_out + ph] = a0[m]


def resize(img, out_h: int, out_w: int, method: str = "bicubic", *, out=None):
    """Resize a float32 image to ``out_h`` x ``out_w`` (bilinear or bicubic, like ``cv2.resize``).

    Args:
        img: ``(H, W)`` or ``(C, H, W)`` float array (converted to float32), numpy or CuPy.
        out_h, out_w: output size, >= 1.
        method: "bicubic" (OpenCV INTER_CUBIC, a = -0.75) or "bilinear" (INTER_LINEAR).
        out: optional float32 output of the result's shape on the same device.

    Returns:
        float32 ``(out_h, out_w)`` or ``(C, out_h, out_w)``, like the input. Bicubic can overshoot
        the input's range at sharp edges (it is not clipped).
    """
    who = "resize"
    if method not in METHODS:
        raise ConfigError(f"{who}: method must be one of {', '.join(METHODS)} (got {method!r})")
    if int(out_h) < 1 or int(out_w) < 1:
        raise ConfigError(f"{who}: output size must be positive (got {out_w}x{out_h})")
    out_h, out_w = int(out_h), int(out_w)
    src, xp, was_2d = planar_f32(img, who)
    c, h, w = src.shape
    shape = (out_h, out_w) if was_2d else (c, out_h, out_w)
    dst = output(out, shape, np.float32, xp, who)
    dst3 = dst[None] if was_2d else dst
    yidx, wy = tables(h, out_h, method, False)
    if xp is np:
        plan = _x_plan(w, out_w, method)
        _resize_twin(src, dst3, plan.phases, plan.first, plan.weights, plan.pad_left, plan.pad_right,
                     plan.fix, plan.xidx, plan.wx, yidx, wy, _BAND,
                     plan.q, plan.p, plan.starts, plan.runs, plan.wpm, plan.nsub)
        return dst
    xi, xw, yi, yw = _device_tables(w, h, out_w, out_h, method)
    i32 = _cuda.i32
    _cuda.kernel("resample", "resize_sep")(
        _cuda.grid(out_w, out_h, c), _cuda.BLOCK,
        (src, dst3, xi, xw, i32(xw.shape[0]), yi, yw, i32(yw.shape[0]), i32(h), i32(w), i32(out_h), i32(out_w)))
    return dst


_device_cache: dict = {}


def _device_tables(w: int, h: int, out_w: int, out_h: int, method: str):
    """The tables on the current GPU, uploaded once per size pair and device."""
    cp = _cuda.cupy()
    key = (w, h, out_w, out_h, method, cp.cuda.Device().id)
    found = _device_cache.get(key)
    if found is None:
        if len(_device_cache) > 32:
            _device_cache.clear()
        found = tuple(cp.asarray(a) for a in (*tables(w, out_w, method, True), *tables(h, out_h, method, False)))
        _device_cache[key] = found
    return found


__all__ = ["METHODS", "resize", "tables"]
