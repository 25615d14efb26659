"""Passthrough benchmark: decode -> libx264 veryfast re-encode, vproc vs the ffmpeg CLI.

    python benchmarks/passthrough.py [--frames 1000] [--size 1280x720] [--repeat 3]

Both run the same FFmpeg binary and encoder settings on the same ~1000-frame 720p clip with
audio, in this one run; each is timed as a whole command (process start included), best of
``--repeat``. Prints fps of both and their ratio (target: vproc >= 0.95x ffmpeg), and, to tell
fixed costs from throughput, each command's start-up time (the same command on a 2-frame clip)
and the fps once started.

vproc's modules are byte-compiled first, as an installed package's are (pip compiles them at
install time): an editable checkout run with ``PYTHONDONTWRITEBYTECODE`` set, as on the
project's machines, would otherwise compile them afresh on every command (about 70 ms).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402

ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]


def make_clip(path: Path, frames: int, size: str, rate: int = 30) -> None:
    seconds = frames / rate
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-frames:v", str(frames), "-t", f"{seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(path)], check=True)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def count_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.demux(video=0) if _.size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "vproc")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip, tiny = tmp / "clip.mp4", tmp / "tiny.mp4"
        make_clip(clip, args.frames, args.size)
        make_clip(tiny, 2, args.size)
        n = count_frames(clip)

        def commands(src: Path) -> dict[str, list[str]]:
            return {
                "ffmpeg CLI": [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
                               *ENCODE, "-c:a", "copy", str(tmp / "ffmpeg.mp4")],
                "vproc transcode": [sys.executable, "-m", "vproc", "-q", "transcode", str(src), str(tmp / "vproc.mp4"), "-y",
                                    "--preset", "veryfast", "--crf", "23", "--pix-fmt", "yuv420p", "--no-progress"],
            }

        runs, starts = commands(clip), commands(tiny)
        times: dict[str, list[float]] = {k: [] for k in runs}
        startup = {k: min(timed(cmd) for _ in range(3)) for k, cmd in starts.items()}
        for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
            for name, cmd in runs.items():
                times[name].append(timed(cmd))
        out_frames = {"ffmpeg CLI": count_frames(tmp / "ffmpeg.mp4"), "vproc transcode": count_frames(tmp / "vproc.mp4")}

    print(f"\npassthrough: {n} frames {args.size} H.264 -> libx264 veryfast crf 23, audio copied; best of {args.repeat}")
    print(f"| {'method':<16} | {'frames out':>10} | {'best s':>7} | {'median s':>8} | {'fps':>7} | {'vs ffmpeg':>9} "
          f"| {'start-up s':>10} | {'fps once started':>16} | {'vs ffmpeg':>9} |")
    print(f"|{'-' * 18}|{'-' * 12}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 11}|{'-' * 12}|{'-' * 18}|{'-' * 11}|")
    ref_fps = n / min(times["ffmpeg CLI"])
    ref_run = n / (min(times["ffmpeg CLI"]) - startup["ffmpeg CLI"])
    for name, ts in times.items():
        fps = n / min(ts)
        run_fps = n / (min(ts) - startup[name])
        print(f"| {name:<16} | {out_frames[name]:>10} | {min(ts):>7.2f} | {statistics.median(ts):>8.2f} | {fps:>7.1f} "
              f"| {fps / ref_fps:>8.2f}x | {startup[name]:>10.2f} | {run_fps:>16.1f} | {run_fps / ref_run:>8.2f}x |")
    ratio = (n / min(times["vproc transcode"])) / ref_fps
    print(f"\nvproc / ffmpeg = {ratio:.3f} (target >= 0.95: {'met' if ratio >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
