"""Real encoding as a training degradation: low-res frames through FFmpeg's encoders and back.

Streams reach vproc compressed, and a network trained on clean downscaled frames takes blocking,
ringing and the smearing of fine texture for detail to sharpen. Compression-aware training
(COMISR and the VSR papers after it) therefore encodes the low-res training clips with the codecs
streams use and decodes them again, so the network sees the artefacts a real decoder leaves.

:func:`encode_decode` does that for one clip with the bundled FFmpeg binary: the uint8 luma frames
as the Y plane of ``yuv420p`` (chroma flat at 128, so nothing is converted), piped raw into one
encoder with a constant-quality setting and its usual GOP (x264's and x265's B-frames and
adaptive quantisation, VP9's alt-ref frames, AV1's), written to Matroska, then decoded by a second
FFmpeg process back to raw ``yuv420p`` and the Y plane kept. Single-threaded encoders, so the
bytes (and a training run) depend on the seed only.

:func:`draw` picks a codec and a quality from a :class:`CodecMix`: codecs by weight (those the
binary lacks are left out with their weight), a CRF uniform in ``crf`` on x264's scale, mapped to
the other encoders' own scales by :data:`CRF_SCALE` (x265 uses x264's scale by design; VP9's and
SVT-AV1's run 0..63 and reach x264's look at about 1.35 times the number, e.g. VP9 31 for x264
23, the pairing FFmpeg's and the encoders' guides give), optionally white noise of a standard
deviation uniform in ``0..noise`` codes added before encoding (sensor noise the encoder then has
to code, a probability ``noise_share`` of clips).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MediaError
from ..io.ffmpeg import ffmpeg_binary, video_encoders

#: Encoder name and its arguments, per codec; ``{q}`` is the quality on the encoder's own scale.
ENCODERS = {
    "x264": ("libx264", ["-preset", "medium", "-crf", "{q}", "-threads", "1"]),
    "x265": ("libx265", ["-preset", "fast", "-crf", "{q}", "-x265-params", "log-level=error:pools=1:frame-threads=1"]),
    "vp9": ("libvpx-vp9", ["-crf", "{q}", "-b:v", "0", "-deadline", "good", "-cpu-used", "4", "-threads", "1"]),
    "av1": ("libsvtav1", ["-crf", "{q}", "-preset", "8", "-svtav1-params", "lp=1"]),
}
#: Factor from x264's CRF scale to the codec's own (module docstring).
CRF_SCALE = {"x264": 1.0, "x265": 1.0, "vp9": 1.35, "av1": 1.35}
#: The smallest frame side the encoders all take (SVT-AV1 wants 64 pixels).
MIN_SIDE = 64


@dataclass(frozen=True)
class CodecMix:
    """Which encodings a training clip gets (see the module docstring)."""

    weights: tuple[tuple[str, float], ...] = (("x264", 0.55), ("x265", 0.2), ("vp9", 0.15), ("av1", 0.1))
    crf: tuple[int, int] = (18, 35)
    noise: float = 2.0
    noise_share: float = 0.3

    def __post_init__(self):
        for name, w in self.weights:
            if name not in ENCODERS or w < 0:
                raise ConfigError(f"codec mix: unknown codec {name!r} or negative weight (codecs: {', '.join(ENCODERS)})")
        if not 0 <= self.crf[0] <= self.crf[1] <= 51:
            raise ConfigError(f"codec mix: crf range must lie within 0..51 (got {self.crf})")

    def available(self) -> tuple[tuple[str, float], ...]:
        """The weighted codecs whose encoder this FFmpeg binary has."""
        have = video_encoders()
        mix = tuple((n, w) for n, w in self.weights if ENCODERS[n][0] in have and w > 0)
        if not mix:
            raise ConfigError(f"codec mix: FFmpeg ({ffmpeg_binary()}) has none of the encoders "
                              f"{', '.join(ENCODERS[n][0] for n, _ in self.weights)}")
        return mix


def draw(mix: CodecMix, rng: np.random.Generator, available: tuple[tuple[str, float], ...] | None = None
         ) -> tuple[str, int, float]:
    """``(codec, crf on x264's scale, noise sigma in codes)`` for one clip."""
    pool = available or mix.available()
    p = np.array([w for _, w in pool], np.float64)
    codec = pool[int(rng.choice(len(pool), p=p / p.sum()))][0]
    crf = int(rng.integers(mix.crf[0], mix.crf[1] + 1))
    sigma = float(rng.uniform(0.0, mix.noise)) if rng.random() < mix.noise_share else 0.0
    return codec, crf, sigma


def encode_decode(frames: np.ndarray, codec: str, crf: int, *, noise: float = 0.0,
                  rng: np.random.Generator | None = None, rate: int = 25) -> np.ndarray:
    """uint8 luma frames ``(T, H, W)`` (even ``H``, ``W`` >= :data:`MIN_SIDE`) encoded by ``codec``
    at ``crf`` (x264's scale), after white noise of ``noise`` codes if given, and decoded again;
    returns the decoded luma, same shape and dtype."""
    if codec not in ENCODERS:
        raise ConfigError(f"unknown training codec {codec!r} (codecs: {', '.join(ENCODERS)})")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 3:
        raise ConfigError(f"encode_decode: expected uint8 frames (T, H, W), got {frames.dtype} {frames.shape}")
    t, h, w = frames.shape
    if h % 2 or w % 2 or min(h, w) < MIN_SIDE:
        raise ConfigError(f"encode_decode: frames must be even-sized and at least {MIN_SIDE} px a side (got {w}x{h})")
    if noise > 0:
        gen = rng if rng is not None else np.random.default_rng()
        frames = np.clip(np.rint(frames + gen.normal(0.0, noise, frames.shape)), 0, 255).astype(np.uint8)
    chroma = np.full((t, h * w // 2), 128, np.uint8)
    raw = np.concatenate([frames.reshape(t, -1), chroma], axis=1).tobytes()
    encoder, args = ENCODERS[codec]
    q = str(int(round(crf * CRF_SCALE[codec])))
    ff = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    with tempfile.TemporaryDirectory(prefix="vproc-codec-") as tmp:
        coded = Path(tmp) / "clip.mkv"
        enc = subprocess.run([*ff, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-r", str(rate),
                              "-i", "pipe:0", "-c:v", encoder, *[a.replace("{q}", q) for a in args],
                              "-pix_fmt", "yuv420p", str(coded)], input=raw, capture_output=True)
        if enc.returncode:
            raise MediaError(f"{encoder} failed on a training clip: {enc.stderr.decode(errors='replace').strip()[-300:]}")
        dec = subprocess.run([*ff, "-i", str(coded), "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
                             capture_output=True)
        if dec.returncode:
            raise MediaError(f"decoding a {codec} training clip failed: {dec.stderr.decode(errors='replace').strip()[-300:]}")
    out = np.frombuffer(dec.stdout, np.uint8)
    size = h * w * 3 // 2
    if out.size != t * size:
        raise MediaError(f"{encoder} round trip gave {out.size // size} frames for {t}")
    return np.ascontiguousarray(out.reshape(t, size)[:, :h * w].reshape(t, h, w))


__all__ = ["CRF_SCALE", "CodecMix", "ENCODERS", "draw", "encode_decode"]
