"""The local segmented engine: the same output as one run over the whole file, and resume."""

from __future__ import annotations

import json
import logging
import os

import av
import numpy as np
import pytest

import vproc
from vproc.engines.local import run_segmented
from vproc.errors import ConfigError, MediaError, NodeError

from .. import media
from .conftest import CRASH

FFV1 = {"codec": "ffv1", "format": "matroska"}


def graph(nodes, out=FFV1):
    last = list(nodes)[-1]
    return vproc.build_graph({"version": 1, "device": "cpu", "nodes": nodes, "output": {**out, "in": last}})


def temporal(radius=2):
    return graph({"t": {"type": "test_seg_mean", "in": "source", "params": {"radius": radius}},
                  "x": {"type": "test_crash", "in": "t"}})


def pixels(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray() for f in c.decode(video=0)]


def assert_same_output(a, b):
    ia, ib = media.inspect(a), media.inspect(b)
    assert ib.frames == ia.frames
    assert ib.video_times == ia.video_times  # pts for pts: continuous, no duplicate at a boundary
    assert len(set(ib.video_times)) == ib.frames
    pa, pb = pixels(a), pixels(b)
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb)), \
        [i for i, (x, y) in enumerate(zip(pa, pb)) if not np.array_equal(x, y)]
    # audio once over the whole output: the same packets, the span within one packet
    assert abs(len(ib.audio_packets) - len(ia.audio_packets)) <= 1
    one = max(d for _, d, _ in ia.audio_packets)
    assert abs(ib.audio_span[0] - ia.audio_span[0]) <= one and abs(ib.audio_span[1] - ia.audio_span[1]) <= one
    return ia, ib


@pytest.mark.parametrize("kind", ["temporal", "resize", "denoise"])
def test_segmented_output_equals_one_run_frame_for_frame(gop_clip, test_nodes, tmp_path, kind):
    g = {"temporal": temporal(),
         "resize": graph({"r": {"type": "resize", "in": "source", "params": {"width": 96, "height": 72}}}),
         "denoise": graph({"d": {"type": "denoise", "in": "source", "params": {"strength": 8, "radius": 2}}})}[kind]
    ref, seg = tmp_path / "ref.mkv", tmp_path / "seg.mkv"
    vproc.run(g, str(gop_clip), str(ref))
    stats = run_segmented(g, str(gop_clip), str(seg), segment_seconds=1)
    ia, ib = assert_same_output(ref, seg)
    assert ia.frames == 100 and stats.frames_out == 100
    assert media.leftovers(tmp_path) == ["ref.mkv", "seg.mkv"]  # no work folder, no partial file


