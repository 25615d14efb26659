"""The scheduler: the Node lifecycle contract, branching and joining graphs, errors and interrupts.

Most tests run the runtime between an in-memory source and sink (fast and exact); the ones about
files left behind run the real decode/encode path on a generated clip. Every run is guarded by a
timeout so a deadlock fails the test instead of hanging the suite.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

import vproc
from vproc.errors import ConfigError, MediaError, NodeError
from vproc.frame import Frame, StreamInfo
from vproc.graph import build_graph
from vproc.node import Node
from vproc.registry import register
from vproc.runtime import Runtime

from .media import leftovers

# -- test nodes -------------------------------------------------------------------------------------

EVENTS: list[tuple[str, str]] = []  # (node id, call) in call order, from every stage thread
SOURCE_STOPPED = threading.Event()  # set when the runtime asks the source to stop (Ctrl-C)
PAIRS: dict[str, list[tuple[Fraction, Fraction]]] = defaultdict(list)  # join id -> input times


@pytest.fixture(autouse=True)
def _clear_records():
    EVENTS.clear()
    PAIRS.clear()
    SOURCE_STOPPED.clear()


def events_of(name: str) -> list[str]:
    return [e for n, e in EVENTS if n == name]


def compressed(events: list[str]) -> list[str]:
    """['open', 'process', 'process', 'flush'] -> ['open', 'process', 'flush']."""
    return [e for i, e in enumerate(events) if i == 0 or e != events[i - 1]]


@dataclass(frozen=True)
class RecorderParams:
    fail_open: str = ""  # "config" or "runtime": open() raises that kind of error
    fail_at: int = -1  # process() raises on this frame (0-based)
    repeat: bool = False  # emit every frame twice (same pts): breaks the contract
    add: int = 0  # added to the Y plane, so tests can see which branch a frame went through
    block_at: int = -1  # at this frame, wait until the runtime stops the source (as after Ctrl-C)


@register("test_recorder")
class Recorder(Node):
    """Records every lifecycle call; can be told to fail in open() or process()."""

    Params = RecorderParams

    def open(self, info):
        EVENTS.append((self.name, "open"))
        if self.params.fail_open == "config":
            raise ConfigError("cannot work on this stream")
        if self.params.fail_open == "runtime":
            raise RuntimeError("weights file is missing")
        self.count = 0
        return info

    def process(self, frame):
        EVENTS.append((self.name, "process"))
        if self.count == self.params.fail_at:
            raise ValueError("something broke")
        if self.count == self.params.block_at:
            # Hold the stream here until Ctrl-C has stopped the source, so what gets through does
            # not depend on thread timing.
            assert SOURCE_STOPPED.wait(10), "the runtime did not stop the source after Ctrl-C"
        self.count += 1
        if self.params.add:
            y, u, v = frame.planes
            frame = frame.with_data(((y + np.uint8(self.params.add)).astype(np.uint8), u, v))
        return [frame, frame] if self.params.repeat else [frame]

    def flush(self):
        EVENTS.append((self.name, "flush"))
        return []

    def close(self):
        EVENTS.append((self.name, "close"))


@register("test_join")
class Join(Node):
    """Two inputs: records the times of every pair and outputs their average (first input's timing)."""

    inputs = 2

    def open(self, a, b):
        EVENTS.append((self.name, "open"))
        assert a.size == b.size
        return a

    def process(self, a, b):
        PAIRS[self.name].append((a.time, b.time))
        planes = tuple(((pa.astype(np.uint16) + pb) // 2).astype(np.uint8) for pa, pb in zip(a.planes, b.planes))
        return [a.with_data(planes)]

    def close(self):
        EVENTS.append((self.name, "close"))


@dataclass(frozen=True)
class DelayParams:
    frames: int = 3


@register("test_delay")
class Delay(Node):
    """Holds ``frames`` frames back (a temporal node's latency) and releases them in flush()."""

    Params = DelayParams

    def open(self, info):
        self.held = []
        self.latency = self.params.frames
        return info

    def process(self, frame):
        self.held.append(frame)
        return [self.held.pop(0)] if len(self.held) > self.params.frames else []

    def flush(self):
        out, self.held = self.held, []
        return out


@register("test_halfrate")
class HalfRate(Node):
    """Keeps every other frame: a branch at half the source's rate."""

    def open(self, info):
        self.n = 0
        return info.replace(rate=info.rate / 2 if info.rate else None)

    def process(self, frame):
        self.n += 1
        return [frame] if self.n % 2 == 1 else []


# -- in-memory source and sink --------------------------------------------------------------------

TB = Fraction(1, 1000)
VFR_MS = [0, 40, 70, 120, 130, 200, 210, 260, 330, 340, 400, 480, 490, 520, 600, 610, 700, 720, 760, 800]


class FakeSource:
    """Frames of 32x24 yuv420p whose Y value is their index, at the given times (ms)."""

    def __init__(self, times_ms=VFR_MS, *, fail_at: int | None = None):
        self.times_ms = list(times_ms)
        self.fail_at = fail_at
        self.info = StreamInfo(32, 24, "yuv420p", TB, rate=Fraction(25), frames=len(self.times_ms))
        self.passthrough = []
        self.stats = SimpleNamespace(corrupt_skipped=0)
        self.closed = 0
        self._stop = threading.Event()

    def items(self):
        for i, ms in enumerate(self.times_ms):
            if self._stop.is_set():
                return
            if i == self.fail_at:
                raise MediaError(f"decode error at frame {i}")
            planes = (np.full((24, 32), i % 200, np.uint8), np.full((12, 16), 128, np.uint8), np.full((12, 16), 128, np.uint8))
            for p in planes:
                p.flags.writeable = False  # as the decoder's views are
            yield Frame(planes, ms, TB, "yuv420p")

    def stop(self):
        self._stop.set()
        SOURCE_STOPPED.set()

    def close(self):
        self.closed += 1


class FakeSink:
    target = "memory"

    def __init__(self):
        self.frames: list[Frame] = []
        self.info = None
        self.closed = self.aborted = 0
        self.notices: list[str] = []

    @property
    def frames_written(self):
        return len(self.frames)

    def open(self, info):
        self.info = info

    def write(self, frame):
        self.frames.append(frame)

    def write_packet(self, packet):
        raise AssertionError("no packets expected")

    def close(self):
        self.closed += 1

    def abort(self):
        self.aborted += 1


def graph(nodes: dict, output_in: str):
    return build_graph({"version": 1, "device": "cpu", "nodes": nodes, "output": {"in": output_in}}, name="test")


def rec(inp, **params):
    return {"type": "test_recorder", "in": inp, "params": params}


def run_guarded(g, source, sink, timeout: float = 30):
    """Run in a thread and fail (instead of hanging) if it does not end within ``timeout``."""
    box = {}

    def target():
        try:
            box["stats"] = Runtime(g, source, sink).run()
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"runtime did not finish within {timeout}s (deadlock?)"
    if "error" in box:
        raise box["error"]
    return box["stats"]


# -- lifecycle --------------------------------------------------------------------------------------


def test_lifecycle_of_a_chain():
    src, sink = FakeSource(), FakeSink()
    stats = run_guarded(graph({"a": rec("source"), "b": rec("a")}, "b"), src, sink)
    n = len(VFR_MS)
    for name in ("a", "b"):
        ev = events_of(name)
        assert compressed(ev) == ["open", "process", "flush", "close"]
        assert ev.count("process") == n and ev.count("flush") == 1 and ev.count("close") == 1
    opens = [i for i, (_, e) in enumerate(EVENTS) if e == "open"]
    first_process = next(i for i, (_, e) in enumerate(EVENTS) if e == "process")
    assert max(opens) < first_process  # every node is opened before any frame flows
    assert [n for n, e in EVENTS if e == "open"] == ["a", "b"]  # in topological order
    assert [n for n, e in EVENTS if e == "close"] == ["b", "a"]  # and closed in reverse
    assert sink.closed == 1 and sink.aborted == 0 and src.closed == 1
    assert sink.info == src.info
    assert [f.pts for f in sink.frames] == VFR_MS  # times are the source's, never renumbered
    assert stats.frames_in == stats.frames_out == n
    assert [s.name for s in stats.stages] == ["source", "a", "b", "output"]
    assert all(s.frames_out == n for s in stats.stages)
    assert stats.to_dict()["frames_out"] == n


@pytest.mark.parametrize("kind, error", [("config", ConfigError), ("runtime", NodeError)])
def test_failing_open_closes_only_the_nodes_already_opened(kind, error):
    src, sink = FakeSource(), FakeSink()
    g = graph({"a": rec("source"), "b": rec("a", fail_open=kind), "c": rec("b")}, "c")
    with pytest.raises(error) as info:
        run_guarded(g, src, sink)
    assert "node 'b'" in str(info.value)
    assert events_of("a") == ["open", "close"]
    assert events_of("b") == ["open"]  # its open() did not return: no close()
    assert events_of("c") == []  # never opened
    assert sink.info is None and sink.aborted == 1 and sink.closed == 0
    assert src.closed == 1


def test_process_error_mid_stream_names_the_node_and_closes_everything_once():
    src, sink = FakeSource(), FakeSink()
    g = graph({"a": rec("source"), "b": rec("a", fail_at=5), "c": rec("b")}, "c")
    with pytest.raises(NodeError) as info:
        run_guarded(g, src, sink)
    msg = str(info.value)
    assert "node 'b' (test_recorder) failed at t=0.200s" in msg  # the 6th frame is at 200 ms
    assert "ValueError: something broke" in msg
    for name in "abc":
        assert events_of(name).count("close") == 1
        assert events_of(name)[-1] == "close"
    assert "flush" not in events_of("b")
    assert sink.aborted == 1 and sink.closed == 0 and src.closed == 1


def test_source_error_mid_stream_stops_the_run():
    src, sink = FakeSource(fail_at=7), FakeSink()
    with pytest.raises(MediaError, match="decode error at frame 7"):
        run_guarded(graph({"a": rec("source")}, "a"), src, sink)
    assert events_of("a")[-1] == "close" and events_of("a").count("close") == 1
    assert sink.aborted == 1 and sink.closed == 0


def test_non_increasing_pts_is_a_node_error():
    with pytest.raises(NodeError, match=r"node 'a' \(test_recorder\) emitted pts out of order"):
        run_guarded(graph({"a": rec("source", repeat=True)}, "a"), FakeSource(), FakeSink())
    assert events_of("a").count("close") == 1


def test_process_must_return_a_list():
    @register("test_returns_frame")
    class ReturnsFrame(Node):
        def process(self, frame):
            return frame

    with pytest.raises(NodeError, match="must return a list of frames, not Frame"):
        run_guarded(graph({"a": {"type": "test_returns_frame", "in": "source"}}, "a"), FakeSource(), FakeSink())


def test_open_must_return_a_streaminfo():
    @register("test_open_returns_none")
    class OpenReturnsNone(Node):
        def open(self, info):
            return None

        def process(self, frame):
            return [frame]

    with pytest.raises(NodeError, match="open\\(\\) must return a StreamInfo"):
        run_guarded(graph({"a": {"type": "test_open_returns_none", "in": "source"}}, "a"), FakeSource(), FakeSink())


def test_process_error_through_the_file_pipeline_leaves_no_output(clip_mp4, tmp_path):
    out = tmp_path / "out.mp4"
    g = graph({"a": rec("source"), "b": rec("a", fail_at=20)}, "b")
    with pytest.raises(NodeError, match="node 'b'.*t=0.800s"):
        vproc.run(g, str(clip_mp4), str(out))
    assert leftovers(tmp_path) == []  # neither the output nor its temporary file
    assert events_of("a").count("close") == 1 and events_of("b").count("close") == 1


def test_open_error_through_the_file_pipeline_leaves_no_output(clip_mp4, tmp_path):
    g = graph({"a": rec("source"), "b": rec("a", fail_open="config")}, "b")
    with pytest.raises(ConfigError, match="node 'b'"):
        vproc.run(g, str(clip_mp4), str(tmp_path / "out.mp4"))
    assert leftovers(tmp_path) == []
    assert events_of("a") == ["open", "close"]


# -- branching -----------------------------------------------------------------------------------


def test_one_source_feeding_two_nodes():
    src, sink = FakeSource(), FakeSink()
    run_guarded(graph({"a": rec("source"), "b": rec("source")}, "a"), src, sink)
    n = len(VFR_MS)
    assert events_of("a").count("process") == n
    assert events_of("b").count("process") == n  # a dead-end branch still sees every frame
    assert len(sink.frames) == n


def test_diamond_pairs_frames_of_equal_time():
    src, sink = FakeSource(), FakeSink()
    g = graph({"a": rec("source", add=10), "b": rec("source", add=30),
               "j": {"type": "test_join", "in": ["a", "b"]}}, "j")
    stats = run_guarded(g, src, sink)
    n = len(VFR_MS)
    pairs = PAIRS["j"]
    assert len(pairs) == n
    assert all(ta == tb for ta, tb in pairs)
    assert [ta for ta, _ in pairs] == [Fraction(ms, 1000) for ms in VFR_MS]
    assert len(sink.frames) == stats.frames_out == n
    # (i + 10 + i + 30) / 2: only frames of the same index averaged give this.
    assert [int(f.planes[0][0, 0]) for f in sink.frames] == [i + 20 for i in range(n)]
    assert events_of("j") == ["open", "close"]


@pytest.mark.parametrize("delayed", ["first", "second"])
@pytest.mark.parametrize("latency", [3, 1000])
def test_join_with_a_delayed_branch_does_not_deadlock(delayed, latency):
    times = list(range(0, 40 * 60, 40))  # 60 frames: far more than the inboxes hold
    src, sink = FakeSource(times), FakeSink()
    late = {"type": "test_delay", "in": "source", "params": {"frames": latency}}
    ins = ["late", "now"] if delayed == "first" else ["now", "late"]
    g = graph({"late": late, "now": rec("source"), "j": {"type": "test_join", "in": ins}}, "j")
    run_guarded(g, src, sink, timeout=30)
    pairs = PAIRS["j"]
    assert len(pairs) == len(times)
    assert all(ta == tb for ta, tb in pairs)
    assert [f.pts for f in sink.frames] == times
    assert [int(f.planes[0][0, 0]) for f in sink.frames] == list(range(len(times)))


def test_join_of_different_rates_samples_and_holds():
    src, sink = FakeSource(), FakeSink()
    g = graph({"half": {"type": "test_halfrate", "in": "source"},
               "j": {"type": "test_join", "in": ["source", "half"]}}, "j")
    run_guarded(g, src, sink)
    pairs = PAIRS["j"]
    half_times = [Fraction(ms, 1000) for ms in VFR_MS[::2]]
    assert len(pairs) == len(VFR_MS)  # the primary (first) input drives the join
    for primary, secondary in pairs:
        # the latest frame of the half-rate branch at or before the primary's time
        assert secondary == max(t for t in half_times if t <= primary)


def ctrl_c(times: int):
    """A progress callback that raises KeyboardInterrupt on its first ``times`` calls once frames
    have been written: the main thread is then inside the runtime's wait, exactly where a real
    Ctrl-C lands during a run (the CLI test sends a real SIGINT to a real process)."""
    left = [times]

    def progress(done, total):
        if done > 0 and left[0] > 0:
            left[0] -= 1
            raise KeyboardInterrupt

    return progress


def test_interrupt_finishes_the_output_with_what_was_read():
    times = list(range(0, 40 * 300, 40))
    src, sink = FakeSource(times), FakeSink()
    g = graph({"a": rec("source", block_at=10)}, "a")
    try:
        stats = Runtime(g, src, sink, progress=ctrl_c(1)).run()
    except KeyboardInterrupt:
        pytest.fail("a single Ctrl-C must finish the run, not abort it")
    assert stats.interrupted
    assert 10 <= stats.frames_out < len(times)
    assert stats.frames_in == stats.frames_out  # everything read was processed and written
    assert sink.closed == 1 and sink.aborted == 0
    assert compressed(events_of("a")) == ["open", "process", "flush", "close"]
    assert [f.pts for f in sink.frames] == times[:len(sink.frames)]


def test_second_interrupt_aborts():
    src, sink = FakeSource(list(range(0, 40 * 300, 40))), FakeSink()
    g = graph({"a": rec("source", block_at=10)}, "a")
    with pytest.raises(KeyboardInterrupt):
        Runtime(g, src, sink, progress=ctrl_c(2)).run()
    assert sink.aborted == 1 and sink.closed == 0
    assert events_of("a").count("close") == 1 and src.closed == 1


# -- format negotiation ---------------------------------------------------------------------------

SEEN_FORMATS: list[tuple[str, str]] = []  # (node id, format of the frames it was given)


@register("test_planar_rgb")
class PlanarRgb(Node):
    """Takes planar 8-bit formats only (as vsr/denoise declare theirs): records what it gets."""

    formats = ("gbrp", "yuv444p", "yuv420p")
    formats_note = "planar 8-bit formats"

    def open(self, info):
        assert info.format in self.formats, info.format  # negotiation ran before open()
        return info

    def process(self, frame):
        SEEN_FORMATS.append((self.name, frame.format))
        return [frame]


class RgbSource(FakeSource):
    """Packed rgb24 frames, as the Python API's usual frames."""

    def __init__(self, times_ms=VFR_MS[:5]):
        super().__init__(times_ms)
        self.info = StreamInfo(32, 24, "rgb24", TB, rate=Fraction(25), frames=len(self.times_ms))

    def items(self):
        for i, ms in enumerate(self.times_ms):
            yield Frame(np.full((24, 32, 3), (i * 10, 100, 200), np.uint8), ms, TB, "rgb24")


class SourceInfoSink(FakeSink):
    def open(self, info, source_info=None):
        self.info, self.source_info = info, source_info


def test_a_convert_is_inserted_where_a_node_does_not_take_the_format():
    SEEN_FORMATS.clear()
    sink = SourceInfoSink()
    rt = Runtime(graph({"p": {"type": "test_planar_rgb", "in": "source"}}, "p"), RgbSource(), sink)
    stats = rt.run()
    assert [(c.id, c.input, c.format, c.feeds) for c in rt.inserted] == [("p_in", "source", "gbrp", [("p", 0)])]
    assert "planar 8-bit formats" in rt.inserted[0].reason
    assert rt.infos["p_in"].format == rt.infos["p"].format == "gbrp"  # packed RGB -> planar RGB: lossless
    assert SEEN_FORMATS == [("p", "gbrp")] * 5 and stats.frames_out == 5
    assert [s.kind for s in stats.stages] == ["decode", "convert", "test_planar_rgb", "encode"]
    assert sink.source_info.format == "rgb24"  # the sink is told the source's format too
    r, g, b = sink.frames[0].planes[2], sink.frames[0].planes[0], sink.frames[0].planes[1]
    assert (r.min(), g.min(), b.min()) == (0, 100, 200)  # gbrp's plane order, values kept


def test_no_convert_where_the_format_is_taken():
    rt = Runtime(graph({"p": {"type": "test_planar_rgb", "in": "source"}}, "p"), FakeSource(VFR_MS[:3]), FakeSink())
    rt.run()  # yuv420p: taken as it is
    assert rt.inserted == [] and set(rt.infos) == {"source", "p"}


def test_consumers_wanting_the_same_format_share_one_convert_and_ids_do_not_clash():
    SEEN_FORMATS.clear()
    nodes = {"p_in": rec("source"),  # a node of the graph already has the id the convert would get
             "p": {"type": "test_planar_rgb", "in": "source"},
             "q": {"type": "test_planar_rgb", "in": "source"},
             "j": {"type": "test_join", "in": ["p", "q"]}}
    rt = Runtime(graph(nodes, "j"), RgbSource(), FakeSink())
    rt.open_nodes()
    rt.close_nodes()
    assert [(c.id, c.feeds) for c in rt.inserted] == [("p_in_2", [("p", 0), ("q", 0)])]
    text = rt.graph.describe(rt.inserted)
    assert "  p_in_2: convert(format='gbrp') <- source [inserted: test_planar_rgb takes planar 8-bit formats]" in text
    assert "  p: test_planar_rgb() <- p_in_2" in text and "  q: test_planar_rgb() <- p_in_2" in text


def test_lowlight_gets_its_float_rgb_by_negotiation():
    g = vproc.transcode_graph(lowlight="curve", device="cpu")
    assert [n.type for n in g.nodes.values()] == ["lowlight"]  # no hand-made convert any more
    rt = Runtime(g, FakeSource(VFR_MS[:2]), FakeSink())
    try:
        rt.open_nodes()
    finally:
        rt.close_nodes()
    assert [(c.id, c.format) for c in rt.inserted] == [("lowlight_in", "rgbpf32")]
    assert rt.infos["lowlight"].format == "rgbpf32"


@pytest.mark.parametrize("nodes, devices_, inserted", [
    # lowlight takes rgbpf32 on either device: auto keeps it on the GPU, the kernels convert there
    ({"ll": {"type": "lowlight", "in": "source"}}, {"ll_in": "cuda", "ll": "cuda"}, [("ll_in", "rgbpf32", "cuda")]),
    # resize takes yuv420p on the CPU as it is: auto adds no conversion only to use the GPU
    ({"r": {"type": "resize", "in": "source", "params": {"scale": 2}}}, {"r": "cpu"}, []),
    # asked for on CUDA explicitly, it gets its rgbpf32
    ({"r": {"type": "resize", "in": "source", "device": "cuda", "params": {"scale": 2}}},
     {"r_in": "cuda", "r": "cuda"}, [("r_in", "rgbpf32", "cuda")]),
])
def test_negotiation_with_device_auto(monkeypatch, nodes, devices_, inserted):
    from vproc import device as devices

    monkeypatch.setattr(devices, "cuda_status", lambda: None)  # as on a machine with a GPU
    g = build_graph({"version": 1, "device": "auto", "nodes": nodes})
    rt = Runtime(g, FakeSource(VFR_MS[:2]), FakeSink())
    try:
        rt.open_nodes()
    finally:
        rt.close_nodes()
    assert {k: r.node.device for k, r in rt._runs.items()} == devices_
    assert [(c.id, c.format, c.device) for c in rt.inserted] == inserted
