"""``yuvrgb``: YUV 4:2:0 (planar or NV12/P010, 8 to 16 bit) <-> planar float32 RGB in [0, 1].

Conventions (the same in the CUDA kernels of ``native/yuvrgb.cu`` and in the numba twins):

- matrix: one of :data:`KR_KB` (the families of :mod:`vproc.colorspace`), given as (Kr, Kb):
  ``Y' = Kr R + (1 - Kr - Kb) G + Kb B``, ``Cb = (B - Y') / (2 (1 - Kb))``, ``Cr = (R - Y') / (2 (1 - Kr))``;
- range, for ``bits`` of depth and ``s = 2**(bits - 8)``: limited maps Y' to 16s..235s and Cb, Cr
  to 16s..240s (centre 128s); full maps Y' to 0..2**bits - 1 and Cb, Cr to
  ``128s + (2**bits - 1) * C`` (JPEG's convention, also FFmpeg's);
- chroma siting is ignored: YUV -> RGB upsamples chroma by nearest neighbour (each chroma sample
  covers its 2x2 luma block, as OpenCV's ``COLOR_YUV2RGB_I420`` does) and RGB -> YUV averages the
  RGB of the 2x2 block (a box filter; on odd right/bottom edges the block has 1 or 2 pixels);
- YUV -> RGB clips to [0, 1]; RGB -> YUV rounds half up and clips to the code range.

Planes follow :mod:`vproc.formats`: ``y`` is ``(H, W)``, ``u``/``v`` are ``(ceil(H/2), ceil(W/2))``,
NV12's interleaved chroma is ``(ceil(H/2), ceil(W/2), 2)``. ``uint8`` samples for 8 bits,
``uint16`` above; P010 keeps its 10 bits in the high bits of each sample (``msb_aligned=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..errors import ConfigError, did_you_mean
from . import _cuda
from ._common import F0, F1, HALF, array_module, output

#: (Kr, Kb) of each matrix family, as FFmpeg's libavutil/csp.c has them.
KR_KB = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
    "smpte240m": (0.212, 0.087),
    "fcc": (0.30, 0.11),
}


def _check_matrix(matrix: str, who: str) -> tuple[float, float]:
    try:
        return KR_KB[matrix]
    except KeyError:
        raise ConfigError(f"{who}: unknown matrix '{matrix}'{did_you_mean(matrix, KR_KB)}; "
                          f"known: {', '.join(KR_KB)}") from None


def _depth(bits: int, msb_aligned: bool, who: str) -> tuple[type, int]:
    """The sample dtype and the right shift that brings samples to ``bits`` significant bits."""
    if not 8 <= bits <= 16:
        raise ConfigError(f"{who}: bits must be within 8..16 (got {bits})")
    dtype = np.uint8 if bits == 8 else np.uint16
    if msb_aligned and bits == 8:
        raise ConfigError(f"{who}: msb_aligned applies to 16-bit samples only (bits > 8)")
    return dtype, (16 - bits) if msb_aligned else 0


def _range(bits: int, full_range: bool) -> tuple[float, float, float, float, float]:
    """(yoff, ysize, coff, csize, maxv): code of black, code span of Y' 0..1, chroma centre,
    code span of Cb/Cr -0.5..0.5 and the largest code."""
    s = float(1 << (bits - 8))
    maxv = float((1 << bits) - 1)
    if full_range:
        return 0.0, maxv, 128.0 * s, maxv, maxv
    return 16.0 * s, 219.0 * s, 128.0 * s, 224.0 * s, maxv


def decode_coefficients(matrix: str, full_range: bool, bits: int) -> tuple[np.float32, ...]:
    """float32 (yoff, yscale, coff, cscale, rv, gu, gv, bu) used by both YUV -> RGB kernels:
    ``Y' = (Y - yoff) * yscale``, ``Cb = (U - coff) * cscale`` (Cr alike),
    ``R = Y' + rv Cr``, ``G = Y' - gu Cb - gv Cr``, ``B = Y' + bu Cb``."""
    kr, kb = _check_matrix(matrix, "yuv_to_rgb")
    kg = 1.0 - kr - kb
    yoff, ysize, coff, csize, _ = _range(bits, full_range)
    vals = (yoff, 1.0 / ysize, coff, 1.0 / csize,
            2.0 * (1.0 - kr), 2.0 * kb * (1.0 - kb) / kg, 2.0 * kr * (1.0 - kr) / kg, 2.0 * (1.0 - kb))
    return tuple(np.float32(v) for v in vals)


