"""The Node contract. This docstring is the whole of it; the runtime enforces it.

A node is one processing step of a graph. Its kind is registered with
:func:`vproc.registry.register`; its parameters are a frozen dataclass ``Params`` whose fields
(name, type, default, and ``metadata={"help": ...}``) are also its documentation.

Lifecycle, driven by the runtime, one node instance per graph node::

    node = Kind(params, device)        # cheap: no allocation, no I/O
    out_info = node.open(*in_infos)    # once, before the first frame: allocate, compile kernels,
                                       # load weights; return the StreamInfo of the output
    node.process(*frames) -> [Frame]   # per input frame: 0..n frames out, pts strictly increasing
    node.flush() -> [Frame]            # once, at end of stream: drain what is held back
    node.close()                       # iff open() returned, also when anything failed

Rules:

- ``open`` receives one StreamInfo per input, in the order of the node's ``in:`` list, and
  declares the output format, size, rate and time base. A node that cannot work on what it is
  given raises :class:`~vproc.errors.ConfigError` there, before any decoding.
- ``process`` receives one frame per input. With several inputs, the first is the primary: it
  drives the node, and every other input contributes its latest frame whose time is at or before
  the primary's (sample-and-hold, as FFmpeg's framesync), so branches at other rates still pair.
- Input frames are shared with other consumers: never write into their arrays.
- Allocate output planes with :func:`vproc.device.empty` (pooled, on ``self.device``): they go
  back to the pool when the output Frame is released, so steady state allocates nothing. To keep
  pixels beyond ``process()`` (temporal windows), keep the Frame itself, not bare arrays.
- On ``cuda`` the node receives frames whose planes are CuPy arrays, already uploaded; it
  launches work on the thread's current CUDA stream and returns without synchronising: the
  runtime records when the work is done and downloads only where a CPU stage needs the pixels.
  ``frame.as_torch()`` hands planes to torch without a copy (DLPack).
- Output pts are the input's, rescaled if the time base changes; never rebuilt from a counter.
- A node that holds frames back (temporal windows, recurrence) sets ``latency`` (frames it
  delays its output by) and ``warmup`` (frames of context it needs before its first correct
  output); engines that cut a video into segments start each segment ``warmup`` frames early.
- ``devices`` names where the node can run; the runtime picks one and passes it in as
  ``self.device`` ("cpu" or "cuda").
- Formats are negotiated, not the user's chore: a kind declares the pixel formats it takes in
  ``formats`` (a tuple of names; None, the default: any), or, when that depends on the device
  or the params, by overriding :meth:`Node.input_formats` (or :meth:`Node.accepts` and
  :meth:`Node.preferred_format` altogether). Where an input's format is not accepted, the
  runtime puts a ``convert`` node in front of the node (``<id>_in``), to
  :meth:`Node.preferred_format`: by default the accepted format FFmpeg itself would convert
  to (:func:`vproc.formats.nearest_format`: same colour family, chroma resolution and at
  least the bit depth where it can), as GStreamer's caps negotiation and VapourSynth do.
  ``open`` then only ever sees accepted formats; its ConfigError stays for nodes opened by
  hand and for what no conversion fixes (sizes, params). ``formats_note`` says in a few words
  what the kind takes, for the plan ``vproc check -i`` prints. A node that draws or reads any
  format natively (overlay, pose, resize on the CPU) declares nothing and costs no conversion.
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from .formats import nearest_format
from .frame import Frame, StreamInfo


@dataclass(frozen=True)
class NoParams:
    """For nodes without parameters."""


class Node(abc.ABC):
    """Base class of every node kind; see the module docstring for the contract."""

    kind: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    inputs: ClassVar[int] = 1  # how many inputs the node takes; -1 means one or more
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    latency: int = 0
    warmup: int = 0
    #: Decoder side information this kind reads from Frame.meta (e.g. "h264_qp"): the source
    #: exports it only when a node of the graph asks, as it costs decoding time.
    reads_meta: ClassVar[tuple[str, ...]] = ()
    # The Frame.meta keys this kind fills that the sidecar (output.skeleton) writes, e.g. "people".
    sidecar_keys: ClassVar[tuple[str, ...]] = ()
    #: The pixel formats this kind takes on every input, on every device; None: any. Inputs in
    #: another format get a conversion inserted by the runtime (see the module docstring).
    formats: ClassVar[tuple[str, ...] | None] = None
    #: What ``formats`` are, in a few words, for the plan (e.g. "planar formats").
    formats_note: ClassVar[str] = ""

    def __init__(self, params=None, device: str = "cpu", name: str | None = None):
        self.params = params if params is not None else self.Params()
        self.device = device
        self.name = name or self.kind

    def check(self, *infos: StreamInfo) -> None:
        """Raise :class:`~vproc.errors.ConfigError` if this node cannot take these inputs on
        ``self.device``. Cheap: no allocation, no loading. With ``device: auto`` the runtime asks
        it on ``cuda`` first and runs the node on the CPU when CUDA cannot take the inputs."""

    def input_formats(self) -> tuple[str, ...] | None:
        """The formats this node takes on ``self.device`` with ``self.params``; None: any.
        Cheap (no allocation): the runtime asks it before :meth:`open`. Default: ``formats``."""
        return self.formats

    def accepts(self, info: StreamInfo) -> bool:
        """Whether an input described by ``info`` needs no conversion before this node."""
        wanted = self.input_formats()
        return wanted is None or info.format in wanted

    def preferred_format(self, info: StreamInfo) -> str:
        """The format an input this node does not accept is converted to: by default the one of
        :meth:`input_formats` FFmpeg would convert ``info.format`` to (keeping the colour
        family, chroma and bit depth where it can: rgb24 -> gbrp, nv12 -> yuv420p)."""
        wanted = self.input_formats()
        return info.format if wanted is None else nearest_format(info.format, wanted)

    def formats_text(self) -> str:
        """What this node takes, for the plan: ``formats_note`` or the list."""
        wanted = self.input_formats()
        return self.formats_note or ("any format" if wanted is None else ", ".join(wanted))

    def open(self, *infos: StreamInfo) -> StreamInfo:
        """Prepare for a stream and declare the output; the default passes the input through."""
        return infos[0]

    @abc.abstractmethod
    def process(self, *frames: Frame) -> list[Frame]:
        """Frames out for one frame in (one per input); may be empty."""

    def flush(self) -> list[Frame]:
        """Frames still held at the end of the stream; stateless nodes hold none."""
        return []

    def close(self) -> None:
        """Release what open() took."""

    @property
    def summary(self) -> dict:
        """The node's own counters of the run (JSON-able), read just before :meth:`close` into
        the run's statistics (``--json``, ``--stats``); e.g. people per frame. None by default."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} kind={self.kind} device={self.device}>"


