"""Allocator benchmark: vproc with its glibc tuning (``vproc/allocator.py``) vs glibc's defaults.

    python benchmarks/allocator.py [--seconds 8] [--size 320x180] [--repeat 3] [--threads 1]

The peer is the same vproc with ``VPROC_MALLOC_TUNING=0`` (glibc's own dynamic mmap threshold
and heap trimming). Each case is a whole ``vproc run`` command in its own process, on a clip made
once (FFmpeg ``testsrc2`` at ``--size``, 25 fps, with temporal noise, x264 crf 18), output FFV1:

- ``vsr x2`` (method flow, the defaults): many frame-sized float buffers per frame;
- ``denoise`` (strength 8, radius 2);
- ``resize x2`` (bicubic): little work per buffer.

Rounds alternate the two settings (tuned, default, default, tuned, ...), ``--repeat`` rounds;
the medians are printed with their ratio, and every run. ``--threads`` compute threads per
process (NUMBA_NUM_THREADS, OPENCV_FOR_THREADS_NUM, OMP_NUM_THREADS; 0: the libraries' own
choice). Keep the machine otherwise quiet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402

GRAPHS = {
    "vsr x2": "sr: {type: vsr, in: source, params: {scale: 2}}",
    "denoise": "sr: {type: denoise, in: source, params: {strength: 8, radius: 2}}",
    "resize x2": "sr: {type: resize, in: source, params: {scale: 2}}",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vproc-alloc-"))
    try:
        return _run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, tmp: Path) -> int:
    clip = tmp / "in.mp4"
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=s={args.size}:r=25:d={args.seconds}", "-vf", "noise=alls=20:allf=t",
                    "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(clip)], check=True)
    env = dict(os.environ)
    if args.threads != "0":
        env.update(NUMBA_NUM_THREADS=args.threads, OPENCV_FOR_THREADS_NUM=args.threads, OMP_NUM_THREADS=args.threads)
    frames = round(args.seconds * 25)
    print(f"\n{frames} frames {args.size}, FFV1 out, {args.threads} compute thread(s), {os.cpu_count()} CPUs, "
          f"medians of {args.repeat} alternating rounds\n")
    print("| graph | glibc defaults s | vproc tuned s | speed-up | runs (defaults; tuned) |")
    print("|---|---:|---:|---:|---|")
    for name, node in GRAPHS.items():
        graph = tmp / "g.yaml"
        graph.write_text(f"version: 1\ndevice: cpu\nnodes:\n  {node}\noutput: {{in: sr, codec: ffv1, format: matroska}}\n")
        cmd = [sys.executable, "-m", "vproc", "run", str(graph), "-i", str(clip), "-o", str(tmp / "out.mkv"), "-y", "--no-progress"]
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True)  # numba's cache filled
        times: dict[str, list[float]] = {"1": [], "0": []}
        for r in range(args.repeat):
            for setting in (("1", "0") if r % 2 == 0 else ("0", "1")):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, env={**env, "VPROC_MALLOC_TUNING": setting}, cwd=ROOT,
                               capture_output=True)
                times[setting].append(time.perf_counter() - t0)
        d, t = statistics.median(times["0"]), statistics.median(times["1"])
        runs = ", ".join(f"{x:.1f}" for x in times["0"]) + "; " + ", ".join(f"{x:.1f}" for x in times["1"])
        print(f"| {name} | {d:.2f} | {t:.2f} | {d / t:.2f}x | {runs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
