"""The ``vproc`` command, run as users run it (``python -m vproc`` in a subprocess).

Every bad input must give exit code 2, exactly one line on stderr starting with ``vproc: error:``
that names the problem, no traceback, and nothing left in the output folder. Every subprocess has
a timeout, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import pytest

from . import media
from .media import REPO, run_vproc

GRAPH = """\
version: 1
nodes:
  small: {type: resize, in: source, params: {scale: 0.5}}
  gray:  {type: convert, in: small, params: {format: gray}}
output: {in: gray, preset: veryfast}
"""


@pytest.fixture
def out_dir(tmp_path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def write_graph(tmp_path: Path, text: str, name: str = "graph.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def assert_clean_error(result: subprocess.CompletedProcess, *words: str, out_dir: Path | None = None) -> str:
    """Exit code 2, one ``vproc: error:`` line naming the problem, no traceback, no files left."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vproc: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    if out_dir is not None:
        assert media.leftovers(out_dir) == []  # neither an output nor a .partial file
    return lines[0]


# -- commands that work ---------------------------------------------------------------------------


def test_help():
    result = run_vproc("--help")
    assert result.returncode == 0
    for command in ("transcode", "run", "check", "nodes", "probe"):
        assert command in result.stdout


def test_nodes_lists_kinds_with_params():
    result = run_vproc("nodes")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "resize:" in text and "convert:" in text
    resize = text.split("resize:")[1]
    for param in ("scale: float | null", "width: int | null", "height: int | null", "interp: 'bicubic' | 'lanczos'"):
        assert param in resize
    assert "format: str = 'yuv420p'" in text.split("convert:")[1]


def test_probe_shows_size_and_audio(clip_mp4):
    result = run_vproc("probe", clip_mp4)
    assert result.returncode == 0, result.stderr
    assert "160x120" in result.stdout and "yuv420p" in result.stdout
    assert "audio #1: codec=aac" in result.stdout and "sample_rate=44100" in result.stdout
    as_json = json.loads(run_vproc("probe", clip_mp4, "--json").stdout)
    assert as_json["video"]["width"] == 160 and as_json["video"]["frames"] == 50


def test_check_prints_the_plan(tmp_path):
    result = run_vproc("check", write_graph(tmp_path, GRAPH))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "ok"
    assert any(line.strip().startswith("small: resize(scale=0.5") for line in lines)
    assert any(line.strip().startswith("gray: convert(format='gray') <- small") for line in lines)


def test_check_with_an_input_shows_every_edge(tmp_path, clip_mp4):
    result = run_vproc("check", write_graph(tmp_path, GRAPH), "-i", clip_mp4, "--set", "small.scale=0.25")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "source: 160x120 yuv420p" in out
    assert "small: 40x30 yuv420p" in out
    assert "gray: 40x30 gray" in out
    assert out.splitlines()[-1] == "ok"


