"""``convert``: change pixel format and bit depth (e.g. yuv420p -> rgb24, 8 -> 10 bit, -> float).

Integer formats go through swscale (PyAV's ``reformat``), with the stream's own matrix and range;
vproc's float format ``rgbpf32`` is reached through 16-bit RGB, since swscale's float paths are
not exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..colorspace import full_range, matrix_of
from ..formats import FORMATS, get_format
from ..frame import ColorInfo, Frame, StreamInfo
from ..io.avframes import from_av, to_av
from ..node import Node
from ..registry import register

_SWS_MATRIX = {"bt709": "ITU709", "bt601": "ITU601", "smpte240m": "SMPTE240M", "bt2020": "BT2020", "fcc": "FCC"}


@dataclass(frozen=True)
class ConvertParams:
    format: str = field(default="yuv420p", metadata={"help": f"target pixel format: {', '.join(FORMATS)}"})

    def __post_init__(self):
        get_format(self.format)  # raises ConfigError with a suggestion


@register("convert")
class Convert(Node):
    """Convert frames to another pixel format (swscale), keeping the colour matrix and range."""

    Params = ConvertParams

    def open(self, info: StreamInfo) -> StreamInfo:
        self.src = info.pixel_format
        self.dst = get_format(self.params.format)
        if self.src.name == self.dst.name:
            self.passthrough = True
            return info
        self.passthrough = False
        matrix = _SWS_MATRIX[matrix_of(info)]
        # RGB and grey targets are full range: swscale reads and writes both as full range
        # whatever it is told. YUV targets keep the source's range (limited if RGB or grey).
        full_families = ("rgb", "gray")
        src_full = full_range(info)
        dst_full = self.dst.family in full_families or (src_full and self.src.family not in full_families)
        self.sws = dict(src_colorspace=matrix, dst_colorspace=matrix,
                        src_color_range="JPEG" if src_full else "MPEG",
                        dst_color_range="JPEG" if dst_full else "MPEG")
        # Float is reached through 16-bit RGB: exact to 1/65535, and swscale never sees floats.
        self.via = "rgb48le" if self.dst.is_float else None
        self.src_via = "rgb48le" if self.src.is_float else None
        color = ColorInfo(info.color.matrix, "pc" if dst_full else "tv", info.color.primaries, info.color.transfer)
        return info.replace(format=self.dst.name, color=color)

    def process(self, frame: Frame) -> list[Frame]:
        if self.passthrough:
            return [frame]
        src = frame
        if self.src_via:  # float RGB -> 16-bit RGB, by numpy, before swscale
            rgb = np.stack(frame.planes, axis=-1)
            src = frame.with_data(np.clip(rgb * 65535.0 + 0.5, 0, 65535).astype(np.uint16), "rgb48le")
        avf = to_av(src).reformat(format=self.via or self.dst.av_name, **self.sws)
        if self.via:
            rgb = avf.to_ndarray()  # (H, W, 3) uint16
            planes = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(65535.0)
            return [frame.with_data(planes, self.dst.name)]
        out = from_av(avf, self.dst.name, frame.time_base)  # views the new frame: no copy
        out.meta = dict(frame.meta)
        return [out]
