"""Every stream and its metadata, as the ffmpeg CLI keeps them (see compare.CASES)."""

from __future__ import annotations

import pytest

from tests import media
from tests.conformance.compare import CASES, describe, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_as_ffmpeg_cli(case, tmp_path):
    for field, ffmpeg_says, vproc_says in run_case(case, tmp_path):
        assert vproc_says == ffmpeg_says, f"{case.name}: {field}"


def test_rich_input_keeps_its_facts(tmp_path):
    # Not only "as FFmpeg": the values themselves, so a regression in both shows too.
    from tests.conformance.compare import make_rich_mkv

    src = make_rich_mkv(tmp_path)
    out = tmp_path / "out.mkv"
    assert media.run_vproc("transcode", src, out).returncode == 0
    info = describe(out)
    assert info["tags"]["title"] == "A film; with a semicolon"
    assert [c[2] for c in info["chapters"]] == ["Opening", "Close"]
    video, eng, fra, sub = info["streams"]
    assert video["tags"].get("title") == "Main video"
    assert (eng["tags"]["language"], eng["tags"]["title"]) == ("eng", "English stereo")
    assert (fra["tags"]["language"], fra["tags"]["title"]) == ("fra", "Commentaire")
    assert fra["disposition"] == ["comment", "default"] and eng["disposition"] == []
    assert sub["type"] == "subtitle" and sub["disposition"] == ["forced"] and sub["tags"]["language"] == "fra"


def test_a_data_stream_the_container_cannot_hold_is_dropped_with_a_notice(tmp_path):
    from tests.conformance.compare import make_data_ts

    proc = media.run_vproc("transcode", make_data_ts(tmp_path), tmp_path / "out.mkv")
    assert proc.returncode == 0, proc.stderr
    assert "data stream #1 (bin_data) cannot be stored in matroska; dropped" in proc.stderr
    assert [s["type"] for s in describe(tmp_path / "out.mkv")["streams"]] == ["video"]


def test_tracks_the_muxer_writes_anew_are_not_doubled(tmp_path):
    # An MP4's chapter text track and timecode track come back from the chapter list and the
    # video's timecode tag; copying them as well would give each twice.
    from tests.conformance.compare import make_timecode_mov

    chapters = tmp_path / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n"
                        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n")
    src = tmp_path / "chapters.mp4"
    media.run_ffmpeg("-i", str(make_timecode_mov(tmp_path)), "-i", str(chapters), "-map", "0:v", "-map", "0:a",
                     "-map_chapters", "1", "-c", "copy", str(src))
    proc = media.run_vproc("transcode", src, tmp_path / "out.mp4")
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    info, before = describe(tmp_path / "out.mp4"), describe(src)
    assert [s["type"] for s in info["streams"]] == [s["type"] for s in before["streams"]] == ["video", "audio", "data", "data"]
    assert [c[2] for c in info["chapters"]] == ["One", "Two"]
    assert info["streams"][0]["tags"].get("timecode") == "01:00:00:00"


def test_webm_from_aac_reencodes_audio_to_opus_with_a_notice(tmp_path, clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / "out.webm")
    assert proc.returncode == 0, proc.stderr
    assert "re-encoding it to libopus" in proc.stderr
    assert [s["codec"] for s in describe(tmp_path / "out.webm")["streams"]] == ["vp9", "opus"]


def test_a_failed_encode_shows_ffmpegs_reason(tmp_path, clip_mp4):
    # H.264 in WebM: FFmpeg's last line only says nothing was written; its first says why.
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / "out.webm", "--codec", "libx264")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "Only VP8 or VP9 or AV1 video" in lines[-1] and "Nothing was written" not in lines[-1]
    assert " @ 0x" not in lines[-1]
    assert media.leftovers(tmp_path) == []


def _hdr_of(path):
    import av

    from vproc.io.hdr import HDRMetadata

    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        frame = next(c.decode(video=0))
        return HDRMetadata.from_side_data(frame.side_data), (cc.color_primaries, cc.color_trc, cc.colorspace)


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_hdr10_static_metadata_as_ffmpeg_cli(tmp_path, codec):
    from tests.conformance.compare import make_hdr10_mkv

    src = make_hdr10_mkv(tmp_path)
    ref, out = tmp_path / "ffmpeg.mp4", tmp_path / "vproc.mp4"
    media.run_ffmpeg("-i", str(src), "-c:v", codec, str(ref))
    proc = media.run_vproc("transcode", src, out, "--codec", codec)
    assert proc.returncode == 0, proc.stderr
    want, got = _hdr_of(ref), _hdr_of(out)
    assert want[0] is not None and want[0].max_cll == 1000
    assert got == want  # mastering display, light level, and the colour tags
