"""``ffmpeg``: any libavfilter chain (``"atadenoise"``, ``"bwdif"``, ``"scale=320:-2,unsharp"``)
run in-process on the frames, through PyAV's filter graph (:class:`vproc.io.lavfi.FilterChain`).

FFmpeg's filters are decades of tuned, tested code (deinterlacers, denoisers, scalers, colour
conversions, stabilisers); rather than rewrite them, a graph node hands frames to libavfilter
exactly as ``ffmpeg -vf`` would and takes back what it produces. :class:`AVFilterNode` is the
shared machinery; the ``ffmpeg`` kind exposes it with a free chain, and ``deinterlace``
(:mod:`vproc.nodes.deinterlace`) is a thin node on it running ``bwdif``.

How it meets the node contract:

- Output description at ``open``: PyAV configures the chain but cannot read its output link, so
  the chain is probed (:meth:`~vproc.io.lavfi.FilterChain.probe`: one blank frame and the end of
  stream through a second graph of the same chain) for the output size, pixel format, time base
  and colour tags. The sample aspect ratio follows FFmpeg's ``scale`` rule when the size changes
  (display aspect kept; :meth:`~vproc.frame.StreamInfo.resized`): PyAV does not expose a
  frame's, so a chain that sets it itself (``setsar``, ``setdar``) is not seen. A chain that
  drops its only test frame (``select``, ``trim``) cannot be described and is refused.
- Formats: libavfilter negotiates its own conversions inside the chain, so the node takes any
  format; its output is the chain's, or, where that is not one of vproc's formats
  (``gbrp16le``, ``yuv420p12le``), the nearest one (:func:`vproc.formats.fallback_format`).
  ``rgbpf32`` frames go in as their 16-bit transport and come back as ``rgbpf32``.
- Timing: the frames' pts are the ones the filters give, in the chain's time base (they come from the input frames;
  ``setpts`` and ``fps`` change them, and the runtime refuses pts that do not increase). Frames
  held back (temporal filters) come out later or at :meth:`flush` (the end of stream is pushed).
  ``latency``/``warmup`` are params: a chain cannot say how many frames it holds back, and
  segmented runs need them (``bwdif``: 1 and 1; ``atadenoise``: 4 and 4 with its default 9 frames).
- Side data: an output frame takes the ``meta`` of the latest input frame at or before its time,
  scaled with the size (:func:`vproc.geometry.scale_meta`); geometry other than a scale (crop,
  pad, flips) is not applied to keypoints.

The pixels are FFmpeg's own: the ``ffmpeg`` node with ``hflip`` equals ``numpy.fliplr``, and any
chain equals ``ffmpeg -vf`` on the same frames (tests/nodes/test_avfilter.py).
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import av

from ..errors import ConfigError, MediaError
from ..formats import FORMATS, fallback_format, get_format
from ..frame import ColorInfo, Frame, StreamInfo
from ..geometry import scale_meta
from ..io.avframes import color_info, from_av, to_av
from ..io.lavfi import FilterChain, parse_chain
from ..node import Node
from ..registry import register

#: libavfilter's deinterlacers: a chain with one of them gives progressive frames.
DEINTERLACERS = frozenset({"bwdif", "yadif", "w3fdif", "estdif", "nnedi", "kerndeint", "mcdeint"})


class AVFilterNode(Node):
    """A node whose frames go through a libavfilter chain (see the module docstring).

    Subclasses give the chain: :meth:`chain_for_open` (the one probed at ``open``) and
    :meth:`chain_for_stream` (the one run, chosen at the first frame; the same by default).
    """

    devices = ("cpu",)
    #: Give the output frames the input's time base (pts rescaled; for chains whose own time base
    #: is only a finer one, as yadif's and bwdif's half tick in send_frame mode); else the chain's.
    keep_time_base = False

    @abc.abstractmethod
    def chain_for_open(self, info: StreamInfo) -> str:
        """The filter chain for a stream described by ``info`` (probed at ``open``)."""

    def chain_for_stream(self, info: StreamInfo, first: Frame) -> str:
        """The chain to run, given the first frame (default: the one probed at ``open``)."""
        return self._text

    def open(self, info: StreamInfo) -> StreamInfo:
        self._in = info
        self._text = self.chain_for_open(info)
        self._chain: FilterChain | None = FilterChain.for_info(self._text, info)  # validates the chain now
        probe = self._chain.probe()
        self._started = False
        av_name = probe.format.name
        if av_name == info.pixel_format.transport:
            name = info.format  # e.g. rgbpf32, carried as rgb48le
        elif av_name in FORMATS:
            name = av_name
        else:
            name = fallback_format(av_name)
        self._out_format = name
        fmt = get_format(name)
        tb = Fraction(probe.time_base) if probe.time_base else info.time_base
        if self.keep_time_base:
            tb = info.time_base
        if fmt.family == info.pixel_format.family:
            tags = color_info(probe, av_name)
            color = ColorInfo(tags.matrix or info.color.matrix, tags.range or info.color.range,
                              tags.primaries or info.color.primaries, tags.transfer or info.color.transfer)
        else:  # into another family: the source's matrix stays named (for the way back), as convert does
            color = ColorInfo(info.color.matrix, "pc" if fmt.family == "rgb" else color_info(probe, av_name).range,
                              info.color.primaries, info.color.transfer)
        changes: dict = {"format": name, "time_base": tb, "color": color}
        if tb != info.time_base:  # the rate and count are the chain's business then (fps, double-rate deinterlacing)
            changes.update(rate=None, frames=None)
        if any(n in DEINTERLACERS for n, _ in parse_chain(self._text)):
            changes.update(interlaced=False, field_order="progressive")
        if (probe.width, probe.height) != (info.width, info.height):
            out = info.resized(probe.width, probe.height, **changes)
        else:
            out = info.replace(**changes)
        self._out = out
        # (time, meta, size) of the inputs not yet matched by an output; bounded, for chains
        # that drop most frames (select)
        self._pending: deque[tuple[Fraction, dict, int, int]] = deque(maxlen=1024)
        self.frames_in = self.frames_out = 0
        return out

    def process(self, frame: Frame) -> list[Frame]:
        if not self._started:
            self._started = True
            text = self.chain_for_stream(self._in, frame)
            if text != self._text:
                self._text = text
                self._chain = FilterChain.for_info(text, self._in)
        self.frames_in += 1
        self._pending.append((frame.time, frame.meta, frame.width, frame.height))
        return self._frames(self._chain.push(to_av(frame)))

    def flush(self) -> list[Frame]:
        if self._chain is None:
            return []
        return self._frames(self._chain.flush())

    def _frames(self, avfs: list[av.VideoFrame]) -> list[Frame]:
        out = []
        for avf in avfs:
            if avf.pts is None:
                raise MediaError(f"FFmpeg filter chain '{self._text}' gave a frame without a timestamp")
            tb = Fraction(avf.time_base) if avf.time_base else self._out.time_base
            t = avf.pts * tb
            if self.keep_time_base and tb != self._out.time_base:
                avf.pts = round(t / self._out.time_base)
                avf.duration = round(avf.duration * tb / self._out.time_base) if avf.duration else avf.duration
                tb = self._out.time_base
            # the meta of the latest input at or before this time (the first one if none is)
            while len(self._pending) > 1 and self._pending[1][0] <= t:
                self._pending.popleft()
            meta, w, h = (dict(self._pending[0][1]), self._pending[0][2], self._pending[0][3]) if self._pending else ({}, avf.width, avf.height)
            if (w, h) != (avf.width, avf.height):
                meta = scale_meta(meta, avf.width / w, avf.height / h)
            f = from_av(avf, self._out_format, tb)
            f.meta = meta
            out.append(f)
        self.frames_out += len(out)
        return out

    def close(self) -> None:
        self._chain = None

    @property
    def summary(self) -> dict:
        return {"filters": getattr(self, "_text", None), "frames_in": getattr(self, "frames_in", 0),
                "frames_out": getattr(self, "frames_out", 0)}


@dataclass(frozen=True)
class FFmpegParams:
    filters: str = field(default="null", metadata={
        "help": "an FFmpeg filter chain, as -vf takes it: 'atadenoise', 'bwdif', 'scale=320:-2,unsharp' "
                "(a linear chain: no [labels] or ';')"})
    latency: int = field(default=0, metadata={"help": "frames the chain holds back (for segmented runs: bwdif 1)"})
    warmup: int = field(default=0, metadata={"help": "frames of context the chain needs before a correct output "
                                                     "(for segmented runs: bwdif 1)"})

    def __post_init__(self):
        parse_chain(self.filters)  # a ConfigError names what is wrong with the text
        for name in ("latency", "warmup"):
            if not 0 <= getattr(self, name) <= 10_000:
                raise ValueError(f"{name} must be within 0..10000 (got {getattr(self, name)})")


@register("ffmpeg")
class FFmpegFilter(AVFilterNode):
    """Any FFmpeg (libavfilter) filter chain, run in-process: 'atadenoise', 'bwdif', 'scale=320:-2', ..."""

    Params = FFmpegParams

    def __init__(self, params=None, device: str = "cpu", name: str | None = None):
        super().__init__(params, device, name)
        self.latency = self.params.latency
        self.warmup = self.params.warmup

    def chain_for_open(self, info: StreamInfo) -> str:
        if self.params.filters.strip() == "":
            raise ConfigError("ffmpeg node: filters is empty")
        return self.params.filters
