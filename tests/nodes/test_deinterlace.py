"""The deinterlace node: FFmpeg's bwdif in-process, one frame out per frame in with the input's
pts, bit-identical passthrough of progressive input in mode auto, and transcode's --deinterlace."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from vproc import registry
from vproc.errors import ConfigError
from vproc.frame import Frame
from vproc.io.source import Source
from vproc.nodes.deinterlace import Deinterlace, DeinterlaceParams
from vproc.pipeline import run, transcode_graph

from .. import media


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("deinterlace")


@pytest.fixture(scope="module")
def il_mkv(folder) -> Path:
    """Interlaced H.264 (top field first, interlaced DCT/ME), 10 frames."""
    path = folder / "il.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-vf", "tinterlace=interleave_top,fieldorder=tff",
                     "-flags", "+ildct+ilme", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                     "-frames:v", "10", str(path))
    return path


@pytest.fixture(scope="module")
def progressive(folder) -> Path:
    path = folder / "p.mp4"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "10", "-c:v", "libx264",
                     "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def _through(node, src: Source) -> tuple[list[Frame], list[Frame]]:
    frames = [item for item in src.items() if isinstance(item, Frame)]
    out = [g for f in frames for g in node.process(f)] + node.flush()
    return frames, out


def _y(f: Frame) -> np.ndarray:
    return np.asarray(f.planes[0], dtype=np.int16)


def test_interlaced_input_is_deinterlaced_with_the_inputs_count_and_pts(il_mkv):
    with Source(il_mkv) as src:
        assert src.info.interlaced
        node = Deinterlace(DeinterlaceParams())
        out_info = node.open(src.info)
        assert (node.latency, node.warmup) == (1, 1)
        assert not out_info.interlaced and out_info.time_base == src.info.time_base
        frames, out = _through(node, src)
    assert len(out) == len(frames) == 10
    assert [f.pts for f in out] == [f.pts for f in frames]  # the decoder's, not a counter
    assert [f.time_base for f in out] == [f.time_base for f in frames]
    assert any(not np.array_equal(a.planes[0], b.planes[0]) for a, b in zip(frames, out))
    assert node.summary["deinterlaced"] is True and node.summary["frames_out"] == 10
    # the pixels are ffmpeg's bwdif's on the same decoded frames
    ref = subprocess.run([media.ffmpeg(), "-v", "error", "-i", str(il_mkv), "-vf",
                          "bwdif=mode=send_frame:parity=auto:deint=interlaced", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         capture_output=True, check=True).stdout
    size = 64 * 48 * 3 // 2
    cli = [np.frombuffer(ref[i * size:i * size + 64 * 48], np.uint8).reshape(48, 64) for i in range(10)]
    # (from the second frame on exactly; the first, which bwdif makes without a previous frame,
    # differs in one line between the libavfilter PyAV bundles, 8.1, and the CLI's, 9.0)
    assert all(np.array_equal(f.planes[0], c) for f, c in zip(out[1:], cli[1:]))
    assert np.abs(_y(out[0]) - cli[0]).mean() < 2


def test_progressive_input_passes_through_untouched_in_mode_auto(progressive):
    with Source(progressive) as src:
        node = Deinterlace(DeinterlaceParams(mode="auto"))
        assert node.open(src.info) == src.info
        assert (node.latency, node.warmup) == (0, 0)
        frames = [item for item in src.items() if isinstance(item, Frame)]
        out = [g for f in frames for g in node.process(f)] + node.flush()
    assert len(out) == len(frames) and all(a is b for a, b in zip(frames, out))  # the very frames
    assert node.summary["deinterlaced"] is False and "progressive" in node.summary["note"]


def test_mode_on_deinterlaces_progressive_input_too(progressive):
    with Source(progressive) as src:
        node = Deinterlace(DeinterlaceParams(mode="on"))
        node.open(src.info)
        frames, out = _through(node, src)
    assert [f.pts for f in out] == [f.pts for f in frames]
    assert "deint=all" in node.summary["filters"]
    assert any(not np.array_equal(a.planes[0], b.planes[0]) for a, b in zip(frames, out))


def test_frames_without_the_decoders_flags_are_deinterlaced_in_the_streams_order(il_mkv):
    with Source(il_mkv) as src:
        flagged = Deinterlace(DeinterlaceParams())
        flagged.open(src.info)
        frames, want = _through(flagged, src)
    rebuilt = [f.with_data(tuple(np.array(p) for p in f.planes)) for f in frames]  # no decoder frame behind
    node = Deinterlace(DeinterlaceParams())
    with Source(il_mkv) as src:
        node.open(src.info)
    got = [g for f in rebuilt for g in node.process(f)] + node.flush()
    assert node.summary["filters"] == "bwdif=mode=send_frame:parity=tff:deint=all"
    # every frame of this clip is interlaced, top field first: the same pixels
    assert all(np.array_equal(a.planes[i], b.planes[i]) for a, b in zip(want, got) for i in range(3))


def test_transcode_graph_puts_it_first(il_mkv, folder):
    g = transcode_graph(deinterlace="auto", scale=0.5)
    assert g.nodes["deinterlace"].inputs == ("source",) and g.nodes["resize"].inputs == ("deinterlace",)
    assert "deinterlace" not in transcode_graph().nodes
    with pytest.raises(ConfigError):
        transcode_graph(deinterlace="yes")
    assert registry.get("deinterlace") is Deinterlace
    out = folder / "out.mkv"
    stats = run(transcode_graph(deinterlace="auto"), str(il_mkv), str(out))
    with av.open(str(il_mkv)) as a, av.open(str(out)) as b:
        times_in = [f.time for f in a.decode(a.streams.video[0])]
        times_out = [f.time for f in b.decode(b.streams.video[0])]
    assert times_out == times_in and stats.frames_out == 10
