"""Live-stream test helpers: a private nginx-rtmp server, a synthetic FFmpeg publisher with a
frame counter burnt into the picture, and a PyAV player that records when each frame arrives.

Shared by the live tests (``tests/live``) and the live benchmark (``benchmarks/live.py``, which
imports ``tests.live.rtmp`` with the repository root on ``sys.path``). Nothing here imports vproc
at module level except for the FFmpeg binary, so a benchmark can use it before vproc is built.

Rules kept throughout: loopback addresses only; every process is started by us and stopped by its
own pid (terminate, then kill after a timeout); every wait is bounded.

The frame counter
-----------------
Frame ``n`` of a publisher (plus its ``counter_start``) is written as a 16-bit binary code in the
top-left corner: a black band of 18 x 4 cells, inside it one column per bit (bit 0 on the left), and
in each column two cells, the upper white and the lower black for a 1, the other way round for a
0. A cell is ``W/40`` by ``H/22.5`` pixels (16 x 16 at 640x360, 32 x 32 at 1280x720), so the code
keeps its place relative to the frame through any resize, and it is read by comparing the two
cells of each column (no absolute threshold), so it survives x264, brightening curves and
colour conversions. :func:`decode_counter` reads it back (None when a column's cells are too
alike: a frame that is not ours, or one smeared by a blend).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LOOPBACK = "127.0.0.1"
APT_HINT = "apt-get install -y nginx libnginx-mod-rtmp"
MODULE_CANDIDATES = (
    "/usr/lib/nginx/modules/ngx_rtmp_module.so",          # Debian / Ubuntu (libnginx-mod-rtmp)
    "/usr/lib64/nginx/modules/ngx_rtmp_module.so",        # Fedora-like
    "/usr/local/nginx/modules/ngx_rtmp_module.so",
)

# ---------------------------------------------------------------------------------------------
# Processes


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
    """Stop one process we started, by its pid: ``sig`` (SIGTERM), then SIGKILL after ``timeout``.
    Returns its exit code (None if there was nothing to stop)."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return proc.wait(timeout=timeout)
    return proc.returncode


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    """Whether ``127.0.0.1:port`` accepts a connection within ``timeout`` s (False early if
    ``proc`` exits meanwhile)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ffmpeg() -> str:
    from vproc.io.ffmpeg import ffmpeg_binary

    return ffmpeg_binary()


_BURST: dict[str, bool] = {}


def has_initial_burst_option(binary: str) -> bool:
    """Whether this FFmpeg has ``-readrate_initial_burst`` (6.1+), whose default (0.5 s) lets
    ``-re`` send the first half second at once."""
    if binary not in _BURST:
        try:
            out = subprocess.run([binary, "-hide_banner", "-h", "long"], capture_output=True, text=True,
                                 timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _BURST[binary] = "readrate_initial_burst" in out
    return _BURST[binary]


# ---------------------------------------------------------------------------------------------
# nginx-rtmp


def find_nginx() -> tuple[str | None, str | None, str]:
    """(nginx binary, rtmp module .so, reason): binary and module are None with a reason when
    missing. ``$VPROC_TEST_NGINX`` / ``$VPROC_TEST_NGINX_RTMP_MODULE`` override the search (an
    empty module path means the rtmp module is built into the binary)."""
    env = os.environ.get("VPROC_TEST_NGINX")
    if env:
        binary = shutil.which(env)
        if binary is None:
            return None, None, f"VPROC_TEST_NGINX={env!r} is not an executable"
    else:
        binary = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/nginx/sbin/nginx") if os.access(p, os.X_OK)), None)
    if binary is None:
        return None, None, f"nginx is not installed ({APT_HINT})"
    module = os.environ.get("VPROC_TEST_NGINX_RTMP_MODULE")
    if module is not None:
        return binary, module, ""
    found = next((p for p in MODULE_CANDIDATES if os.path.exists(p)), None)
    if found is None:
        try:  # built in (nginx -V lists --add-module=...rtmp...)?
            out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10).stderr
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if "rtmp" in out:
            return binary, "", ""
        return binary, None, f"the nginx rtmp module is not installed ({APT_HINT})"
    return binary, found, ""


class NginxRtmp:
    """A private nginx with one RTMP application ``live`` on ``127.0.0.1:port``.

    Its config, pid file, error log and temp folders live in ``root``; it runs in the foreground
    (``daemon off``) as one process (``master_process off``), so :meth:`stop` stops it by its pid
    and :meth:`start` brings it back on the same port with the same config.
    """

    def __init__(self, root: Path | str, port: int | None = None, *, binary: str | None = None,
                 module: str | None = None):
        if binary is None or module is None:
            b, m, reason = find_nginx()
            if b is None or m is None:
                raise RuntimeError(reason)
            binary, module = binary or b, m if module is None else module
        self.binary, self.module = binary, module
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.conf = self.root / "nginx.conf"
        self.log = self.root / "error.log"
        self.conf.write_text(self.config())

    def config(self) -> str:
        r = self.root
        load = f"load_module {self.module};\n" if self.module else ""
        return f"""{load}daemon off;
