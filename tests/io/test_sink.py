"""Encoding through FFmpeg: checks before decoding, the temporary file, and what reaches the output
(frame count, exact times for constant and variable frame rates, copied audio, subtitles)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import vproc
from vproc.errors import ConfigError, MediaError
from vproc.frame import Frame, StreamInfo
from vproc.graph import OutputOptions
from vproc.io.sink import FFmpegSink, guess_format
from vproc.pipeline import transcode_graph

from .. import media


def assert_same_times(out: media.MediaInfo, expected: list[Fraction], *, relative: bool = False) -> None:
    """Output frame times equal the input's within half a tick of the output's time base."""
    got = list(out.video_times)
    assert len(got) == len(expected)
    if relative:  # containers that shift streams to avoid negative times (AAC priming in mkv)
        got = [t - got[0] for t in got]
        expected = [t - expected[0] for t in expected]
    half_tick = out.video_time_base / 2
    bad = [(float(g), float(e)) for g, e in zip(got, expected) if abs(g - e) > half_tick]
    assert not bad, f"times differ (output, input): {bad[:5]}"


def assert_av_in_sync(out: media.MediaInfo) -> None:
    """Audio and video end together and last as long, within one video frame (the mean frame
    duration, for variable rates), and the audio does not start late.

    Audio before the first video frame is AAC priming (negative times in MP4, shifted along with
    the video in Matroska; twice as long after a re-encode): players drop it, so it does not
    count as duration.
    """
    (v0, v1), (a0, a1) = out.video_span, out.audio_span
    frame = (v1 - v0) / out.frames
    assert a0 <= v0 + frame, ("audio starts late", float(v0), float(a0))
    assert abs(v1 - a1) <= frame, ("end", float(v1), float(a1))
    assert abs((v1 - v0) - (a1 - max(a0, v0))) <= frame, ("duration", float(v1 - v0), float(a1 - max(a0, v0)))


# -- checks before anything is decoded ---------------------------------------------------------


@pytest.mark.parametrize("name, fmt", [("a.mp4", "mp4"), ("a.mkv", "matroska"), ("a.ts", "mpegts"),
                                       ("a.mov", "mov"), ("rtmp://host/app/key", "flv")])
def test_guess_format(name, fmt):
    assert guess_format(name) == fmt


def test_output_name_must_say_its_container(tmp_path):
    with pytest.raises(ConfigError, match="has no file extension"):
        FFmpegSink(str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="no container format is known for '.xyz'"):
        FFmpegSink(str(tmp_path / "out.xyz"))
    assert FFmpegSink(str(tmp_path / "out"), OutputOptions(format="matroska")).format == "matroska"
    with pytest.raises(ConfigError, match="output format 'matroshka' is not known"):
        FFmpegSink(str(tmp_path / "out.mkv"), OutputOptions(format="matroshka"))


def test_unknown_codec_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError) as info:
        FFmpegSink(str(tmp_path / "out.mp4"), OutputOptions(codec="libx26"))
    assert "unknown video codec 'libx26'" in str(info.value)
    assert "did you mean 'libx264'" in str(info.value)
    assert FFmpegSink(str(tmp_path / "out.mp4"), OutputOptions(codec="libx264")).options.codec == "libx264"


def test_unwritable_targets(tmp_path):
    with pytest.raises(MediaError, match="folder '.*missing' does not exist"):
        FFmpegSink(str(tmp_path / "missing" / "out.mp4"))
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(MediaError, match="it is a folder"):
        FFmpegSink(str(tmp_path / "dir.mp4"))
    (tmp_path / "old.mp4").write_bytes(b"old")
    with pytest.raises(MediaError, match="exists"):
        FFmpegSink(str(tmp_path / "old.mp4"), overwrite=False)
    FFmpegSink(str(tmp_path / "old.mp4"))  # overwriting is the default


# -- the sink on its own ------------------------------------------------------------------------------

TB = Fraction(1, 1000)


def synthetic_frames(fmt: str = "yuv420p", times_ms=media.VFR_PTS_MS) -> list[Frame]:
    frames = []
    for i, ms in enumerate(times_ms):
        if fmt == "yuv420p":
            data = (np.full((48, 64), 16 + 10 * i, np.uint8), np.full((24, 32), 128, np.uint8), np.full((24, 32), 128, np.uint8))
        elif fmt == "rgb24":
            data = np.full((48, 64, 3), 10 * i, np.uint8)
        else:  # rgbpf32
            data = np.full((3, 48, 64), i / len(times_ms), np.float32)
        frames.append(Frame(data, ms, TB, fmt))
    return frames


def test_frames_are_written_to_a_temporary_file_then_renamed(tmp_path):
    target = tmp_path / "out.mkv"
    sink = FFmpegSink(str(target))
    sink.open(StreamInfo(64, 48, "yuv420p", TB, rate=Fraction(25)))
    frames = synthetic_frames()
    for f in frames[:5]:
        sink.write(f)
    partial = Path(sink.partial_path)
    assert partial.parent == tmp_path and partial.name.startswith(".out.") and ".partial" in partial.name
    assert partial.exists() and not target.exists()
    for f in frames[5:]:
        sink.write(f)
    sink.close()
    assert media.leftovers(tmp_path) == ["out.mkv"]
    out = media.inspect(target)
    assert out.frames == len(frames) == sink.frames_written
    assert_same_times(out, [f.time for f in frames])
    # The pixels went through: the grey level steps by 10 per frame (give or take the codec).
    with av.open(str(target)) as c:
        lumas = [float(fr.to_ndarray()[:48].mean()) for fr in c.decode(video=0)]  # the Y rows
    assert lumas == pytest.approx([16 + 10 * i for i in range(len(frames))], abs=2)


def test_abort_leaves_nothing(tmp_path):
    sink = FFmpegSink(str(tmp_path / "out.mp4"))
    sink.open(StreamInfo(64, 48, "yuv420p", TB, rate=Fraction(25)))
    for f in synthetic_frames()[:5]:
        sink.write(f)
    sink.abort()
    assert media.leftovers(tmp_path) == []
    sink.abort()  # safe to call twice


# Without the source's stream, the graph's format is the reference, encoded as FFmpeg would
# encode such frames: RGB into libx264 is 4:4:4 (``ffmpeg -i rgb.png -c:v libx264`` gives yuv444p).
@pytest.mark.parametrize("fmt, encoded", [("rgb24", "yuv444p"), ("rgbpf32", "yuv444p10le")])
def test_rgb_frames_are_encoded_as_yuv(tmp_path, fmt, encoded):
    sink = FFmpegSink(str(tmp_path / "out.mp4"))
    sink.open(StreamInfo(64, 48, fmt, TB, rate=Fraction(25)))
    frames = synthetic_frames(fmt)
    for f in frames:
        sink.write(f)
    sink.close()
    out = media.inspect(tmp_path / "out.mp4")
    assert out.pix_fmt == encoded and out.frames == len(frames)  # float keeps more than 8 bits
    assert_same_times(out, [f.time for f in frames])


@pytest.mark.parametrize("source, codec, encoded", [
    ("yuv420p", "libx264", "yuv420p"),  # 8-bit 4:2:0 in, 8-bit 4:2:0 out, whatever the graph computed in
    ("yuv422p", "libx264", "yuv422p"),
    ("yuv420p10le", "libx264", "yuv420p10le"),
    ("yuv420p10le", "mpeg4", "yuv420p"),  # an 8-bit-only encoder: the nearest it takes
    ("rgb24", "libx264", "yuv444p"),
    ("gbrp", "libx265", "gbrp"),
])
def test_encoded_format_follows_the_source_not_the_graph(tmp_path, source, codec, encoded):
    """lowlight's float RGB out of an 8-bit 4:2:0 source is not High 10 (yuv420p10le)."""
    target = tmp_path / ("out.mkv" if codec != "mpeg4" else "out.mp4")
    sink = FFmpegSink(str(target), OutputOptions(codec=codec, preset="ultrafast" if codec.startswith("libx") else None))
    sink.open(StreamInfo(64, 48, "rgbpf32", TB, rate=Fraction(25)),
              source_info=StreamInfo(64, 48, source, TB, rate=Fraction(25)))
    frames = synthetic_frames("rgbpf32")[:4]
    for f in frames:
        sink.write(f)
    sink.close()
    with av.open(str(target)) as c:
        assert c.streams.video[0].codec_context.format.name == encoded


