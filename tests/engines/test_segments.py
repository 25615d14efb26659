"""Planning segments at keyframes, the graph's context, one segment, and the join."""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import pytest

import vproc
from vproc.engines.join import concat_list
from vproc.engines.segments import Context, graph_context, plan_segments, run_segment
from vproc.errors import ConfigError
from vproc.io.source import Source

from .. import media


def keyframe_times(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return sorted(p.pts for p in c.demux(v) if p.size and p.is_keyframe)


def test_plan_cuts_at_keyframes_into_segments_of_about_the_length(gop_clip):
    plan = plan_segments(str(gop_clip), 1.0)
    src = media.inspect(gop_clip)
    assert [t * plan.time_base for t in plan.times] == src.video_times  # every frame, sorted, exact
    assert plan.frames == 100
    keys = set(keyframe_times(gop_clip))
    starts = plan.cut_points()
    assert starts[0] == plan.times[0] and all(s in keys for s in starts[1:])
    # keyframes at 0, 0.48, 0.96, ...: the first one at least 1 s after the segment's start
    assert [float(s * plan.time_base) for s in starts] == [0.0, 1.44, 2.88]
    assert sum(plan.count(i) for i in range(len(plan))) == plan.frames
    assert plan.span(2)[1] is None


def test_plan_refuses_a_segment_length_of_zero(gop_clip):
    with pytest.raises(ConfigError, match="more than 0"):
        plan_segments(str(gop_clip), 0)




def graph(nodes, out=None):
    return vproc.build_graph({"version": 1, "device": "cpu", "nodes": nodes,
                              "output": out or {"codec": "ffv1", "format": "matroska"}})


def test_context_sums_warmup_and_latency_over_the_longest_path(gop_clip, test_nodes):
    with Source(str(gop_clip)) as src:
        info = src.info
    g = graph({"a": {"type": "test_seg_mean", "in": "source", "params": {"radius": 2}},
               "b": {"type": "test_seg_mean", "in": "a", "params": {"radius": 1}}})
    assert graph_context(g, info) == Context(3, 3)
    assert graph_context(graph({"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}}), info) == Context(0, 0)


def test_a_segment_file_holds_exactly_its_frames_with_their_pts(gop_clip, test_nodes, tmp_path, caplog):
    g = graph({"t": {"type": "test_seg_mean", "in": "source", "params": {"radius": 2}}})
    plan = plan_segments(str(gop_clip), 1.0)
    out = tmp_path / "seg1.nut"
    with caplog.at_level(logging.INFO, logger="vproc"):
        stats = run_segment(g, str(gop_clip), 1, plan, out, context=Context(2, 2))
    first, end = plan.bounds(1)
    assert media.inspect(out).video_times == [t * plan.time_base for t in plan.times[first:end]]
    assert stats.frames_in == plan.count(1) + 4  # two warm-up and two look-ahead frames, decoded and dropped
    assert "decoding from the start" not in caplog.text  # the seek landed where it should
    assert media.leftovers(tmp_path) == ["seg1.nut"]


def test_concat_list_gives_each_file_the_distance_to_the_next_start(gop_clip, tmp_path):
    plan = plan_segments(str(gop_clip), 1.0)
    text = concat_list(plan, [tmp_path / "a.nut", tmp_path / "b.nut", tmp_path / "c.nut"])
    assert text.splitlines()[1:] == [f"file '{tmp_path / 'a.nut'}'", "duration 1.440000",
                                     f"file '{tmp_path / 'b.nut'}'", "duration 1.440000",
                                     f"file '{tmp_path / 'c.nut'}'"]
    assert Fraction(1440000, 10**6) == Fraction(36, 25)


def test_b_frames_in_avi_are_planned_at_their_presentation_times(tmp_path):
    avi = tmp_path / "bframes.avi"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "mpeg4", "-bf", "2", "-g", "12", str(avi))
    plan = plan_segments(str(avi), 0.5)
    with Source(str(avi)) as src:
        decoded = [f.pts for f in src.items()]
    assert plan.exact and plan.times == decoded and len(plan) == 3


def test_timestamps_that_cannot_be_trusted_give_one_segment(tmp_path, caplog):
    raw = tmp_path / "raw.h264"  # an elementary stream: no timestamps at all
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "libx264", "-g", "12", str(raw))
    with caplog.at_level(logging.WARNING, logger="vproc"):
        plan = plan_segments(str(raw), 0.5)
    assert len(plan) == 1 and not plan.exact
    assert "one segment" in caplog.text