def encode_coefficients(matrix: str, full_range: bool, bits: int) -> tuple[np.float32, ...]:
    """float32 (yr, yg, yb, ur, ug, ub, vr, vg, vb, yoff, yscale, coff, cscale, maxv) used by
    both RGB -> YUV kernels: ``Y = (yr R + yg G + yb B) * yscale + yoff``, chroma alike."""
    kr, kb = _check_matrix(matrix, "rgb_to_yuv")
    kg = 1.0 - kr - kb
    yoff, ysize, coff, csize, maxv = _range(bits, full_range)
    cb, cr = 2.0 * (1.0 - kb), 2.0 * (1.0 - kr)
    vals = (kr, kg, kb, -kr / cb, -kg / cb, 0.5, 0.5, -kg / cr, -kb / cr, yoff, ysize, coff, csize, maxv)
    return tuple(np.float32(v) for v in vals)


@njit(cache=True, inline="always")
def _clip01(x):
    return min(max(x, F0), F1)


@njit(parallel=True, cache=True)
def _yuv_to_rgb_twin(y, u, v, out, shift, yoff, yscale, coff, cscale, rv, gu, gv, bu):
    h, w = y.shape
    cw = u.shape[1]
    pairs = w // 2
    for row in prange(h):
        cy = row >> 1
        yr, ur, vr = y[row], u[cy], v[cy]
        o0, o1, o2 = out[0, row], out[1, row], out[2, row]
        # One loop per output plane, two pixels per chroma sample: few enough arrays per loop for
        # LLVM to vectorize (3x faster than one loop writing all three planes). Every value is
        # the same float32 expression as in the CUDA kernel.
        for cx in range(pairs):
            t = rv * ((np.float32(vr[cx] >> shift) - coff) * cscale)
            o0[2 * cx] = _clip01((np.float32(yr[2 * cx] >> shift) - yoff) * yscale + t)
            o0[2 * cx + 1] = _clip01((np.float32(yr[2 * cx + 1] >> shift) - yoff) * yscale + t)
        for cx in range(pairs):
            a = gu * ((np.float32(ur[cx] >> shift) - coff) * cscale)
            b = gv * ((np.float32(vr[cx] >> shift) - coff) * cscale)
            o1[2 * cx] = _clip01((np.float32(yr[2 * cx] >> shift) - yoff) * yscale - a - b)
            o1[2 * cx + 1] = _clip01((np.float32(yr[2 * cx + 1] >> shift) - yoff) * yscale - a - b)
        for cx in range(pairs):
            t = bu * ((np.float32(ur[cx] >> shift) - coff) * cscale)
            o2[2 * cx] = _clip01((np.float32(yr[2 * cx] >> shift) - yoff) * yscale + t)
            o2[2 * cx + 1] = _clip01((np.float32(yr[2 * cx + 1] >> shift) - yoff) * yscale + t)
        if w & 1:  # odd width: the last chroma sample covers one column
            x = w - 1
            uf = (np.float32(ur[cw - 1] >> shift) - coff) * cscale
            vf = (np.float32(vr[cw - 1] >> shift) - coff) * cscale
            yf = (np.float32(yr[x] >> shift) - yoff) * yscale
            o0[x] = _clip01(yf + rv * vf)
            o1[x] = _clip01(yf - gu * uf - gv * vf)
            o2[x] = _clip01(yf + bu * uf)


