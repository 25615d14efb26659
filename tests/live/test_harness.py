"""The live-test harness itself: the burnt-in frame counter through x264 (and resizes), and
publisher -> nginx-rtmp -> player, a server restart, a publisher waiting for a listener.

The nginx tests skip when nginx or its rtmp module is missing (``apt-get install -y nginx
libnginx-mod-rtmp``); streams are small (320x180) and short to keep the suite fast on two cores.
"""

from __future__ import annotations

import subprocess
import time

import av
import numpy as np
import pytest

from .rtmp import (LOOPBACK, NginxRtmp, Player, Publisher, burn_counter, counter_filter, decode_counter,
                   ffmpeg, free_port, stop_process)


def counters_of(path) -> list[int | None]:
    with av.open(str(path)) as c:
        return [decode_counter(f.to_ndarray(format="gray")) for f in c.decode(video=0)]


def test_counter_numpy_round_trip():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (360, 640, 3), np.uint8)
    for value in (0, 1, 2, 255, 256, 4097, 65535):
        assert decode_counter(burn_counter(img, value)) == value
        assert decode_counter(burn_counter(img[..., 0], value)) == value  # luma
    assert decode_counter(np.full((360, 640), 128, np.uint8)) is None  # no code: unreadable
    assert decode_counter(rng.integers(0, 256, (360, 640), np.uint8)) is None


@pytest.mark.parametrize("size,scale", [("640x360", None), ("1280x720", "640:360"), ("640x360", "320:180"),
                                        ("640x360", "1280:720"), ("1280x720", "854:480")])
def test_counter_survives_x264_and_resize(tmp_path, size, scale):
    w, h = (int(v) for v in size.split("x"))
    vf = counter_filter(w, h, start=1000) + (f",scale={scale}" if scale else "") + ",format=yuv420p"
    out = tmp_path / "counter.mp4"
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d=1", "-vf", vf,
                    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "35", str(out)],
                   check=True, timeout=60)
    assert counters_of(out) == list(range(1000, 1030))


def test_publisher_retries_until_a_listener_is_up(tmp_path):
    """A publisher pushing to a listening server that starts late (as vproc --listen would)."""
    port = free_port()
    url = f"rtmp://{LOOPBACK}:{port}/live/in"
    out = tmp_path / "got.flv"
    pub = Publisher(url, size="320x180", rate=30, retry_for=8, counter_start=7).start()
    listener = None
    try:
        time.sleep(1.0)  # the publisher is refused meanwhile, and tries again
        listener = subprocess.Popen([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                                     "-listen", "1", "-timeout", "10", "-i", url, "-t", "1.5", "-c", "copy", str(out)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert listener.wait(timeout=20) == 0, listener.stderr.read().decode(errors="replace")
    finally:
        pub.stop()
        stop_process(listener)
        if listener is not None and listener.stderr:
            listener.stderr.close()
    assert pub.attempts >= 2
    got = counters_of(out)
    assert len(got) >= 30 and None not in got
    assert got == list(range(got[0], got[0] + len(got))) and got[0] >= 7


def test_publish_play_through_nginx(nginx_rtmp, publisher, player):
    pub = publisher(nginx_rtmp.url("harness-a"), size="320x180", rate=30)
    play = player(nginx_rtmp.url("harness-a"))
    assert play.wait_frames(45, timeout=15), (len(play.frames), play.errors)
    play.stop()
    assert pub.running
    counters = play.counters
    assert len(counters) == len(play.frames)  # every frame readable
    assert counters == list(range(counters[0], counters[0] + len(counters)))  # in order, no gaps
    assert play.audio_packets > 0
    assert (play.width, play.height) == (320, 180)
    # frames arrive in real time (-re): 45 frames span about 1.5 s
    span = play.frames[-1].t - play.frames[0].t
    assert 0.8 < span < 3.0, span


def test_nginx_restart(nginx_rtmp, publisher, player):
    """Stop the server by its pid and start it again on the same port: a new publisher and the
    same (reconnecting) player carry on."""
    url = nginx_rtmp.url("harness-b")
    port, pid = nginx_rtmp.port, nginx_rtmp.pid
    pub = publisher(url, size="320x180", rate=30)
    play = player(url, retry_pause=0.1)
    assert play.wait_frames(15, timeout=15), play.errors
    nginx_rtmp.stop()
    assert not nginx_rtmp.running
    end = time.monotonic() + 10
    while pub.running and time.monotonic() < end:  # FFmpeg gives up on a dead connection
        time.sleep(0.1)
    pub.stop()
    before = max(play.counters)
    nginx_rtmp.start()
    assert nginx_rtmp.running and nginx_rtmp.port == port and nginx_rtmp.pid != pid
    publisher(url, size="320x180", rate=30, counter_start=before + 1000)
    end = time.monotonic() + 15
    while time.monotonic() < end and not any(c > before + 1000 for c in play.counters):
        time.sleep(0.1)
    assert any(c > before + 1000 for c in play.counters), (play.errors, len(play.frames))
    assert len(play.connects) >= 2
