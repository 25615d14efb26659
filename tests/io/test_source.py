"""Decoding with PyAV: stream description, frames as read-only views with the decoder's times,
passthrough packets, and what broken inputs do."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from vproc.errors import ConfigError, MediaError
from vproc.frame import Frame
from vproc.io.source import Source, probe

from .. import media


def read_all(src: Source) -> tuple[list[Frame], list[av.Packet]]:
    frames, packets = [], []
    for item in src.items():
        (frames if isinstance(item, Frame) else packets).append(item)
    return frames, packets


def test_info_describes_the_video(clip_mp4):
    with Source(clip_mp4) as src:
        info = src.info
        assert (info.width, info.height, info.format) == (160, 120, "yuv420p")
        assert info.rate == 25
        assert info.frames == 50
        assert info.bit_depth == 8 and src.bit_depth == 8
        assert info.time_base == Fraction(src.video.time_base)
        assert [s.type for s in src.passthrough] == ["audio"]


def test_frames_keep_the_decoders_times_and_packets_pass_through(clip_mp4, clip_info):
    with Source(clip_mp4) as src:
        frames, packets = read_all(src)
        assert src.stats.frames == 50 and src.stats.corrupt_skipped == 0
        assert src.stats.packets_passed == len(packets)
        # (packets point at their stream, which lives as long as the container: look inside)
        assert all(p.stream.type == "audio" and p.size > 0 for p in packets)
        assert [bytes(p) for p in packets] == [payload for _, _, payload in clip_info.audio_packets]
    assert [f.time for f in frames] == clip_info.video_times
    assert all(f.format == "yuv420p" and (f.width, f.height) == (160, 120) for f in frames)


def test_decoded_frames_are_read_only_views(clip_mp4):
    with Source(clip_mp4) as src:
        frame = next(f for f in src.items() if isinstance(f, Frame))
        y, u, v = frame.planes
        assert (y.shape, u.shape, v.shape) == ((120, 160), (60, 80), (60, 80))
        assert y.dtype == np.uint8
        for plane in frame.planes:
            assert not plane.flags.writeable
            assert not plane.flags.owndata  # a view of the decoder's buffer, not a copy
            with pytest.raises(ValueError):
                plane[0, 0] = 1
    # The pixels are the decoder's: compare with PyAV's own decode of the same frame.
    with av.open(str(clip_mp4)) as c:
        ref = next(c.decode(video=0)).to_ndarray(format="yuv420p")
    np.testing.assert_array_equal(y, ref[:120])


def test_variable_frame_rate_times_are_kept(vfr_mkv):
    with Source(vfr_mkv) as src:
        frames, packets = read_all(src)
    assert [f.pts * f.time_base for f in frames] == [Fraction(ms, 1000) for ms in media.VFR_PTS_MS]
    assert packets  # the audio


def test_audio_and_subtitles_can_be_left_out(subtitled_mkv):
    with Source(subtitled_mkv) as src:
        assert sorted(s.type for s in src.passthrough) == ["audio", "subtitle"]
    with Source(subtitled_mkv, audio=False, subtitles=False) as src:
        assert src.passthrough == []
        frames, packets = read_all(src)
    assert len(frames) == 50 and packets == []


def test_stop_ends_the_stream_early(clip_mp4):
    with Source(clip_mp4) as src:
        n = 0
        for item in src.items():
            if isinstance(item, Frame):
                n += 1
                if n == 5:
                    src.stop()
    assert n == 5


def test_ten_bit_input(media_dir):
    path = media.make_clip(media_dir / "ten_bit.mkv", seconds=0.4, audio=False, extra=("-pix_fmt", "yuv420p10le"))
    with Source(path) as src:
        assert src.info.format == "yuv420p10le" and src.bit_depth == 10
        frames, _ = read_all(src)
    assert len(frames) == 10
    y = frames[0].planes[0]
    assert y.dtype == np.uint16 and int(y.max()) <= 1023 and int(y.max()) > 255


def test_unsupported_pixel_format_is_converted(media_dir):
    path = media_dir / "bgr0.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=0.2", "-c:v", "ffv1", "-pix_fmt", "bgr0", str(path))
    with Source(path) as src:
        assert src.info.format == "rgb24"
        frames, _ = read_all(src)
    assert len(frames) == 5
    assert frames[0].planes[0].shape == (48, 64, 3)


def test_probe_summarises_streams(clip_mp4):
    info = probe(str(clip_mp4))
    assert info["video"]["width"] == 160 and info["video"]["height"] == 120
    assert info["video"]["codec"] == "h264" and info["video"]["frames"] == 50
    audio = [s for s in info["streams"] if s["type"] == "audio"]
    assert audio and audio[0]["codec"] == "aac" and audio[0]["sample_rate"] == 44100
    assert info["duration"] == pytest.approx(2.0, abs=0.1)


# -- bad inputs -----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        Source(tmp_path / "missing.mp4")


def test_not_media(not_media, text_file):
    for path in (not_media, text_file):
        with pytest.raises(MediaError, match="cannot be opened as media"):
            Source(path)


def test_audio_only_file_has_no_video(media_dir):
    path = media_dir / "audio_only.m4a"
    media.run_ffmpeg("-f", "lavfi", "-i", "sine=d=0.2", "-c:a", "aac", str(path))
    with pytest.raises(MediaError, match="has no video stream"):
        Source(path)


def test_on_error_must_be_stop_or_skip(clip_mp4):
    with pytest.raises(ConfigError, match="on_error must be 'stop' or 'skip'"):
        Source(clip_mp4, on_error="ignore")


@pytest.mark.parametrize("fixture", ["corrupt_mp4", "corrupt_ts", "truncated_ts"])
def test_damaged_input_stops_with_the_time(fixture, request):
    path = request.getfixturevalue(fixture)
    with Source(path) as src:
        with pytest.raises(MediaError) as info:
            read_all(src)
    msg = str(info.value)
    assert str(path) in msg
    assert "after frame" in msg and "t=" in msg
    assert "--on-error skip" in msg


@pytest.mark.parametrize("fixture", ["corrupt_mp4", "corrupt_ts", "truncated_ts"])
def test_damaged_input_can_be_skipped(fixture, request, caplog):
    path = request.getfixturevalue(fixture)
    with Source(path, on_error="skip") as src:
        frames, _ = read_all(src)
        assert src.stats.corrupt_skipped > 0
    assert 0 < len(frames) < 50
    times = [f.time for f in frames]
    assert times == sorted(set(times))  # still strictly increasing
    assert "skipped" in caplog.text


def test_avi_with_b_frames_gets_every_frame_on_the_dts_clock(tmp_path):
    # AVI stores decode-order stamps: after B-frame reordering the decoder's pts are shuffled.
    # Like FFmpeg's best_effort_timestamp, the source then uses the dts clock, keeping every frame.
    clip = tmp_path / "b.avi"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=4", "-c:v", "libx264", "-bf", "3",
                     "-pix_fmt", "yuv420p", str(clip))
    with Source(str(clip)) as src:
        times = [f.time for f in src.items() if isinstance(f, Frame)]
        assert src.stats.corrupt_skipped == 0
    assert len(times) == 40
    steps = {b - a for a, b in zip(times, times[1:])}
    assert steps == {Fraction(1, 10)}


@pytest.mark.parametrize("crf", [18, 36])
def test_h264_frames_carry_their_quantiser(tmp_path, crf):
    """The decoder's exported QP (what denoise takes the coding error from): within H.264's
    0..51, higher at a higher CRF; other codecs' frames carry none."""
    clip = media.make_clip(tmp_path / f"q{crf}.mp4", seconds=0.4, audio=False, extra=("-crf", str(crf)))
    with Source(str(clip), reads_meta=("h264_qp",)) as src:
        frames, _ = read_all(src)
    qps = [f.meta["h264_qp"] for f in frames]
    assert len(qps) == 10 and all(0 <= q <= 51 for q in qps)
    if crf == 36:
        assert min(qps) > 30
    else:
        assert max(qps) < 30
    lossless = tmp_path / "ffv1.mkv"
    media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=0.3", "-c:v", "ffv1", str(lossless))
    with Source(str(lossless), reads_meta=("h264_qp",)) as src:
        frames, _ = read_all(src)
    assert frames and all("h264_qp" not in f.meta for f in frames)
    with Source(str(clip)) as src:  # no node reads it: not exported (it costs decoding time)
        frames, _ = read_all(src)
    assert frames and all("h264_qp" not in f.meta for f in frames)
