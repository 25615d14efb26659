"""``convert``: change pixel format and bit depth (e.g. yuv420p -> rgb24, 8 -> 10 bit, -> float).

What runs where:

- 4:2:0 YUV (``yuv420p``, ``yuv420p10le``, ``nv12``, ``p010le``) <-> vproc's float RGB
  ``rgbpf32``, either way, on ``cpu`` or ``cuda``: the kernel ops of :mod:`vproc.kernels.yuvrgb`
  with the stream's matrix family and range (:mod:`vproc.colorspace`): the CUDA kernels on CuPy
  frames, their numba twins (the same float32 arithmetic) on numpy frames. The twins are 4x (to
  RGB) to 15x (to YUV) faster than the swscale path on 2 cores, 480p to 1080p. They upsample
  chroma by nearest neighbour and downsample it by a 2x2 box, where swscale filters (see the op).
- every other conversion: swscale (PyAV's ``reformat``), ``cpu`` only; ``rgbpf32`` reaches it
  as 16-bit RGB, since swscale's float paths are not exact. On ``cuda`` such a conversion is a
  :class:`~vproc.errors.ConfigError` when the node opens.

Colour of the output: RGB and grey are full range; YUV made from RGB or grey is limited range;
YUV from YUV keeps the source's range. Between YUV and RGB the matrix used is written into
``color.matrix`` when the stream had none, so later nodes and the sink use the same one (the
default depends on the height, which a resize may change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import device as devices
from ..colorspace import TAG_FOR_MATRIX, full_range, matrix_of
from ..errors import ConfigError
from ..formats import FORMATS, get_format
from ..frame import ColorInfo, Frame, StreamInfo
from ..io.avframes import from_av, to_av
from ..node import Node
from ..registry import register

_SWS_MATRIX = {"bt709": "ITU709", "bt601": "ITU601", "smpte240m": "SMPTE240M", "bt2020": "BT2020", "fcc": "FCC"}

#: The 4:2:0 formats the kernel ops convert to and from ``rgbpf32``: (bits, nv12, msb_aligned).
KERNEL_YUV = {"yuv420p": (8, False, False), "yuv420p10le": (10, False, False),
              "nv12": (8, True, False), "p010le": (10, True, True)}
KERNEL_RGB = "rgbpf32"


def runs_on_kernels(src: str, dst: str) -> bool:
    """Whether converting ``src`` to ``dst`` uses the kernel ops (and so can run on CUDA)."""
    return (src in KERNEL_YUV and dst == KERNEL_RGB) or (src == KERNEL_RGB and dst in KERNEL_YUV)


@dataclass(frozen=True)
class ConvertParams:
    format: str = field(default="yuv420p", metadata={"help": f"target pixel format: {', '.join(FORMATS)}"})

    def __post_init__(self):
        get_format(self.format)  # raises ConfigError with a suggestion


@register("convert")
class Convert(Node):
    """Convert frames to another pixel format, keeping the colour matrix and range."""

    Params = ConvertParams
    devices = ("cpu", "cuda")

    def check(self, info: StreamInfo) -> None:
        src, dst = info.format, self.params.format
        if self.device == "cuda" and src != dst and not runs_on_kernels(src, dst):
            raise ConfigError(
                f"converting {src} to {dst} runs on the CPU only; on CUDA, convert "
                f"handles {', '.join(KERNEL_YUV)} <-> {KERNEL_RGB} (set device: cpu on this node)")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        self.src = info.pixel_format
        self.dst = get_format(self.params.format)
        self.passthrough = self.src.name == self.dst.name
        if self.passthrough:
            return info
        self.kernels = runs_on_kernels(self.src.name, self.dst.name)
        # RGB and grey targets are full range: swscale reads and writes both as full range
        # whatever it is told. YUV targets keep the source's range (limited if RGB or grey).
        full_families = ("rgb", "gray")
        src_full = full_range(info)
        dst_full = self.dst.family in full_families or (src_full and self.src.family not in full_families)
        self.family = matrix_of(info)
        self.src_full = src_full
        self.dst_full = dst_full
        matrix = info.color.matrix
        if matrix is None and {self.src.family, self.dst.family} == {"yuv", "rgb"}:
            matrix = TAG_FOR_MATRIX[self.family]  # declare the matrix assumed (see module doc)
        if self.kernels:
            from ..kernels import yuvrgb  # numba compiles on first use: only nodes that need it

            self.yuvrgb = yuvrgb
        else:
            sws = _SWS_MATRIX[self.family]
            self.sws = dict(src_colorspace=sws, dst_colorspace=sws,
                            src_color_range="JPEG" if src_full else "MPEG",
                            dst_color_range="JPEG" if dst_full else "MPEG")
        color = ColorInfo(matrix, "pc" if dst_full else "tv", info.color.primaries, info.color.transfer)
        self.shapes = self.dst.plane_shapes(info.width, info.height)
        return info.replace(format=self.dst.name, color=color)

    def process(self, frame: Frame) -> list[Frame]:
        if self.passthrough:
            return [frame]
        if self.kernels:
            return [frame.with_data(self._kernel_convert(frame), self.dst.name)]
        # Float RGB travels as 16-bit RGB on both sides (to_av/from_av): swscale never sees floats.
        avf = to_av(frame).reformat(format=self.dst.transport, **self.sws)
        out = from_av(avf, self.dst.name, frame.time_base)  # views the new frame: no copy
        out.meta = dict(frame.meta)
        out.duration = frame.duration
        return [out]

    def _kernel_convert(self, frame: Frame):
        device = frame.device
        if self.dst.name == KERNEL_RGB:
            bits, nv12, msb = KERNEL_YUV[self.src.name]
            planes = frame.planes
            rgb = devices.empty((3, frame.height, frame.width), np.float32, device)
            return self.yuvrgb.yuv_to_rgb(planes[0], planes[1], None if nv12 else planes[2],
                                          matrix=self.family, full_range=self.src_full, bits=bits,
                                          nv12=nv12, msb_aligned=msb, out=rgb)
        bits, nv12, msb = KERNEL_YUV[self.dst.name]
        rgb = frame.data if not isinstance(frame.data, tuple) else _stack(frame.data)
        out = tuple(devices.empty(shape, self.dst.dtype, device) for shape in self.shapes)
        return tuple(self.yuvrgb.rgb_to_yuv(rgb, matrix=self.family, full_range=self.dst_full, bits=bits,
                                            nv12=nv12, msb_aligned=msb, out=out))


def _stack(planes):
    """Three separate float planes as one ``(3, H, W)`` array (the kernels' layout)."""
    xp = devices.cupy() if devices.is_cupy(planes[0]) else np
    return xp.stack(planes)
