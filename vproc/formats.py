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
        _fmt("gray16le", "gray", np.uint16, 16, [_Y]),
        _fmt("yuv420p", "yuv", np.uint8, 8, [_Y, _C2, _C2]),
        _fmt("yuv422p", "yuv", np.uint8, 8, [_Y, _C1, _C1]),
        _fmt("yuv444p", "yuv", np.uint8, 8, [_Y, _Y, _Y]),
        _fmt("yuv420p10le", "yuv", np.uint16, 10, [_Y, _C2, _C2]),
        _fmt("yuv422p10le", "yuv", np.uint16, 10, [_Y, _C1, _C1]),
        _fmt("yuv444p10le", "yuv", np.uint16, 10, [_Y, _Y, _Y]),
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


def require_planar(name: str, who: str) -> PixelFormat:
    """The format ``name`` if every plane holds one sample per pixel (uint8, uint16 or float32),
    as the per-plane temporal nodes need; else a :class:`ConfigError` naming ``who`` and the fix."""
    fmt = get_format(name)
    if any(p.channels != 1 for p in fmt.planes):
        raise ConfigError(f"{who} works on planar formats, not {name}: put a convert node "
                          f"with e.g. format: yuv420p before it")
    if fmt.dtype not in (np.uint8, np.uint16, np.float32):
        raise ConfigError(f"{who}: unsupported sample type {fmt.dtype} of {name}")
    return fmt


def fallback_format(av_name: str) -> str:
    """The supported format a decoder's unsupported ``av_name`` is converted to, keeping depth."""
    deep = any(tag in av_name for tag in ("10", "12", "14", "16"))
    if av_name.startswith(("rgb", "bgr", "argb", "abgr", "gbr", "pal", "0rgb", "0bgr")):
        return "rgb48le" if deep else "rgb24"
    if av_name.startswith(("gray", "ya")):
        return "gray16le" if deep else "gray"
    return "yuv444p10le" if deep else "yuv420p"
