"""Counters of a live run, their periodic report, and a Prometheus ``/metrics`` endpoint.

:class:`LiveStats` is shared by the live source and sink (they count frames, drops, repeats and
reconnects, and the sink records each written frame's added latency: from the moment vproc had
the frame decoded to the moment it went to the encoder). :class:`Reporter` prints one line per
``interval`` (or one JSON object with ``json``) with the rates and latency percentiles of that
interval, and serves the same numbers in the Prometheus text format when given a port. Memory
is bounded: latencies are kept for the current interval only.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

log = logging.getLogger("vproc")

# Counters, with their Prometheus help text.
COUNTERS = {
    "frames_in": "video frames decoded from the source (live ones, not repeats)",
    "frames_out": "video frames written to the encoder",
    "dropped": "video frames dropped by the real-time policy or while the output was down",
    "repeated": "frames repeated (last picture, silent audio) while the source was down or stalled",
    "source_reconnects": "times the source was connected again after a disconnect or stall",
    "output_reconnects": "times the output was started again after it failed",
    "audio_packets": "audio packets written (copied or silence)",
    "audio_dropped": "audio packets dropped after a reconnection because they overlapped audio already sent",
}


class LiveStats:
    """Thread-safe counters and this interval's latencies."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self._latencies: list[float] = []  # seconds, frames written this interval
        self.source_up = False
        self.output_up = False
        self.started = time.monotonic()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def written(self, latency_s: float) -> None:
        """One frame went to the encoder, ``latency_s`` after it was decoded."""
        with self._lock:
            self.counts["frames_out"] += 1
            if len(self._latencies) < 100_000:  # bounded even if nobody reads the interval
                self._latencies.append(latency_s)

    def take_interval(self) -> tuple[dict, list[float]]:
        """The counters now, and the latencies since the last call (which are then cleared)."""
        with self._lock:
            lat, self._latencies = self._latencies, []
            return dict(self.counts), lat


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Reporter:
    """Every ``interval`` seconds, one stats line on ``out`` (text or JSON); optionally the
    Prometheus endpoint on ``127.0.0.1:metrics_port``. ``queues`` returns the stage queue depths."""

    def __init__(self, stats: LiveStats, interval: float, *, as_json: bool = False, out=None,
                 queues: Callable[[], dict] | None = None, metrics_port: int | None = None):
        self.stats = stats
        self.interval = interval
        self.as_json = as_json
        self.out = out
        self.queues = queues or (lambda: {})
        self.last: dict = {}
        self._prev: dict | None = None
        self._prev_t = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        if metrics_port is not None:
            self._server = _metrics_server(self, metrics_port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="live-stats", daemon=True)
        self._thread.start()
        if self._server is not None:
            threading.Thread(target=self._server.serve_forever, name="live-metrics", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def snapshot(self) -> dict:
        """The numbers of the interval since the previous snapshot."""
        now = time.monotonic()
        counts, lat = self.stats.take_interval()
        prev = self._prev or dict.fromkeys(counts, 0)
        dt = max(now - self._prev_t, 1e-6)
        self._prev, self._prev_t = counts, now
        snap = {
            "t": round(now - self.stats.started, 3),
            "in_fps": round((counts["frames_in"] - prev["frames_in"]) / dt, 2),
            "out_fps": round((counts["frames_out"] - prev["frames_out"]) / dt, 2),
            **counts,
            "latency_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1) if lat else None,
            "latency_p95_ms": round(float(np.percentile(lat, 95)) * 1000, 1) if lat else None,
            "source_up": self.stats.source_up,
            "output_up": self.stats.output_up,
            "queues": self.queues(),
            "rss_mb": round(rss_mb(), 1),
        }
        self.last = snap
        return snap

    def report(self) -> None:
        snap = self.snapshot()
        if self.as_json:
            line = json.dumps(snap, separators=(",", ":"))
        else:
            lat = ("-" if snap["latency_p50_ms"] is None
                   else f"{snap['latency_p50_ms']:.0f}/{snap['latency_p95_ms']:.0f} ms")
            line = (f"live {snap['t']:.0f}s: in {snap['in_fps']:.1f} fps, out {snap['out_fps']:.1f} fps, "
                    f"latency p50/p95 {lat}, dropped {snap['dropped']}, repeated {snap['repeated']}, "
                    f"reconnects source {snap['source_reconnects']} output {snap['output_reconnects']}, "
                    f"queues {snap['queues']}, rss {snap['rss_mb']:.0f} MB"
                    + ("" if snap["source_up"] else " [source down]") + ("" if snap["output_up"] else " [output down]"))
        print(line, file=self.out, flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.report()
            except Exception as exc:  # a report must never take the stream down
                log.warning("live stats: %s", exc)

    def metrics_text(self) -> str:
        """The counters and the last interval's numbers in the Prometheus text format."""
        counts = dict(self.stats.counts)
        lines = []
        for name, help_text in COUNTERS.items():
            lines += [f"# HELP vproc_live_{name}_total {help_text}", f"# TYPE vproc_live_{name}_total counter",
                      f"vproc_live_{name}_total {counts[name]}"]
        last = self.last
        gauges = {
            "in_fps": "input frames per second over the last interval",
            "out_fps": "output frames per second over the last interval",
            "latency_p50_ms": "median added latency over the last interval (ms)",
            "latency_p95_ms": "95th percentile of the added latency over the last interval (ms)",
            "rss_mb": "resident memory (MB)",
        }
        for name, help_text in gauges.items():
            value = last.get(name)
            if value is not None:
                lines += [f"# HELP vproc_live_{name} {help_text}", f"# TYPE vproc_live_{name} gauge",
                          f"vproc_live_{name} {value}"]
        for name in ("source_up", "output_up"):
            lines += [f"# TYPE vproc_live_{name} gauge", f"vproc_live_{name} {int(getattr(self.stats, name))}"]
        return "\n".join(lines) + "\n"


def _metrics_server(reporter: Reporter, port: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = reporter.metrics_text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # no access log on stderr
            pass

    from ..errors import ConfigError

    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise ConfigError(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None


__all__ = ["COUNTERS", "LiveStats", "Reporter", "rss_mb"]
