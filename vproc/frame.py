"""Frame and StreamInfo: what flows along the edges of a graph and what describes an edge.

A :class:`Frame` carries pixels plus the decoder's own timestamp: ``pts`` in units of
``time_base``. Timestamps are only ever rescaled, never rebuilt from a frame index, so variable
frame rates and A/V sync survive any graph. (Shape learned from torchcodec's ``_frame.py`` and
PyAV's ``av/frame.py``.)
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import ConfigError
from .formats import PixelFormat, get_format


@dataclass(frozen=True)
class ColorInfo:
    """Colour metadata, with FFmpeg's names (``bt709``, ``tv``/``pc``, ...); None = unspecified."""

    matrix: str | None = None  # colorspace: bt709, bt470bg, smpte170m, bt2020nc, ...
    range: str | None = None  # "tv" (limited) or "pc" (full)
    primaries: str | None = None
    transfer: str | None = None

    @property
    def full_range(self) -> bool:
        return self.range == "pc"


@dataclass(frozen=True)
class StreamInfo:
    """Everything a node needs to know about the frames on one edge before the first arrives.

    ``rate`` is the nominal frame rate (None when unknown); real frames may still come at a
    variable rate, and their ``pts`` is what counts. ``frames`` is the expected frame count,
    used for progress and ETA only (None when the container does not say).

    Geometry, as FFmpeg keeps it (see :mod:`vproc.io.orientation`):

    - ``sample_aspect_ratio``: the shape of one pixel (None: unknown, shown square). Nodes that
      change the size declare their output with :meth:`resized`, which keeps the display aspect
      ratio as FFmpeg's ``scale`` does.
    - ``rotation`` / ``hflip`` / ``vflip``: how a player must turn the frames to show them
      upright (a display matrix), as FFmpeg's ``-display_rotation`` (counter-clockwise degrees,
      0, 90, 180 or 270), ``-display_hflip`` and ``-display_vflip`` options would write it. Zero
      by default: the source turns frames upright itself (FFmpeg's autorotate); only a source
      opened with ``autorotate=False`` sets them, and the sink writes them to the output.
    - ``interlaced`` and ``field_order``: whether the frames are interlaced, and FFmpeg's name
      of their field order (``"progressive"``, ``"tt"``, ``"bb"``, ``"tb"``, ``"bt"``; None:
      unknown). FFmpeg itself writes top-field-first frames as ``tb``: both ``tt`` and ``tb``
      mean the top field first in time (:attr:`top_field_first`).

    ``codec``: FFmpeg's name of the codec the frames were decoded from (``"h264"``, ``"ffv1"``),
    kept through the graph, so a node can tell a compressed stream's frames from clean ones
    (``vsr``'s ``degradation: auto``); None for frames that were not decoded from a stream.
    """

    width: int
    height: int
    format: str
    time_base: Fraction
    rate: Fraction | None = None
    color: ColorInfo = ColorInfo()
    frames: int | None = None
    device: str = "cpu"
    sample_aspect_ratio: Fraction | None = None
    rotation: int = 0
    hflip: bool = False
    vflip: bool = False
    interlaced: bool = False
    field_order: str | None = None
    codec: str | None = None

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"stream size must be positive (got {self.width}x{self.height})")
        get_format(self.format)
        if not isinstance(self.time_base, Fraction) or self.time_base <= 0:
            raise ConfigError(f"time_base must be a positive Fraction (got {self.time_base!r})")

    @property
    def pixel_format(self) -> PixelFormat:
        return get_format(self.format)

    @property
    def bit_depth(self) -> int:
        return self.pixel_format.bits

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def replace(self, **changes: Any) -> StreamInfo:
        """A copy with some fields changed (the usual way a node declares its output)."""
        return dataclasses.replace(self, **changes)

    def resized(self, width: int, height: int, **changes: Any) -> StreamInfo:
        """A copy at ``width`` x ``height`` whose pixels keep the display aspect ratio: the
        sample aspect ratio changes by ``(height * old_width) / (width * old_height)``, as
        FFmpeg's ``scale`` filter sets it (an unknown one stays unknown). A uniform scale keeps
        it; a resize of the width only by 2 halves it."""
        sar = self.sample_aspect_ratio
        if sar:
            sar = sar * Fraction(height * self.width, width * self.height)
        return dataclasses.replace(self, width=width, height=height, sample_aspect_ratio=sar, **changes)

    @property
    def display_aspect_ratio(self) -> Fraction:
        """Width over height as shown: the frame's shape times the pixels' (square if unknown)."""
        return Fraction(self.width, self.height) * (self.sample_aspect_ratio or 1)

    @property
    def top_field_first(self) -> bool | None:
        """For interlaced frames: whether the top field comes first in time (None: not known)."""
        if self.field_order in ("tt", "tb"):
            return True
        if self.field_order in ("bb", "bt"):
            return False
        return None


def _device_of(array) -> str:
    # By the array type's module, as vproc.device.is_cupy does, without importing CuPy.
    return "cuda" if type(array).__module__.startswith("cupy") else "cpu"


_copy_lock = threading.Lock()


