"""Test media: tiny clips made with FFmpeg's test sources or PyAV, and PyAV read-backs of outputs.

Everything here is generated on the fly (no files in the repository), so a fresh clone runs the
suite without ``../shared``. Clips are small (160x120, a couple of seconds) to keep the suite fast.
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Irregular frame times (ms) for the variable-frame-rate clips: gaps of 10..100 ms.
VFR_PTS_MS = [0, 40, 70, 120, 130, 200, 210, 260, 330, 340, 400, 480, 490, 520, 600, 610, 700, 720, 760, 800]

SRT_TEXT = "1\n00:00:00,100 --> 00:00:00,900\nHello vproc\n\n2\n00:00:01,000 --> 00:00:01,800\nSecond line\n"


def ffmpeg() -> str:
    from vproc.io.ffmpeg import ffmpeg_binary

    return ffmpeg_binary()


def run_ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def make_clip(path: Path, *, seconds: float = 2, size: str = "160x120", rate: int = 25, audio: bool = True,
              preset: str = "veryfast", extra: tuple[str, ...] = ()) -> Path:
    """testsrc2 video (libx264, yuv420p) plus a 440 Hz sine (AAC) into ``path``'s container."""
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:d={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", *extra, str(path)]
    run_ffmpeg(*args)
    return path


def make_vfr(path: Path, pts_ms: list[int] = VFR_PTS_MS, *, audio: str | None = "aac") -> Path:
    """A really variable-frame-rate clip: libx264 frames at ``pts_ms`` (time base 1/1000), plus audio.

    Written with PyAV so the irregular timestamps are exactly the ones given (FFmpeg's CLI would
    resample to a constant rate). Each frame differs (a moving bar, a changing grey) so a
    dropped or duplicated frame is visible. The audio (a 440 Hz sine) lasts as long as the video.
    """
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        v.time_base = tb
        v.codec_context.time_base = tb
        v.options = {"preset": "ultrafast", "crf": "23"}
        a = None
        if audio:
            a = c.add_stream(audio, rate=48000)
            a.layout = "mono"
        for i, p in enumerate(pts_ms):
            img = np.full((120, 160, 3), (i * 12) % 256, np.uint8)
            img[:, (i * 8) % 160:(i * 8) % 160 + 8] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = p, tb
            for packet in v.encode(frame):
                c.mux(packet)
        for packet in v.encode(None):
            c.mux(packet)
        if a is not None:
            rate = 48000
            n = rate * (pts_ms[-1] + 40) // 1000
            t = np.arange(n) / rate
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            fmt = "fltp"
            if audio.startswith("pcm_s16"):
                samples, fmt = (samples * 32767).astype(np.int16), "s16"
            step = a.codec_context.frame_size or 1024
            for s in range(0, n, step):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, s:s + step]), format=fmt, layout="mono")
                af.sample_rate, af.pts, af.time_base = rate, s, Fraction(1, rate)
                for packet in a.encode(af):
                    c.mux(packet)
            for packet in a.encode(None):
                c.mux(packet)
    return path


def make_subtitled(path: Path, clip: Path) -> Path:
    """``clip`` plus an SRT subtitle stream, into a Matroska file."""
    srt = path.with_suffix(".srt")
    srt.write_text(SRT_TEXT)
    run_ffmpeg("-i", str(clip), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "srt", str(path))
    return path


def corrupt(src: Path, dst: Path, *, at: float = 0.5, size: int = 4096, seed: int = 1) -> Path:
    """A copy of ``src`` with ``size`` random bytes written over its middle (at ``at`` of its length)."""
    data = bytearray(src.read_bytes())
    start = int(len(data) * at)
    rng = random.Random(seed)
    for i in range(start, min(len(data), start + size)):
        data[i] = rng.randrange(256)
    dst.write_bytes(bytes(data))
    return dst


def truncate(src: Path, dst: Path, *, at: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * at)])
    return dst


@dataclass
class MediaInfo:
    """What a test wants to know about a media file, read back with PyAV."""

    format: str
    width: int
    height: int
    pix_fmt: str
    video_codec: str
    video_time_base: Fraction
    video_times: list[Fraction]  # presentation times of the decoded frames, in order
    audio_codec: str | None = None
    audio_packets: list[tuple[Fraction, Fraction, bytes]] = field(default_factory=list)  # (time, duration, payload)
    subtitle_codecs: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.video_times)

    @property
    def video_span(self) -> tuple[Fraction, Fraction]:
        """(start, end) of the video; the last frame lasts as long as the one before it."""
        t = self.video_times
        last = t[-1] - t[-2] if len(t) > 1 else Fraction(1, 25)
        return t[0], t[-1] + last

    @property
    def audio_span(self) -> tuple[Fraction, Fraction]:
        p = self.audio_packets
        return p[0][0], p[-1][0] + p[-1][1]


def inspect(path: Path | str) -> MediaInfo:
    """Decode the first video stream's frame times and read the first audio stream's packets."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        times = []
        first = None
        for frame in c.decode(v):
            first = first or frame
            times.append(frame.pts * v.time_base)
        info = MediaInfo(c.format.name, v.codec_context.width, v.codec_context.height,
                         first.format.name if first else v.codec_context.format.name,
                         v.codec_context.name, Fraction(v.time_base), times,
                         subtitle_codecs=[s.codec_context.name for s in c.streams.subtitles])
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            info.audio_codec = a.codec_context.name
            tb = a.time_base
            info.audio_packets = [(p.pts * tb, (p.duration or 0) * tb, bytes(p))
                                  for p in c.demux(a) if p.size and p.pts is not None]
    return info


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


def leftovers(folder: Path) -> list[str]:
    """Every file in ``folder`` (hidden ones too): what a failed run must not leave behind."""
    return sorted(p.name for p in Path(folder).iterdir())


def run_vproc(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m vproc ARGS`` from the repository root, as a user runs it; output as text."""
    return subprocess.run([sys.executable, "-m", "vproc", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
