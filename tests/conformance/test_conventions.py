"""FFmpeg's command-line conventions: trimming, folders in and out, standard input."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import av
import pytest

from tests import media
from vproc.errors import ConfigError
from vproc.io.trim import parse_time, trim_range


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory):
    return media.make_clip(tmp_path_factory.mktemp("trim") / "six.mp4", seconds=6, extra=("-g", "25"))


def _times(path, kind="video"):
    with av.open(str(path)) as c:
        if kind == "video":
            return [f.pts * f.time_base for f in c.decode(video=0)]
        return [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.size]


@pytest.mark.parametrize("args", [("--ss", "1.5", "--t", "2"), ("--ss", "00:00:02", "--to", "3"), ("--to", "1"),
                                  ("--ss", "5.5")])
def test_trim_counts_frames_as_ffmpeg(tmp_path, six_seconds, args):
    out = tmp_path / "out.mp4"
    proc = media.run_vproc("transcode", six_seconds, out, *args)
    assert proc.returncode == 0, proc.stderr
    ff = tmp_path / "ffmpeg.mp4"
    ff_input = [flag[1:] if i % 2 == 0 else flag for i, flag in enumerate(args)]  # --ss -> -ss, as input options
    media.run_ffmpeg(*ff_input, "-i", str(six_seconds), "-c:v", "libx264", "-c:a", "copy", str(ff))
    got, ref = _times(out), _times(ff)
    assert len(got) == len(ref) > 0
    assert got[0] <= Fraction(1, 25)  # starts at zero, as FFmpeg's output does
    steps = {b - a for a, b in zip(got, got[1:])}
    assert steps == {Fraction(1, 25)}  # nothing dropped inside
    audio = _times(out, "audio")  # audio trimmed in sync: it spans the video's range
    assert audio[0] <= 0.05 and abs(audio[-1] - float(got[-1])) < 0.1


def test_trim_options_are_checked():
    assert parse_time("01:02:03.5", "--ss") == Fraction(7447, 2) + 0 * 1 and trim_range() is None
    assert trim_range("2", None, "3") == (2, 5)
    for args in (("1", "2", "3"), ("5", "4", None), ("x", None, None), ("-1", None, None)):
        with pytest.raises(ConfigError):
            trim_range(*args)
    proc = media.run_vproc("transcode", "x.mp4", "y.mp4", "--ss", "soon")
    assert proc.returncode == 2 and "--ss" in proc.stderr


def test_folder_in_folder_out(tmp_path, clip_mp4, clip_mkv):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.mp4").write_bytes(clip_mp4.read_bytes())
    (src / "b.mkv").write_bytes(clip_mkv.read_bytes())
    (src / "broken.mp4").write_bytes(b"not a video")
    (src / "notes.txt").write_text("skipped: not a video name")
    proc = media.run_vproc("transcode", src, tmp_path / "out")
    assert proc.returncode == 2  # one failed
    assert "[1/3] a.mp4: ok" in proc.stderr and "b.mkv: ok" in proc.stderr and "broken.mp4: error" in proc.stderr
    assert "2 of 3 files done, 1 failed: broken.mp4" in proc.stderr
    assert media.leftovers(tmp_path / "out") == ["a.mp4", "b.mkv"]
    assert media.inspect(tmp_path / "out" / "b.mkv").frames == media.inspect(clip_mkv).frames
    (src / "broken.mp4").unlink()
    again = media.run_vproc("transcode", src, tmp_path / "out", "-y")
    assert again.returncode == 0 and "2 of 2 files done" in again.stderr


def test_folder_refuses_itself_and_a_file(tmp_path, clip_mp4):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.mp4").write_bytes(clip_mp4.read_bytes())
    assert media.run_vproc("transcode", src, src).returncode == 2
    assert media.run_vproc("transcode", src, clip_mp4).returncode == 2


def test_standard_input(tmp_path, clip_mkv):
    out = tmp_path / "out.mp4"
    with open(clip_mkv, "rb") as f:
        proc = subprocess.run([sys.executable, "-m", "vproc", "transcode", "-", str(out)], cwd=media.REPO,
                              stdin=f, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert media.inspect(out).frames == media.inspect(clip_mkv).frames