@njit(cache=True, inline="always")
def _quantize(q, maxv, shift):
    q = min(max(q + HALF, F0), maxv)
    return np.int32(np.floor(q)) << shift


@njit(cache=True)
def _rgb_to_yuv_block(rgb, y, u, v, cy, cx, shift, yr, yg, yb, ur, ug, ub, vr, vg, vb,
                      yoff, yscale, coff, cscale, maxv):
    """One chroma sample and its (up to 4) luma samples, exactly as a CUDA thread does it."""
    h, w = y.shape
    sr = F0
    sg = F0
    sb = F0
    n = F0
    for row in range(2 * cy, min(2 * cy + 2, h)):
        for x in range(2 * cx, min(2 * cx + 2, w)):
            r = rgb[0, row, x]
            g = rgb[1, row, x]
            b = rgb[2, row, x]
            y[row, x] = _quantize((yr * r + yg * g + yb * b) * yscale + yoff, maxv, shift)
            sr += r
            sg += g
            sb += b
            n += F1
    r = sr / n
    g = sg / n
    b = sb / n
    u[cy, cx] = _quantize((ur * r + ug * g + ub * b) * cscale + coff, maxv, shift)
    v[cy, cx] = _quantize((vr * r + vg * g + vb * b) * cscale + coff, maxv, shift)


@njit(parallel=True, cache=True)
def _rgb_to_yuv_twin(rgb, y, u, v, shift, yr, yg, yb, ur, ug, ub, vr, vg, vb,
                     yoff, yscale, coff, cscale, maxv):
    h, w = y.shape
    ch, cw = u.shape
    full_rows, pairs = h // 2, w // 2
    four = np.float32(4)
    for cy in prange(ch):
        if cy < full_rows:
            # Whole 2x2 blocks, in loops simple enough to vectorize (see _yuv_to_rgb_twin); the
            # sums run in the CUDA kernel's order: (0,0), (0,1), (1,0), (1,1), from zero.
            for row in range(2 * cy, 2 * cy + 2):
                r_, g_, b_, yo = rgb[0, row], rgb[1, row], rgb[2, row], y[row]
                for cx in range(pairs):
                    yo[2 * cx] = _quantize((yr * r_[2 * cx] + yg * g_[2 * cx] + yb * b_[2 * cx]) * yscale + yoff,
                                           maxv, shift)
                    yo[2 * cx + 1] = _quantize((yr * r_[2 * cx + 1] + yg * g_[2 * cx + 1] + yb * b_[2 * cx + 1])
                                               * yscale + yoff, maxv, shift)
            r0, g0, b0 = rgb[0, 2 * cy], rgb[1, 2 * cy], rgb[2, 2 * cy]
            r1, g1, b1 = rgb[0, 2 * cy + 1], rgb[1, 2 * cy + 1], rgb[2, 2 * cy + 1]
            uo, vo = u[cy], v[cy]
            for cx in range(pairs):
                r = (F0 + r0[2 * cx] + r0[2 * cx + 1] + r1[2 * cx] + r1[2 * cx + 1]) / four
                g = (F0 + g0[2 * cx] + g0[2 * cx + 1] + g1[2 * cx] + g1[2 * cx + 1]) / four
                b = (F0 + b0[2 * cx] + b0[2 * cx + 1] + b1[2 * cx] + b1[2 * cx + 1]) / four
                uo[cx] = _quantize((ur * r + ug * g + ub * b) * cscale + coff, maxv, shift)
            for cx in range(pairs):
                r = (F0 + r0[2 * cx] + r0[2 * cx + 1] + r1[2 * cx] + r1[2 * cx + 1]) / four
                g = (F0 + g0[2 * cx] + g0[2 * cx + 1] + g1[2 * cx] + g1[2 * cx + 1]) / four
                b = (F0 + b0[2 * cx] + b0[2 * cx + 1] + b1[2 * cx] + b1[2 * cx + 1]) / four
                vo[cx] = _quantize((vr * r + vg * g + vb * b) * cscale + coff, maxv, shift)
            if pairs < cw:  # odd width: a 2x1 block at the right edge
                _rgb_to_yuv_block(rgb, y, u, v, cy, cw - 1, shift, yr, yg, yb, ur, ug, ub, vr, vg, vb,
                                  yoff, yscale, coff, cscale, maxv)
        else:  # odd height: the last chroma row covers one luma row
            for cx in range(cw):
                _rgb_to_yuv_block(rgb, y, u, v, cy, cx, shift, yr, yg, yb, ur, ug, ub, vr, vg, vb,
                                  yoff, yscale, coff, cscale, maxv)