def test_pix_fmt_option_overrides_the_source(tmp_path):
    sink = FFmpegSink(str(tmp_path / "out.mkv"), OutputOptions(pix_fmt="yuv444p", preset="ultrafast"))
    sink.open(StreamInfo(64, 48, "rgbpf32", TB, rate=Fraction(25)),
              source_info=StreamInfo(64, 48, "yuv420p", TB, rate=Fraction(25)))
    for f in synthetic_frames("rgbpf32")[:3]:
        sink.write(f)
    sink.close()
    assert media.inspect(tmp_path / "out.mkv").pix_fmt == "yuv444p"


# -- whole runs: frames, times, audio, subtitles ------------------------------------------------------


def test_constant_rate_mp4_keeps_frames_times_and_audio(clip_mp4, clip_info, tmp_path):
    stats = vproc.run(transcode_graph(), str(clip_mp4), str(tmp_path / "out.mp4"))
    assert stats.frames_in == stats.frames_out == 50
    assert media.leftovers(tmp_path) == ["out.mp4"]
    out = media.inspect(tmp_path / "out.mp4")
    assert (out.width, out.height, out.video_codec) == (160, 120, "h264")
    assert_same_times(out, clip_info.video_times)
    assert out.audio_codec == clip_info.audio_codec == "aac"
    # Copied, not re-encoded: the very same packets.
    assert [p for _, _, p in out.audio_packets] == [p for _, _, p in clip_info.audio_packets]
    assert_av_in_sync(out)