class TemporalNode(Node):
    """Helper for nodes that work on a sliding window of frames around each output frame.

    A subclass sets ``self.radius`` (frames on each side: the window holds ``2 * radius + 1``)
    in ``open()`` and implements :meth:`process_window`. Setting ``self.future`` as well makes the
    window asymmetric: ``radius`` frames before the centre and ``future`` after it (``future = 0``:
    a causal window, the output frame last). The window is clamped at the clip's ends: positions
    before the first frame repeat the first, positions after the last repeat the last. Frame
    ``c`` is emitted once frame ``c + future`` has arrived, so ``latency`` is ``future`` (by
    default ``radius``) and ``warmup`` is ``radius``; :meth:`flush` drains the rest (PyAV's
    ``encode(None)`` idiom).

    :meth:`drain` ends the current window early (a scene cut): it emits what is held, with windows
    clamped to the frames before the cut, and the next frame starts a new clip.
    """

    radius: int = 0
    #: Frames after the centre in the window; None: ``radius`` (symmetric).
    future: int | None = None

    def __init__(self, params=None, device: str = "cpu", name: str | None = None):
        super().__init__(params, device, name)
        self._clear()

    @property
    def _ahead(self) -> int:
        return self.radius if self.future is None else self.future

    @property
    def latency(self) -> int:  # type: ignore[override]
        return self._ahead

    @property
    def warmup(self) -> int:  # type: ignore[override]
        return self.radius

    @abc.abstractmethod
    def process_window(self, window: list[Frame], center: Frame) -> list[Frame]:
        """Output for ``center`` from its ``radius + 1 + future`` neighbours (``window[radius]``
        is ``center``). Frames in the window are shared: never write into their arrays."""

    def process(self, frame: Frame) -> list[Frame]:
        self._held.append(frame)
        self._count += 1
        out = []
        while self._next + self._ahead < self._count:
            out += self._emit(self._next)
            self._next += 1
        while self._first < self._next - self.radius:  # no window reaches these any more
            self._held.popleft()
            self._first += 1
        return out

    def flush(self) -> list[Frame]:
        return self.drain()

    def drain(self) -> list[Frame]:
        """Emit every frame still held (windows clamped at the last one) and start afresh."""
        out = []
        while self._next < self._count:
            out += self._emit(self._next)
            self._next += 1
        self._clear()
        return out

    def _emit(self, c: int) -> list[Frame]:
        last = self._count - 1
        window = [self._held[min(max(c + d, 0), last) - self._first] for d in range(-self.radius, self._ahead + 1)]
        return self.process_window(window, window[self.radius])

    def _clear(self) -> None:
        self._held: deque[Frame] = deque()
        self._count = 0  # frames received since the clip (or the last drain) began
        self._next = 0  # index of the next frame to emit
        self._first = 0  # index of self._held[0]
