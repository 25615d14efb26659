"""The scheduler: decode, every node and encode run as overlapping stages.

Each stage is a thread joined to the next by a bounded inbox, so a slow stage applies
back-pressure upstream and memory stays bounded however long the file is (numpy, OpenCV, PyAV and
the FFmpeg pipe release the GIL while they work, so the stages really overlap). A node's inbox
takes the frames of all its inputs, tagged by port; frames are buffered per port and paired by
time (see :mod:`vproc.node`), which keeps diamond-shaped graphs free of deadlock.

The runtime enforces the Node contract: ``open`` in topological order before any frame, ``close``
exactly for the nodes whose ``open`` returned, after success and failure alike, output pts
strictly increasing. The first error anywhere stops every stage and removes the partial output;
Ctrl-C instead stops reading, drains the graph and finishes a valid file.

Format negotiation happens as the nodes open, in order, as GStreamer's caps negotiation and
VapourSynth do: every edge's StreamInfo is known before its consumer opens, and where the
consumer does not accept the edge's format (:meth:`vproc.node.Node.accepts`), a ``convert`` node
to its :meth:`~vproc.node.Node.preferred_format` is inserted in front of it (id ``<node>_in``, or
``<node>_in<port>`` for a later input), opened and run as a stage like any other. So rgb24 into
``vsr`` or ``denoise`` gets ``gbrp``, yuv420p into ``lowlight`` gets ``rgbpf32``, nv12 into
``skeleton`` gets ``yuv420p``. The conversions are listed in :attr:`Runtime.inserted` (``vproc
check -i`` prints them in the plan) and their edges are in :attr:`Runtime.infos`. The sink is
opened with the graph's output *and* the source's StreamInfo, so the encoded pixel format follows
the source (see :func:`vproc.io.sink._encodable_pix_fmt`), not what the graph computed in.
"""

from __future__ import annotations

import inspect
import logging
import queue
import signal
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from . import device as devices
from . import registry
from .errors import ConfigError, NodeError, VprocError
from .frame import Frame, StreamInfo
from .graph import SOURCE, Graph
from .node import Node

log = logging.getLogger("vproc")

_EOF = object()  # end-of-stream marker on a port
INBOX_FRAMES = 4  # frames a node may have waiting: enough to overlap stages, small for memory
# The sink also takes the audio packets (a few per frame): it muxes them at once, so a small
# inbox only paces the source, and it bounds the frames in flight (and so memory) with the rest.
SINK_INBOX = 8


class Aborted(Exception):
    """Raised inside a stage when another stage failed and everything is stopping."""


class _Inbox:
    """A bounded queue of ``(port, item)`` that gives up when the run is aborted."""

    def __init__(self, size: int, abort: threading.Event):
        self._q: queue.Queue = queue.Queue(maxsize=size)
        self._abort = abort

    def put(self, port: int, item: Any) -> None:
        while True:
            try:
                self._q.put((port, item), timeout=0.1)
                return
            except queue.Full:
                if self._abort.is_set():
                    raise Aborted from None

    def __len__(self) -> int:
        return self._q.qsize()

    def get(self) -> tuple[int, Any]:
        while True:
            if self._abort.is_set():  # stop at once: what is still queued is discarded anyway
                raise Aborted
            try:
                return self._q.get(timeout=0.1)
            except queue.Empty:
                if self._abort.is_set():
                    raise Aborted from None


@dataclass
class StageStats:
    """Counters of one stage: frames in and out, and seconds spent working (not waiting)."""

    name: str
    kind: str
    device: str = "cpu"
    frames_in: int = 0
    frames_out: int = 0
    busy_s: float = 0.0
    summary: dict = field(default_factory=dict)  # the node's own counters (Node.summary)