def test_run_with_overrides_and_json(tmp_path, clip_mp4, out_dir):
    out = out_dir / "out.mp4"
    result = run_vproc("run", write_graph(tmp_path, GRAPH), "-i", clip_mp4, "-o", out,
                       "--set", "small.scale=0.25", "--set", "gray.format=yuv420p", "--set", "output.crf=20", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["frames_in"] == stats["frames_out"] == 50
    assert stats["interrupted"] is False and stats["output"] == str(out)
    assert [s["name"] for s in stats["stages"]] == ["source", "small", "gray", "output"]
    info = media.inspect(out)
    assert (info.width, info.height, info.frames) == (40, 30, 50)
    assert media.leftovers(out_dir) == ["out.mp4"]


def test_transcode_scale_half(clip_mp4, clip_info, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "half.mp4", "--scale", "0.5")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "50 frames from 50" in result.stderr
    info = media.inspect(out_dir / "half.mp4")
    assert (info.width, info.height) == (80, 60)
    assert info.video_times == clip_info.video_times
    assert info.audio_codec == "aac"


def test_transcode_denoise_lowlight(clip_mp4, clip_info, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "ll.mp4", "--denoise", "--lowlight", "--json")
    assert result.returncode == 0, result.stderr
    kinds = [s["kind"] for s in json.loads(result.stdout)["stages"]]
    assert kinds[1:4] == ["denoise", "convert", "lowlight"]  # denoise before the curve
    info = media.inspect(out_dir / "ll.mp4")
    assert info.video_times == clip_info.video_times and info.audio_codec == "aac"


@pytest.mark.parametrize("graph", ["graphs/lowlight.yaml", "graphs/upscale.yaml"])
def test_ready_graphs_check(graph):
    result = run_vproc("check", graph)
    assert result.returncode == 0, result.stderr


def test_transcode_super_resolution(clip_mp4, clip_info, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "sr.mp4", "--sr", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["kind"] for s in json.loads(result.stdout)["stages"]][1] == "vsr"
    info = media.inspect(out_dir / "sr.mp4")
    assert (info.width, info.height) == (2 * clip_info.width, 2 * clip_info.height)
    assert info.video_times == clip_info.video_times


def test_transcode_bad_sr_scale(clip_mp4, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "sr.mp4", "--sr", "5")
    assert result.returncode == 2 and "scale" in result.stderr
    assert media.leftovers(out_dir) == []


def test_transcode_net_without_weights_for_the_scale_is_one_line(clip_mp4, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "sr.mp4", "--sr", "3", "--sr-method", "net")
    assert result.returncode == 2 and "no shipped weights for x3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and media.leftovers(out_dir) == []


def test_transcode_variable_frame_rate(vfr_mkv, out_dir):
    result = run_vproc("transcode", vfr_mkv, out_dir / "vfr.mp4", "--width", "80", "--height", "-1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames_out"] == len(media.VFR_PTS_MS)
    info = media.inspect(out_dir / "vfr.mp4")
    assert (info.width, info.height) == (80, 60)
    assert info.video_times == media.inspect(vfr_mkv).video_times


# -- bad inputs -------------------------------------------------------------------------------------


def test_missing_input(tmp_path, out_dir):
    result = run_vproc("transcode", tmp_path / "nope.mp4", out_dir / "out.mp4")
    assert_clean_error(result, "nope.mp4", "does not exist", out_dir=out_dir)


@pytest.mark.parametrize("fixture", ["not_media", "text_file"])
def test_input_that_is_not_media(fixture, request, out_dir):
    path = request.getfixturevalue(fixture)
    result = run_vproc("transcode", path, out_dir / "out.mp4")
    assert_clean_error(result, path.name, "cannot be opened as media", out_dir=out_dir)


@pytest.mark.parametrize("fixture", ["corrupt_ts", "truncated_ts", "corrupt_mp4"])
def test_damaged_input_stops_with_the_time(fixture, request, out_dir):
    path = request.getfixturevalue(fixture)
    result = run_vproc("transcode", path, out_dir / "out.mp4", "--on-error", "stop", timeout=60)
    line = assert_clean_error(result, path.name, "after frame", "t=", "--on-error skip", out_dir=out_dir)
    assert "error" in line.split(path.name)[1]


@pytest.mark.parametrize("fixture", ["corrupt_ts", "truncated_ts", "corrupt_mp4"])
def test_damaged_input_can_be_skipped(fixture, request, out_dir):
    path = request.getfixturevalue(fixture)
    out = out_dir / "out.mkv"
    result = run_vproc("transcode", path, out, "--on-error", "skip", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "skipped" in result.stderr
    assert "Traceback" not in result.stderr
    stats = json.loads(result.stdout)
    assert stats["skipped_corrupt"] > 0
    assert 0 < stats["frames_out"] <= 50
    assert media.inspect(out).frames == stats["frames_out"]
    assert media.leftovers(out_dir) == ["out.mkv"]


def test_output_folder_missing(clip_mp4, tmp_path):
    result = run_vproc("transcode", clip_mp4, tmp_path / "no" / "such" / "out.mp4")
    assert_clean_error(result, "cannot write output", "does not exist")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("text, words", [
    ("version: 1\nnodes:\n  small: {type: resize, in: source, params: {scale: 0.5}\n  gray: {type: convert, in: small}\n",
     ["YAML syntax error", "line 4"]),
    ("nodes:\n  small: {type: resise, in: source, params: {scale: 0.5}}\n",
     ["unknown node type 'resise'", "did you mean 'resize'", "line 2"]),
    ("nodes:\n  small: {type: resize, in: source, params: {scal: 0.5}}\n",
     ["node 'small'", "unknown param 'scal'", "did you mean 'scale'"]),
    ("nodes:\n  small: {type: resize, in: source, params: {scale: big}}\n",
     ["node 'small'", "scale must be", "'big'"]),
    ("nodes:\n  small: {type: resize, in: source, params: {scale: 100}}\n",
     ["node 'small'", "scale must be within (0, 16]"]),
    ("nodes:\n  small: {type: resize, in: sorce, params: {scale: 0.5}}\n",
     ["node 'small' reads from 'sorce', which does not exist", "did you mean 'source'"]),
    ("nodes:\n  a: {type: resize, in: b, params: {scale: 0.5}}\n  b: {type: resize, in: a, params: {scale: 2}}\noutput: {in: b}\n",
     ["cycle"]),
    ("nodes:\n  small: {type: resize, in: source, params: {scale: 0.5}}\noutputs: {}\n",
     ["unknown key 'outputs'", "line 3"]),
], ids=["syntax", "unknown-type", "unknown-param", "ill-typed", "range", "dangling", "cycle", "unknown-key"])
def test_bad_graphs(text, words, tmp_path, clip_mp4, out_dir):
    graph = write_graph(tmp_path, text)
    result = run_vproc("run", graph, "-i", clip_mp4, "-o", out_dir / "out.mp4")
    assert_clean_error(result, *words, out_dir=out_dir)
    # `vproc check` finds the same problem without any input.
    assert_clean_error(run_vproc("check", graph), *words)


def test_override_naming_a_missing_node(tmp_path, clip_mp4, out_dir):
    result = run_vproc("run", write_graph(tmp_path, GRAPH), "-i", clip_mp4, "-o", out_dir / "out.mp4", "--set", "smal.scale=2")
    assert_clean_error(result, "--set names node 'smal'", "did you mean 'small'", out_dir=out_dir)


def test_unknown_codec_suggests(clip_mp4, out_dir):
    result = run_vproc("transcode", clip_mp4, out_dir / "out.mp4", "--codec", "libx26")
    assert_clean_error(result, "unknown video codec 'libx26'", "did you mean 'libx264'", out_dir=out_dir)


def test_bad_option_values(clip_mp4, out_dir):
    assert_clean_error(run_vproc("transcode", clip_mp4, out_dir / "o.mp4", "--audio", "mp3"), "audio must be one of copy, aac, none", out_dir=out_dir)
    assert_clean_error(run_vproc("transcode", clip_mp4, out_dir / "o.mp4", "--on-error", "ignore"), "on_error must be 'stop' or 'skip'", out_dir=out_dir)
    assert_clean_error(run_vproc("transcode", clip_mp4, out_dir / "o.xyz"), "no container format is known for '.xyz'", out_dir=out_dir)


def test_debug_shows_the_traceback(tmp_path, out_dir):
    result = run_vproc("--debug", "transcode", tmp_path / "nope.mp4", out_dir / "out.mp4")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "MediaError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("vproc: error: ")


# -- Ctrl-C -----------------------------------------------------------------------------------------


def interrupt_run(long_clip: Path, out: Path, signals: int, scale: int = 2, sig=signal.SIGINT) -> tuple[int, str, str]:
    """Start a transcode that runs several seconds (upscaled, x264's slowest preset), wait until
    it is under way (its temporary file exists, plus a moment), send SIGINT ``signals`` times.

    Signals are 0.4 s apart: more than the runtime's 0.2 s wait, so each is seen on its own."""
    proc = subprocess.Popen([sys.executable, "-m", "vproc", "transcode", str(long_clip), str(out), "--scale", str(scale),
                             "--preset", "veryslow", "--json"], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(".partial" in name for name in media.leftovers(out.parent)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        for i in range(signals):
            if i:
                time.sleep(0.4)
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as shells report them


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_finishes_a_valid_file(long_clip, out_dir, sig):
    # SIGTERM is what timeout, docker and systemd send: the same clean stop as Ctrl-C, and a
    # non-zero exit, so `vproc ... && rm source` does not take a partial file for a whole one.
    out = out_dir / "out.mp4"
    code, stdout, stderr = interrupt_run(long_clip, out, signals=1, sig=sig)
    assert code == EXIT_CODE[sig], stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert f"stopped by {sig.name}" in stderr and "is partial" in stderr
    stats = json.loads(stdout)
    assert stats["interrupted"] is True
    assert 0 < stats["frames_out"] < 500
    assert stats["frames_in"] == stats["frames_out"]  # everything read was processed and written
    info = media.inspect(out)  # a valid, finished file
    assert info.frames == stats["frames_out"]
    assert (info.width, info.height) == (320, 240)
    assert info.video_times == [i * Fraction(1, 25) for i in range(info.frames)]
    assert info.audio_codec == "aac"
    assert media.leftovers(out_dir) == ["out.mp4"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_aborts_and_leaves_nothing(long_clip, out_dir, sig):
    # At 640x480 the first signal's drain (the frames already queued) takes seconds: the second
    # one arrives during it.
    code, stdout, stderr = interrupt_run(long_clip, out_dir / "out.mp4", signals=2, scale=4, sig=sig)
    assert code == EXIT_CODE[sig], stderr  # not a crash (-11)
    assert "Traceback" not in stderr
    assert media.leftovers(out_dir) == []


def test_a_signal_while_finishing_keeps_the_complete_file(clip_mp4, out_dir, monkeypatch, capsys):
    # Every frame is in and FFmpeg is flushing when SIGTERM comes: the file is whole, so it stays.
    import os

    from vproc.cli import main
    from vproc.io.sink import FFmpegSink

    close = FFmpegSink.close

    def close_after_a_signal(self):
        os.kill(os.getpid(), signal.SIGTERM)
        close(self)

    monkeypatch.setattr(FFmpegSink, "close", close_after_a_signal)
    out = out_dir / "out.mp4"
    assert main(["transcode", str(clip_mp4), str(out), "--no-progress"]) == 143
    assert "is complete" in capsys.readouterr().err
    assert media.inspect(out).frames == media.inspect(clip_mp4).frames
    assert media.leftovers(out_dir) == ["out.mp4"]