def _chroma_shape(h: int, w: int) -> tuple[int, int]:
    return (h + 1) // 2, (w + 1) // 2


def yuv_to_rgb(y, u, v=None, *, matrix: str, full_range: bool, bits: int = 8, nv12: bool = False,
               msb_aligned: bool = False, out=None):
    """YUV 4:2:0 planes -> planar float32 RGB in [0, 1].

    Args:
        y: luma, ``(H, W)``, ``uint8`` when ``bits == 8`` else ``uint16``.
        u: Cb plane ``(ceil(H/2), ceil(W/2))``; with ``nv12=True`` the interleaved CbCr plane
           ``(ceil(H/2), ceil(W/2), 2)`` (NV12, or P010 with ``msb_aligned=True``).
        v: Cr plane like ``u``, or None with ``nv12=True``.
        matrix: bt601, bt709, bt2020, smpte240m or fcc (see :func:`vproc.colorspace.matrix_of`).
        full_range: full ("pc") rather than limited ("tv") range.
        bits: significant bits per sample, 8..16.
        msb_aligned: samples keep their ``bits`` in the high bits of 16 (P010, P016).
        out: optional float32 ``(3, H, W)`` output on the same device.

    Returns:
        float32 ``(3, H, W)`` RGB (numpy or CuPy, like the input).
    """
    who = "yuv_to_rgb"
    xp = array_module(y, who)
    dtype, shift = _depth(bits, msb_aligned, who)
    if y.ndim != 2 or 0 in y.shape:
        raise ConfigError(f"{who}: y must be a non-empty (H, W) array (got shape {tuple(y.shape)})")
    h, w = y.shape
    cshape = _chroma_shape(h, w)
    planes = (y, u) if nv12 else (y, u, v)
    if nv12 and v is not None:
        raise ConfigError(f"{who}: NV12 has one interleaved chroma plane; pass v=None")
    if not nv12 and v is None:
        raise ConfigError(f"{who}: planar 4:2:0 needs both u and v (or nv12=True)")
    want = cshape + (2,) if nv12 else cshape
    for name, p in zip(("u", "v"), planes[1:]):
        if not isinstance(p, xp.ndarray) or tuple(p.shape) != want:
            raise ConfigError(f"{who}: {'uv' if nv12 else name} must be a {type(y).__name__} of shape {want} "
                              f"for a {w}x{h} image (got {type(p).__name__} {tuple(getattr(p, 'shape', ()))})")
    for p in planes:
        if p.dtype != dtype:
            raise ConfigError(f"{who}: {bits}-bit samples must be {np.dtype(dtype).name} (got {p.dtype})")
    rgb = output(out, (3, h, w), np.float32, xp, who)
    coefs = decode_coefficients(matrix, full_range, bits)
    if xp is np:
        if nv12:
            uu, vv = u[:, :, 0], u[:, :, 1]  # strided views: no copy
        else:
            uu, vv = u, v
        _yuv_to_rgb_twin(y, uu, vv, rgb, shift, *coefs)
        return rgb
    y = xp.ascontiguousarray(y)
    cu = xp.ascontiguousarray(u)
    cv = cu if nv12 else xp.ascontiguousarray(v)
    cw = cshape[1]
    cpitch, cstep, voff = (2 * cw, 2, 1) if nv12 else (cw, 1, 0)
    name = "yuv420_to_rgb_u8" if bits == 8 else "yuv420_to_rgb_u16"
    i32 = _cuda.i32
    _cuda.kernel("yuvrgb", name)(
        _cuda.grid(w, h), _cuda.BLOCK,
        (y, cu, cv, i32(cpitch), i32(cstep), i32(voff), rgb, i32(h), i32(w), i32(shift), *coefs))
    return rgb