master_process off;
worker_processes 1;
pid {r / 'nginx.pid'};
error_log {self.log} warn;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen {LOOPBACK}:{self.port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
            wait_key on;
            drop_idle_publisher 10s;
        }}
    }}
}}
"""

    def url(self, key: str) -> str:
        return f"rtmp://{LOOPBACK}:{self.port}/live/{key}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running else None

    def start(self, timeout: float = 10.0) -> "NginxRtmp":
        if self.running:
            return self
        # the port was free when chosen; after a stop, wait for the kernel to let it go
        self.proc = subprocess.Popen([self.binary, "-e", str(self.log), "-p", str(self.root), "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        if not wait_port(self.port, timeout, self.proc):
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else b""
            stop_process(self.proc, 2)
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"nginx did not listen on {LOOPBACK}:{self.port} within {timeout} s: "
                               f"{err.decode(errors='replace')} {log}".strip())
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop by pid: SIGTERM (nginx's fast shutdown), SIGKILL after ``timeout`` s."""
        if self.proc is not None:
            stop_process(self.proc, timeout)
            if self.proc.stderr:
                self.proc.stderr.close()
        self.proc = None

    def restart(self, pause: float = 0.0) -> None:
        self.stop()
        time.sleep(pause)
        self.start()

    def __enter__(self) -> "NginxRtmp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The frame counter burnt into the picture

BITS = 16
CELLS_X, CELLS_Y = 40.0, 22.5  # a cell is W/40 x H/22.5: 16x16 at 640x360, 32x32 at 1280x720
BAND = (BITS + 2, 4)  # the black band behind the code, in cells


def cell_size(width: int, height: int) -> tuple[int, int]:
    """The code's cell in pixels for a published size (even, so 4:2:0 chroma lines up)."""
    return max(2, 2 * round(width / CELLS_X / 2)), max(2, 2 * round(height / CELLS_Y / 2))


def counter_filter(width: int, height: int, start: int = 0, bits: int = BITS) -> str:
    """FFmpeg filter chain (drawbox) writing ``n + start`` as the code on a ``width`` x ``height``
    picture; ``n`` is the filter's frame number."""
    cw, ch = cell_size(width, height)
    parts = [f"drawbox=x=0:y=0:w={BAND[0] * cw}:h={BAND[1] * ch}:color=black:t=fill"]
    for k in range(bits):
        bit = f"mod(floor((n+{start})/{2 ** k}),2)"
        x = (1 + k) * cw
        parts.append(f"drawbox=x={x}:y={ch}:w={cw}:h={ch}:color=white:t=fill:enable='{bit}'")
        parts.append(f"drawbox=x={x}:y={2 * ch}:w={cw}:h={ch}:color=white:t=fill:enable='eq({bit},0)'")
    return ",".join(parts)


