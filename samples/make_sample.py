"""Make the built-in sample clip: FFmpeg's testsrc2 pattern with a tone, H.264 + AAC in MP4.

    python samples/make_sample.py [OUT] [--size 640x360] [--rate 30] [--seconds 5]

Uses the same FFmpeg binary as vproc (``VPROC_FFMPEG``, system ``ffmpeg`` or imageio-ffmpeg's),
so it works on a fresh machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402


def make_sample(out: str, size: str = "640x360", rate: int = 30, seconds: float = 5.0) -> str:
    """Write the sample clip to ``out`` and return its path."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
           "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
           "-c:a", "aac", "-b:a", "128k", "-shortest", out]
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).parent / "sample.mp4"))
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(make_sample(args.out, args.size, args.rate, args.seconds))


if __name__ == "__main__":
    main()
