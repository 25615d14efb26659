"""``vproc live`` over RTMP, run as users run it (``python -m vproc live`` in a subprocess):
listen mode end to end (no server needed), pull and push through a real nginx-rtmp server with
audio, the source going away and coming back, the output server restarting, and a clean stop on
SIGTERM. Every process is stopped by its id; every wait is bounded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from .. import media
from ..media import REPO
from .rtmp import ffmpeg, free_port, stop_process


class Vproc:
    """``python -m vproc live ARGS`` in the background, its JSON stats lines collected."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "vproc", "live", *map(str, args), "--json",
                                      "--stats-interval", "0.5"], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        self.lines: list[dict] = []
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def last(self) -> dict:
        return self.lines[-1] if self.lines else {}

    def wait_for(self, predicate, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.lines and predicate(self.last()):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def terminate(self, timeout: float = 10.0) -> float:
        """SIGTERM; the seconds until it exited."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        spent = time.monotonic() - t0
        self.stderr = self.proc.stderr.read()
        return spent

    def kill(self) -> None:
        stop_process(self.proc, timeout=2, sig=signal.SIGKILL)


@pytest.fixture
def vproc():
    made: list[Vproc] = []

    def make(*args) -> Vproc:
        v = Vproc(*args)
        made.append(v)
        return v

    yield make
    for v in made:
        if v.proc.poll() is None:
            v.kill()


def test_listen_mode_end_to_end(tmp_path: Path, vproc, publisher):
    """A publisher pushes straight to vproc (FFmpeg's listen mode): no server involved. When it
    has gone, the slate image fills the output."""
    url = f"rtmp://127.0.0.1:{free_port()}/live/cam"
    out = tmp_path / "out.flv"
    slate = tmp_path / "slate.png"
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 2] = 255  # BGR
    cv2.imwrite(str(slate), red)
    v = vproc(url, out, "--listen", "--scale", "0.5", "--slate", slate)
    publisher(url, size="320x240", rate=25, seconds=4, retry_for=15)
    assert v.wait_for(lambda s: s["frames_out"] >= 60, timeout=30), (v.last(), v.proc.poll())
    assert v.wait_for(lambda s: s["repeated"] >= 10, timeout=15), v.last()
    assert v.terminate() < 5
    assert v.proc.returncode == 0, v.stderr
    info = media.inspect(out)
    assert (info.width, info.height) == (160, 120)
    assert info.frames >= 60 and info.audio_codec == "aac" and len(info.audio_packets) > 50
    times = [float(t) for t in info.video_times]
    assert all(b > a for a, b in zip(times, times[1:]))
    with av.open(str(out)) as c:
        last = list(c.decode(video=0))[-1].to_ndarray(format="rgb24").astype(float)
    assert last[..., 0].mean() > 200 and last[..., 1].mean() < 40  # the slate, red


def test_pull_and_push_through_nginx_with_audio(nginx_rtmp, vproc, publisher, player):
    publisher(nginx_rtmp.url("in1"), size="320x240", rate=25)
    v = vproc(nginx_rtmp.url("in1"), nginx_rtmp.url("out1"), "--max-latency", "300")
    watch = player(nginx_rtmp.url("out1"))
    assert watch.wait_frames(50, timeout=30), (v.last(), watch.errors)
    assert watch.audio_packets > 20  # the tone reaches the pushed stream
    counters = watch.counters
    assert len(counters) > 40 and counters == sorted(counters)  # the picture, in order
    s = v.last()
    assert s["source_up"] and s["output_up"] and s["latency_p95_ms"] is not None and s["latency_p95_ms"] <= 300
    assert v.terminate() < 2.5  # SIGTERM: finished and gone within about 2 s
    assert v.proc.returncode == 0, v.stderr


def test_source_disconnect_and_return(nginx_rtmp, vproc, publisher, player):
    pub = publisher(nginx_rtmp.url("in2"), size="320x240", rate=25)
    v = vproc(nginx_rtmp.url("in2"), nginx_rtmp.url("out2"))
    watch = player(nginx_rtmp.url("out2"))
    assert watch.wait_frames(25, timeout=30), (v.last(), watch.errors)
    pub.stop()
    # The output stays up: the last picture repeated (with silent audio) while the source is away.
    assert v.wait_for(lambda s: s["repeated"] >= 25 and not s["source_up"], timeout=15), v.last()
    seen_before = len(watch.frames)
    time.sleep(1.0)
    assert len(watch.frames) > seen_before + 10  # the viewer kept getting frames
    highest = max(watch.counters)
    back = time.monotonic()
    publisher(nginx_rtmp.url("in2"), size="320x240", rate=25, counter_start=10_000)
    assert v.wait_for(lambda s: s["source_reconnects"] >= 1, timeout=15), v.last()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and watch.first_after(back, above=9_999) is None:
        time.sleep(0.1)
    new = watch.first_after(back, above=9_999)
    assert new is not None and new.counter > highest
    assert v.proc.poll() is None  # one process throughout
    assert v.terminate() < 2.5 and v.proc.returncode == 0


def test_publisher_replaced_on_the_same_connection(nginx_rtmp, vproc, publisher, player):
    """A publisher killed outright and a new one on the same key: nginx keeps vproc's play
    session, and the new stream's clock starts again at 0. It must continue on the output."""
    pub = publisher(nginx_rtmp.url("in5"), size="320x240", rate=25)
    v = vproc(nginx_rtmp.url("in5"), nginx_rtmp.url("out5"))
    watch = player(nginx_rtmp.url("out5"))
    assert watch.wait_frames(50, timeout=30), (v.last(), watch.errors)
    pub.kill()
    time.sleep(1.0)
    back = time.monotonic()
    publisher(nginx_rtmp.url("in5"), size="320x240", rate=25, counter_start=30_000)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and watch.first_after(back, above=29_999) is None:
        time.sleep(0.05)
    new = watch.first_after(back, above=29_999)
    assert new is not None, (v.last(), watch.errors)
    assert new.t - back < 4.0  # back on the output within seconds (the 2 s target: benchmarks/live.py)
    time.sleep(1.0)
    assert v.last()["frames_out"] > 0 and v.proc.poll() is None
    assert v.terminate() < 2.5 and v.proc.returncode == 0


def test_output_server_restart(nginx_rtmp, vproc, publisher, player):
    publisher(nginx_rtmp.url("in3"), size="320x240", rate=25)
    v = vproc(nginx_rtmp.url("in3"), nginx_rtmp.url("out3"))
    watch = player(nginx_rtmp.url("out3"))
    assert watch.wait_frames(25, timeout=30), (v.last(), watch.errors)
    nginx_rtmp.stop()
    assert v.wait_for(lambda s: not s["output_up"] or s["dropped"] > 0, timeout=15), v.last()
    nginx_rtmp.start()
    # The publisher is gone with the server; vproc repeats its last frame and pushes again.
    publisher(nginx_rtmp.url("in3"), size="320x240", rate=25, counter_start=20_000)
    assert v.wait_for(lambda s: s["output_reconnects"] >= 1 and s["output_up"], timeout=30), v.last()
    restarted = time.monotonic()
    deadline = restarted + 20
    while time.monotonic() < deadline and watch.first_after(restarted) is None:
        time.sleep(0.1)
    assert watch.first_after(restarted) is not None, watch.errors  # viewers get the stream again
    assert v.proc.poll() is None
    assert v.terminate() < 2.5 and v.proc.returncode == 0


def test_unreachable_input_is_a_clear_error(tmp_path: Path):
    port = free_port()  # nobody listens there
    r = subprocess.run([sys.executable, "-m", "vproc", "live", f"rtmp://127.0.0.1:{port}/live/x", str(tmp_path / "o.flv"),
                        "--reconnect-max", "0.5", "--connect-timeout", "3"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("vproc: error: input 'rtmp://127.0.0.1")
    assert media.leftovers(tmp_path) == []


def _mpegts_publisher(url: str, seconds: float) -> subprocess.Popen:
    """FFmpeg sending testsrc2 + tone as MPEG-TS to ``url`` (UDP) in real time."""
    return subprocess.Popen([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
                             "-i", "testsrc2=s=320x240:r=25", "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                             "-g", "25", "-c:a", "aac", "-f", "mpegts", url], stdin=subprocess.DEVNULL)


def test_udp_input_and_srt_output(tmp_path: Path, vproc):
    """MPEG-TS over UDP in, SRT out (received by an FFmpeg SRT listener): the other transports."""
    udp_port, srt_port = free_port(), free_port()
    received = tmp_path / "srt.ts"
    listener = subprocess.Popen([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i",
                                 f"srt://127.0.0.1:{srt_port}?mode=listener", "-c", "copy", str(received)],
                                stdin=subprocess.DEVNULL)
    try:
        v = vproc(f"udp://127.0.0.1:{udp_port}", f"srt://127.0.0.1:{srt_port}?mode=caller")
        time.sleep(1.0)
        pub = _mpegts_publisher(f"udp://127.0.0.1:{udp_port}?pkt_size=1316", 6)
        try:
            assert v.wait_for(lambda s: s["frames_out"] >= 60, timeout=40), (v.last(), v.proc.poll())
        finally:
            stop_process(pub)
        assert v.terminate() < 5 and v.proc.returncode == 0, v.stderr
        stop_process(listener, timeout=10, sig=signal.SIGINT)
        info = media.inspect(received)
        assert info.frames >= 50 and info.audio_codec == "aac"
    finally:
        stop_process(listener)


def test_stalled_publisher_is_filled_then_reconnected(nginx_rtmp, vproc, publisher):
    """A publisher that stops sending without closing (SIGSTOP): repeats after 0.5 s, a reconnect
    after the 2 s stall timeout, and the stream carries on when it sends again."""
    pub = publisher(nginx_rtmp.url("in6"), size="320x240", rate=25)
    v = vproc(nginx_rtmp.url("in6"), nginx_rtmp.url("out6"))
    assert v.wait_for(lambda s: s["frames_out"] >= 25, timeout=30), v.last()
    pub.proc.send_signal(signal.SIGSTOP)
    try:
        assert v.wait_for(lambda s: s["repeated"] >= 20, timeout=15), v.last()
    finally:
        pub.proc.send_signal(signal.SIGCONT)
    before = v.last()["frames_in"]
    assert v.wait_for(lambda s: s["frames_in"] > before + 25, timeout=20), v.last()
    assert v.proc.poll() is None
    assert v.terminate() < 2.5 and v.proc.returncode == 0


def test_metrics_endpoint(tmp_path: Path, vproc):
    clip = media.make_clip(tmp_path / "in.mp4", seconds=8, size="160x120")
    port = free_port()
    v = vproc(clip, tmp_path / "out.flv", "--realtime", "--metrics-port", str(port))
    assert v.wait_for(lambda s: s["frames_out"] >= 25, timeout=30), v.last()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/plain")
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values["vproc_live_frames_out_total"] >= 25
    assert values["vproc_live_dropped_total"] == 0 and values["vproc_live_source_up"] == 1
    assert "# TYPE vproc_live_frames_out_total counter" in text and "vproc_live_latency_p95_ms" in values
    assert v.terminate() < 2.5