def burn_counter(img: np.ndarray, value: int, bits: int = BITS) -> np.ndarray:
    """The same code drawn with numpy into a copy of ``img`` (HxW luma or HxWx3): for tests."""
    out = np.array(img, copy=True)
    h, w = out.shape[:2]
    cw, ch = cell_size(w, h)
    lo, hi = (16, 235) if out.ndim == 2 else (0, 255)
    out[:BAND[1] * ch, :BAND[0] * cw] = lo
    for k in range(bits):
        one = (value >> k) & 1
        x = (1 + k) * cw
        out[ch:2 * ch, x:x + cw] = hi if one else lo
        out[2 * ch:3 * ch, x:x + cw] = lo if one else hi
    return out


def _luma(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 3:
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return a


def decode_counter(img: np.ndarray, bits: int = BITS, min_contrast: float = 40.0) -> int | None:
    """The counter in a frame (HxW luma or HxWxC RGB, 8-bit levels; any size: the code scales
    with the frame), or None when it cannot be read (some column's two cells differ by less than
    ``min_contrast`` levels)."""
    a = np.asarray(img)
    h, w = a.shape[:2]
    cw, ch = w / CELLS_X, h / CELLS_Y
    if cw < 2 or ch < 2:
        return None
    region = _luma(a[: int(np.ceil(3 * ch)) + 1, : int(np.ceil((bits + 1) * cw)) + 1])
    dx, dy = max(cw / 4, 0.5), max(ch / 4, 0.5)  # the middle half of each cell
    value = 0
    for k in range(bits):
        cx = (1.5 + k) * cw
        x0, x1 = int(cx - dx), max(int(cx - dx) + 1, int(np.ceil(cx + dx)))
        top = region[int(1.5 * ch - dy): max(int(1.5 * ch - dy) + 1, int(np.ceil(1.5 * ch + dy))), x0:x1].mean()
        bot = region[int(2.5 * ch - dy): max(int(2.5 * ch - dy) + 1, int(np.ceil(2.5 * ch + dy))), x0:x1].mean()
        if abs(float(top) - float(bot)) < min_contrast:
            return None
        if top > bot:
            value |= 1 << k
    return value


# ---------------------------------------------------------------------------------------------
# Publisher


class Publisher:
    """FFmpeg publishing a synthetic live source to ``url`` in real time (``-re``): testsrc2 at
    ``size``/``rate`` with the frame counter (starting at ``counter_start``) burnt in, and a sine
    tone (AAC, 48 kHz, stereo); libx264 ``ultrafast``/``zerolatency``, a keyframe every
    ``keyint`` frames (default: one per second), into FLV.

    ``retry_for``: for ``retry_for`` seconds after :meth:`start`, an FFmpeg that exits (e.g. a
    refused connection, because a listening vproc is not up yet) is started again after
    ``retry_pause`` s. ``seconds``: stop publishing after that long (FFmpeg's ``-t``).
    ``progress``: a file FFmpeg writes its progress to every 0.5 s (:meth:`frames_encoded`).
    ``started_at`` is the ``time.monotonic()`` just before the FFmpeg that is running now was
    started; frame ``n`` leaves about ``started_at + n / rate`` later (``-re``, without the
    initial burst where FFmpeg has ``-readrate_initial_burst``), plus FFmpeg's start-up time.
    """

    def __init__(self, url: str, *, size: str = "640x360", rate: int = 30, counter_start: int = 0,
                 tone: float = 440.0, keyint: int | None = None, bitrate: str | None = None,
                 seconds: float | None = None, retry_for: float = 0.0, retry_pause: float = 0.2,
                 loglevel: str = "error", log: Path | str | None = None, progress: Path | str | None = None):
        self.url, self.size, self.rate = url, size, int(rate)
        self.width, self.height = (int(v) for v in size.lower().split("x"))
        self.counter_start, self.tone = int(counter_start), tone
        self.keyint = keyint or self.rate
        self.bitrate, self.seconds = bitrate, seconds
        self.retry_for, self.retry_pause = retry_for, retry_pause
        self.loglevel, self.log, self.progress = loglevel, log, progress
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.attempts = 0
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()

    def command(self) -> list[str]:
        vf = f"{counter_filter(self.width, self.height, self.counter_start)},format=yuv420p"
        binary = ffmpeg()
        re_ = ["-re", "-readrate_initial_burst", "0"] if has_initial_burst_option(binary) else ["-re"]
        cmd = [binary, "-hide_banner", "-nostdin", "-loglevel", self.loglevel,
               *re_, "-f", "lavfi", "-i", f"testsrc2=s={self.size}:r={self.rate}",
               *re_, "-f", "lavfi", "-i", f"sine=frequency={self.tone}:sample_rate=48000",
               "-map", "0:v", "-map", "1:a", "-vf", vf,
               "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
               "-g", str(self.keyint), "-keyint_min", str(self.keyint), "-pix_fmt", "yuv420p"]
        if self.bitrate:
            cmd += ["-b:v", self.bitrate, "-maxrate", self.bitrate, "-bufsize", self.bitrate]
        cmd += ["-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "128k"]
        if self.seconds:
            cmd += ["-t", f"{self.seconds}"]
        if self.progress:
            cmd += ["-progress", str(self.progress), "-stats_period", "0.5"]
        return [*cmd, "-f", "flv", "-flvflags", "no_duration_filesize", self.url]

    def _spawn(self) -> None:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        try:
            self.started_at = time.monotonic()
            self.attempts += 1
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=out, start_new_session=True)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()

    def start(self) -> "Publisher":
        with self._lock:
            if self.running:
                return self
            self._stop.clear()
            self._spawn()
        if self.retry_for > 0:
            self._watch = threading.Thread(target=self._retry, args=(time.monotonic() + self.retry_for,),
                                           name="publisher-retry", daemon=True)
            self._watch.start()
        return self

    def _retry(self, until: float) -> None:
        while not self._stop.is_set() and time.monotonic() < until:
            with self._lock:
                proc = self.proc
            if proc is not None and proc.poll() is not None and proc.returncode != 0:
                if self._stop.wait(self.retry_pause):
                    return
                with self._lock:
                    if not self._stop.is_set():
                        self._spawn()
            self._stop.wait(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def frames_sent(self, now: float | None = None) -> int:
        """Frames published so far by the FFmpeg running now (from the clock: ``-re``)."""
        if self.started_at is None:
            return 0
        return int(((now or time.monotonic()) - self.started_at) * self.rate)

    def frames_encoded(self) -> int | None:
        """The last ``frame=`` FFmpeg wrote to ``progress`` (None without one)."""
        if not self.progress:
            return None
        try:
            lines = Path(self.progress).read_text(errors="replace").splitlines()
        except OSError:
            return None
        frames = [int(v) for k, _, v in (line.partition("=") for line in lines) if k == "frame" and v.isdigit()]
        return frames[-1] if frames else 0

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate FFmpeg by its pid (SIGTERM: it finishes the FLV), SIGKILL after ``timeout``."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=2)
            self._watch = None
        with self._lock:
            return stop_process(self.proc, timeout)

    def kill(self) -> None:
        """An abrupt end (SIGKILL), like a crashed encoder or a pulled cable."""
        self._stop.set()
        with self._lock:
            stop_process(self.proc, 2, signal.SIGKILL)

    def __enter__(self) -> "Publisher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Player


@dataclass
class Arrival:
    """One decoded frame: when it arrived (``time.monotonic()``), its pts in seconds, its counter
    (None if unreadable) and which connection (0, 1, ...) of the player delivered it."""

    t: float
    pts: float | None
    counter: int | None
    connection: int


@dataclass
class Player:
    """Reads ``url`` (rtmp://... or a file) with PyAV in a background thread, decoding the video and
    recording every frame's arrival (:class:`Arrival`) and counting the audio packets.

    Low-latency demuxing (``probesize`` 32768, ``analyzeduration`` 0, ``rtmp_live live``) and one
    decoder thread (frame threading would hold frames back). With ``reconnect`` (default), the end
    of a stream or an error (the publisher went away, the server restarted) is followed by a new
    connection after ``retry_pause`` s, until :meth:`stop`; ``connects`` holds the time of each
    successful open and ``errors`` the messages. ``open_timeout``/``read_timeout`` bound every
    blocking call (a player may wait for a stream that is not published yet).
    """

    url: str
    reconnect: bool = True
    open_timeout: float = 10.0
    read_timeout: float = 2.0
    retry_pause: float = 0.1
    decode_counters: bool = True
    frames: list[Arrival] = field(default_factory=list)
    audio_packets: int = 0
    connects: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._container = None

    def start(self) -> "Player":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="player", daemon=True)
        self._thread.start()
        return self

    def _options(self) -> dict[str, str]:
        opts = {"probesize": "32768", "analyzeduration": "0", "fpsprobesize": "0"}
        if self.url.startswith("rtmp"):
            opts["rtmp_live"] = "live"
            opts["rtmp_buffer"] = "100"
        return opts

    def _run(self) -> None:
        import av

        connection = -1
        while not self._stop.is_set():
            try:
                container = av.open(self.url, "r", options=self._options(),
                                    timeout=(self.open_timeout, self.read_timeout))
            except Exception as e:  # noqa: BLE001 (refused, timed out, not published yet)
                self.errors.append(f"open: {e}")
                if not self.reconnect or self._stop.wait(self.retry_pause):
                    return
                continue
            connection += 1
            self.connects.append(time.monotonic())
            self._container = container
            try:
                self._read(container, connection)
            except Exception as e:  # noqa: BLE001
                if not self._stop.is_set():
                    self.errors.append(f"read: {e}")
            finally:
                self._container = None
                try:
                    container.close()
                except Exception:  # noqa: BLE001
                    pass
            if not self.reconnect or self._stop.wait(self.retry_pause):
                return

    def _read(self, container, connection: int) -> None:
        video = container.streams.video[0] if container.streams.video else None
        if video is not None:
            video.thread_type = "SLICE"
            video.codec_context.thread_count = 1
        for packet in container.demux():
            if self._stop.is_set():
                return
            kind = packet.stream.type
            if kind == "audio":
                if packet.size:
                    self.audio_packets += 1
                continue
            if kind != "video":
                continue
            for frame in packet.decode():
                t = time.monotonic()
                counter = self._counter(frame) if self.decode_counters else None
                pts = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
                self.width, self.height = frame.width, frame.height
                self.frames.append(Arrival(t, pts, counter, connection))

    @staticmethod
    def _counter(frame) -> int | None:
        fmt = frame.format.name
        if fmt in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "nv12", "gray"):
            plane = frame.planes[0]
            h = frame.height
            y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :frame.width]
        else:
            y = frame.to_ndarray(format="gray")
        return decode_counter(y)

    @property
    def counters(self) -> list[int]:
        return [a.counter for a in self.frames if a.counter is not None]

    def first_after(self, t: float, above: int | None = None) -> Arrival | None:
        """The first frame that arrived after ``t`` (with a counter above ``above`` if given)."""
        for a in self.frames:
            if a.t > t and (above is None or (a.counter is not None and a.counter > above)):
                return a
        return None

    def wait_frames(self, n: int, timeout: float) -> bool:
        """Whether ``n`` frames have arrived within ``timeout`` s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.frames) >= n:
                return True
            time.sleep(0.05)
        return len(self.frames) >= n

    def request_stop(self) -> None:
        """Ask the thread to stop without waiting (to stop several players at once)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading and wait for the thread (bounded: a read blocked on an idle stream ends
        after ``read_timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> "Player":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
