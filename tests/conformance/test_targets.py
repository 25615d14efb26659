"""Every kind of target, written as FFmpeg writes it, and never a path replaced that was not a
regular file (see vproc/io/target.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest

from tests import media
from tests.conformance.compare import describe
from vproc.io.target import OutputTarget


def test_dash_writes_standard_output(tmp_path, clip_mp4):
    proc = subprocess.run([sys.executable, "-m", "vproc", "transcode", str(clip_mp4), "-", "-f", "nut", "-q"],
                          cwd=tmp_path, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "-").exists()  # not a file named '-'
    (tmp_path / "got.nut").write_bytes(proc.stdout)
    assert describe(tmp_path / "got.nut")["frames"] == media.inspect(clip_mp4).frames


def test_dash_without_format_says_so(tmp_path, clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, "-")
    assert proc.returncode == 2 and "--format" in proc.stderr


def test_json_and_standard_output_conflict(clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, "-", "-f", "nut", "--json")
    assert proc.returncode == 2 and "--json" in proc.stderr


def test_fifo_is_written_in_place(tmp_path, clip_mp4):
    fifo = tmp_path / "out.mkv"
    os.mkfifo(fifo)
    got = bytearray()
    reader = threading.Thread(target=lambda: got.extend(open(fifo, "rb").read()))
    reader.start()
    proc = media.run_vproc("transcode", clip_mp4, fifo, "-y")
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still the FIFO, not a file renamed over it
    (tmp_path / "copy.mkv").write_bytes(bytes(got))
    assert describe(tmp_path / "copy.mkv")["frames"] == media.inspect(clip_mp4).frames
    assert media.leftovers(tmp_path) == ["copy.mkv", "out.mkv"]


def test_a_link_to_a_device_is_written_through(tmp_path, clip_mp4):
    # /dev/stdout and friends are links to devices or pipes; renaming over one would replace it.
    link = tmp_path / "null.mp4"
    link.symlink_to(os.devnull)
    proc = media.run_vproc("transcode", clip_mp4, link, "-y")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert media.leftovers(tmp_path) == ["null.mp4"]


def test_dev_null_is_the_null_muxer(clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, os.devnull)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_image_sequence_and_no_leftovers(tmp_path, clip_mp4):
    out = tmp_path / "frame_%04d.png"
    proc = media.run_vproc("transcode", clip_mp4, out)
    assert proc.returncode == 0, proc.stderr
    n = media.inspect(clip_mp4).frames
    names = media.leftovers(tmp_path)
    assert names == [f"frame_{i:04d}.png" for i in range(1, n + 1)]  # and nothing hidden
    with av.open(str(tmp_path / "frame_0001.png")) as c:
        assert c.streams.video[0].codec_context.name == "png"
    again = media.run_vproc("transcode", clip_mp4, out)  # not overwritten without -y
    assert again.returncode == 2 and "-y" in again.stderr
    assert media.run_vproc("transcode", clip_mp4, out, "-y").returncode == 0
    assert media.leftovers(tmp_path) == names


def test_single_image_output(tmp_path, clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / "still.png")
    assert proc.returncode == 0, proc.stderr
    assert media.leftovers(tmp_path) == ["still.png"]
    with av.open(str(tmp_path / "still.png")) as c:
        assert len(list(c.decode(video=0))) == 1


@pytest.mark.parametrize("name, video", [("out.nut", "ffv1"), ("out.y4m", "rawvideo"), ("out.mkv", "h264"),
                                         ("out.mov", "h264"), ("out.ts", "h264"), ("out.webm", "vp9"),
                                         ("out.ogv", "theora"), ("out.mpg", "mpeg2video"),
                                         ("out.avi", "h264"), ("out.flv", "h264")])
def test_sensible_codec_per_container(tmp_path, clip_mp4, name, video):
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / name)
    assert proc.returncode == 0, proc.stderr
    info = describe(tmp_path / name)
    assert info["streams"][0]["codec"] == video
    assert info["frames"] == media.inspect(clip_mp4).frames  # and it plays: every frame decodes


def test_hls_playlist_and_segments_in_place(tmp_path, clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / "index.m3u8")
    assert proc.returncode == 0, proc.stderr
    names = media.leftovers(tmp_path)
    assert "index.m3u8" in names and any(n.endswith(".ts") for n in names)
    assert not any(n.startswith(".") for n in names)
    assert describe(tmp_path / "index.m3u8")["frames"] == media.inspect(clip_mp4).frames


def test_existing_output_needs_y(tmp_path, clip_mp4):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    for args in ((), ("-n",)):
        proc = media.run_vproc("transcode", clip_mp4, out, *args)
        assert proc.returncode == 2 and "already exists" in proc.stderr and "-y" in proc.stderr
        assert out.read_bytes() == b"precious"
    assert media.run_vproc("transcode", clip_mp4, out, "-y", "-n").returncode == 2  # contradiction
    assert media.run_vproc("transcode", clip_mp4, out, "-y").returncode == 0
    assert media.inspect(out).frames == media.inspect(clip_mp4).frames


def test_usage_errors_are_one_line_and_y_may_come_first(tmp_path, clip_mp4):
    bad = media.run_vproc("transcode", clip_mp4, tmp_path / "o.mp4", "--bogus")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("vproc: error:")
    out = tmp_path / "o.mp4"
    out.write_bytes(b"old")
    assert media.run_vproc("-y", "transcode", clip_mp4, out).returncode == 0  # as ffmpeg -y -i ...
    assert media.inspect(out).frames == media.inspect(clip_mp4).frames


def test_y4m_states_the_frame_rate(tmp_path, clip_mp4):
    assert media.run_vproc("transcode", clip_mp4, tmp_path / "o.y4m").returncode == 0
    header = (tmp_path / "o.y4m").read_bytes()[:80].split(b"\n")[0].split()
    assert b"F25:1" in header, header


def test_global_flags_after_the_subcommand_and_version(tmp_path, clip_mp4):
    proc = media.run_vproc("transcode", clip_mp4, tmp_path / "out.webm", "-q")
    assert proc.returncode == 0 and proc.stderr == ""  # the Opus notice is a warning, the summary not an error
    assert media.run_vproc("probe", clip_mp4, "--debug").returncode == 0
    version = media.run_vproc("--version")
    assert version.returncode == 0 and version.stdout.startswith("vproc ")


def test_stale_partials_of_dead_runs_are_removed(tmp_path, clip_mp4):
    import fcntl

    dead = tmp_path / ".out.mp4.vproc-4194999-abc.partial.mp4"  # no writer holds its lock: that run is gone
    alive = tmp_path / ".out.mp4.vproc-12-def.partial.mp4"  # a writer (in any pid namespace) holds it: left alone
    other = tmp_path / ".out.mkv.vproc-4194999-abc.partial.mkv"  # another output's (same stem): not ours
    huge = tmp_path / ".out.mp4.vproc-99999999999999999999-x.partial.mp4"  # any pid: judged by the lock only
    for p in (dead, alive, other, huge):
        p.write_bytes(b"x")
    with open(alive, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert media.run_vproc("transcode", clip_mp4, tmp_path / "out.mp4").returncode == 0
    assert media.leftovers(tmp_path) == sorted([alive.name, other.name, "out.mp4"])


def test_links_are_followed_and_modes_kept(tmp_path, clip_mp4):
    real = tmp_path / "real.mp4"
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / "link.mp4"
    link.symlink_to("real.mp4")
    assert media.run_vproc("transcode", clip_mp4, link, "-y").returncode == 0
    assert link.is_symlink() and media.inspect(real).frames == media.inspect(clip_mp4).frames
    assert real.stat().st_mode & 0o777 == 0o600  # a private file stays private
    hard = tmp_path / "hard.mp4"
    os.link(real, hard)  # a file with two names is rewritten in place, as ffmpeg -y does: both see it
    assert media.run_vproc("transcode", clip_mp4, real, "-y", "--scale", "0.5").returncode == 0
    assert media.inspect(hard).width == media.inspect(clip_mp4).width // 2


def test_a_link_into_proc_is_written_through(tmp_path, clip_mp4):
    # /dev/stdout is /proc/self/fd/1: with stdout redirected to a file, vproc must write the
    # descriptor, not rename a new file over the link.
    link = tmp_path / "stdout.nut"
    link.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "captured.nut", "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "vproc", "-q", "transcode", str(clip_mp4), str(link), "-y"],
                              cwd=media.REPO, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink()
    assert describe(tmp_path / "captured.nut")["frames"] == media.inspect(clip_mp4).frames


def test_long_names_fit(tmp_path, clip_mp4):
    out = tmp_path / ("n" * 240 + ".mp4")
    proc = media.run_vproc("transcode", clip_mp4, out)
    assert proc.returncode == 0, proc.stderr
    assert media.leftovers(tmp_path) == [out.name]


def test_a_sequence_replaces_only_its_own_images(tmp_path, clip_mp4):
    (tmp_path / "f_1_notes.png").write_bytes(b"not part of the sequence")
    assert media.run_vproc("transcode", clip_mp4, tmp_path / "f_%03d.png").returncode == 0  # no -y needed
    assert (tmp_path / "f_1_notes.png").read_bytes() == b"not part of the sequence"


def test_target_kinds():
    assert OutputTarget("-").kind == "stdout"
    assert OutputTarget("pipe:1").kind == "stdout"
    assert OutputTarget(os.devnull).kind == "special"
    assert OutputTarget("rtmp://host/app/key").kind == "url"
    assert OutputTarget("/tmp/x_%03d.png").kind == "sequence"
    assert OutputTarget("/tmp/never-there.mp4").kind == "file"


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(t) for t in text]
    return out


def test_sigkill_leaves_no_ffmpeg_and_the_next_run_cleans_up(tmp_path, long_clip):
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "vproc", "transcode", str(long_clip), str(out), "--scale", "2",
                             "--preset", "veryslow"], cwd=media.REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(".partial" in n for n in media.leftovers(tmp_path)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        children = _children(proc.pid)
        assert children, "FFmpeg should be running"
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{c}").exists() and "zombie" not in _state(c) for c in children):
            assert time.monotonic() < deadline, "FFmpeg outlived vproc"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any(".partial" in n for n in media.leftovers(tmp_path))  # what SIGKILL leaves...
    clip = media.make_clip(tmp_path / "short.mp4", seconds=0.2, audio=False)
    assert media.run_vproc("transcode", clip, out).returncode == 0  # ...the next run removes
    assert media.leftovers(tmp_path) == ["out.mp4", "short.mp4"]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"
