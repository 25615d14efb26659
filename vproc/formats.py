"""Pixel formats vproc moves between nodes, and how their pixels are laid out in a Frame.

Names are FFmpeg's ``pix_fmt`` names, so a frame can go to the decoder, swscale or the encoder
without renaming; ``rgbpf32`` is vproc's own working format for networks and kernels (planar
float RGB in [0, 1], shape ``(3, H, W)``). It is handed to FFmpeg as 16-bit RGB (see
:attr:`PixelFormat.transport`): exact to 1/65535, where swscale's float paths are not.

Layout of ``Frame.data``:

- one-plane formats are one array: ``(H, W)`` for grey, ``(H, W, 3)`` for packed RGB;
- several planes are a tuple with one array per plane, ``(h, w)`` or ``(h, w, 2)`` for NV12's
  interleaved chroma, each plane at its own (subsampled) size, as the decoder gives them;
- planar formats whose planes share one size (``yuv444p``, ``gbrp``, ``rgbpf32``) may also be one
  ``(C, H, W)`` array.

``Frame.planes`` always gives the tuple, so nodes need not care which of the two they got.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class PlaneSpec:
    """One plane: interleaved channels and log2 of the horizontal/vertical subsampling."""

    channels: int = 1
    shift_x: int = 0
    shift_y: int = 0


@dataclass(frozen=True)
class PixelFormat:
    """What a pixel format means to vproc: colour family, sample type, bit depth and planes."""

    name: str
    family: str  # "yuv", "rgb" or "gray"
    dtype: np.dtype
    bits: int
    planes: tuple[PlaneSpec, ...]

    @property
    def is_float(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def subsampled(self) -> bool:
        return any(p.shift_x or p.shift_y for p in self.planes)

    @property
    def max_value(self) -> float:
        """The value of full white: 1.0 for float formats, ``2**bits - 1`` otherwise."""
        return 1.0 if self.is_float else float((1 << self.bits) - 1)

    @property
    def transport(self) -> str:
        """The FFmpeg pix_fmt frames of this format are handed to FFmpeg/swscale in."""
        return "rgb48le" if self.is_float else self.name

    def plane_shapes(self, width: int, height: int) -> tuple[tuple[int, ...], ...]:
        """The numpy shape of every plane of a ``width`` x ``height`` image."""
        shapes = []
        for p in self.planes:
            w = -(-width >> p.shift_x)  # ceil division, as FFmpeg's AV_CEIL_RSHIFT
            h = -(-height >> p.shift_y)
            shapes.append((h, w) if p.channels == 1 else (h, w, p.channels))
        return tuple(shapes)

    def frame_bytes(self, width: int, height: int) -> int:
        return sum(int(np.prod(s)) for s in self.plane_shapes(width, height)) * self.dtype.itemsize

    def allocate(self, width: int, height: int) -> tuple[np.ndarray, ...]:
        """Uninitialised planes for an image of this format."""
        return tuple(np.empty(s, self.dtype) for s in self.plane_shapes(width, height))


def _fmt(name, family, dtype, bits, planes):
    return PixelFormat(name, family, np.dtype(dtype), bits, tuple(planes))


_Y, _C2, _C1 = PlaneSpec(), PlaneSpec(1, 1, 1), PlaneSpec(1, 1, 0)

FORMATS: dict[str, PixelFormat] = {
    f.name: f
    for f in [
        _fmt("gray", "gray", np.uint8, 8, [_Y]),
        _fmt("gray10le", "gray", np.uint16, 10, [_Y]),
        _fmt("gray12le", "gray", np.uint16, 12, [_Y]),
        _fmt("gray16le", "gray", np.uint16, 16, [_Y]),
        _fmt("yuv420p", "yuv", np.uint8, 8, [_Y, _C2, _C2]),
        _fmt("yuv422p", "yuv", np.uint8, 8, [_Y, _C1, _C1]),
        _fmt("yuv444p", "yuv", np.uint8, 8, [_Y, _Y, _Y]),
        _fmt("yuv420p10le", "yuv", np.uint16, 10, [_Y, _C2, _C2]),
        _fmt("yuv422p10le", "yuv", np.uint16, 10, [_Y, _C1, _C1]),
        _fmt("yuv444p10le", "yuv", np.uint16, 10, [_Y, _Y, _Y]),
        _fmt("yuv420p12le", "yuv", np.uint16, 12, [_Y, _C2, _C2]),
        _fmt("yuv422p12le", "yuv", np.uint16, 12, [_Y, _C1, _C1]),
        _fmt("yuv444p12le", "yuv", np.uint16, 12, [_Y, _Y, _Y]),
        _fmt("yuv420p16le", "yuv", np.uint16, 16, [_Y, _C2, _C2]),
        _fmt("yuv422p16le", "yuv", np.uint16, 16, [_Y, _C1, _C1]),
        _fmt("yuv444p16le", "yuv", np.uint16, 16, [_Y, _Y, _Y]),
        _fmt("nv12", "yuv", np.uint8, 8, [_Y, PlaneSpec(2, 1, 1)]),
        # P010 keeps its 10 significant bits in the high bits of each 16-bit sample.
        _fmt("p010le", "yuv", np.uint16, 10, [_Y, PlaneSpec(2, 1, 1)]),
        _fmt("rgb24", "rgb", np.uint8, 8, [PlaneSpec(3)]),
        _fmt("bgr24", "rgb", np.uint8, 8, [PlaneSpec(3)]),
        _fmt("rgb48le", "rgb", np.uint16, 16, [PlaneSpec(3)]),
        _fmt("gbrp", "rgb", np.uint8, 8, [_Y, _Y, _Y]),
        _fmt("rgbpf32", "rgb", np.float32, 32, [_Y, _Y, _Y]),
    ]
}

# Decoder formats that are another format with a different range flag or name.
ALIASES = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p"}


def get_format(name: str) -> PixelFormat:
    """Look a format up by name; an unknown name is a :class:`ConfigError` with a suggestion."""
    try:
        return FORMATS[ALIASES.get(name, name)]
    except KeyError:
        raise ConfigError(
            f"unknown pixel format '{name}'{did_you_mean(name, FORMATS)}; "
            f"known: {', '.join(FORMATS)}"
        ) from None


#: The formats whose every plane holds one sample per pixel (no packed RGB, no NV12-style
#: interleaved chroma): what the per-plane nodes (denoise, vsr) take.
PLANAR: tuple[str, ...] = tuple(n for n, f in FORMATS.items() if all(p.channels == 1 for p in f.planes))


def require_planar(name: str, who: str) -> PixelFormat:
    """The format ``name`` if every plane holds one sample per pixel (uint8, uint16 or float32),
    as the per-plane temporal nodes need; else a :class:`ConfigError` naming ``who`` and the fix.

    In a graph this never fires: the runtime inserts the conversion (format negotiation, see
    :mod:`vproc.runtime`); it guards nodes opened by hand."""
    fmt = get_format(name)
    if any(p.channels != 1 for p in fmt.planes):
        raise ConfigError(f"{who} works on planar formats, not {name} (in a graph a convert to "
                          f"{nearest_format(name, PLANAR)} is inserted by itself; opened by hand, convert first)")
    if fmt.dtype not in (np.uint8, np.uint16, np.float32):
        raise ConfigError(f"{who}: unsupported sample type {fmt.dtype} of {name}")
    return fmt


def fallback_format(av_name: str) -> str:
    """The supported format a decoder's unsupported ``av_name`` is converted to: the one of the
    same colour family FFmpeg would convert it to (:func:`nearest_format`), so depth and chroma
    are kept where vproc can (yuv440p -> yuv444p, yuv420p12le -> yuv420p10le, bgr0 -> rgb24,
    gbrp16le -> rgb48le, gbrpf32le -> rgbpf32, yuyv422 -> yuv422p); a name FFmpeg does not
    describe by its prefix (rgb*/bgr*/gbr* -> RGB, gray*/ya* -> grey, else YUV)."""
    desc = _descriptor(av_name)
    if desc is not None:
        family = {"yuvj": "yuv", "xyz": "rgb"}.get(desc.color, desc.color)
        same = [n for n, f in FORMATS.items() if f.family == family]
        if desc.color == "xyz":  # XYZ is neither: any format, as FFmpeg would
            same = list(FORMATS)
        return nearest_format(av_name, same)
    deep = any(tag in av_name for tag in ("10", "12", "14", "16"))
    if av_name.startswith(("rgb", "bgr", "argb", "abgr", "gbr", "pal", "0rgb", "0bgr")):
        return "rgb48le" if deep else "rgb24"
    if av_name.startswith(("gray", "ya")):
        return "gray16le" if deep else "gray"
    return "yuv444p10le" if deep else "yuv420p"


# -- choosing the nearest format: FFmpeg's own loss function --------------------------------------
#
# FFmpeg picks the format a filter or an encoder gets from the ones it takes with libavutil's
# av_find_best_pix_fmt_of_2() folded over the list (libavfilter's pick_format): every candidate
# is scored by what it loses against the source (depth, chroma resolution, colour space, chroma
# itself), ties going to the fewer bits per pixel. The same function, written out here from
# libavutil/pixdesc.c (get_pix_fmt_score) over PyAV's pixel format descriptors, chooses the
# conversion the runtime inserts in front of a node and the encoder's default pixel format, so
# both are what the ffmpeg CLI would choose.

_INT_MAX = 2**31 - 1
_AV_NAME = {"rgbpf32": "gbrpf32le"}  # vproc's own float RGB is FFmpeg's planar float RGB


@dataclass(frozen=True)
class _Desc:
    color: str  # "rgb", "gray", "yuv", "yuvj", "xyz"
    depths: tuple[int, ...]
    log2_chroma_w: int
    log2_chroma_h: int
    padded_bpp: int
    pal: bool


@functools.lru_cache(maxsize=None)
def _descriptor(name: str) -> _Desc | None:
    """What FFmpeg's pixel format descriptor says of ``name`` (None: unknown, hwaccel, empty)."""
    import av

    try:
        f = av.VideoFormat(_AV_NAME.get(name, name), 64, 64)
    except (ValueError, TypeError):
        return None
    comps = f.components
    if not comps:
        return None  # hardware formats (cuda, vaapi, ...): never chosen for software frames
    n = len(comps)
    if f.has_palette:
        color = "rgb"
    elif n in (1, 2):
        color = "gray"
    elif f.name.startswith("yuvj"):
        color = "yuvj"
    elif f.is_rgb:
        color = "rgb"
    elif f.name.startswith("xyz"):
        color = "xyz"
    else:
        color = "yuv"
    cw = comps[1].width if n >= 3 and color != "rgb" else 64
    ch = comps[1].height if n >= 3 and color != "rgb" else 64
    return _Desc(color, tuple(c.bits for c in comps), (64 // cw).bit_length() - 1,
                 (64 // ch).bit_length() - 1, f.padded_bits_per_pixel, bool(f.has_palette))


def _score(dst: str, src: str) -> int:
    """libavutil's get_pix_fmt_score(dst, src) with alpha left out (vproc's frames have none)."""
    if dst == src:
        return _INT_MAX
    d, s = _descriptor(dst), _descriptor(src)
    if d is None or s is None:
        return -3
    score = _INT_MAX - 1
    pal8 = dst == "pal8"
    n = min(len(s.depths), 4) if pal8 else min(len(s.depths), len(d.depths))
    for i in range(n):
        depth_minus1 = 7 // n if pal8 else d.depths[i] - 1
        if s.depths[i] - 1 > depth_minus1:
            score -= 65536 >> depth_minus1
    if d.log2_chroma_w > s.log2_chroma_w:
        score -= 256 << d.log2_chroma_w
    if d.log2_chroma_h > s.log2_chroma_h:
        score -= 256 << d.log2_chroma_h
    if (d.log2_chroma_w, d.log2_chroma_h, s.log2_chroma_w, s.log2_chroma_h) == (1, 1, 0, 0):
        score += 512  # FFmpeg: 4:2:0 rather than 4:2:2 when downsampling anyway (decoder support)
    if d.color == "rgb":
        lost = s.color not in ("rgb", "gray")
    elif d.color == "gray":
        lost = s.color != "gray"
    elif d.color == "yuv":
        lost = s.color != "yuv"
    elif d.color == "yuvj":
        lost = s.color not in ("yuvj", "yuv", "gray")
    else:
        lost = s.color != d.color
    if lost:
        score -= (n * 65536) >> min(d.depths[0] - 1, s.depths[0] - 1)
    if d.color == "gray" and s.color != "gray":
        score -= 2 * 65536
    if pal8 and src != "pal8" and s.color != "gray":
        score -= 65536
    return score


def nearest_format(src: str, candidates) -> str:
    """The format of ``candidates`` (FFmpeg names, or vproc's ``rgbpf32``) that FFmpeg would
    convert ``src`` to: ``src`` itself when it is one, else the one losing least (see above).
    A :class:`ConfigError` if no candidate is a software pixel format."""
    best = None
    for cand in candidates:
        d1, d2 = (_descriptor(best) if best is not None else None), _descriptor(cand)
        if d1 is None:  # av_find_best_pix_fmt_of_2 with no first format: the second
            best = cand
            continue
        if d2 is None:
            continue
        s1, s2 = _score(best, src), _score(cand, src)
        if s1 == s2:  # the fewer bits per pixel, then the fewer components
            if d2.padded_bpp != d1.padded_bpp:
                best = cand if d2.padded_bpp < d1.padded_bpp else best
            elif len(d2.depths) < len(d1.depths):
                best = cand
        elif s2 > s1:
            best = cand
    if best is None or _score(best, src) < 0:
        raise ConfigError(f"no pixel format to convert {src} to among {', '.join(candidates) or 'none'}")
    return best