@dataclass
class RunStats:
    """What a run did, for ``--json`` and the summary line."""

    frames_in: int = 0
    frames_out: int = 0
    wall_s: float = 0.0
    skipped_corrupt: int = 0
    concealed: int = 0  # input frames decoded with errors the decoder concealed (kept, as ffmpeg keeps them)
    dropped: int = 0  # input frames lost to damage (packets that did not decode, times out of order)
    packets_dropped: int = 0  # damaged audio/subtitle packets left out of the copy
    interrupted: bool = False
    signal: str | None = None  # a SIGINT/SIGTERM that came while the complete output was being finished
    output: str = ""
    stages: list[StageStats] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    transfers: dict[str, int] = field(default_factory=dict)  # device.TransferStats totals

    def per_frame(self) -> dict[str, float]:
        """Transfer and allocation counters per input frame (``--stats``)."""
        n = max(self.frames_in, 1)
        return {k: round(v / n, 3) for k, v in self.transfers.items()}

    @property
    def fps(self) -> float:
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["fps"] = round(self.fps, 3)
        out["transfers_per_frame"] = self.per_frame()
        out["wall_s"] = round(self.wall_s, 3)
        for s in out["stages"]:
            s["busy_s"] = round(s["busy_s"], 4)
        return out


@dataclass
class Inserted:
    """A ``convert`` node the runtime put into the graph: ``id`` reads ``input`` and feeds
    ``feeds`` (``(node id, input port)`` pairs) in ``format``, on ``device``, because ``reason``."""

    id: str
    input: str
    format: str
    device: str
    reason: str
    feeds: list[tuple[str, int]] = field(default_factory=list)

    def plan_line(self) -> str:
        """Its line in ``vproc check``'s plan (as :meth:`vproc.graph.Graph.describe` lists nodes)."""
        dev = f" [{self.device}]" if self.device != "cpu" else ""
        return f"  {self.id}: convert(format={self.format!r}) <- {self.input}{dev} [inserted: {self.reason}]"


@dataclass
class _NodeRun:
    spec_id: str
    node: Node
    inputs: tuple[str, ...]
    inbox: _Inbox
    stats: StageStats
    opened: bool = False
    last_time: Any = None  # time of the last frame emitted, to enforce increasing pts