@pytest.mark.parametrize("source", ["vfr_mp4", "vfr_mkv"])
def test_variable_rate_into_mp4_keeps_absolute_times(source, request, tmp_path):
    path = request.getfixturevalue(source)
    src = media.inspect(path)
    assert len({b - a for a, b in zip(src.video_times, src.video_times[1:])}) > 3  # really variable
    stats = vproc.run(transcode_graph(), str(path), str(tmp_path / "out.mp4"))
    assert stats.frames_in == stats.frames_out == len(media.VFR_PTS_MS)
    out = media.inspect(tmp_path / "out.mp4")
    assert_same_times(out, src.video_times)
    assert out.audio_codec == src.audio_codec
    assert_av_in_sync(out)


@pytest.mark.parametrize("source", ["vfr_mp4", "vfr_mkv"])
def test_variable_rate_into_mkv_keeps_relative_times(source, request, tmp_path):
    path = request.getfixturevalue(source)
    src = media.inspect(path)
    vproc.run(transcode_graph(), str(path), str(tmp_path / "out.mkv"))
    out = media.inspect(tmp_path / "out.mkv")
    assert_same_times(out, src.video_times, relative=True)
    assert out.audio_codec == "aac"
    assert_av_in_sync(out)


def test_pcm_audio_is_copied(media_dir, tmp_path):
    path = media.make_vfr(media_dir / "vfr_pcm.mkv", audio="pcm_s16le")
    vproc.run(transcode_graph(), str(path), str(tmp_path / "out.mkv"))
    src, out = media.inspect(path), media.inspect(tmp_path / "out.mkv")
    assert out.audio_codec == "pcm_s16le"
    assert b"".join(p for _, _, p in out.audio_packets) == b"".join(p for _, _, p in src.audio_packets)
    assert_same_times(out, src.video_times, relative=True)
    assert_av_in_sync(out)


def test_audio_can_be_dropped_or_reencoded(clip_mp4, clip_info, tmp_path):
    vproc.run(transcode_graph(output={"audio": "none"}), str(clip_mp4), str(tmp_path / "mute.mp4"))
    mute = media.inspect(tmp_path / "mute.mp4")
    assert mute.audio_codec is None and mute.frames == 50
    vproc.run(transcode_graph(output={"audio": "aac"}), str(clip_mp4), str(tmp_path / "aac.mp4"))
    aac = media.inspect(tmp_path / "aac.mp4")
    assert aac.audio_codec == "aac"
    assert [p for _, _, p in aac.audio_packets] != [p for _, _, p in clip_info.audio_packets]  # re-encoded
    assert_av_in_sync(aac)