@pytest.mark.parametrize("ext", ["mp4", "mkv", "ts"])
def test_h264_output_keeps_the_times_of_one_run(gop_clip, tmp_path, ext):
    """B-frames in the segments (decode times below the first pts) and other containers."""
    g = graph({"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}}, {"codec": "libx264", "preset": "veryfast"})
    ref, seg = tmp_path / f"ref.{ext}", tmp_path / f"seg.{ext}"
    vproc.run(g, str(gop_clip), str(ref))
    run_segmented(g, str(gop_clip), str(seg), segment_seconds=1)
    ia, ib = media.inspect(ref), media.inspect(seg)
    assert ib.video_times == ia.video_times
    assert abs(len(ib.audio_packets) - len(ia.audio_packets)) <= 1 and ib.audio_packets[0][0] == ia.audio_packets[0][0]


def crash_then(g, clip, out, at=2.0, **kw):
    CRASH["at"] = at
    with pytest.raises(NodeError, match="simulated crash"):
        run_segmented(g, str(clip), str(out), segment_seconds=0.9, **kw)
    CRASH["at"] = None


def test_a_rerun_after_a_crash_processes_only_the_remaining_segments(gop_clip, test_nodes, tmp_path):
    g = temporal()
    ref, out = tmp_path / "ref.mkv", tmp_path / "out.mkv"
    vproc.run(g, str(gop_clip), str(ref))
    crash_then(g, gop_clip, out)  # segments start at 0, 0.96, 1.92, 2.88, 3.84: dies in the third
    work = tmp_path / "out.mkv.vproc-work"
    assert not out.exists()
    assert media.leftovers(work) == ["manifest.json", "seg-00000.nut", "seg-00001.nut"]  # no partial file
    assert json.loads((work / "manifest.json").read_text())["segments"] == {"0": "seg-00000.nut", "1": "seg-00001.nut"}
    ran, progress = [], []
    stats = run_segmented(g, str(gop_clip), str(out), segment_seconds=0.9, on_segment=ran.append,
                          progress=lambda d, t: progress.append((d, t)))
    assert ran == [2, 3, 4]
    assert progress[0] == (48, 100) and progress[-1] == (100, 100)  # the finished segments count as done
    assert stats.frames_in == 52 + (2 + 2) + (2 + 2) + 2  # the rest, plus 2 warm-up and 2 look-ahead frames a cut
    assert_same_output(ref, out)
    assert not work.exists()


def test_a_changed_parameter_clears_the_finished_segments(gop_clip, test_nodes, tmp_path, caplog):
    out = tmp_path / "out.mkv"
    crash_then(temporal(2), gop_clip, out)
    ran = []
    with caplog.at_level(logging.WARNING, logger="vproc"):
        run_segmented(temporal(1), str(gop_clip), str(out), segment_seconds=0.9, on_segment=ran.append)
    assert ran == [0, 1, 2, 3, 4]
    assert "graph changed" in caplog.text
    ref = tmp_path / "ref.mkv"
    vproc.run(temporal(1), str(gop_clip), str(ref))
    assert_same_output(ref, out)


def test_another_segment_length_or_input_clears_them_too(gop_clip, test_nodes, tmp_path):
    clip = tmp_path / "in.mp4"
    clip.write_bytes(gop_clip.read_bytes())
    out = tmp_path / "out.mkv"
    crash_then(temporal(), clip, out)
    ran = []
    run_segmented(temporal(), str(clip), str(out), segment_seconds=1.5, on_segment=ran.append)
    assert ran == [0, 1, 2]
    crash_then(temporal(), clip, out)
    os.utime(clip, ns=(1, 1))  # the input changed (its mtime says so)
    ran = []
    run_segmented(temporal(), str(clip), str(out), segment_seconds=0.9, on_segment=ran.append)
    assert ran == [0, 1, 2, 3, 4]


def test_no_resume_reprocesses_everything(gop_clip, test_nodes, tmp_path):
    out = tmp_path / "out.mkv"
    crash_then(temporal(), gop_clip, out)
    ran = []
    run_segmented(temporal(), str(gop_clip), str(out), segment_seconds=0.9, resume_=False, on_segment=ran.append)
    assert ran == [0, 1, 2, 3, 4]


def test_keep_work_and_a_work_dir_of_ones_own(gop_clip, tmp_path):
    g = graph({"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}})
    work = tmp_path / "w"
    run_segmented(g, str(gop_clip), str(tmp_path / "o.mkv"), segment_seconds=1, work_dir=work, keep_work=True)
    assert media.leftovers(work) == ["manifest.json", "seg-00000.nut", "seg-00001.nut", "seg-00002.nut"]
    ran = []
    run_segmented(g, str(gop_clip), str(tmp_path / "o.mkv"), segment_seconds=1, work_dir=work, on_segment=ran.append)
    assert ran == [] and not work.exists()


def test_bad_settings_are_one_line_errors(gop_clip, tmp_path):
    g = graph({"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}})
    with pytest.raises(ConfigError, match="more than 0"):
        run_segmented(g, str(gop_clip), str(tmp_path / "o.mkv"), segment_seconds=0)
    with pytest.raises(ConfigError, match="seekable input file"):
        run_segmented(g, "rtmp://localhost/app/key", str(tmp_path / "o.mkv"))
    sidecar = graph({"s": {"type": "skeleton", "in": "source", "params": {"polylines": True}}},
                    out={**FFV1, "skeleton": str(tmp_path / "o.jsonl")})
    with pytest.raises(ConfigError, match="sidecar .* not supported on segmented runs"):
        run_segmented(sidecar, str(gop_clip), str(tmp_path / "o.mkv"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        run_segmented(g, str(gop_clip), str(tmp_path / "o.mkv"), work_dir=tmp_path / "file")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(MediaError, match="not a writable folder"):
            run_segmented(g, str(gop_clip), str(tmp_path / "o.mkv"), work_dir=locked)


def test_cli_run_with_resume(gop_clip, tmp_path):
    yaml = tmp_path / "g.yaml"
    yaml.write_text("version: 1\ndevice: cpu\nnodes:\n  r: {type: resize, in: source, params: {scale: 0.5}}\n"
                    "output: {in: r, codec: ffv1}\n")
    out = tmp_path / "out.mkv"
    r = media.run_vproc("run", yaml, "-i", gop_clip, "-o", out, "--resume", "--segment-seconds", "1")
    assert r.returncode == 0, r.stderr
    assert media.leftovers(tmp_path) == ["g.yaml", "out.mkv"]
    assert media.inspect(out).frames == 100
    r = media.run_vproc("transcode", gop_clip, tmp_path / "t.mp4", "--scale", "0.5", "--resume", "--segment-seconds", "2",
                        "--preset", "ultrafast")
    assert r.returncode == 0, r.stderr
    assert media.inspect(tmp_path / "t.mp4").video_times == media.inspect(gop_clip).video_times
    for args, says in ((["--resume", "--segment-seconds", "0"], "more than 0"),
                       (["--segment-seconds", "2"], "--segment-seconds needs --resume")):
        r = media.run_vproc("run", yaml, "-i", gop_clip, "-o", out, *args)
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_an_input_without_timestamps_runs_as_one_segment(tmp_path):
    raw = tmp_path / "raw.h264"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "libx264", "-g", "12", str(raw))
    g = graph({"r": {"type": "resize", "in": "source", "params": {"scale": 0.5}}})
    ref, seg = tmp_path / "ref.mkv", tmp_path / "seg.mkv"
    vproc.run(g, str(raw), str(ref))
    stats = run_segmented(g, str(raw), str(seg), segment_seconds=0.5)
    assert any("one segment" in n for n in stats.notices)
    assert media.inspect(seg).video_times == media.inspect(ref).video_times
    assert pixels(seg)[10].tolist() == pixels(ref)[10].tolist()