class Runtime:
    """Runs one graph from one source into one sink.

    ``source`` is a :class:`~vproc.io.source.Source`-like object (``info``, ``passthrough``,
    ``items()``, ``stop()``, ``stats``, ``close()``); ``sink`` an
    :class:`~vproc.io.sink.FFmpegSink`-like one (``open``, ``write``, ``write_packet``, ``close``,
    ``abort``, ``frames_written``). Both are closed by the runtime.
    """

    def __init__(self, graph: Graph, source, sink, *, device: str | None = None,
                 progress: Callable[[int, int | None], None] | None = None, inbox_frames: int = INBOX_FRAMES):
        """``inbox_frames``: frames a node may have waiting (1 for live runs: every frame
        queued between stages is latency)."""
        self.graph = graph
        self.inbox_frames = inbox_frames
        self.source = source
        self.sink = sink
        self.device = device or graph.device
        self.progress = progress
        self.stats = RunStats()
        self._abort = threading.Event()
        self._errors: list[BaseException] = []
        self._done: dict[threading.Thread, threading.Event] = {}  # set by each stage when it ends
        self._runs: dict[str, _NodeRun] = {}
        self._sink_inbox = _Inbox(SINK_INBOX, self._abort)
        self._sink_stats = StageStats("output", "encode")
        self._source_stats = StageStats("source", "decode")
        self.infos: dict[str, StreamInfo] = {}
        #: The conversions format negotiation inserted (after :meth:`open_nodes`), in order.
        self.inserted: list[Inserted] = []

    # -- set-up ------------------------------------------------------------------------------
    def open_nodes(self) -> dict[str, StreamInfo]:
        """Instantiate and open every node in order, negotiating formats on the way (see the
        module docstring); returns the StreamInfo of every edge, inserted conversions included
        (listed in :attr:`inserted`)."""
        self.infos = {SOURCE: self.source.info}
        self.inserted = []
        for spec in self.graph.nodes.values():
            cls = registry.get(spec.type)
            requested = spec.device or self.device
            dev = devices.resolve(requested, cls.devices, who=f"node '{spec.id}' ({spec.type})")
            if requested == "auto" and dev == "cuda":
                dev = self._auto_device(cls, spec, [self.infos[i] for i in spec.inputs])
            node = cls(spec.params, dev, spec.id)
            inputs = self._negotiate(spec, node)
            self._open_run(spec.id, spec.type, node, inputs)
        return self.infos

    def _open_run(self, spec_id: str, kind: str, node: Node, inputs: tuple[str, ...]) -> None:
        """Open ``node`` on the edges ``inputs`` and make it a stage of the run."""
        ins = [self.infos[i] for i in inputs]
        run = _NodeRun(spec_id, node, inputs, _Inbox(self.inbox_frames, self._abort),
                       StageStats(spec_id, kind, node.device))
        self._runs[spec_id] = run
        try:
            info = node.open(*ins)
        except VprocError as exc:
            raise type(exc)(f"node '{spec_id}' ({kind}): {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"node '{spec_id}' ({kind}) cannot open: {exc}") from None
        except Exception as exc:  # missing weights, a kernel that does not compile: name the node
            raise NodeError(f"node '{spec_id}' ({kind}) failed to open: {type(exc).__name__}: {exc}") from exc
        run.opened = True
        if not isinstance(info, StreamInfo):
            raise NodeError(f"node '{spec_id}' ({kind}): open() must return a StreamInfo, not {type(info).__name__}")
        self.infos[spec_id] = info

    def _negotiate(self, spec, node: Node) -> tuple[str, ...]:
        """The edges ``node`` reads: its inputs, each one whose format it does not accept
        replaced by a ``convert`` to its :meth:`~vproc.node.Node.preferred_format` (inserted
        and opened here; shared by the consumers of one edge that want the same format)."""
        from .nodes.convert import Convert, ConvertParams, runs_on_kernels

        inputs = list(spec.inputs)
        for port, producer in enumerate(spec.inputs):
            info = self.infos[producer]
            if node.accepts(info):
                continue
            target = node.preferred_format(info)
            # On the consumer's GPU where the kernels convert (YUV 4:2:0 <-> rgbpf32), else on
            # the CPU (swscale); the runtime uploads the converted frames for a CUDA consumer.
            dev = "cuda" if node.device == "cuda" and runs_on_kernels(info.format, target) else "cpu"
            done = next((c for c in self.inserted if (c.input, c.format, c.device) == (producer, target, dev)), None)
            if done is None:
                conv_id = self._free_id(f"{spec.id}_in" + (str(port) if port else ""))
                done = Inserted(conv_id, producer, target, dev, f"{spec.type} takes {node.formats_text()}")
                self.inserted.append(done)
                self._open_run(conv_id, "convert", Convert(ConvertParams(target), dev, conv_id), (producer,))
                log.info("node '%s' (%s) takes %s, not %s: %s converts %s to %s", spec.id, spec.type,
                         node.formats_text(), info.format, conv_id, producer, target)
            done.feeds.append((spec.id, port))
            if not node.accepts(self.infos[done.id]):
                raise ConfigError(f"node '{spec.id}' ({spec.type}) takes {node.formats_text()}: no conversion of "
                                  f"'{producer}' ({info.format}) fits (tried {target})")
            inputs[port] = done.id
        return tuple(inputs)

    def _free_id(self, wanted: str) -> str:
        """``wanted``, or ``wanted_2``, ``wanted_3``... when a node of the graph has that id."""
        taken = set(self.graph.nodes) | set(self._runs) | {SOURCE, "output"}
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted}_{n}"
        return name

    def _open_sink(self, info: StreamInfo) -> None:
        """``sink.open(info, source_info=...)``: the source's stream too, where the sink takes it
        (the encoded format follows the source's), else ``sink.open(info)`` (sinks of tests and
        wrappers that predate it)."""
        source_info = getattr(self.source, "info", None)
        try:
            params = inspect.signature(self.sink.open).parameters
        except (TypeError, ValueError):
            params = {}
        takes = "source_info" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        if takes and source_info is not None:
            self.sink.open(info, source_info=source_info)
        else:
            self.sink.open(info)

    @staticmethod
    def _auto_device(cls, spec, ins: list[StreamInfo]) -> str:
        """For ``auto``: CUDA if the node takes these inputs there, else the CPU.

        The inputs are taken as negotiation would give them on the CPU (lowlight gets rgbpf32
        either way, so runs on the GPU): ``auto`` never adds a conversion only to use the GPU
        (resize on CUDA takes rgbpf32 only; a yuv420p input keeps it on the CPU). A node may run
        on CUDA for some inputs only (convert: the kernel formats); its check() says so with a
        ConfigError. ``auto`` means "the GPU where it can", so that is the CPU, said in the log;
        an explicit ``cuda`` keeps the error (or, for a format, gets a conversion).
        """
        on_cpu = cls(spec.params, "cpu", spec.id)
        ins = [i if on_cpu.accepts(i) else i.replace(format=on_cpu.preferred_format(i)) for i in ins]
        probe = cls(spec.params, "cuda", spec.id)
        try:
            for i in ins:
                if not probe.accepts(i):
                    raise ConfigError(f"on CUDA it takes {probe.formats_text()}, not {i.format}")
            probe.check(*ins)
        except ConfigError as exc:
            log.info("node '%s' (%s) runs on the CPU: %s", spec.id, spec.type, exc)
            return "cpu"
        return "cuda"

    def queue_depths(self) -> dict[str, int]:
        """Items waiting now in each node's inbox and the sink's (live statistics)."""
        depths = {spec_id: len(run.inbox) for spec_id, run in self._runs.items()}
        depths["output"] = len(self._sink_inbox)
        return depths

    def close_nodes(self) -> None:
        """Close every node whose open() returned, in reverse order; errors are logged."""
        for run in reversed(list(self._runs.values())):
            if run.opened:
                run.opened = False
                try:
                    run.stats.summary = dict(run.node.summary)
                except Exception as exc:  # counters must not hide the run's outcome
                    log.warning("node '%s' failed to report its counters: %s", run.spec_id, exc)
                try:
                    run.node.close()
                except Exception as exc:  # a failing close must not hide the first error
                    log.warning("node '%s' failed to close: %s", run.spec_id, exc)

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> RunStats:
        """Process the whole input; returns the statistics. Raises the first error of any stage."""
        start = time.perf_counter()
        devices.STATS.reset()
        threads: list[threading.Thread] = []
        try:
            self.open_nodes()
            out_info = self.infos[self.graph.output_in]
            self._open_sink(out_info)
            _freeze_heap()
            threads = [threading.Thread(target=self._guard, args=(self._source_loop,), name="source", daemon=True)]
            threads += [threading.Thread(target=self._guard, args=(self._node_loop, r), name=f"node:{r.spec_id}", daemon=True)
                        for r in self._runs.values()]
            threads.append(threading.Thread(target=self._guard, args=(self._sink_loop,), name="sink", daemon=True))
            self._done = {t: threading.Event() for t in threads}
            for t in threads:
                t.start()
            self._wait(threads)
            if self._errors:
                raise self._errors[0]
            with self._signals_deferred(abortable=True):  # every frame is in: a first signal must not lose the file
                self.sink.close()
        except BaseException:
            self._abort.set()
            self._stop_stages(threads)
            self.sink.abort()
            raise
        finally:
            with self._signals_deferred():
                self.close_nodes()
                self.source.close()
                self._finish_stats(start)
                _thaw_heap()
        return self.stats

    @contextmanager
    def _signals_deferred(self, abortable: bool = False):
        """While the output is finished and the run torn down: SIGINT and SIGTERM are noted in
        ``stats.signal`` instead of interrupting (an interrupt inside the sink's close would
        throw away a complete file, one inside the tear-down would skip it); the caller reports
        it. ``abortable``: a signal after an earlier one (the run was already stopping) still
        aborts, as a second Ctrl-C does everywhere else. Only the main thread can swap signal
        handlers; elsewhere nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        got: list[int] = []

        def note(signum, frame):
            got.append(signum)
            if abortable and (self.stats.interrupted or len(got) > 1):
                raise KeyboardInterrupt

        kinds = (signal.SIGINT, signal.SIGTERM)
        old = {sig: signal.signal(sig, note) for sig in kinds}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            if got and self.stats.signal is None:
                self.stats.signal = signal.Signals(got[0]).name

    def _wait(self, threads: list[threading.Thread]) -> None:
        total = getattr(self.source.info, "frames", None)
        interrupts = 0
        while True:
            try:
                for t in threads:
                    # The stage's own event, not Thread.join(): before Python 3.13 a join that
                    # Ctrl-C interrupts can mark a thread that is still running as finished
                    # (threading's bpo-45274 handler), and the run would go on without it.
                    while not self._done[t].wait(timeout=0.2):
                        if self.progress:
                            self.progress(self.sink.frames_written, total)
                if self.progress:
                    self.progress(self.sink.frames_written, total)
                return
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 1 or self._abort.is_set():
                    self._abort.set()
                    raise
                self.stats.interrupted = True
                log.warning("interrupted: finishing the output with what was read (interrupt again to abort)")
                self.source.stop()

    def _stop_stages(self, threads: list[threading.Thread], timeout: float = 10.0) -> None:
        """After an abort, wait (bounded) for the stages to leave their current call: the sink,
        the nodes and the source must not be torn down under a stage still using them (closing
        a PyAV container another thread is muxing into crashes the process: a second Ctrl-C did)."""
        deadline = time.monotonic() + timeout
        for t in threads:
            if t.ident is None:  # never started (Ctrl-C while the stages were starting)
                continue
            while not self._done[t].is_set() and time.monotonic() < deadline:
                try:
                    self._done[t].wait(timeout=0.2)
                except KeyboardInterrupt:  # yet another Ctrl-C: we are already stopping
                    pass

    def _guard(self, loop, *args) -> None:
        try:
            loop(*args)
        except Aborted:
            pass
        except BaseException as exc:
            if not self._abort.is_set():
                self._errors.append(exc)
            self._abort.set()
        finally:
            self._done[threading.current_thread()].set()

    def _emit(self, producer: str, frames: list[Frame]) -> None:
        for frame in frames:
            for run in self._runs.values():
                for port, name in enumerate(run.inputs):
                    if name == producer:
                        # Uploads happen here, in the producer's thread, so frame n+1 crosses to
                        # the GPU while the consumer computes frame n; Frame.to() caches, so
                        # several GPU consumers share one upload. Downloads happen late, in the
                        # consumer's thread (see _call and _sink_loop), for the same overlap.
                        on_gpu = run.node.device == "cuda" and frame is not _EOF
                        run.inbox.put(port, frame.to("cuda") if on_gpu else frame)
            if producer == self.graph.output_in:
                self._sink_inbox.put(0, frame)

    def _emit_eof(self, producer: str) -> None:
        self._emit(producer, [_EOF])  # the same fan-out; consumers recognise the marker

    def _source_loop(self) -> None:
        st = self._source_stats
        items = self.source.items()
        while True:
            t0 = time.perf_counter()
            item = next(items, _EOF)
            st.busy_s += time.perf_counter() - t0
            if item is _EOF:
                break
            if isinstance(item, Frame):
                st.frames_out += 1
                self._emit(SOURCE, [item])
            else:
                self._sink_inbox.put(1, item)
        self._emit_eof(SOURCE)
        self._sink_inbox.put(1, _EOF)

    def _node_loop(self, run: _NodeRun) -> None:
        if run.node.device == "cuda":
            devices.stream()  # this thread's own CUDA stream, current for the node's kernels
        n = len(run.inputs)
        buffers: list[deque] = [deque() for _ in range(n)]
        held: list[Frame | None] = [None] * n
        eof = [False] * n
        while not (eof[0] and not buffers[0]):
            port, item = run.inbox.get()
            if item is _EOF:
                eof[port] = True
            else:
                buffers[port].append(item)
            while buffers[0]:
                picked = _pick_inputs(buffers, held, eof, run.inputs)
                if picked is None:
                    break  # a secondary input has not caught up yet
                buffers[0].popleft()
                self._call(run, run.node.process, picked)
        for port in range(1, n):  # drain secondaries so their producers never block on us
            while not eof[port]:
                p, item = run.inbox.get()
                eof[p] = eof[p] or item is _EOF
        self._call(run, run.node.flush, ())
        self._emit_eof(run.spec_id)

    def _call(self, run: _NodeRun, method, frames) -> None:
        st = run.stats
        st.frames_in += 1 if frames else 0
        on_gpu = run.node.device == "cuda"
        frames = tuple(f.to(run.node.device) for f in frames)
        if on_gpu:
            for f in frames:  # the GPU, not this thread, waits for the upload or the producer
                devices.wait_ready(f)
        t0 = time.perf_counter()
        try:
            out = method(*frames)
        except VprocError as exc:
            raise type(exc)(f"node '{run.spec_id}' ({run.node.kind}): {exc}") from exc
        except Exception as exc:
            when = f" at t={float(frames[0].time):.3f}s" if frames else " while flushing"
            raise NodeError(f"node '{run.spec_id}' ({run.node.kind}) failed{when}: {type(exc).__name__}: {exc}") from exc
        st.busy_s += time.perf_counter() - t0
        if out is None or not isinstance(out, (list, tuple)):
            raise NodeError(f"node '{run.spec_id}' ({run.node.kind}) must return a list of frames, not {type(out).__name__}")
        last = run.last_time
        for f in out:
            if last is not None and f.time <= last:
                raise NodeError(f"node '{run.spec_id}' ({run.node.kind}) emitted pts out of order (t={float(f.time):.6f}s after t={float(last):.6f}s)")
            last = f.time
        run.last_time = last
        if on_gpu:
            # Outputs are ready, and inputs free for reuse, once this thread's queued work is done.
            done = devices.stream().record()
            for f in frames:
                f._uses.append(done)
            for f in out:
                f._ready = f._ready or done
        for f in out:  # pooled output buffers go back when the frame is released
            devices.bind(f, f.data if isinstance(f.data, tuple) else (f.data,))
        st.frames_out += len(out)
        self._emit(run.spec_id, list(out))

    def _sink_loop(self) -> None:
        st = self._sink_stats
        open_ports = {0, 1}
        while open_ports:
            port, item = self._sink_inbox.get()
            if item is _EOF:
                open_ports.discard(port)
                continue
            t0 = time.perf_counter()
            if port == 0:
                self.sink.write(item.to("cpu"))
                st.frames_in += 1
            else:
                self.sink.write_packet(item)
            st.busy_s += time.perf_counter() - t0

    def _finish_stats(self, start: float) -> None:
        s = self.stats
        s.wall_s = time.perf_counter() - start
        s.frames_in = self._source_stats.frames_out
        s.frames_out = self.sink.frames_written
        self._sink_stats.frames_out = self.sink.frames_written
        src_stats = getattr(self.source, "stats", None)
        s.skipped_corrupt = getattr(src_stats, "corrupt_skipped", 0)
        for counter in ("concealed", "dropped", "packets_dropped"):
            setattr(s, counter, getattr(src_stats, counter, 0))
        s.notices = list(getattr(self.sink, "notices", []))
        s.output = getattr(self.sink, "target", "")
        s.stages = [self._source_stats, *(r.stats for r in self._runs.values()), self._sink_stats]
        s.transfers = devices.STATS.snapshot()


def _freeze_heap() -> None:
    """Keep Python's cyclic garbage collector off what exists when the frames start to flow.

    Each frame allocates a few dozen objects (PyAV frames and packets, Frames, arrays, queue
    entries), so collections run every few frames, and the older generations' collections walk
    every object alive: the modules, the nodes, their weights and kernels (torch, numba, OpenCV
    objects by the hundred thousand). Profiled on a 720p passthrough run, that was a fifth of
    vproc's CPU. Frozen objects are never walked; cycles among the frames are still collected.
    """
    import gc

    gc.collect()
    gc.freeze()


def _thaw_heap() -> None:
    """Undo :func:`_freeze_heap` after the run: what it froze may be garbage by the next run in
    the same process (a folder of inputs, the Python API), which must be collectable then."""
    import gc

    gc.unfreeze()


def _pick_inputs(buffers: list[deque], held: list, eof: list[bool], names) -> tuple[Frame, ...] | None:
    """Frames for one process() call: the next primary frame plus, for every other input, its
    latest frame at or before the primary's time (sample-and-hold); None while undecidable."""
    primary = buffers[0][0]
    t = primary.time
    picked = [primary]
    for port in range(1, len(buffers)):
        buf = buffers[port]
        while buf and buf[0].time <= t:  # everything at or before t: keep the latest
            held[port] = buf.popleft()
        if not buf and not eof[port]:
            return None  # a later frame at or before t may still come
        if held[port] is None:  # the input starts after t: use its first frame
            if not buf:
                raise NodeError(f"input '{names[port]}' produced no frames")
            held[port] = buf[0]
        picked.append(held[port])
    return tuple(picked)
