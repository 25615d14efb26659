"""Live benchmark: ``vproc live`` against an FFmpeg transcoding relay, between two RTMP streams on a private
nginx-rtmp, with a fault drill.

    python benchmarks/live.py [--seconds 60] [--no-faults] [--soak 600] [--peers vproc,ffmpeg]
                              [--graph graphs/proxy.yaml] [--size 1280x720] [--rate 30] [--max-latency 300]
                              [--vproc-arg=--preset --vproc-arg=veryfast ...] [--json out/live.json]

Needs nginx with the rtmp module (``apt-get install -y nginx libnginx-mod-rtmp``); the benchmark
starts its own nginx (``tests/live/rtmp.py``: foreground, one process, loopback only, a free port,
config and logs in a temporary folder) and never the system service.

Protocol
--------
- Peers, one phase each, one after the other (``--peers``, default ``vproc,ffmpeg``; ``--soak``: vproc
  only unless ``--peers`` names more): each phase has its own nginx (a new port), publishers and
  players, and the same drill and length; nothing else runs meanwhile.
- Source: the bundled FFmpeg publishes testsrc2 at ``--size``/``--rate`` (default 1280x720 at 30
  fps) in real time (``-re``) with a 16-bit frame counter burnt into the top-left corner (a
  two-row black/white code whose cells scale with the frame, so it survives the graph's resize and
  x264) and a 440 Hz tone (AAC 48 kHz stereo), libx264 ultrafast/zerolatency, one keyframe per
  second, FLV, to ``rtmp://127.0.0.1:PORT/live/in``.
- Under test: ``python -m vproc live rtmp://.../live/in rtmp://.../live/out --graph G
  --max-latency 300 --json --stats-interval 1`` (plus ``--vproc-arg``s), a subprocess; its JSON
  stats lines (stdout, one object per interval) are collected, its stderr goes to a log file.
  vproc is never restarted: it has to survive the drill by itself (if it exits, the phase ends).
- The peer: an FFmpeg transcoding relay doing the default graph's job (``graphs/proxy.yaml``: half
  size with area interpolation, yuv420p, libx264 crf 23 veryfast, audio copied) with vproc's live
  input and encoder settings (``vproc/live/source.py`` ``input_options``, ``vproc/live/sink.py``
  ``live_output_options``): ``ffmpeg -probesize 262144 -analyzeduration 500000 -rw_timeout 2000000
  -i rtmp://.../live/in -vf scale=iw/2:ih/2:flags=area,format=yuv420p -c:v libx264 -crf 23 -preset
  veryfast -tune zerolatency -force_key_frames expr:gte(t,n_forced*2) -sc_threshold 0 -pix_fmt
  yuv420p -c:a copy -flvflags no_duration_filesize -rw_timeout 3000000 -f flv rtmp://.../live/out``.
  FFmpeg exits when its input or output fails (or stalls for 2 s), so, as deployments run it, a
  supervisor starts it again whenever it exits (checked every 0.2 s, no back-off); its restarts
  are counted. With another ``--graph``, the FFmpeg relay still does the proxy job: compare only
  with the default graph.
- Two players (PyAV, one process, one thread each, low-latency demuxing, single-threaded
  decoding) read ``live/in`` (the baseline: what a viewer of the source gets) and ``live/out``,
  decode every frame and read its counter. ``added latency(n) = arrival_out(n) - arrival_in(n)``
  for every counter ``n`` both received: the publisher, the server and the players' own delays
  cancel; what remains is the relay's (demux, decode, graph, encode, mux) plus one more server hop.
  "steady" leaves out the first 5 s and the 5 s after each fault ends.
- Fault drill (unless ``--no-faults``), at fractions of ``--seconds`` (the times for 60 s):
  the publisher is killed (SIGKILL) at 20 s and a new one starts at 25 s; nginx is stopped at 40 s
  (SIGTERM by pid), started again at 42 s on the same port, and a new publisher starts right
  after it. A new publisher's counter continues from the clock (``rate x`` seconds since the first
  publisher started), so counters never repeat. Recovery = from the source's return (the new
  publisher's start) or the server's return (nginx listening again) until the output player's
  first frame with a counter of the new publisher; the input player's recovery is printed too
  (the floor: FFmpeg's start, a keyframe, a player reconnecting). A restarted FFmpeg relay
  publishes a new ``live/out`` stream, so its recovery includes the output player reconnecting,
  as a viewer's would.
- Counts: frames published (the publishers' FFmpeg ``-progress``, written every 0.5 s, so a killed
  publisher's last half second may be missing), received by each player (distinct counters),
  dropped on the output (counters the input player got, within the output's first..last, missing on
  the output: the relay's drops, e.g. vproc's to hold ``--max-latency``, or frames lost while
  FFmpeg restarts), the gaps on the output (counters skipped between two output frames, faults
  included), repeated frames (the same counter twice in a row) and frames out of order.
- Memory: VmRSS of the relay process (and of its whole process tree: vproc's FFmpeg encoder
  children included; the FFmpeg relay has none; after a restart, the FFmpeg running then),
  sampled every second from ``/proc``; "start" is the first sample once the output flows, "end"
  the last before stopping. ``--soak 600``: ten minutes without faults, the growth from start to end.
- Stop: SIGTERM to vproc (SIGINT to the FFmpeg relay) at the end (the publisher still running); the
  seconds it takes to exit and its exit code are printed.
- Report: a detailed table per relay, then (with both peers) one comparison table, a column per
  relay and the ratio vproc / FFmpeg (n/a where FFmpeg's value is 0 or missing): added latency
  p50/p95 steady, frames dropped on the output, gaps, repeated frames, audio packets out, recovery
  after the source and the server return, process restarts (the supervisor's restarts of FFmpeg;
  vproc's are 0 by design, its in-process reconnections are noted below the table) and RSS of the
  process tree at start and end. ``--json``: ``{"peers", "runs": {relay: results}, "comparison"}``.

Targets (issue 7): added latency p95 under 300 ms when the graph keeps up (the default graph
halves the size, which two CPU cores keep up with at 720p30; ``--graph graphs/lowlight.yaml``,
denoise + lowlight, needs a GPU at that rate and then drops frames to hold ``--max-latency``);
output back within 2 s of the source returning; no RSS growth beyond 50 MB in a 10-minute soak;
vproc exits within 2 s of SIGTERM. ``--peers ffmpeg`` runs the peer alone (no vproc needed: a
check of the harness).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.live.rtmp import NginxRtmp, Player, Publisher, find_nginx, stop_process  # noqa: E402

TARGET_P95_MS = 300.0
TARGET_RECOVERY_S = 2.0
TARGET_RSS_GROWTH_MB = 50.0
TARGET_STOP_S = 2.0
DRILL = {"source_kill": 20 / 60, "source_back": 25 / 60, "server_stop": 40 / 60, "server_back": 42 / 60}
STEADY_SKIP_S = 5.0
PEERS = ("vproc", "ffmpeg")
TITLES = {"vproc": "vproc live", "ffmpeg": "FFmpeg relay"}
STALL_TIMEOUT_US = 2_000_000  # vproc live's input stall timeout (vproc/live/source.py)


# ---------------------------------------------------------------------------------------------
# The process under test


def vproc_has_live() -> tuple[bool, str]:
    try:
        r = subprocess.run([sys.executable, "-m", "vproc", "live", "--help"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "`python -m vproc live --help` did not answer within 120 s"
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"exit code {r.returncode}"
    return True, ""


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return 0  # a zombie has no VmRSS line


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def vproc_command(src: str, dst: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "vproc", "live", src, dst, *args]


def ffmpeg_relay_command(src: str, dst: str, keyint: float = 2.0) -> list[str]:
    """The peer: one FFmpeg doing graphs/proxy.yaml's job (half size with area interpolation, yuv420p,
    libx264 crf 23 veryfast, audio copied) with the input options of ``vproc live``
    (``vproc.live.source.input_options``) and its live encoder settings
    (``vproc.live.sink.live_output_options``)."""
    from vproc.io.ffmpeg import ffmpeg_binary

    return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "warning",
            "-probesize", "262144", "-analyzeduration", "500000", "-rw_timeout", str(STALL_TIMEOUT_US),
            "-i", src,
            "-vf", "scale=iw/2:ih/2:flags=area,format=yuv420p",
            "-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-tune", "zerolatency",
            "-force_key_frames", f"expr:gte(t,n_forced*{keyint:g})", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "copy", "-flvflags", "no_duration_filesize", "-rw_timeout", "3000000", "-f", "flv", dst]


class Relay:
    """The process between ``live/in`` and ``live/out``, started from ``command``: its stdout JSON lines
    are collected (vproc's stats) and its RSS sampled. With ``supervise``, it is started again
    whenever it exits, like a supervisor (systemd ``Restart=always``, a shell loop) runs FFmpeg;
    the restarts are counted. ``stop_signal``: how it is asked to stop at the end."""

    def __init__(self, name: str, command: list[str], workdir: Path, *, supervise: bool = False,
                 stop_signal: int = signal.SIGTERM):
        self.name, self._command, self.supervise, self.stop_signal = name, command, supervise, stop_signal
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.stats: list[tuple[float, dict]] = []
        self.other_lines = 0
        self.rss: list[tuple[float, int, int]] = []  # (time, own kB, tree kB)
        self.restarts = 0
        self.restart_times: list[float] = []
        self.exit_codes: list[int] = []  # of the processes that exited by themselves (then restarted)
        self.stop_seconds: float | None = None
        self.exit_code: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # no restart once stop() has begun
        self._threads: list[threading.Thread] = []

    def command(self) -> list[str]:
        return list(self._command)

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)
        t = threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True)
        t.start()
        self._threads.append(t)

    def start(self) -> "Relay":
        self._spawn()
        for target in (self._sample, self._supervise):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read_stdout(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                self.stats.append((time.monotonic(), obj))
            else:
                self.other_lines += 1

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            proc = self.proc
            if proc is None or proc.poll() is not None:
                continue
            own = rss_kb(proc.pid)
            if own is None:
                continue
            tree = own + sum(rss_kb(p) or 0 for p in descendants(proc.pid))
            self.rss.append((time.monotonic(), own, tree))

    def _supervise(self) -> None:
        """A supervised relay (FFmpeg ends with its input or output) is started again; vproc is not
        (it must reconnect by itself)."""
        while self.supervise and not self._stop.wait(0.2):
            with self._lock:
                proc = self.proc
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    self.exit_codes.append(proc.returncode)
                    self.restarts += 1
                    self.restart_times.append(time.monotonic())
                    self._spawn()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            pass  # a restart under way has finished: self.proc is the last one
        if self.proc is not None:
            t0 = time.monotonic()
            was_running = self.proc.poll() is None
            self.exit_code = stop_process(self.proc, timeout=10, sig=self.stop_signal)
            if was_running:
                self.stop_seconds = time.monotonic() - t0
            if self.proc.stdout:
                try:
                    self.proc.stdout.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=2)

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# Measures


def first_arrivals(player: Player) -> dict[int, float]:
    seen: dict[int, float] = {}
    for a in player.frames:
        if a.counter is not None and a.counter not in seen:
            seen[a.counter] = a.t
    return seen


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def fmt(v, unit: str = "", digits: int = 0) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}{unit}"


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


# ---------------------------------------------------------------------------------------------
# The run


def make_relay(kind: str, src: str, dst: str, args, workdir: Path) -> Relay:
    if kind == "ffmpeg":
        return Relay(kind, ffmpeg_relay_command(src, dst), workdir, supervise=True, stop_signal=signal.SIGINT)
    vproc_args = []
    if args.graph and args.graph != "none":
        vproc_args += ["--graph", args.graph]
    vproc_args += ["--max-latency", str(args.max_latency), "--json", "--stats-interval", str(args.stats_interval),
                   *args.vproc_arg]
    return Relay(kind, vproc_command(src, dst, vproc_args), workdir, supervise=False, stop_signal=signal.SIGTERM)


def run(args, kind: str, binary: str, module: str) -> dict:
    """One phase: a fresh nginx, publishers and players, relay ``kind``, the drill."""
    workdir = Path(tempfile.mkdtemp(prefix=f"vproc-live-bench-{kind}-"))
    nginx = NginxRtmp(workdir / "nginx", binary=binary, module=module).start()
    src, dst = nginx.url("in"), nginx.url("out")
    faults = not args.no_faults and not args.soak
    seconds = args.soak or args.seconds
    drill = {k: v * seconds for k, v in DRILL.items()} if faults else {}
    events: dict[str, float] = {}
    publishers: list[Publisher] = []
    publisher_spans: list[tuple[float, float | None, int]] = []  # (started_at, ended_at, counter_start)

    def new_publisher(counter_start: int, retry_for: float = 0.0) -> Publisher:
        p = Publisher(src, size=args.size, rate=args.rate, counter_start=counter_start, retry_for=retry_for,
                      log=workdir / "publisher.log", progress=workdir / f"publisher-{len(publishers)}.progress").start()
        publishers.append(p)
        publisher_spans.append((p.started_at, None, counter_start))
        return p

    def end_publisher(p: Publisher, kill: bool) -> None:
        p.kill() if kill else p.stop()
        i = publishers.index(p)
        s, _, c = publisher_spans[i]
        publisher_spans[i] = (s, time.monotonic(), c)

    player_in = Player(src, read_timeout=3.0).start()
    player_out = Player(dst, read_timeout=3.0).start()
    relay = make_relay(kind, src, dst, args, workdir).start()
    print(f"nginx-rtmp pid {nginx.pid} on port {nginx.port}; {kind} pid {relay.proc.pid}: "
          f"{' '.join(relay.command()[1:] if kind == 'vproc' else relay.command())}", flush=True)
    t0 = time.monotonic()
    pub = new_publisher(0)
    t_first = pub.started_at
    next_report = 60.0
    pending = sorted(drill.items(), key=lambda kv: kv[1])
    try:
        while True:
            now = time.monotonic() - t0
            if now >= seconds:
                break
            if pending and now >= pending[0][1]:
                name, _ = pending.pop(0)
                events[name] = time.monotonic()
                if name == "source_kill":
                    end_publisher(pub, kill=True)
                elif name == "source_back":
                    pub = new_publisher(round((time.monotonic() - t_first) * args.rate))
                    events[name] = pub.started_at
                elif name == "server_stop":
                    nginx.stop()
                    end_publisher(pub, kill=False)  # its connection is gone: FFmpeg exits anyway
                elif name == "server_back":
                    nginx.start()
                    events[name] = time.monotonic()
                    pub = new_publisher(round((time.monotonic() - t_first) * args.rate), retry_for=5)
                print(f"  {now:6.1f} s  {name}", flush=True)
            if args.soak and now >= next_report:
                r = relay.rss[-1] if relay.rss else None
                print(f"  {now:6.0f} s  frames out {len(player_out.frames)}  RSS "
                      f"{fmt(r and r[1] / 1024, ' MB', 1)} (tree {fmt(r and r[2] / 1024, ' MB', 1)})", flush=True)
                next_report += 60
            if not relay.alive and not relay.supervise:
                print(f"  {now:6.1f} s  vproc exited with code {relay.proc.returncode}:\n{relay.log_tail()}", flush=True)
                break
            time.sleep(0.05)
    finally:
        relay.stop()  # SIGTERM with the source and the server up: the normal case
        if pub.running:
            end_publisher(pub, kill=False)
        nginx.stop()  # the players' connections end with it: no waiting for read time-outs
        player_in.stop()
        player_out.stop()
    published = sum(p.frames_encoded() or 0 for p in publishers)
    return measure(args, kind, relay, player_in, player_out, publisher_spans, events, t0, seconds, workdir,
                   published)


def measure(args, kind, relay, player_in, player_out, spans, events, t0, seconds, workdir, published) -> dict:
    rate = args.rate
    in_at, out_at = first_arrivals(player_in), first_arrivals(player_out)
    out_sorted = sorted(out_at)
    # fault windows (for "steady"): from each fault's start until 5 s after its end
    windows = [(t0 - 1, (player_out.frames[0].t if player_out.frames else t0) + STEADY_SKIP_S)]
    if "source_kill" in events and "source_back" in events:
        windows.append((events["source_kill"], events["source_back"] + STEADY_SKIP_S))
    if "server_stop" in events and "server_back" in events:
        windows.append((events["server_stop"], events["server_back"] + STEADY_SKIP_S))
    added, steady = [], []
    for n, t_out in out_at.items():
        t_in = in_at.get(n)
        if t_in is None:
            continue
        d = (t_out - t_in) * 1000
        added.append(d)
        if not any(a <= t_in <= b for a, b in windows):
            steady.append(d)
    dropped = gaps = 0
    if out_sorted:
        lo, hi = out_sorted[0], out_sorted[-1]
        dropped = sum(1 for n in in_at if lo <= n <= hi and n not in out_at)
        gaps = sum(b - a - 1 for a, b in zip(out_sorted, out_sorted[1:]) if b - a > 1)
    out_counters = [a.counter for a in player_out.frames if a.counter is not None]
    backwards = sum(1 for a, b in zip(out_counters, out_counters[1:]) if b < a)
    repeated = sum(1 for a, b in zip(out_counters, out_counters[1:]) if b == a)
    unreadable = sum(1 for a in player_out.frames if a.counter is None)

    def recovery(event: str) -> tuple[float | None, float | None]:
        if event not in events:
            return None, None
        t = events[event]
        start = next((c for s, _, c in spans if s >= t - 0.01), None)
        if start is None:
            return None, None
        res = []
        for p in (player_out, player_in):
            a = p.first_after(t, above=start - 1)
            res.append(a.t - t if a else None)
        return res[0], res[1]

    rec_source = recovery("source_back")
    rec_server = recovery("server_back")
    rss_start = rss_end = None
    if relay.rss:
        first_out = player_out.frames[0].t if player_out.frames else None
        after = [r for r in relay.rss if first_out is None or r[0] >= first_out]
        rss_start = (after or relay.rss)[0]
        rss_end = relay.rss[-1]
    p95s = [s.get("latency_p95_ms") for _, s in relay.stats if isinstance(s.get("latency_p95_ms"), (int, float))]
    result = {
        "relay": kind, "command": relay.command(), "graph": args.graph if kind == "vproc" else None,
        "size": args.size, "rate": rate, "seconds": seconds,
        "faults": bool(events), "max_latency_ms": args.max_latency, "cpu_count": os.cpu_count(),
        "added_ms": {"p50": pct(added, 50), "p95": pct(added, 95), "max": max(added) if added else None,
                     "n": len(added)},
        "added_steady_ms": {"p50": pct(steady, 50), "p95": pct(steady, 95), "max": max(steady) if steady else None,
                            "n": len(steady)},
        "frames": {"published": published, "received_in": len(in_at), "received_out": len(out_at),
                   "dropped_out": dropped, "gaps_out": gaps, "backwards_out": backwards, "repeated_out": repeated,
                   "unreadable_out": unreadable, "decoded_out": len(player_out.frames)},
        "audio_packets": {"in": player_in.audio_packets, "out": player_out.audio_packets},
        "out_size": [player_out.width, player_out.height],
        "recovery_s": {"source_out": rec_source[0], "source_in": rec_source[1],
                       "server_out": rec_server[0], "server_in": rec_server[1]},
        "rss_mb": {"start": rss_start and rss_start[1] / 1024, "end": rss_end and rss_end[1] / 1024,
                   "tree_start": rss_start and rss_start[2] / 1024, "tree_end": rss_end and rss_end[2] / 1024,
                   "max": max(r[1] for r in relay.rss) / 1024 if relay.rss else None},
        "vproc_stats": {"lines": len(relay.stats), "other_lines": relay.other_lines,
                        "last": relay.stats[-1][1] if relay.stats else None,
                        "max_latency_p95_ms": max(p95s) if p95s else None},
        "stop_s": relay.stop_seconds, "exit_code": relay.exit_code, "relay_restarts": relay.restarts,
        "relay_restarts_s": [round(t - t0, 2) for t in relay.restart_times], "relay_exit_codes": relay.exit_codes,
        "player_connects": {"in": len(player_in.connects), "out": len(player_out.connects)},
        "events_s": {k: v - t0 for k, v in events.items()},
        "workdir": str(workdir),
    }
    if args.soak:
        result["rss_series_mb"] = [(round(t - t0, 1), own / 1024, tree / 1024) for t, own, tree in relay.rss]
    return result


def report(r: dict) -> None:
    a, s, f, rec, rss, st = r["added_ms"], r["added_steady_ms"], r["frames"], r["recovery_s"], r["rss_mb"], r["vproc_stats"]
    print()
    job = f"graph {r['graph']}" if r["relay"] == "vproc" else "half size + x264 (the proxy job), restarted on exit"
    print(f"### {TITLES.get(r['relay'], r['relay'])}: {r['size']}@{r['rate']} testsrc2 + tone, {job}, "
          f"{r['seconds']:.0f} s, {'fault drill' if r['faults'] else 'no faults'}, relay {r['relay']}, "
          f"{r['cpu_count']} CPU cores")
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    steady_ok = s["p95"] < TARGET_P95_MS if s["p95"] is not None else None
    print(f"| added latency p50 / p95 / max, all frames (ms) | {fmt(a['p50'])} / {fmt(a['p95'])} / {fmt(a['max'])} "
          f"({a['n']} frames) | |")
    print(f"| added latency p50 / p95 / max, steady (ms) | {fmt(s['p50'])} / {fmt(s['p95'])} / {fmt(s['max'])} "
          f"({s['n']} frames) | p95 < {TARGET_P95_MS:.0f}: {status(steady_ok)} |")
    print(f"| frames published / received in / received out | {f['published']} / {f['received_in']} / "
          f"{f['received_out']} | |")
    print(f"| dropped on the output (in got them) / gaps / repeated / out of order / unreadable | "
          f"{f['dropped_out']} / {f['gaps_out']} / {f['repeated_out']} / {f['backwards_out']} / "
          f"{f['unreadable_out']} | |")
    print(f"| audio packets in / out | {r['audio_packets']['in']} / {r['audio_packets']['out']} | out > 0: "
          f"{status(r['audio_packets']['out'] > 0)} |")
    print(f"| output size | {r['out_size'][0]}x{r['out_size'][1]} | |")
    if r["faults"]:
        ok = rec["source_out"] is not None and rec["source_out"] <= TARGET_RECOVERY_S
        print(f"| recovery after the source returns: out (in) (s) | {fmt(rec['source_out'], '', 2)} "
              f"({fmt(rec['source_in'], '', 2)}) | out < {TARGET_RECOVERY_S:.0f} s: {status(ok)} |")
        print(f"| recovery after the server returns: out (in) (s) | {fmt(rec['server_out'], '', 2)} "
              f"({fmt(rec['server_in'], '', 2)}) | |")
    growth = rss["end"] - rss["start"] if rss["start"] is not None and rss["end"] is not None else None
    target = f"growth < {TARGET_RSS_GROWTH_MB:.0f} MB (soak): {status(growth < TARGET_RSS_GROWTH_MB)}" \
        if r["seconds"] >= 600 and growth is not None else ""
    print(f"| RSS start / end / max (MB), growth | {fmt(rss['start'], '', 1)} / {fmt(rss['end'], '', 1)} / "
          f"{fmt(rss['max'], '', 1)}, {fmt(growth, '', 1)} | {target} |")
    print(f"| RSS with children start / end (MB) | {fmt(rss['tree_start'], '', 1)} / {fmt(rss['tree_end'], '', 1)} | |")
    stop_ok = r["stop_s"] <= TARGET_STOP_S if r["stop_s"] is not None else None
    sig = "SIGTERM" if r["relay"] == "vproc" else "SIGINT"
    print(f"| exit after {sig} (s), exit code | {fmt(r['stop_s'], '', 2)}, {r['exit_code']} | < {TARGET_STOP_S:.0f} s: "
          f"{status(stop_ok)} |")
    print(f"| vproc stats lines / max latency_p95_ms | {st['lines']} / {fmt(st['max_latency_p95_ms'])} | |")
    print()
    if st["last"] is not None:
        print(f"vproc's last stats line: `{json.dumps(st['last'], sort_keys=True)}`")
    print(f"player connections in/out: {r['player_connects']['in']}/{r['player_connects']['out']}; "
          f"events (s): {', '.join(f'{k} {v:.1f}' for k, v in r['events_s'].items()) or 'none'}; "
          f"logs: {r['workdir']}")
    if r["relay"] != "vproc":
        at = ", ".join(f"{t:.1f}" for t in r["relay_restarts_s"])
        codes = ", ".join(str(c) for c in sorted(set(r["relay_exit_codes"])))
        print(f"{TITLES.get(r['relay'], r['relay'])} restarted {r['relay_restarts']} times by its supervisor"
              f"{f' at {at} s' if at else ''}{f'; exit codes {codes}' if codes else ''}")


def ratio(v, f) -> float | None:
    """vproc / FFmpeg, None where either is missing or FFmpeg's is 0."""
    if v is None or f is None or f == 0:
        return None
    return v / f


def comparison(runs: dict[str, dict]) -> list[dict]:
    """The comparison rows: (measure, value per relay, ratio vproc / FFmpeg)."""
    rows = [
        ("added latency p50, steady (ms)", lambda r: r["added_steady_ms"]["p50"], 0),
        ("added latency p95, steady (ms)", lambda r: r["added_steady_ms"]["p95"], 0),
        ("frames dropped on the output", lambda r: r["frames"]["dropped_out"], 0),
        ("gaps on the output (frames)", lambda r: r["frames"]["gaps_out"], 0),
        ("repeated frames on the output", lambda r: r["frames"]["repeated_out"], 0),
        ("audio packets out", lambda r: r["audio_packets"]["out"], 0),
        ("recovery after the source returns (s)", lambda r: r["recovery_s"]["source_out"] if r["faults"] else None, 2),
        ("recovery after the server returns (s)", lambda r: r["recovery_s"]["server_out"] if r["faults"] else None, 2),
        ("process restarts", lambda r: r["relay_restarts"], 0),
        ("RSS start, process tree (MB)", lambda r: r["rss_mb"]["tree_start"], 1),
        ("RSS end, process tree (MB)", lambda r: r["rss_mb"]["tree_end"], 1),
    ]
    out = []
    for name, get, digits in rows:
        values = {k: get(r) for k, r in runs.items()}
        out.append({"measure": name, "values": values, "digits": digits,
                    "ratio": ratio(values.get("vproc"), values.get("ffmpeg"))})
    return out


def report_comparison(runs: dict[str, dict], rows: list[dict]) -> None:
    kinds = list(runs)
    any_run = next(iter(runs.values()))
    print()
    print(f"### vproc live against the FFmpeg relay: {any_run['size']}@{any_run['rate']}, {any_run['seconds']:.0f} s, "
          f"{'fault drill' if any_run['faults'] else 'no faults'}, {any_run['cpu_count']} CPU cores, one phase each")
    print()
    ratio_col = "vproc / FFmpeg" if {"vproc", "ffmpeg"} <= set(kinds) else None
    print("| measure | " + " | ".join(TITLES.get(k, k) for k in kinds) + (f" | {ratio_col} |" if ratio_col else " |"))
    print("|---|" + "---|" * (len(kinds) + (1 if ratio_col else 0)))
    for row in rows:
        cells = [fmt(row["values"][k], "", row["digits"]) for k in kinds]
        if ratio_col:
            cells.append(fmt(row["ratio"], "", 2))
        print(f"| {row['measure']} | " + " | ".join(cells) + " |")
    print()
    v = runs.get("vproc")
    if v is not None:
        last = v["vproc_stats"]["last"] or {}
        print(f"vproc: 0 process restarts by design (it is never restarted; it reconnects inside): "
              f"source reconnects {last.get('source_reconnects', 'n/a')}, output reconnects "
              f"{last.get('output_reconnects', 'n/a')}, repeated (gap filling, in vproc's count) "
              f"{last.get('repeated', 'n/a')}, dropped (vproc's count) {last.get('dropped', 'n/a')}.")
    print("Ratios are vproc / FFmpeg (n/a where FFmpeg's value is 0 or missing); lower is better for latency, "
          "drops, gaps, recovery, restarts and RSS.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="run length (default 60)")
    ap.add_argument("--no-faults", action="store_true", help="no fault drill")
    ap.add_argument("--soak", type=float, default=0.0, metavar="S",
                    help="a soak run of S seconds without faults (e.g. 600), reporting RSS growth")
    ap.add_argument("--graph", default="graphs/proxy.yaml",
                    help="graph for vproc live (default graphs/proxy.yaml: half size); 'none' for no --graph")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--rate", type=int, default=30)
    ap.add_argument("--max-latency", type=int, default=300)
    ap.add_argument("--stats-interval", type=float, default=1.0)
    ap.add_argument("--vproc-arg", action="append", default=[], help="extra vproc live argument (repeatable)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--peers", default=None,
                    help="relays to run, one phase each, in this order (default vproc,ffmpeg; with --soak: vproc)")
    args = ap.parse_args()
    peers = [p.strip() for p in (args.peers or ("vproc" if args.soak else ",".join(PEERS))).split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown or not peers or len(set(peers)) != len(peers):
        ap.error(f"--peers: a comma-separated list of {', '.join(PEERS)} without repeats (got {args.peers!r})")
    binary, module, reason = find_nginx()
    if binary is None or module is None:
        sys.exit(f"benchmarks/live.py: {reason}")
    if "vproc" in peers:
        ok, why = vproc_has_live()
        if not ok:
            sys.exit(f"benchmarks/live.py: `python -m vproc live` is not available ({why}); this benchmark needs "
                     f"the live command of issue 7 (`--peers ffmpeg` checks the harness alone)")
    runs: dict[str, dict] = {}
    for i, kind in enumerate(peers):
        if i:
            time.sleep(2.0)  # the previous phase's processes have exited; let the machine settle
        print(f"\n== phase {i + 1}/{len(peers)}: {TITLES[kind]} ==", flush=True)
        runs[kind] = run(args, kind, binary, module)
        report(runs[kind])
    rows = comparison(runs) if len(runs) > 1 else []
    if rows:
        report_comparison(runs, rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"peers": peers, "runs": runs, "comparison": rows}, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
