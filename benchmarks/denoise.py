"""Denoising benchmark: vproc ``denoise`` vs FFmpeg hqdn3d, atadenoise, nlmeans and OpenCV NL-means.

    python benchmarks/denoise.py [--frames 20] [--levels 15 25 40 pg corr corr+crf23 15+crf28] [--methods vproc hqdn3d ...]
                                 [--pix-fmt yuv420p] [--seed 0] [--tune-seq calendar] [--tune-frames 20]
                                 [--json out/denoise.json] [--cuda]

Data (read from ``../shared/data``, never copied): the first ``--frames`` ground-truth frames of
each Vid4 sequence (calendar 720x576, city 704x576, foliage 720x480, walk 720x480; 20
each by default, ``--frames 0`` for all 171: OpenCV's NL-means runs at about 0.6 fps at this size
on the 2-core dev CPU and is most of the run time, about 3 minutes per noise level at 20 frames),
the same frames for every method in this one run.

Noise, per level (``--levels``, default ``15 25 40 pg``), drawn with a fixed seed per sequence
and level (``--seed``), frame after frame, on the clean 8-bit RGB frames:

- a number ``s``: Gaussian noise of standard deviation ``s`` (8-bit code values) added
  independently to every R, G and B sample, then rounded and clipped to 0..255;
- ``pg``: Poisson-Gaussian (shot + read) noise on the code values scaled to [0, 1] (gamma-encoded,
  so "linear-ish": the signal-dependent model of Foi et al. 2008 applied to 8-bit frames):
  ``y = a * Poisson(x / a) + N(0, b)`` with ``a`` = ``PG_A`` = 0.02 and ``b`` = ``PG_B`` = 0.0004,
  i.e. variance ``a x + b``: a standard deviation of 5.1 code values at black, 26 at mid-grey
  (x = 0.5, about the sigma-25 level) and 36 at white; rounded and clipped;
- ``corr``: spatially correlated noise, as camera pipelines make it (demosaicing and ISP filtering
  colour the sensor's white noise): white Gaussian noise per R, G and B sample, each channel's
  field blurred by a Gaussian of ``CORR_BLUR`` = 0.8 px (OpenCV, reflected border), then rescaled
  to a standard deviation of ``CORR_STD`` = 12 code values; added, rounded, clipped;
- any of these followed by ``+crfN`` (e.g. ``corr+crf23``, ``15+crf28``): the noisy frames, once
  converted as below, encoded with the bundled FFmpeg's libx264 (``-preset medium -crf N``, its
  default GOP with B-frames, 4:2:0 or 4:4:4 as ``--pix-fmt``) and decoded again: noise that went
  through a codec, as streams carry it. ``corr+crf23`` is the held-out camera-noise protocol of
  issue 16. The frames are decoded by vproc's own source (PyAV), which also gives vproc each
  frame's H.264 quantiser (``Frame.meta["h264_qp"]``), as it does when it decodes a file; the
  peers get the same pixels.

Every method then receives the same bytes: the noisy RGB frames (decoded again after x264 for
the ``+crf`` levels) of a sequence converted once, by
the bundled FFmpeg's swscale (raw rgb24 piped in, ``-vf scale=out_color_matrix=bt601:
out_range=tv,format=yuv420p``, raw out), to 8-bit Y'CbCr BT.601 limited range, 4:2:0
(``--pix-fmt yuv444p`` for 4:4:4). Every method returns frames in that format. The reference is
the clean RGB frames through the very same conversion, so its Y plane is exactly what the
noise-free pipeline would give; note that the noise on Y is smaller than the RGB sigma (Y is a
weighted sum of R, G, B: about 0.57 sigma, printed per level as "Y noise std").

Metrics: Y-PSNR (peak 255) and Y-SSIM (``vproc.metrics``: Wang et al., 11x11 Gaussian window) of
each output frame's Y plane against the reference Y plane, averaged per sequence; the "Y-PSNR" and
"Y-SSIM" columns are the means of the four sequence means, as published video-denoising tables
report them, and the per-sequence PSNRs are printed too. fps: frames over the seconds a method
spent, on this machine's CPU (its core count is printed). The "noisy input" row is the input
itself. Ratios are against vproc: PSNR and SSIM as differences, fps as a ratio.

Methods:

- ``vproc`` (vproc denoise): the node with its default parameters (``strength: auto``,
  ``radius: 2``) driven directly in Python, a fresh node per sequence, opened on a StreamInfo of
  the stream at 25 fps; Frames carry the planes and real timestamps (ms at 25 fps). Its output is
  delayed by ``radius`` frames; ``flush`` returns the rest; the outputs must match the inputs in
  number and order. Timed: ``node.process`` and ``node.flush`` only (numba compiled beforehand on
  three small frames). Separately timed at 1280x720 (30 frames of calendar, the clean frames
  resized with ``cv2.INTER_CUBIC`` and then given Gaussian noise sigma 25 and converted as above)
  against the 25 fps target; with ``--cuda``, on the GPU at 3840x2160 (the same frames, uploaded
  beforehand, timed until the GPU has finished) against the 60 fps target.
- ``hqdn3d``, ``atadenoise``, ``nlmeans``: the bundled FFmpeg, the raw frames of one sequence piped
  in and out (lossless: ``-f rawvideo -pix_fmt <fmt> -s WxH -r 25 -i - -vf <filter> -f rawvideo
  -``), with FFmpeg's default filter threading. Timed: the whole command per sequence (process
  start and pipes included), per frame. Parameters, per noise level, by the sweep below:
  hqdn3d ``luma_spatial`` and ``luma_tmp`` (chroma strengths at the filter's default 3/4 of
  luma's); atadenoise the thresholds ``a`` and ``b`` (the same for the three planes) and the
  number of frames ``s``; nlmeans the strength ``s`` (patch 7, research window 15: the defaults).
- ``bm3d``: the bundled FFmpeg's ``bm3d`` filter (basic estimate, its defaults: block 16, step
  4, group 1), the ``sigma`` by the sweep (the slow-tuned way below); piped as above.
- ``spp``, ``pp7``, ``deblock`` (deblocking and deringing, on the ``+crf`` levels only): FFmpeg's
  ``spp`` (quality 3) and ``pp7`` with the quantiser ``qp`` by the sweep (raw frames carry no
  QP table, so one ``qp`` serves every frame), and ``deblock`` (strong filter, 8 x 8 blocks)
  with ``alpha`` and ``beta`` (= ``gamma`` = ``delta``) by the sweep; piped as above.
- ``opencv``: ``cv2.fastNlMeansDenoisingMulti`` on the Y plane, temporal window 5 (OpenCV needs it
  centred on the frame, so at a sequence's ends it is mirrored: frames -2, -1 are frames 2, 1),
  template window 7, search window 21, ``h`` by the sweep. The chroma planes are passed through
  untouched: the metrics are on Y only, so this costs it no PSNR, and it flatters its fps (in
  4:2:0, U and V together have half as many samples as Y, and they are not denoised).

Peer tuning (per noise level, before the timed runs): each peer's parameters are chosen to
maximise the mean Y-PSNR on the first ``--tune-frames`` (20) frames of ``--tune-seq`` (calendar)
with the same noise as the test (so they overlap the test frames: an advantage to the peers): a multiplicative compass search (steps x2, x1.41, x1.19, x1.09; at most 30 settings for
the FFmpeg temporal filters, 12 for the slow spatial ones), started from a guess scaled with the
measured Y noise std. nlmeans and OpenCV, which are slow, are scored on two frames in the middle
of the tuning frames (OpenCV with its temporal window around them), and so are bm3d, spp, pp7
and deblock. The best setting is then
used for every sequence. vproc gets no such tuning: it estimates the noise itself
(``strength: auto``). The chosen settings are printed; ``--json`` has every setting tried.
atadenoise's threshold ``a`` is capped at 0.3 by the filter itself.

Targets (issues 4 and 16): vproc's Y-PSNR above every peer's at every level; the node at 1280x720 at 25
fps or more on the 2-core dev CPU; on a GPU (``--cuda``), 3840x2160 at 60 fps or more.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.formats import get_format  # noqa: E402
from vproc.frame import Frame, StreamInfo  # noqa: E402
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402
from vproc.metrics import psnr, ssim  # noqa: E402
from _timing import seconds_on_cuda  # noqa: E402  (benchmarks/, on sys.path as the script's folder)

DATA = ROOT.parent / "shared" / "data"
SEQUENCES = ("calendar", "city", "foliage", "walk")
LEVELS = ("15", "25", "40", "pg", "corr", "corr+crf23", "15+crf28")
PG_A = 0.02  # shot noise: variance PG_A * x, x in [0, 1]
PG_B = 0.0004  # read noise: variance PG_B (standard deviation 0.02 = 5.1 code values)
CORR_BLUR = 0.8  # correlated noise: Gaussian blur (px) of the white field ...
CORR_STD = 12.0  # ... then rescaled to this standard deviation (8-bit code values)
RATE = 25
TB = Fraction(1, 1000)
METHODS = {  # --methods name -> table name
    "vproc": "vproc denoise",
    "hqdn3d": "ffmpeg hqdn3d",
    "atadenoise": "ffmpeg atadenoise",
    "nlmeans": "ffmpeg nlmeans",
    "opencv": "opencv NLM multi",
    "bm3d": "ffmpeg bm3d",
    "spp": "ffmpeg spp",
    "pp7": "ffmpeg pp7",
    "deblock": "ffmpeg deblock",
}
#: Deblocking/deringing peers: run on the ``+crf`` levels only (they undo coding, not noise).
DEBLOCKERS = ("spp", "pp7", "deblock")
TEMPORAL_WINDOW, TEMPLATE_WINDOW, SEARCH_WINDOW = 5, 7, 21  # OpenCV
SLOW_TUNE_FRAMES = 2  # nlmeans and OpenCV are scored on this many frames of the tuning set
SIZE_720P, SIZE_4K = (1280, 720), (3840, 2160)
FRAMES_720P = 30


# ---------------------------------------------------------------------------------------------
# Data


def load_rgb(seq: str, frames: int) -> list[np.ndarray]:
    """The first ``frames`` (all if 0) clean GT frames of a Vid4 sequence, uint8 HxWx3 RGB."""
    files = sorted((DATA / "Vid4" / "GT" / seq).glob("Frame *.png"))
    files = files[:frames] if frames else files
    if not files:
        sys.exit(f"no frames in {DATA / 'Vid4' / 'GT' / seq}")
    return [cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for f in files]


def level_label(level: str) -> str:
    noise, crf = parse_level(level)
    label = (f"Poisson-Gaussian a={PG_A} b={PG_B}" if noise == "pg"
             else f"correlated (white blurred by sigma {CORR_BLUR} px, std {CORR_STD:g})" if noise == "corr"
             else f"Gaussian sigma {noise}")
    return label if crf is None else f"{label}, then libx264 crf {crf}"


def parse_level(level: str) -> tuple[str, int | None]:
    """``"corr+crf23"`` -> ``("corr", 23)``; ``"15"`` -> ``("15", None)``. Raises ValueError."""
    noise, _, codec = level.partition("+")
    crf = None
    if codec:
        if not (codec.startswith("crf") and codec[3:].isdigit() and 0 <= int(codec[3:]) <= 51):
            raise ValueError(f"'{codec}' is not crfN with N in 0..51")
        crf = int(codec[3:])
    if noise not in ("pg", "corr") and not (_is_number(noise) and float(noise) > 0):
        raise ValueError(f"'{noise}' is neither a positive sigma nor pg nor corr")
    return noise, crf


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def rng_for(seed: int, seq: str, level: str) -> np.random.Generator:
    noise, crf = parse_level(level)
    key = {"pg": 1_000_000, "corr": 2_000_000}.get(noise) or round(float(noise) * 1000)
    return np.random.default_rng([seed, SEQUENCES.index(seq) if seq in SEQUENCES else 99, key, crf or 0])


def add_noise(rgb8: np.ndarray, level: str, rng: np.random.Generator) -> np.ndarray:
    noise, _ = parse_level(level)
    x = rgb8.astype(np.float64)
    if noise == "pg":
        y = 255.0 * (PG_A * rng.poisson(x / (255.0 * PG_A)) + rng.normal(0.0, math.sqrt(PG_B), x.shape))
    elif noise == "corr":
        field = rng.normal(0.0, 1.0, x.shape)
        field = cv2.GaussianBlur(field, (0, 0), CORR_BLUR, borderType=cv2.BORDER_REFLECT)
        y = x + field * (CORR_STD / field.std())
    else:
        y = x + rng.normal(0.0, float(noise), x.shape)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


class Coded(list):
    """Decoded frames (plane tuples) and, per frame, the H.264 quantiser the decoder exported."""

    qp: list[float | None]


def through_x264(frames: list[tuple[np.ndarray, ...]], pix_fmt: str, crf: int) -> Coded:
    """Frames encoded by libx264 (preset medium, ``crf``) with the bundled FFmpeg, and decoded
    again by vproc's source (PyAV), which also reads each frame's QP (``Frame.meta["h264_qp"]``),
    as it does for any H.264 file."""
    from vproc.io.source import Source

    h, w = frames[0][0].shape
    with tempfile.TemporaryDirectory() as tmp:
        coded = Path(tmp) / "coded.mkv"
        subprocess.run([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt,
                        "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-", "-c:v", "libx264", "-preset", "medium",
                        "-crf", str(crf), "-pix_fmt", pix_fmt, str(coded)],
                       input=b"".join(p.tobytes() for f in frames for p in f), capture_output=True, check=True)
        got = Coded()
        got.qp = []
        with Source(str(coded), reads_meta=("h264_qp",)) as src:
            for item in src.items():
                if isinstance(item, Frame):
                    got.append(tuple(np.array(p) for p in item.planes))
                    got.qp.append(item.meta.get("h264_qp"))
    if len(got) != len(frames):
        raise RuntimeError(f"x264 round trip returned {len(got)} frames for {len(frames)}")
    return got


def degraded(clean: list[np.ndarray], level: str, rng: np.random.Generator, pix_fmt: str):
    """The frames every method receives at ``level``: noisy, converted, and through x264 if asked."""
    frames = to_yuv(noisy(clean, level, rng), pix_fmt)
    crf = parse_level(level)[1]
    return frames if crf is None else through_x264(frames, pix_fmt, crf)


def noisy(clean: list[np.ndarray], level: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Frame after frame from one generator: a prefix of a sequence gets the same noise."""
    return [add_noise(c, level, rng) for c in clean]


