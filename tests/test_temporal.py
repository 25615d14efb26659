"""TemporalNode: sliding windows clamped at the clip's ends, delayed output, drain on flush/cut."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import vproc
from vproc import registry

from . import media
from .window_mean import MeanParams, WindowMean

TB = Fraction(1, 25)


def frame(i: int) -> vproc.Frame:
    return vproc.Frame(np.full((4, 6), i, np.uint8), 100 + 40 * i, TB, "gray")


def run(node: WindowMean, n: int, cut_at: int | None = None) -> list:
    node.open(None)
    out = []
    for i in range(n):
        if i == cut_at:
            out += node.drain()
        got = node.process(frame(i))
        out += got
    return out + node.flush()


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_every_frame_comes_out_once_in_order_with_its_pts(radius):
    node = WindowMean(MeanParams(radius))
    out = run(node, 7)
    assert [f.pts for f in out] == [100 + 40 * i for i in range(7)]
    assert node.latency == node.warmup == radius


def test_output_is_delayed_by_the_radius():
    node = WindowMean(MeanParams(2))
    node.open(None)
    emitted = [len(node.process(frame(i))) for i in range(6)]
    assert emitted == [0, 0, 1, 1, 1, 1]
    assert len(node.flush()) == 2


def test_windows_are_clamped_at_both_ends():
    node = WindowMean(MeanParams(2))
    run(node, 5)
    assert node.windows == [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 4], [1, 2, 3, 4, 4], [2, 3, 4, 4, 4]]


def test_a_clip_shorter_than_the_window():
    node = WindowMean(MeanParams(3))
    out = run(node, 2)
    assert len(out) == 2
    assert node.windows == [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]]


def test_drain_at_a_cut_keeps_the_clips_apart():
    node = WindowMean(MeanParams(1))
    out = run(node, 6, cut_at=3)
    assert [f.pts for f in out] == [100 + 40 * i for i in range(6)]
    assert node.windows == [[0, 0, 1], [0, 1, 2], [1, 2, 2], [3, 3, 4], [3, 4, 5], [4, 5, 5]]


def test_memory_holds_only_the_window():
    node = WindowMean(MeanParams(2))
    node.open(None)
    for i in range(50):
        node.process(frame(i))
        assert len(node._held) <= 2 * 2 + 1


def test_a_temporal_node_in_a_real_graph_keeps_count_and_times(clip_mp4, tmp_path):
    registry.register("test_window_mean")(WindowMean)
    try:
        graph = vproc.build_graph({"nodes": {"t": {"type": "test_window_mean", "in": "source", "params": {"radius": 2}}}})
        out = tmp_path / "t.mp4"
        stats = vproc.run(graph, str(clip_mp4), str(out))
    finally:  # only its own kind: built-in kinds imported meanwhile must stay registered
        registry._KINDS.pop("test_window_mean", None)
    src, dst = media.inspect(clip_mp4), media.inspect(out)
    assert stats.frames_in == stats.frames_out == src.frames == dst.frames
    assert dst.video_times == src.video_times


@pytest.mark.parametrize("future", [0, 1])
def test_asymmetric_windows_have_future_frames_of_latency(future):
    """``future`` < ``radius``: the window holds ``radius`` frames before the centre and
    ``future`` after it; frame c comes out once c + future is in (0: at once, causal)."""
    node = WindowMean(MeanParams(2))
    node.open(None)
    node.future = future
    assert (node.latency, node.warmup) == (future, 2)
    emitted = []
    for i in range(5):
        emitted.append([f.pts for f in node.process(frame(i))])
    emitted.append([f.pts for f in node.flush()])
    assert emitted[future] == [100] and emitted[4] == [100 + 40 * (4 - future)]
    assert sum(len(e) for e in emitted) == 5
    last = 4
    want = [[min(max(c + d, 0), last) for d in range(-2, future + 1)] for c in range(5)]
    assert node.windows == want
