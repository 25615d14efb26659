"""``convert``: change pixel format and bit depth (e.g. yuv420p -> rgb24, 8 -> 10 bit, -> float).

Conversions go through swscale (PyAV's ``reformat``) with the stream's own matrix and range;
vproc's float format ``rgbpf32`` is reached through 16-bit RGB, since swscale's float paths are
not exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        color = ColorInfo(info.color.matrix, "pc" if dst_full else "tv", info.color.primaries, info.color.transfer)
        return info.replace(format=self.dst.name, color=color)

    def process(self, frame: Frame) -> list[Frame]:
        if self.passthrough:
            return [frame]
        # Float RGB travels as 16-bit RGB on both sides (to_av/from_av): swscale never sees floats.
        avf = to_av(frame).reformat(format=self.dst.transport, **self.sws)
        out = from_av(avf, self.dst.name, frame.time_base)  # views the new frame: no copy
        out.meta = dict(frame.meta)
        return [out]