def split_frames(buf: bytes, pix_fmt: str, w: int, h: int) -> list[tuple[np.ndarray, ...]]:
    """Raw frames of ``pix_fmt`` -> a list of plane tuples (copies, writable)."""
    fmt = get_format(pix_fmt)
    shapes = fmt.plane_shapes(w, h)
    size = fmt.frame_bytes(w, h)
    arr = np.frombuffer(buf, np.uint8)
    if arr.size % size:
        raise RuntimeError(f"ffmpeg returned {arr.size} bytes, not a whole number of {w}x{h} {pix_fmt} frames")
    frames = []
    for off in range(0, arr.size, size):
        planes = []
        for s in shapes:
            k = int(np.prod(s))
            planes.append(arr[off:off + k].reshape(s).copy())
            off += k
        frames.append(tuple(planes))
    return frames


def to_yuv(rgb_frames: list[np.ndarray], pix_fmt: str) -> list[tuple[np.ndarray, ...]]:
    """RGB -> BT.601 limited-range Y'CbCr ``pix_fmt`` by the bundled FFmpeg's swscale."""
    h, w = rgb_frames[0].shape[:2]
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-",
           "-vf", f"scale=out_color_matrix=bt601:out_range=tv,format={pix_fmt}",
           "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    out = subprocess.run(cmd, input=b"".join(f.tobytes() for f in rgb_frames), capture_output=True,
                         check=True).stdout
    frames = split_frames(out, pix_fmt, w, h)
    if len(frames) != len(rgb_frames):
        raise RuntimeError(f"swscale returned {len(frames)} frames for {len(rgb_frames)}")
    return frames