@dataclass(eq=False)
class Frame:
    """One video frame.

    ``data`` holds the pixels as ``format`` lays them out (see :mod:`vproc.formats`): a numpy or
    CuPy array, or a tuple of per-plane arrays. ``pts`` is an int in ``time_base`` units, straight
    from the decoder. ``meta`` carries side data (pose keypoints, scene statistics, metrics) and
    travels with the frame through the graph.

    Frames are shared between the consumers of a branching graph, so nodes must treat an input
    frame's arrays as read-only and return new frames (decoder views are marked read-only).
    """

    data: Any
    pts: int
    time_base: Fraction
    format: str
    meta: dict[str, Any] = field(default_factory=dict)
    duration: int | None = None
    # The decoded av.VideoFrame that ``data`` views, when the pixels are unchanged: lets the sink
    # hand it back to FFmpeg without building a new one. Never set by nodes.
    _av_frame: Any = field(default=None, repr=False, compare=False)
    # CUDA event recorded after the pixels were written (upload or kernel); consumers' streams
    # wait on it. None on the CPU or when the writer synchronised.
    _ready: Any = field(default=None, repr=False, compare=False)
    # This frame on other devices, so fan-out to several GPU consumers uploads once.
    _copies: dict = field(default_factory=dict, repr=False, compare=False)
    # CUDA events after which no queued GPU work reads this frame: its pooled device buffers
    # are reused only once they have all completed.
    _uses: list = field(default_factory=list, repr=False, compare=False)
    # The frame whose arrays this one shares (a node that passes the pixels on with new side
    # data): kept alive with it, since pooled arrays go back to their pool when the frame they
    # were bound to goes, and the pool would hand them out again while this one is still read.
    _base: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        fmt = get_format(self.format)
        planes = self.planes
        if len(planes) != len(fmt.planes):
            raise ConfigError(
                f"frame of format {self.format} needs {len(fmt.planes)} planes (got {len(planes)})"
            )
        h, w = planes[0].shape[:2]
        for plane, shape in zip(planes, fmt.plane_shapes(w, h)):
            if tuple(plane.shape) != shape:
                raise ConfigError(
                    f"{self.format} plane of shape {tuple(plane.shape)} does not fit a {w}x{h} "
                    f"image (expected {shape})"
                )
            if plane.dtype != fmt.dtype:
                raise ConfigError(f"{self.format} plane has dtype {plane.dtype} (expected {fmt.dtype})")
        if not isinstance(self.pts, (int, np.integer)):
            raise ConfigError(f"pts must be an int (got {type(self.pts).__name__})")
        self.pts = int(self.pts)

    @property
    def planes(self) -> tuple:
        """The pixel planes as a tuple, whatever the layout of ``data``."""
        if isinstance(self.data, tuple):
            return self.data
        if len(get_format(self.format).planes) > 1:  # one (C, H, W) array of equal planes
            return tuple(self.data)
        return (self.data,)

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[0])

    @property
    def device(self) -> str:
        return _device_of(self.planes[0])

    @property
    def time(self) -> Fraction:
        """Presentation time in seconds, exactly."""
        return self.pts * self.time_base

    def to(self, device: str) -> Frame:
        """This frame on ``device`` ("cpu" or "cuda"): itself if already there, else one copy
        (pinned staging, async on this thread's stream), made once and shared by every caller."""
        if device == self.device:
            return self
        with _copy_lock:
            other = self._copies.get(device)
            if other is None:
                from . import device as devices

                if device == "cuda":
                    planes, ready = devices.upload(self.planes)
                else:
                    planes, ready = devices.download(self.planes, self._ready), None
                other = self.with_data(planes if len(planes) > 1 else planes[0])
                other._ready = ready
                devices.bind(other, planes)
                self._copies[device] = other
        return other

    def as_torch(self):
        """The planes as torch tensors sharing this frame's memory (DLPack, no copy): one tensor
        for one-plane or ``(C, H, W)`` data, else a tuple. Treat input frames' tensors as read-only."""
        from .device import as_torch

        if isinstance(self.data, tuple):
            return tuple(as_torch(p) for p in self.data)
        return as_torch(self.data)

    def with_data(self, data: Any, format: str | None = None, **changes: Any) -> Frame:
        """A new frame with other pixels (or these, or views of them) and the same timing and
        (copied) side data."""
        return Frame(
            data=data,
            pts=changes.pop("pts", self.pts),
            time_base=changes.pop("time_base", self.time_base),
            format=format or self.format,
            meta=changes.pop("meta", dict(self.meta)),
            duration=changes.pop("duration", self.duration),
            _base=self if self._shares(data) else None,
        )

    def _shares(self, data: Any) -> bool:
        """Whether ``data`` holds this frame's arrays or views of them."""
        mine = {id(p) for p in self.planes} | {id(p.base) for p in self.planes if getattr(p, "base", None) is not None}
        theirs = data if isinstance(data, tuple) else (data,)
        return any(id(p) in mine or id(getattr(p, "base", None)) in mine for p in theirs)

    def __repr__(self) -> str:
        p0 = self.planes[0]
        return (
            f"Frame({self.width}x{self.height} {self.format}, dtype={p0.dtype}, "
            f"device={self.device}, pts={self.pts}, time_base={self.time_base}, "
            f"meta={sorted(self.meta)})"
        )