def rgb_to_yuv(rgb, *, matrix: str, full_range: bool, bits: int = 8, nv12: bool = False,
               msb_aligned: bool = False, out=None):
    """Planar float RGB in [0, 1] -> YUV 4:2:0 planes.

    Args:
        rgb: ``(3, H, W)`` float (converted to float32); values outside [0, 1] end up clipped.
        matrix, full_range, bits, msb_aligned: as in :func:`yuv_to_rgb`.
        nv12: return the chroma as one interleaved ``(ceil(H/2), ceil(W/2), 2)`` plane.
        out: optional output planes on the same device, ``(y, u, v)`` or ``(y, uv)`` as returned.

    Returns:
        ``(y, u, v)``, or ``(y, uv)`` with ``nv12=True``: ``uint8`` for 8 bits, else ``uint16``;
        ``y`` is ``(H, W)`` and chroma ``(ceil(H/2), ceil(W/2))``. Chroma is the matrix applied to
        the mean RGB of each 2x2 block; every sample is rounded to the nearest code.
    """
    who = "rgb_to_yuv"
    xp = array_module(rgb, who)
    dtype, shift = _depth(bits, msb_aligned, who)
    if rgb.ndim != 3 or rgb.shape[0] != 3 or 0 in rgb.shape:
        raise ConfigError(f"{who}: rgb must be a non-empty (3, H, W) array (got shape {tuple(rgb.shape)})")
    rgb = xp.ascontiguousarray(rgb, dtype=xp.float32)
    _, h, w = rgb.shape
    ch, cw = _chroma_shape(h, w)
    coefs = encode_coefficients(matrix, full_range, bits)
    shapes = ((h, w), (ch, cw, 2)) if nv12 else ((h, w), (ch, cw), (ch, cw))
    if out is not None and len(out) != len(shapes):
        raise ConfigError(f"{who}: out must hold {len(shapes)} planes (got {len(out)})")
    planes = [output(None if out is None else o, shape, dtype, xp, who) for o, shape in zip(out or (None,) * len(shapes), shapes)]
    y = planes[0]
    if nv12:
        uv = planes[1]
        u, v = uv[:, :, 0], uv[:, :, 1]
    else:
        u, v = planes[1], planes[2]
    if xp is np:
        _rgb_to_yuv_twin(rgb, y, u, v, shift, *coefs)
    else:
        cu, cv = (uv, uv) if nv12 else (u, v)
        cpitch, cstep, voff = (2 * cw, 2, 1) if nv12 else (cw, 1, 0)
        name = "rgb_to_yuv420_u8" if bits == 8 else "rgb_to_yuv420_u16"
        i32 = _cuda.i32
        _cuda.kernel("yuvrgb", name)(
            _cuda.grid(cw, ch), _cuda.BLOCK,
            (rgb, y, cu, cv, i32(cpitch), i32(cstep), i32(voff), i32(h), i32(w), i32(shift), *coefs))
    return (y, uv) if nv12 else (y, u, v)


__all__ = ["KR_KB", "yuv_to_rgb", "rgb_to_yuv", "decode_coefficients", "encode_coefficients"]