def y_noise_std(frames, refs) -> float:
    return float(np.sqrt(np.mean([np.mean((f[0].astype(np.float64) - r) ** 2) for f, r in zip(frames, refs)])))


# ---------------------------------------------------------------------------------------------
# Methods: each maps a list of frames (plane tuples, one sequence) to (outputs, seconds spent)


def ffmpeg_filter(frames, vf: str, pix_fmt: str):
    h, w = frames[0][0].shape
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt,
           "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-", "-vf", vf, "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    data = b"".join(p.tobytes() for f in frames for p in f)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    spent = time.perf_counter() - t0
    got = split_frames(out, pix_fmt, w, h)
    if len(got) != len(frames):
        raise RuntimeError(f"ffmpeg -vf {vf} returned {len(got)} frames for {len(frames)}")
    return got, spent


def hqdn3d_vf(p: dict) -> str:
    ls, lt = p["luma_spatial"], p["luma_tmp"]
    return f"hqdn3d={ls:.4g}:{0.75 * ls:.4g}:{lt:.4g}:{0.75 * lt:.4g}"


def atadenoise_vf(p: dict) -> str:
    a, b = p["a"], p["b"]
    return f"atadenoise=0a={a:.4g}:0b={b:.4g}:1a={a:.4g}:1b={b:.4g}:2a={a:.4g}:2b={b:.4g}:s={p['s']}"


