"""``deinterlace``: FFmpeg's ``bwdif`` (Bob Weaver, motion-adaptive, w3fdif and yadif combined)
run in-process on the frames: one progressive frame out per frame in, pts kept.

A thin node on :class:`vproc.nodes.avfilter.AVFilterNode` (libavfilter through PyAV's filter
graph): the chain is ``bwdif=mode=send_frame:parity=...:deint=...``, the pixels exactly those of
``ffmpeg -vf bwdif=mode=send_frame:parity=auto:deint=interlaced`` on the same frames.

- ``mode: auto`` (the default, what ``transcode --deinterlace auto`` adds): an input the source
  found progressive (:attr:`vproc.frame.StreamInfo.interlaced`) passes through untouched, the
  very frames, with no delay; the node's ``summary`` says so. An interlaced one is deinterlaced.
  ``mode: on``: always deinterlaced (a progressive-flagged stream then has every frame
  deinterlaced, as ``deint=all``, with the stream's field order or top field first).
- Which frames and which field first: ``bwdif`` reads both from each frame's flags, which only
  the decoder's own frames carry (the node first in the graph, as ``transcode`` puts it: its
  frames are still the decoder's). Frames a node before it rewrote have lost them (PyAV cannot
  set them): then every frame is deinterlaced (``deint=all``) in the stream's field order
  (``parity`` if given). The choice is made at the first frame.
- Timing: the input's pts and time base (``bwdif`` works on a time base halved for field
  rates; its pts are brought back to the input's exactly). ``bwdif`` needs the next frame to output one (``latency`` 1) and the previous one for
  a correct first output (``warmup`` 1); the last frame comes out at the end of stream.
- Formats: what ``bwdif`` takes among vproc's formats, asked of libavfilter
  (:func:`bwdif_formats`: planar YUV 4:2:0/4:2:2/4:4:4 at 8 to 16 bits, most greys, ``gbrp``);
  in a graph, others get a conversion inserted (format negotiation): ``nv12``/``p010le`` become
  ``yuv420p``/``yuv420p10le``, packed RGB ``gbrp``. A converted frame is no
  longer the decoder's: the field flags are then lost (see above).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from ..errors import ConfigError
from ..formats import FORMATS
from ..frame import Frame, StreamInfo
from ..io.lavfi import FilterChain
from ..registry import register
from .avfilter import AVFilterNode



@functools.lru_cache(maxsize=1)
def bwdif_formats() -> tuple[str, ...]:
    """vproc's formats that bwdif takes as they are (the others libavfilter would convert inside
    the chain): asked of libavfilter itself, once (a test frame through bwdif per format)."""
    ok = []
    for name, fmt in FORMATS.items():
        try:
            chain = FilterChain("bwdif=mode=send_frame", width=16, height=16, pix_fmt=fmt.transport,
                                time_base=Fraction(1, 25))
            if chain.probe().format.name == fmt.transport and not fmt.is_float:
                ok.append(name)
        except (ConfigError, ValueError):
            pass
    return tuple(ok)


@dataclass(frozen=True)
class DeinterlaceParams:
    mode: Literal["auto", "on"] = field(default="auto", metadata={
        "help": "auto: deinterlace only an interlaced source (a progressive one passes through untouched); "
                "on: always"})
    parity: Literal["auto", "tff", "bff"] = field(default="auto", metadata={
        "help": "field order: auto (each frame's flag, else the stream's), tff (top first), bff (bottom first)"})
    deint: Literal["interlaced", "all"] = field(default="interlaced", metadata={
        "help": "interlaced: only frames flagged interlaced (bwdif's deint=interlaced); all: every frame"})


@register("deinterlace")
class Deinterlace(AVFilterNode):
    """Deinterlace with FFmpeg's bwdif (one frame out per frame in, pts kept); mode auto passes progressive input through."""

    Params = DeinterlaceParams
    formats_note = "planar YUV, grey and gbrp (what bwdif takes)"
    keep_time_base = True  # bwdif halves the time base even when it sends one frame per frame

    def input_formats(self) -> tuple[str, ...]:
        return bwdif_formats()

    def _parity(self, info: StreamInfo) -> str:
        if self.params.parity != "auto":
            return self.params.parity
        return "bff" if info.top_field_first is False else "tff"

    def chain_for_open(self, info: StreamInfo) -> str:
        return self._chain_text(info, flags=True)

    def chain_for_stream(self, info: StreamInfo, first: Frame) -> str:
        # The decoder's frame itself (its field flags intact) or one a node rebuilt (none).
        self.flags = first._av_frame is not None
        return self._chain_text(info, flags=self.flags)

    def _chain_text(self, info: StreamInfo, *, flags: bool) -> str:
        p = self.params
        if flags and info.interlaced:
            return f"bwdif=mode=send_frame:parity={p.parity}:deint={p.deint}"
        # No per-frame flags to go by (frames rebuilt, or a stream flagged progressive forced
        # with mode on): every frame, in the stream's field order.
        return f"bwdif=mode=send_frame:parity={self._parity(info)}:deint=all"

    def open(self, info: StreamInfo) -> StreamInfo:
        self.passthrough = self.params.mode == "auto" and not info.interlaced
        self.flags = None
        self.frames_in = self.frames_out = 0
        if self.passthrough:
            self.latency = self.warmup = 0
            return info
        self.latency = self.warmup = 1
        return super().open(info).replace(interlaced=False, field_order="progressive")

    def process(self, frame: Frame) -> list[Frame]:
        if self.passthrough:
            self.frames_in += 1
            self.frames_out += 1
            return [frame]
        return super().process(frame)

    def flush(self) -> list[Frame]:
        return [] if self.passthrough else super().flush()

    def close(self) -> None:
        if not self.passthrough:
            super().close()

    @property
    def summary(self) -> dict:
        s = {"mode": self.params.mode, "frames_in": getattr(self, "frames_in", 0),
             "frames_out": getattr(self, "frames_out", 0)}
        if getattr(self, "passthrough", False):
            s["deinterlaced"] = False
            s["note"] = "progressive source: frames passed through untouched"
        else:
            s["deinterlaced"] = True
            s["filters"] = getattr(self, "_text", None)
            if self.flags is False:
                s["note"] = "frames without the decoder's field flags: every frame deinterlaced in the stream's field order"
        return s