def test_subtitles_are_kept_in_mkv(subtitled_mkv, tmp_path):
    stats = vproc.run(transcode_graph(), str(subtitled_mkv), str(tmp_path / "out.mkv"))
    out = media.inspect(tmp_path / "out.mkv")
    assert out.subtitle_codecs == media.inspect(subtitled_mkv).subtitle_codecs == ["srt"]
    assert out.audio_codec == "aac" and out.frames == 50
    assert stats.notices == []
    with av.open(str(tmp_path / "out.mkv")) as c:
        texts = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size]
    assert texts == [b"Hello vproc", b"Second line"]


def test_subtitles_are_converted_for_mp4(subtitled_mkv, tmp_path):
    stats = vproc.run(transcode_graph(), str(subtitled_mkv), str(tmp_path / "out.mp4"))
    assert media.inspect(tmp_path / "out.mp4").subtitle_codecs == ["mov_text"]
    assert any("converted to mov_text" in n for n in stats.notices)


def test_output_options_reach_ffmpeg(clip_mp4, tmp_path):
    g = transcode_graph(output={"pix_fmt": "yuv444p", "preset": "ultrafast", "crf": 30,
                                "args": ["-metadata", "title=vproc test"]})
    vproc.run(g, str(clip_mp4), str(tmp_path / "out.mkv"))
    out = media.inspect(tmp_path / "out.mkv")
    assert out.pix_fmt == "yuv444p" and out.frames == 50
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.metadata.get("title") == "vproc test"


def test_output_over_the_input_is_refused(clip_mp4):
    with pytest.raises(ConfigError, match="would overwrite the input"):
        vproc.run(transcode_graph(), str(clip_mp4), str(clip_mp4))


# -- pixels: what is encoded is what the graph produced -----------------------------------------
def _planes(path: Path) -> list[np.ndarray]:
    """Every decoded frame as its raw planes stacked in one uint8 array (no colour conversion)."""
    with av.open(str(path)) as c:
        return [f.to_ndarray() for f in c.decode(video=0)]


@pytest.mark.parametrize("tags", [(), ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")])
def test_lossless_reencode_keeps_every_pixel(tmp_path, tags):
    # x264 at crf 0 is lossless for 8-bit 4:2:0: any change is the pipeline's (a range or matrix
    # conversion FFmpeg inserted, a plane shifted, a padding row copied in). Tagged sources once
    # came out range-converted, because the rawvideo pipe carried no colour description.
    clip = media.make_clip(tmp_path / "in.mp4", seconds=0.4, extra=tags)
    out = tmp_path / "lossless.mp4"
    vproc.run(transcode_graph(output={"crf": 0, "preset": "ultrafast"}), str(clip), str(out))
    src, dst = _planes(clip), _planes(out)
    assert len(src) == len(dst)
    assert all(np.array_equal(a, b) for a, b in zip(src, dst))


@pytest.mark.parametrize("size,matrix", [("1280x720", "bt709"), ("320x240", "smpte170m")])
def test_rgb_graph_is_encoded_with_the_streams_matrix(tmp_path, size, matrix):
    # A smooth, in-gamut colour source: RGB -> YUV -> RGB is then nearly exact, but only with the
    # same matrix both ways (BT.601 vs BT.709 moves saturated colours by 10+ levels).
    clip = tmp_path / "grad.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", f"gradients=s={size}:r=5:d=0.4:speed=0.05", "-vf", "format=yuv444p",
                     "-c:v", "libx264", "-crf", "0", "-colorspace", matrix, "-color_range", "tv", str(clip))
    out = tmp_path / "rgb.mkv"
    graph = vproc.build_graph({"nodes": {"rgb": {"type": "convert", "in": "source", "params": {"format": "rgb24"}}},
                               "output": {"in": "rgb", "crf": 0, "pix_fmt": "yuv444p", "preset": "ultrafast"}})
    vproc.run(graph, str(clip), str(out))
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert frame.colorspace == {"bt709": 1, "smpte170m": 6}[matrix]
        assert frame.color_range == 1  # limited ("tv")
    diff = [np.abs(a.astype(int) - b.astype(int)) for a, b in zip(_planes(clip), _planes(out))]
    assert max(d.mean() for d in diff) < 0.6
    assert max(d.max() for d in diff) <= 3