def nlmeans_vf(p: dict) -> str:
    return f"nlmeans=s={p['s']:.4g}"


def bm3d_vf(p: dict) -> str:
    return f"bm3d=sigma={p['sigma']:.4g}"


def spp_vf(p: dict) -> str:
    return f"spp=quality=3:qp={round(p['qp'])}"


def pp7_vf(p: dict) -> str:
    return f"pp7=qp={round(p['qp'])}"


def deblock_vf(p: dict) -> str:
    a, b = p["alpha"], p["beta"]
    return f"deblock=filter=strong:block=8:alpha={a:.3g}:beta={b:.3g}:gamma={b:.3g}:delta={b:.3g}"


VF = {"hqdn3d": hqdn3d_vf, "atadenoise": atadenoise_vf, "nlmeans": nlmeans_vf, "bm3d": bm3d_vf,
      "spp": spp_vf, "pp7": pp7_vf, "deblock": deblock_vf}


def run_opencv(frames, h_param: float, indices=None):
    """fastNlMeansDenoisingMulti on Y, a 5-frame window centred on each frame and mirrored at the
    sequence's ends (OpenCV wants the window centred); U and V passed through."""
    ys = [f[0] for f in frames]
    n = len(ys)
    r = TEMPORAL_WINDOW // 2
    outs, spent = [], 0.0

    def mirror(j):
        j = abs(j)
        j = 2 * (n - 1) - j if j > n - 1 else j
        return min(max(j, 0), n - 1)

    for i in (range(n) if indices is None else indices):
        window = [ys[mirror(j)] for j in range(i - r, i + r + 1)]
        t0 = time.perf_counter()
        y = cv2.fastNlMeansDenoisingMulti(window, r, TEMPORAL_WINDOW, None, float(h_param),
                                          TEMPLATE_WINDOW, SEARCH_WINDOW)
        spent += time.perf_counter() - t0
        outs.append((y,) + tuple(frames[i][1:]))
    return outs, spent


