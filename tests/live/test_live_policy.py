"""``vproc live`` without a network: a file paced as a live source (``realtime``), the real-time
drop policy under a node slower than the input, exact frame accounting, increasing pts, the
latency bound, HLS into a folder, and the live encoder settings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.graph import OutputOptions, build_graph
from vproc.live import LiveOptions, output_target, run_live
from vproc.live.sink import live_output_options
from vproc.node import Node
from vproc.registry import register

from .. import media


@dataclass(frozen=True)
class _SlowParams:
    seconds: float = 0.1


@register("test_live_slow")
class _Slow(Node):
    """Takes ``seconds`` per frame: a graph slower than its input."""

    Params = _SlowParams

    def process(self, frame):
        time.sleep(self.params.seconds)
        return [frame]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return media.make_clip(tmp_path_factory.mktemp("live") / "in.mp4", seconds=3, size="160x120", rate=25)


def graph(seconds: float | None = None):
    nodes = {} if seconds is None else {"slow": {"type": "test_live_slow", "in": "source", "params": {"seconds": seconds}}}
    return build_graph({"nodes": nodes, "output": {"preset": "ultrafast"}})


def run(g, clip, out, **options):
    lines = []

    class Out:
        def write(self, text):
            lines.extend(json.loads(t) for t in text.splitlines() if t.strip())

        def flush(self):
            pass

    opts = LiveOptions(realtime=True, json=True, stats_interval=0.5, **options)
    stats = run_live(g, str(clip), str(out), opts, out=Out())
    return stats, lines


def test_realtime_file_keeps_every_frame_and_its_time(clip, tmp_path):
    t0 = time.monotonic()
    stats, lines = run(graph(), clip, tmp_path / "out.flv")
    assert time.monotonic() - t0 >= 2.5  # paced: 3 s of video take about 3 s
    src, out = media.inspect(clip), media.inspect(tmp_path / "out.flv")
    assert out.frames == src.frames == 75 and stats.frames_out == 75
    # FLV cannot store the AAC priming's negative times: it shifts every stream alike.
    rel = lambda ts: [round(float(t - ts[0]), 3) for t in ts]  # noqa: E731
    assert rel(out.video_times) == rel(src.video_times)
    assert out.audio_codec == "aac" and len(out.audio_packets) > 100  # the tone, copied
    last = lines[-1]
    assert last["dropped"] == 0 and last["repeated"] == 0 and last["frames_in"] == last["frames_out"] == 75


def test_slow_graph_drops_frames_within_the_latency_bound(clip, tmp_path):
    stats, lines = run(graph(0.1), clip, tmp_path / "out.flv", max_latency_ms=300)
    last = lines[-1]
    out = media.inspect(tmp_path / "out.flv")
    # 25 fps in, 10 fps of processing: most frames must go, every one of them counted.
    assert last["dropped"] > 20
    assert last["frames_in"] == 75 and last["frames_out"] + last["dropped"] == 75
    assert out.frames == last["frames_out"]
    times = [float(t) for t in out.video_times]
    assert all(b > a for a, b in zip(times, times[1:]))  # pts increasing: drops, not reordering
    p95 = [line["latency_p95_ms"] for line in lines if line["latency_p95_ms"] is not None]
    assert p95 and max(p95) <= 300  # the bound holds for every frame sent
    assert len(out.audio_packets) > 100  # audio untouched by the policy


def test_hls_into_a_folder(clip, tmp_path):
    folder = tmp_path / "hls"
    folder.mkdir()
    run(graph(), clip, str(folder), keyint=1.0)
    playlist = (folder / "index.m3u8").read_text()
    segments = sorted(folder.glob("*.ts"))
    assert "#EXTINF" in playlist and len(segments) >= 2
    assert media.inspect(segments[0]).frames > 0


def test_output_target_and_encoder_settings(tmp_path):
    assert output_target(str(tmp_path) + "/") == str(tmp_path / "index.m3u8")
    assert output_target("rtmp://127.0.0.1/live/x") == "rtmp://127.0.0.1/live/x"
    opts = live_output_options(OutputOptions(), "rtmp://127.0.0.1/live/x", keyint=2, bitrate="2M")
    args = " ".join(opts.args)
    assert "-tune zerolatency" in args and "expr:gte(t,n_forced*2)" in args
    assert "-maxrate 2M -bufsize 2M" in args and "nal-hrd=cbr" in args and "no_duration_filesize" in args
    assert opts.bitrate == "2M" and opts.crf is None and opts.preset == "veryfast"
    assert live_output_options(OutputOptions(), "out.flv").crf == 23


def test_bad_live_options():
    with pytest.raises(ConfigError, match="--max-latency"):
        LiveOptions(max_latency_ms=10)
    with pytest.raises(ConfigError, match="--keyint"):
        LiveOptions(keyint=0)


SKELETON_GRAPH = {"nodes": {"pose": {"type": "pose", "in": "source"}},
                  "output": {"in": "pose", "skeleton": "{stem}.jsonl"}}


def test_output_skeleton_is_refused_before_anything_starts(clip, tmp_path):
    # A sidecar is not written by live runs: refused in one line, before connecting or creating
    # the output (here an HLS folder), rather than silently not written.
    folder = tmp_path / "hls" / ""
    with pytest.raises(ConfigError, match=r"output\.skeleton .*not written by vproc live") as info:
        run_live(build_graph(SKELETON_GRAPH), str(clip), str(folder), LiveOptions(realtime=True))
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_output_skeleton_is_refused_by_the_command(clip, tmp_path):
    g = tmp_path / "pose.yaml"
    g.write_text("nodes:\n  pose: {type: pose, in: source}\noutput: {in: pose, skeleton: '{stem}.jsonl'}\n")
    result = media.run_vproc("live", clip, tmp_path / "out.flv", "--graph", g, "--realtime", timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vproc: error: output.skeleton"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.yaml"]
