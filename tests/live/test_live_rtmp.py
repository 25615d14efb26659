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
from pathlib import Path

import pytest

from .. import media
from ..media import REPO
from .rtmp import free_port, stop_process


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
    """A publisher pushes straight to vproc (FFmpeg's listen mode): no server involved."""
    url = f"rtmp://127.0.0.1:{free_port()}/live/cam"
    out = tmp_path / "out.flv"
    v = vproc(url, out, "--listen", "--scale", "0.5")
    publisher(url, size="320x240", rate=25, seconds=4, retry_for=15)
    assert v.wait_for(lambda s: s["frames_out"] >= 60, timeout=30), (v.last(), v.proc.poll())
    assert v.terminate() < 5
    assert v.proc.returncode == 0, v.stderr
    info = media.inspect(out)
    assert (info.width, info.height) == (160, 120)
    assert info.frames >= 60 and info.audio_codec == "aac" and len(info.audio_packets) > 50
    times = [float(t) for t in info.video_times]
    assert all(b > a for a, b in zip(times, times[1:]))


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