def vproc_node(w: int, h: int, pix_fmt: str, device: str = "cpu"):
    from vproc.nodes.denoise import Denoise, DenoiseParams

    node = Denoise(DenoiseParams(), device=device)
    node.open(StreamInfo(w, h, pix_fmt, TB, rate=Fraction(RATE), device=device))
    return node


def run_vproc(frames, pix_fmt: str):
    h, w = frames[0][0].shape
    node = vproc_node(w, h, pix_fmt)
    qps = getattr(frames, "qp", [None] * len(frames))  # H.264 levels: what vproc's source would attach
    inputs = [Frame(tuple(f), i * 1000 // RATE, TB, pix_fmt, meta={} if qp is None else {"h264_qp": qp})
              for i, (f, qp) in enumerate(zip(frames, qps))]
    outs, pts, spent = [], [], 0.0

    def keep(got):
        for o in got:  # copies: the node's output buffers go back to its pool with the Frame
            pts.append(o.pts)
            outs.append(tuple(np.array(p) for p in o.planes))

    try:
        for fr in inputs:
            t0 = time.perf_counter()
            got = node.process(fr)
            spent += time.perf_counter() - t0
            keep(got)
        t0 = time.perf_counter()
        got = node.flush()
        spent += time.perf_counter() - t0
        keep(got)
    finally:
        node.close()
    if pts != [f.pts for f in inputs]:
        raise RuntimeError(f"vproc denoise returned {len(pts)} frames for {len(inputs)} "
                           "(or out of order)")
    return outs, spent


def warm_up_vproc(frames, pix_fmt: str) -> None:
    """Run the node once on three small crops so numba's compilation is not timed."""
    fmt = get_format(pix_fmt)
    shapes = fmt.plane_shapes(64, 64)
    small = [tuple(np.ascontiguousarray(p[:s[0], :s[1]]) for p, s in zip(f, shapes)) for f in frames[:3]]
    run_vproc(small, pix_fmt)


def method_runner(name: str, params: dict | None, pix_fmt: str):
    if name == "vproc":
        return lambda frames: run_vproc(frames, pix_fmt)
    if name == "opencv":
        return lambda frames: run_opencv(frames, params["h"])
    vf = VF[name](params)
    return lambda frames: ffmpeg_filter(frames, vf, pix_fmt)


def setting_text(name: str, params: dict | None) -> str:
    if name == "vproc":
        return "defaults (strength auto, radius 2)"
    if name == "opencv":
        return (f"h={params['h']:.4g}, temporal {TEMPORAL_WINDOW}, template {TEMPLATE_WINDOW}, "
                f"search {SEARCH_WINDOW}, chroma passed through")
    return VF[name](params)


# ---------------------------------------------------------------------------------------------
# Peer tuning


def odd(v: float) -> int:
    return 2 * round((v - 1) / 2) + 1


def compass_search(score, start: dict, bounds: dict, ints=(), max_evals: int = 30):
    """Maximise ``score(params)`` by a multiplicative compass search: try each parameter times and
    over a factor, move on a gain, halve the factor's log when nothing gains (x2, x1.41, x1.19,
    x1.09, i.e. on a lattice ``start * 2 ** (k / 8)``); at most ``max_evals`` settings. Values are
    rounded to 3 significant digits (``ints``: to odd integers) and clipped to ``bounds``.
    Returns the best setting, its score and the history."""
    def value(name, k):
        lo, hi = bounds[name]
        v = min(max(start[name] * 2.0 ** (k / 8), lo), hi)
        return min(max(odd(v), lo), hi) if name in ints else float(f"{v:.3g}")

    history: dict[tuple, float] = {}

    def ev(p):
        key = tuple(sorted(p.items()))
        if key not in history:
            history[key] = score(p)
        return history[key]

    exps = {name: 0 for name in start}
    best = {name: value(name, 0) for name in start}
    best_s = ev(best)
    step = 8
    while step >= 1 and len(history) < max_evals:
        moved = False
        for name in exps:
            for d in (step, -step):
                cand = dict(best, **{name: value(name, exps[name] + d)})
                if cand == best or len(history) >= max_evals:
                    continue
                s = ev(cand)
                if s > best_s + 1e-6:
                    best, best_s, moved = cand, s, True
                    exps[name] += d
                    break
        if not moved:
            step //= 2
    hist = [dict(k, psnr=round(v, 3)) for k, v in history.items()]
    return best, best_s, hist


def mean_psnr_y(outs, refs) -> float:
    return float(np.mean([psnr(o[0], r) for o, r in zip(outs, refs)]))


def tune(name: str, frames, refs, sigma_y: float, pix_fmt: str):
    """Best parameters of peer ``name`` on the tuning frames (plane tuples) and their Y refs."""
    mid = max(len(frames) // 2 - 1, 0)
    slow = list(range(mid, min(mid + SLOW_TUNE_FRAMES, len(frames))))
    if name == "hqdn3d":
        def score(p):
            return mean_psnr_y(ffmpeg_filter(frames, hqdn3d_vf(p), pix_fmt)[0], refs)
        return compass_search(score, {"luma_spatial": 1.5 * sigma_y, "luma_tmp": 2.0 * sigma_y},
                              {"luma_spatial": (0.1, 255.0), "luma_tmp": (0.1, 255.0)})
    if name == "atadenoise":
        def score(p):
            return mean_psnr_y(ffmpeg_filter(frames, atadenoise_vf(p), pix_fmt)[0], refs)
        return compass_search(score, {"a": 2.0 * sigma_y / 255, "b": 0.02 * sigma_y, "s": 9},
                              {"a": (0.001, 0.3), "b": (0.001, 5.0), "s": (5, 33)}, ints=("s",))
    if name == "nlmeans":
        sub, sub_refs = [frames[i] for i in slow], [refs[i] for i in slow]

        def score(p):
            return mean_psnr_y(ffmpeg_filter(sub, nlmeans_vf(p), pix_fmt)[0], sub_refs)
        return compass_search(score, {"s": sigma_y}, {"s": (1.0, 30.0)}, max_evals=12)
    if name == "opencv":
        def score(p):
            return mean_psnr_y(run_opencv(frames, p["h"], slow)[0], [refs[i] for i in slow])
        return compass_search(score, {"h": sigma_y}, {"h": (0.5, 100.0)}, max_evals=12)
    sub, sub_refs = [frames[i] for i in slow], [refs[i] for i in slow]
    if name in ("bm3d", "spp", "pp7", "deblock"):  # spatial filters: scored on the slow pair of frames
        start, bounds = {"bm3d": ({"sigma": sigma_y}, {"sigma": (0.5, 60.0)}),
                         "spp": ({"qp": 20.0}, {"qp": (1.0, 63.0)}),
                         "pp7": ({"qp": 20.0}, {"qp": (1.0, 63.0)}),
                         "deblock": ({"alpha": 0.098, "beta": 0.05}, {"alpha": (0.001, 1.0), "beta": (0.001, 1.0)})}[name]

        def score(p):
            return mean_psnr_y(ffmpeg_filter(sub, VF[name](p), pix_fmt)[0], sub_refs)
        return compass_search(score, start, bounds, max_evals=12)
    raise ValueError(name)


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(run, data, refs) -> dict:
    """Per-sequence and overall Y metrics of ``run`` over ``data`` {seq: frames}."""
    per_seq, spent, n = {}, 0.0, 0
    for seq, frames in data.items():
        outs, t = run(frames)
        if len(outs) != len(frames):
            raise RuntimeError(f"{len(outs)} frames out for {len(frames)} in {seq}")
        spent += t
        n += len(outs)
        per_seq[seq] = {
            "psnr_y": float(np.mean([psnr(o[0], r) for o, r in zip(outs, refs[seq])])),
            "ssim_y": float(np.mean([ssim(o[0], r) for o, r in zip(outs, refs[seq])])),
            "frames": len(outs), "seconds": t,
        }
    return {
        "psnr_y": float(np.mean([r["psnr_y"] for r in per_seq.values()])),
        "ssim_y": float(np.mean([r["ssim_y"] for r in per_seq.values()])),
        "fps": n / spent if spent > 0 else None,
        "seconds": spent,
        "sequences": per_seq,
    }


def big_frames(size, level: str, seed: int, pix_fmt: str):
    """The first 30 calendar frames resized to ``size`` (cubic), then noisy, converted."""
    clean = [cv2.resize(c, size, interpolation=cv2.INTER_CUBIC) for c in load_rgb("calendar", FRAMES_720P)]
    return to_yuv(noisy(clean, level, np.random.default_rng([seed, 720])), pix_fmt)


def vproc_fps_720p(seed: int, pix_fmt: str) -> float:
    frames = big_frames(SIZE_720P, "25", seed, pix_fmt)
    _, spent = run_vproc(frames, pix_fmt)
    return len(frames) / spent


def vproc_fps_cuda(seed: int, pix_fmt: str) -> float:
    """Node on CUDA at 3840x2160: frames uploaded first; timed until the GPU is done."""
    frames = big_frames(SIZE_4K, "25", seed, pix_fmt)
    h, w = frames[0][0].shape

    def run(fs, width, height):
        return seconds_on_cuda(vproc_node(width, height, pix_fmt, "cuda"), fs, pix_fmt, RATE, "vproc denoise")

    shapes = get_format(pix_fmt).plane_shapes(64, 64)
    run([tuple(np.ascontiguousarray(p[:s[0], :s[1]]) for p, s in zip(f, shapes)) for f in frames[:3]], 64, 64)
    return len(frames) / run(frames, w, h)


# ---------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20, help="first N frames of each Vid4 sequence (0: all)")
    ap.add_argument("--levels", nargs="+", default=list(LEVELS),
                    help="noise levels: Gaussian sigmas (8-bit RGB code values), 'pg', 'corr', each optionally "
                         "+crfN for an x264 round trip (default: %(default)s)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                    help="methods to run (default: all)")
    ap.add_argument("--pix-fmt", default="yuv420p", choices=["yuv420p", "yuv444p"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tune-seq", default="calendar", choices=list(SEQUENCES),
                    help="sequence whose first frames the peers' parameters are tuned on")
    ap.add_argument("--tune-frames", type=int, default=20, help="frames of --tune-seq the peers are tuned on")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--cuda", action="store_true", help="also time the node on CUDA at 3840x2160")
    args = ap.parse_args()
    levels = [lv for arg in args.levels for lv in arg.split(",") if lv]
    for lv in levels:
        try:
            parse_level(lv)
        except ValueError as exc:
            ap.error(f"--levels: {exc}")
    methods = [m for m in METHODS if m in args.methods]
    peers = [m for m in methods if m != "vproc"]

    if not (DATA / "Vid4" / "GT").is_dir():
        sys.exit(f"benchmarks/denoise.py needs the shared data set at {DATA} (Vid4/GT); "
                 "it is not there, so there is nothing to measure")
    if "vproc" in methods:
        try:
            import vproc.nodes.denoise  # noqa: F401
        except ImportError as exc:
            sys.exit(f"vproc's denoise node is not importable ({exc}); run the peers only with "
                     f"--methods {' '.join(peers)}")

    t_start = time.perf_counter()
    clean = {seq: load_rgb(seq, args.frames) for seq in SEQUENCES}
    refs = {seq: [f[0] for f in to_yuv(c, args.pix_fmt)] for seq, c in clean.items()}
    tune_clean = load_rgb(args.tune_seq, args.tune_frames)
    tune_refs = [f[0] for f in to_yuv(tune_clean, args.pix_fmt)]
    if "vproc" in methods:
        warm_up_vproc(to_yuv(clean[SEQUENCES[0]][:3], args.pix_fmt), args.pix_fmt)

    report = {
        "config": {"frames": {s: len(c) for s, c in clean.items()}, "levels": levels, "methods": methods,
                   "pix_fmt": args.pix_fmt, "seed": args.seed, "tune_seq": args.tune_seq,
                   "tune_frames": len(tune_clean), "cpu_cores": os.cpu_count(),
                   "pg": {"a": PG_A, "b": PG_B}},
        "levels": {},
    }
    for level in levels:
        coded = parse_level(level)[1] is not None
        level_peers = [m for m in peers if coded or m not in DEBLOCKERS]
        data = {seq: degraded(c, level, rng_for(args.seed, seq, level), args.pix_fmt) for seq, c in clean.items()}
        tune_data = degraded(tune_clean, level, rng_for(args.seed, args.tune_seq, level), args.pix_fmt)
        sigma_y = y_noise_std(tune_data, tune_refs)
        tuning, settings = {}, {"vproc": None}
        for m in level_peers:
            t0 = time.perf_counter()
            best, best_psnr, hist = tune(m, tune_data, tune_refs, sigma_y, args.pix_fmt)
            tuning[m] = {"best": best, "psnr_y": best_psnr, "evaluations": len(hist), "history": hist,
                         "seconds": time.perf_counter() - t0}
            settings[m] = best
        results = {"noisy input": evaluate(lambda fs: (fs, 0.0), data, refs)}
        results["noisy input"]["fps"] = None
        for m in [m for m in methods if m == "vproc" or m in level_peers]:
            results[METHODS[m]] = evaluate(method_runner(m, settings[m], args.pix_fmt), data, refs)
            results[METHODS[m]]["setting"] = setting_text(m, settings[m])
        report["levels"][level] = {
            "label": level_label(level), "y_noise_std": y_noise_std(
                [f for fs in data.values() for f in fs], [r for rs in refs.values() for r in rs]),
            "tuning": tuning, "results": results,
        }
        print_level(level, report["levels"][level], args.tune_seq, len(tune_clean))

    if "vproc" in methods:
        report["fps_720p"] = vproc_fps_720p(args.seed, args.pix_fmt)
        if args.cuda:
            from vproc.device import cuda_status

            reason = cuda_status()
            report["fps_4k_cuda"] = None if reason else vproc_fps_cuda(args.seed, args.pix_fmt)
            if reason:
                print(f"\n--cuda: no GPU to time ({reason})")

    sizes = ", ".join(f"{s} {c[0].shape[1]}x{c[0].shape[0]}" for s, c in clean.items())
    n = sum(len(c) for c in clean.values())
    print(f"\ndenoise: Vid4 GT ({sizes}), {'all' if not args.frames else f'first {args.frames}'} frames each "
          f"({n} frames); {args.pix_fmt} BT.601 limited range via swscale; seed {args.seed}; "
          f"{os.cpu_count()} CPU cores")
    print_targets(report, methods)
    report["seconds"] = time.perf_counter() - t_start
    print(f"run time {report['seconds']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"numbers: {args.json}")


def print_level(level: str, rep: dict, tune_seq: str, tune_frames: int) -> None:
    results = rep["results"]
    v = results.get(METHODS["vproc"])
    print(f"\n### {rep['label']} (Y noise std {rep['y_noise_std']:.2f})")
    for m, t in rep["tuning"].items():
        print(f"- {METHODS[m]}: tuned on {tune_seq} (first {tune_frames} frames) in {t['evaluations']} "
              f"settings, {t['seconds']:.0f} s: {results[METHODS[m]]['setting']} "
              f"(tuning Y-PSNR {t['psnr_y']:.2f})")
    print("\n| method | Y-PSNR | Y-SSIM | fps | PSNR - vproc | SSIM - vproc | fps / vproc | "
          + " | ".join(SEQUENCES) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(SEQUENCES))
    for name, r in results.items():
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        dp = f"{r['psnr_y'] - v['psnr_y']:+.2f}" if v else "-"
        ds = f"{r['ssim_y'] - v['ssim_y']:+.4f}" if v else "-"
        ratio = r["fps"] / v["fps"] if v and r["fps"] and v["fps"] else None
        fr = "-" if ratio is None else f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"
        seqs = " | ".join(f"{r['sequences'][s]['psnr_y']:.2f}" for s in SEQUENCES)
        print(f"| {name} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {fps} | {dp} | {ds} | {fr} | {seqs} |")
    sys.stdout.flush()


def print_targets(report: dict, methods: list[str]) -> None:
    if "vproc" not in methods:
        print("(vproc not run: no targets to check)")
        return
    print("\ntargets (issues 4 and 16):")
    for level, rep in report["levels"].items():
        res = rep["results"]
        v = res[METHODS["vproc"]]["psnr_y"]
        peers = {METHODS[m]: res[METHODS[m]]["psnr_y"] for m in methods if m != "vproc" and METHODS[m] in res}
        if not peers:
            continue
        best = max(peers, key=peers.get)
        print(f"- {rep['label']}: Y-PSNR above every peer: {'met' if v > peers[best] else 'NOT met'} "
              f"(vproc {v:.2f} dB, best peer {best} {peers[best]:.2f} dB)")
    f = report["fps_720p"]
    print(f"- 1280x720 at >= 25 fps on the CPU (node.process + flush, {FRAMES_720P} frames): "
          f"{'met' if f >= 25 else 'NOT met'} ({f:.1f} fps)")
    if "fps_4k_cuda" in report and report["fps_4k_cuda"] is not None:
        g = report["fps_4k_cuda"]
        print(f"- 3840x2160 at >= 60 fps on CUDA: {'met' if g >= 60 else 'NOT met'} ({g:.1f} fps)")


if __name__ == "__main__":
    main()
