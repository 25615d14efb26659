"""The ffmpeg node: any libavfilter chain in-process, its output described at open, pts from the
input frames, and FFmpeg's pixels (hflip equals numpy's fliplr; a chain equals ``ffmpeg -vf``)."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import numpy as np
import pytest

from vproc import registry
from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.graph import build_graph
from vproc.io.lavfi import parse_chain
from vproc.io.source import Source
from vproc.nodes.avfilter import FFmpegFilter, FFmpegParams
from vproc.params import build_params

from .. import media

TB = Fraction(1, 1000)


def _node(filters: str, info: StreamInfo, **params) -> tuple[FFmpegFilter, StreamInfo]:
    node = FFmpegFilter(FFmpegParams(filters=filters, **params))
    return node, node.open(info)


def _run(node, frames):
    return [g for f in frames for g in node.process(f)] + node.flush()


def _yuv_frames(n=4, w=64, h=48, pts=None):
    rng = np.random.default_rng(1)
    pts = pts or [i * 40 for i in range(n)]
    return [Frame((rng.integers(0, 256, (h, w), np.uint8), rng.integers(0, 256, (h // 2, w // 2), np.uint8),
                   rng.integers(0, 256, (h // 2, w // 2), np.uint8)), p, TB, "yuv420p") for p in pts]


INFO = StreamInfo(64, 48, "yuv420p", TB, rate=Fraction(25))


def test_hflip_equals_numpys_fliplr():
    frames = _yuv_frames()
    node, out_info = _node("hflip", INFO)
    assert out_info == INFO
    out = _run(node, frames)
    assert len(out) == len(frames)
    for a, b in zip(frames, out):
        assert all(np.array_equal(np.fliplr(p), q) for p, q in zip(a.planes, b.planes))


def test_vflip_frames_with_negative_line_sizes_come_out_whole():
    frames = _yuv_frames()
    out = _run(_node("vflip", INFO)[0], frames)
    for a, b in zip(frames, out):
        assert all(np.array_equal(np.flipud(p), q) for p, q in zip(a.planes, b.planes))


def test_pts_come_from_the_input_frames():
    pts = [0, 40, 70, 200, 210, 400]  # irregular: a counter would not give these
    out = _run(_node("null", INFO)[0], _yuv_frames(pts=pts))
    assert [f.pts for f in out] == pts and all(f.time_base == TB for f in out)


def test_the_output_description_is_the_chains():
    node, info = _node("scale=32:-2,format=gray", INFO)
    assert (info.width, info.height, info.format) == (32, 24, "gray")
    out = _run(node, _yuv_frames(2))
    assert all((f.width, f.height, f.format) == (32, 24, "gray") for f in out)
    # a change of aspect keeps the display aspect ratio, as FFmpeg's scale sets the SAR
    sar_in = INFO.replace(sample_aspect_ratio=Fraction(1))
    assert _node("scale=64:24", sar_in)[1].sample_aspect_ratio == Fraction(1, 2)
    # formats vproc has no name for become the nearest it has
    _, packed = _node("format=yuyv422", INFO)
    assert packed.format == "yuv422p"


def test_float_rgb_goes_through_its_transport_and_comes_back():
    rng = np.random.default_rng(2)
    info = StreamInfo(16, 8, "rgbpf32", TB)
    frames = [Frame(rng.random((3, 8, 16), dtype=np.float32), i, TB, "rgbpf32") for i in range(2)]
    node, out_info = _node("hflip", info)
    assert out_info.format == "rgbpf32"
    for a, b in zip(frames, _run(node, frames)):
        assert b.format == "rgbpf32"
        assert np.abs(np.flip(np.stack(a.planes), axis=2) - np.stack(b.planes)).max() <= 0.5 / 65535 + 1e-7


def test_a_chain_equals_ffmpeg_vf_on_the_same_input(clip_mp4):
    chain = "unsharp=5:5:1.0,atadenoise"
    with Source(clip_mp4, audio=False) as src:
        node, info = _node(chain, src.info)
        frames = [item for item in src.items() if isinstance(item, Frame)]
        out = _run(node, frames)  # (atadenoise looks ahead: the same frames to the end on both sides)
    ref = subprocess.run([media.ffmpeg(), "-v", "error", "-i", str(clip_mp4), "-vf", chain,
                          "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True, check=True).stdout
    assert len(out) == len(frames) == 50
    assert b"".join(np.ascontiguousarray(p).tobytes() for f in out for p in f.planes) == ref


def test_temporal_filters_flush_at_the_end():
    # tmix averages 3 frames: still one out per frame in, the last ones at the end of stream
    out = _run(_node("tmix=frames=3", INFO, latency=1, warmup=2)[0], _yuv_frames(5))
    assert [f.pts for f in out] == [0, 40, 80, 120, 160]


def test_chains_are_parsed_as_libavfilter_does():
    assert parse_chain("hqdn3d=4:3:6:4.5, scale=320:-2 ,null") == [("hqdn3d", "4:3:6:4.5"), ("scale", "320:-2"), ("null", None)]
    assert parse_chain(r"drawtext=text='a,b':x=1,hflip") == [("drawtext", "text=a,b:x=1"), ("hflip", None)]
    assert parse_chain(r"pad=w=iw\,2") == [("pad", "w=iw,2")]
    for bad in ("[in]hflip[out]", "hflip;vflip", "", ",hflip"):
        with pytest.raises(ConfigError):
            parse_chain(bad)


def test_mistakes_fail_when_the_graph_is_built_or_opened():
    with pytest.raises(ConfigError, match="linear chain"):
        build_params(FFmpegParams, {"filters": "split[a][b]"}, "node 'f'")
    with pytest.raises(ConfigError, match="hqdn3d"):  # GPL: not in PyAV's LGPL build
        _node("hqdn3d", INFO)
    with pytest.raises(ConfigError, match="scale"):
        _node("scale=w=banana", INFO)
    with pytest.raises(ConfigError, match="no frame"):
        _node("select=0", INFO)  # drops its test frame: the output cannot be known


def test_registered_and_usable_from_a_graph(clip_mp4):
    assert registry.get("ffmpeg") is FFmpegFilter
    g = build_graph({"version": 1, "nodes": {"f": {"type": "ffmpeg", "in": "source", "params": {"filters": "hflip"}}},
                     "output": {"in": "f"}})
    assert g.nodes["f"].params.filters == "hflip"
