"""Live benchmark: ``vproc live`` between two RTMP streams on a private nginx-rtmp, with a fault drill.

    python benchmarks/live.py [--seconds 60] [--no-faults] [--soak 600] [--graph graphs/proxy.yaml]
                              [--size 1280x720] [--rate 30] [--max-latency 300]
                              [--vproc-arg=--preset --vproc-arg=veryfast ...] [--json out/live.json]

Needs nginx with the rtmp module (``apt-get install -y nginx libnginx-mod-rtmp``); the benchmark
starts its own nginx (``tests/live/rtmp.py``: foreground, one process, loopback only, a free port,
config and logs in a temporary folder) and never the system service.

Protocol
--------
- Source: the bundled FFmpeg publishes testsrc2 at ``--size``/``--rate`` (default 1280x720 at 30
  fps) in real time (``-re``) with a 16-bit frame counter burnt into the top-left corner (a
  two-row black/white code whose cells scale with the frame, so it survives the graph's resize and
  x264) and a 440 Hz tone (AAC 48 kHz stereo), libx264 ultrafast/zerolatency, one keyframe per
  second, FLV, to ``rtmp://127.0.0.1:PORT/live/in``.
- Under test: ``python -m vproc live rtmp://.../live/in rtmp://.../live/out --graph G
  --max-latency 300 --json --stats-interval 1`` (plus ``--vproc-arg``s), a subprocess; its JSON
  stats lines (stdout, one object per interval) are collected, its stderr goes to a log file.
- Two players (PyAV, one process, one thread each, low-latency demuxing, single-threaded
  decoding) read ``live/in`` (the baseline: what a viewer of the source gets) and ``live/out``,
  decode every frame and read its counter. ``added latency(n) = arrival_out(n) - arrival_in(n)``
  for every counter ``n`` both received: the publisher, the server and the players' own delays
  cancel; what remains is vproc's (demux, decode, graph, encode, mux) plus one more server hop.
  "steady" leaves out the first 5 s and the 5 s after each fault ends.
- Fault drill (unless ``--no-faults``), at fractions of ``--seconds`` (the times for 60 s):
  the publisher is killed (SIGKILL) at 20 s and a new one starts at 25 s; nginx is stopped at 40 s
  (SIGTERM by pid), started again at 42 s on the same port, and a new publisher starts right
  after it. A new publisher's counter continues from the clock (``rate x`` seconds since the first
  publisher started), so counters never repeat. Recovery = from the source's return (the new
  publisher's start) or the server's return (nginx listening again) until the output player's
  first frame with a counter of the new publisher; the input player's recovery is printed too
  (the floor: FFmpeg's start, a keyframe, a player reconnecting).
- Counts: frames published (the publishers' FFmpeg ``-progress``, written every 0.5 s, so a killed
  publisher's last half second may be missing), received by each player (distinct counters),
  dropped on the output (counters the input player got, within the output's first..last, missing on
  the output: vproc's drops, e.g. to hold ``--max-latency``), the gaps on the output (counters
  skipped between two output frames, faults included), repeated frames (the same counter twice in
  a row) and frames out of order.
- Memory: VmRSS of the vproc process (and of its whole process tree, FFmpeg children included),
  sampled every second from ``/proc``; "start" is the first sample once the output flows, "end"
  the last before stopping. ``--soak 600``: ten minutes without faults, the growth from start to end.
- Stop: SIGTERM to vproc at the end (the publisher still running); the seconds it takes to exit and its exit code are printed.

Targets (issue 7): added latency p95 under 300 ms when the graph keeps up (the default graph
halves the size, which two CPU cores keep up with at 720p30; ``--graph graphs/lowlight.yaml``,
denoise + lowlight, needs a GPU at that rate and then drops frames to hold ``--max-latency``);
output back within 2 s of the source returning; no RSS growth beyond 50 MB in a 10-minute soak;
vproc exits within 2 s of SIGTERM.

``--relay ffmpeg`` (hidden, for checking the harness without vproc): an FFmpeg ``-c copy`` relay,
restarted whenever it exits, in vproc's place.
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


class Relay:
    """The process between ``live/in`` and ``live/out``: ``vproc live`` (stdout JSON lines collected,
    RSS sampled) or, with ``kind="ffmpeg"``, a restarting FFmpeg copy relay."""

    def __init__(self, kind: str, src: str, dst: str, args: list[str], workdir: Path):
        self.kind, self.src, self.dst, self.args = kind, src, dst, args
        self.log_path = workdir / f"{kind}.log"
        self.proc: subprocess.Popen | None = None
        self.stats: list[tuple[float, dict]] = []
        self.other_lines = 0
        self.rss: list[tuple[float, int, int]] = []  # (time, own kB, tree kB)
        self.restarts = 0
        self.stop_seconds: float | None = None
        self.exit_code: int | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def command(self) -> list[str]:
        if self.kind == "ffmpeg":
            from vproc.io.ffmpeg import ffmpeg_binary

            return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "warning", "-rw_timeout", "3000000",
                    "-i", self.src, "-c", "copy", "-f", "flv", self.dst]
        return [sys.executable, "-m", "vproc", "live", self.src, self.dst, *self.args]

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
        """The FFmpeg relay ends with its input: start it again (vproc must reconnect by itself)."""
        while not self._stop.wait(0.2):
            if self.kind == "ffmpeg" and self.proc is not None and self.proc.poll() is not None:
                self.restarts += 1
                self._spawn()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None:
            t0 = time.monotonic()
            was_running = self.proc.poll() is None
            self.exit_code = stop_process(self.proc, timeout=10, sig=signal.SIGTERM if self.kind == "vproc" else signal.SIGINT)
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


def run(args) -> dict:
    binary, module, reason = find_nginx()
    if binary is None or module is None:
        sys.exit(f"benchmarks/live.py: {reason}")
    if args.relay == "vproc":
        ok, why = vproc_has_live()
        if not ok:
            sys.exit(f"benchmarks/live.py: `python -m vproc live` is not available ({why}); this benchmark needs "
                     f"the live command of issue 7 (`--relay ffmpeg` checks the harness alone)")
    workdir = Path(tempfile.mkdtemp(prefix="vproc-live-bench-"))
    nginx = NginxRtmp(workdir / "nginx", binary=binary, module=module).start()
    src, dst = nginx.url("in"), nginx.url("out")
    vproc_args = []
    if args.graph and args.graph != "none":
        vproc_args += ["--graph", args.graph]
    vproc_args += ["--max-latency", str(args.max_latency), "--json", "--stats-interval", str(args.stats_interval),
                   *args.vproc_arg]
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
    relay = Relay(args.relay, src, dst, vproc_args, workdir).start()
    print(f"nginx-rtmp pid {nginx.pid} on port {nginx.port}; {args.relay} pid {relay.proc.pid}: "
          f"{' '.join(relay.command()[1:] if args.relay == 'vproc' else relay.command())}", flush=True)
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
            if not relay.alive and args.relay == "vproc":
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
    return measure(args, relay, player_in, player_out, publisher_spans, events, t0, seconds, workdir, published)


def measure(args, relay, player_in, player_out, spans, events, t0, seconds, workdir, published) -> dict:
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
        "relay": args.relay, "graph": args.graph, "size": args.size, "rate": rate, "seconds": seconds,
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
    print(f"### vproc live: {r['size']}@{r['rate']} testsrc2 + tone, graph {r['graph']}, {r['seconds']:.0f} s, "
          f"{'fault drill' if r['faults'] else 'no faults'}, relay {r['relay']}, {r['cpu_count']} CPU cores")
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
    print(f"| exit after SIGTERM (s), exit code | {fmt(r['stop_s'], '', 2)}, {r['exit_code']} | < {TARGET_STOP_S:.0f} s: "
          f"{status(stop_ok)} |")
    print(f"| vproc stats lines / max latency_p95_ms | {st['lines']} / {fmt(st['max_latency_p95_ms'])} | |")
    print()
    if st["last"] is not None:
        print(f"vproc's last stats line: `{json.dumps(st['last'], sort_keys=True)}`")
    print(f"player connections in/out: {r['player_connects']['in']}/{r['player_connects']['out']}; "
          f"events (s): {', '.join(f'{k} {v:.1f}' for k, v in r['events_s'].items()) or 'none'}; "
          f"logs: {r['workdir']}")
    if r["relay"] != "vproc":
        print(f"NOTE: relay `{r['relay']}` (restarted {r['relay_restarts']} times), not vproc: a harness check only.")


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
    ap.add_argument("--relay", choices=("vproc", "ffmpeg"), default="vproc", help=argparse.SUPPRESS)
    args = ap.parse_args()
    result = run(args)
    report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
