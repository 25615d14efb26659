"""Video super-resolution benchmark: vproc ``vsr`` vs OpenCV bicubic and FFmpeg lanczos on Vid4 (x4, BI).

    python benchmarks/vsr.py [--frames N] [--scale 4] [--methods opencv matlab lanczos flow net net-adapt]
                             [--vsr-format rgbpf32] [--speed-frames 30] [--json out/vsr.json] [--cuda]
    python benchmarks/vsr.py --compressed [--crfs 18 23 28 33] [--scale 2] [--frames N] [--json ...]

``--compressed``: the compressed-Vid4 protocol of compression-aware VSR papers (COMISR): the BI
LR frames of each sequence (below) converted to ``yuv420p`` (BT.601 limited range, the bundled
FFmpeg's swscale), encoded as one clip by libx264 (``-preset medium -crf N``, its default GOP
with B-frames) for every ``--crfs`` value, and decoded back to rgb24 by swscale (BT.601 limited
range in): what a player shows of a low-res stream. Every method gets those decoded frames;
the metrics are as below against the GT. Rows: FFmpeg bicubic and FFmpeg lanczos (``scale``
with ``flags=bicubic`` / ``lanczos``, raw frames piped as for lanczos below), vproc flow, vproc
net (clean): the ``bi`` weights, vproc net (stream): the ``stream`` weights (trained on real
encodings, ``vproc train vsr --degradation stream``), vproc net (stream)+adapt; the vproc nodes
are opened on a StreamInfo whose ``codec`` is ``h264``, as vproc's source declares a decoded
H.264 stream (with ``degradation: auto`` the node then picks the stream weights itself). Per CRF
a table of Y-PSNR / Y-SSIM per sequence, the average, dB over FFmpeg lanczos and fps; then the
averages over CRF 23 and 28 and the issue 16 targets: stream weights >= lanczos + 0.7 dB at x2,
+ 0.5 dB at x4 (averaged over CRF 23 and 28), and no vproc method below lanczos at any CRF.

The table the video SR papers print, measured in one run on the same frames for every method.

Data (read from ``../shared/data``, never copied): the ground-truth (GT) frames of the four Vid4
sequences (``Vid4/GT/<seq>/Frame NNN.png``: calendar 41 frames 720x576, city 34 704x576, foliage
49 720x480, walk 47 720x480; 171 in all), the first ``--frames`` of each (default: all), 8-bit RGB,
cropped at the bottom/right to a multiple of ``--scale`` (nothing at x2 and x4; city's width to
702 at x3), as BasicSR's ``mod_crop`` does.

Degradation, "BI" (the protocol of the published Vid4 BI numbers): every GT frame is downscaled by
``--scale`` (default 4; 2 and 3 allowed) with MATLAB ``imresize(img, 1/s, 'bicubic')``, i.e. Keys'
cubic (a = -0.5) stretched by ``s`` (antialiasing), symmetric padding at the borders, computed here
in numpy in float64 per RGB channel (rows, then columns) and rounded to uint8 as MATLAB does for
uint8 images. At start-up it is checked against vproc's own degradation model (``vsr_blur`` with
``degradation_taps`` sampled where ``vsr_residual`` samples it, no motion), on the G channel of
the first GT frame, away from the 2 LR-pixel border (there imresize mirrors and the blur
replicates): the largest difference is printed and must stay under 0.01 code value.

Methods, each given the LR uint8 RGB frames of one sequence and returning uint8 RGB at ``s`` times
the size:

- ``OpenCV bicubic``: ``cv2.resize(lr, (s w, s h), interpolation=cv2.INTER_CUBIC)`` per frame
  (Keys' cubic with a = -0.75, no prefilter). The baseline of the dPSNR column and of the +0.5 dB
  target.
- ``MATLAB bicubic``: ``imresize(lr, s, 'bicubic')`` (a = -0.5) in numpy, as above: the bicubic
  of the papers, a check of this protocol against the published bicubic row (untimed).
- ``FFmpeg lanczos``: the bundled FFmpeg, the raw rgb24 frames of one sequence piped in and out
  (``-f rawvideo -pix_fmt rgb24 -s WxH -r 25 -i - -vf scale=iw*s:ih*s:flags=lanczos -f rawvideo
  -pix_fmt rgb24 -``). Timed: the whole command per sequence (process start and pipes included).
- ``vproc flow``: the ``vsr`` node (``method: flow``, default parameters: radius 2, 3 iterations)
  driven directly in Python, a fresh node per sequence opened on a StreamInfo of the sequence at 25
  fps; Frames with real timestamps (ms at 25 fps) in ``--vsr-format``: ``rgbpf32`` by default
  (the LR uint8 RGB / 255 as planar float32; the output rounded back to uint8 RGB), or ``yuv444p``
  (BT.601 limited range, converted in numpy with the ``rgb2ycbcr`` matrix and rounded, and back).
  The two measured the same on a 3-frame smoke run (x4 average Y-PSNR 24.61 dB rgbpf32, 24.62
  yuv444p: within noise), so the default is not chosen by a measured gain: rgbpf32 gives the node
  exactly the LR pixels the other methods get, with no YUV rounding on the way in or out (the
  node works on the luma either way: BT.601 weights of R, G, B, or the Y plane). Compare at full
  length with ``--vsr-format yuv444p``. The outputs must match the inputs in number and order
  (pts checked). Timed: ``node.process`` and ``node.flush`` only (numba compiled beforehand on
  three frames).
- ``vproc net``, ``vproc net+adapt``: the same node with ``method: net`` and the shipped weights
  (``vproc/weights/vsrnet_x<s>_bi.pt``), and with ``adapt: --adapt-steps`` (default 200): a fresh
  node per sequence, so the shipped network is fine-tuned on the first 32 LR frames of each
  sequence (``adapt_frames``), its own frames downscaled once more, before it upscales them; the
  adaptation's time is in its fps. Listed as "not available" with no numbers when this build's
  node or weights cannot run them.

Metrics: Y-PSNR (peak 255) and Y-SSIM (``vproc.metrics``: Wang et al., 11x11 Gaussian window) on
the BT.601 limited-range luma of MATLAB's ``rgb2ycbcr`` (unrounded) of the output RGB against the
GT RGB, ``s`` border pixels cropped on every side, per frame; mean over the frames of a sequence;
"average" = the mean of the four sequence means (as BasicSR reports Vid4, and the papers' tables);
the mean over all frames pooled is printed too when it differs. dPSNR: average Y-PSNR minus OpenCV
bicubic's. fps (Vid4): LR frames per second the method spent on this CPU.

Published figures (PSNR only; x4 BI Vid4 Y-PSNR averages as published, all frames): bicubic
23.78, VESPCN 25.35, BasicVSR 27.24 (as tabulated in Chan et al., "BasicVSR", CVPR 2021) and
BasicVSR++ 27.79 dB (Chan et al., "BasicVSR++", CVPR 2022). They are quoted, not measured here;
only printed at ``--scale 4``.

Speed (``--speed-frames``, default 30; 0 skips it): the first frames of Vid4 city (704x576)
resized with ``cv2.INTER_AREA`` to the LR size (aspect not kept), x4 320x180 -> 1280x720 and x2
640x360 -> 1280x720, on this CPU. vproc methods in ``yuv420p`` (as a decoder delivers video, the
format the 10 fps target is checked in; chroma from the numpy BT.601 conversion averaged 2x2) and
in ``rgbpf32``; a separate node first runs three frames (numba compiled, buffers allocated), then a
fresh node is timed over ``process`` + ``flush``. Peers on the rgb24 frames, timed as above.
``vproc net+adapt`` has no speed row (its adaptation is a one-off cost per video, not a rate),
nor has ``vproc net`` at a scale it has no shipped weights for. Ratios: fps over vproc flow's (yuv420p). With ``--cuda``, the vproc methods on the GPU at x2
960x540 -> 1920x1080 and x4 480x270 -> 1920x1080 (yuv420p frames uploaded beforehand, timed until
the GPU has finished). That path is UNTESTED: it was written on a machine without a GPU. The
1-minute load average at the start is printed: fps measured on a busy machine are low.

Targets (issue 5): vproc flow's average Y-PSNR at least OpenCV bicubic's + 0.5 dB; vproc net at
least 25.4 dB (above VESPCN) when available; vproc flow at 10 fps or more at x2 640x360 -> 1280x720
on this CPU; with ``--cuda``, vproc net at 60 fps or more at x2 960x540 -> 1920x1080. The quality
targets are about the full run (all frames, x4): with fewer frames or another scale they are
printed but flagged as not the target's protocol.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vproc.frame import Frame, StreamInfo  # noqa: E402
from vproc.io.ffmpeg import ffmpeg_binary  # noqa: E402
from vproc.metrics import crop_border, psnr, rgb_to_y, ssim  # noqa: E402
from _timing import seconds_on_cuda  # noqa: E402  (benchmarks/, on sys.path as the script's folder)

DATA = ROOT.parent / "shared" / "data"
SEQUENCES = ("calendar", "city", "foliage", "walk")
RATE = 25
TB = Fraction(1, 1000)
PUBLISHED = (  # x4 BI Vid4 Y-PSNR averages, as published (quoted, not measured)
    ("bicubic (published)", 23.78),
    ("VESPCN (published)", 25.35),
    ("BasicVSR (published)", 27.24),
    ("BasicVSR++ (published)", 27.79),
)
METHODS = {  # --methods name -> table name
    "opencv": "OpenCV bicubic",
    "matlab": "MATLAB bicubic",
    "bicubic": "FFmpeg bicubic",
    "lanczos": "FFmpeg lanczos",
    "flow": "vproc flow",
    "net": "vproc net",
    "net-adapt": "vproc net+adapt",
    "net-stream": "vproc net (stream)",
    "net-stream-adapt": "vproc net (stream)+adapt",
}
VPROC = ("flow", "net", "net-adapt", "net-stream", "net-stream-adapt")
#: The methods of each protocol when --methods is not given.
CLEAN_METHODS = ("opencv", "matlab", "lanczos", "flow", "net", "net-adapt")
COMPRESSED_METHODS = ("bicubic", "lanczos", "flow", "net", "net-stream", "net-stream-adapt")
#: --compressed: targets (dB over FFmpeg lanczos, stream weights, averaged over TARGET_CRFS).
STREAM_GAIN = {2: 0.7, 4: 0.5}
TARGET_CRFS = (23, 28)
#: The codec the vproc nodes are told the frames were decoded from (--compressed: h264).
SOURCE_CODEC: str | None = None
BASELINE = "OpenCV bicubic"
FLOW_GAIN, NET_PSNR, CPU_FPS, GPU_FPS = 0.5, 25.4, 10.0, 60.0
CPU_SIZES = (("x4 320x180 -> 1280x720", 320, 180, 4), ("x2 640x360 -> 1280x720", 640, 360, 2))
GPU_SIZES = (("x2 960x540 -> 1920x1080", 960, 540, 2), ("x4 480x270 -> 1920x1080", 480, 270, 4))
CPU_TARGET_SIZE, GPU_TARGET_SIZE = CPU_SIZES[1][0], GPU_SIZES[0][0]
SPEED_SEQ = "city"
BI_CHECK_TOLERANCE = 0.01  # code values
#: MATLAB rgb2ycbcr (BT.601, limited range) on 0..255 RGB: offsets and matrix.
YCC_OFFSET = np.array([16.0, 128.0, 128.0])
YCC_MATRIX = np.array([[65.481, 128.553, 24.966],
                       [-37.797, -74.203, 112.0],
                       [112.0, -93.786, -18.214]]) / 255.0


# ---------------------------------------------------------------------------------------------
# MATLAB imresize (bicubic, antialiased when downscaling)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic, a = -0.5 (MATLAB's)."""
    ax = np.abs(x)
    return np.where(ax <= 1, 1.5 * ax ** 3 - 2.5 * ax ** 2 + 1,
                    np.where(ax < 2, -0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2, 0.0))


def _contributions(n_in: int, n_out: int, scale: float):
    """MATLAB imresize's weights and (0-based, symmetrically padded) indices along one axis."""
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # the output pixel's centre in input coordinates (1-based)
    if scale < 1:  # antialiasing: the kernel stretched by 1 / scale
        width = 4.0 / scale

        def kernel(d):
            return scale * _cubic(scale * d)
    else:
        width, kernel = 4.0, _cubic
    left = np.floor(u - width / 2)
    idx = left[:, None] + np.arange(int(math.ceil(width)) + 2)[None, :]
    wt = kernel(u[:, None] - idx)
    wt /= wt.sum(1, keepdims=True)
    idx = idx.astype(np.int64) - 1
    idx = np.where(idx < 0, -idx - 1, idx)
    idx = np.where(idx >= n_in, 2 * n_in - idx - 1, idx)
    return wt, idx


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` of an HxW or HxWxC array, float64 (rows first).
    ``scale`` is ``s`` or ``1 / s`` for an integer ``s``; the output size is the input's times it."""
    img = np.asarray(img, np.float64)
    h, w = img.shape[:2]
    oh, ow = round(h * scale), round(w * scale)
    wy, iy = _contributions(h, oh, scale)
    wx, ix = _contributions(w, ow, scale)
    rows = np.einsum("op,op...->o...", wy, img[iy])
    return np.einsum("op,hop...->ho...", wx, rows[:, ix])


def to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's conversion of a double result to uint8: round half away from zero, saturate."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def bi_down(rgb8: np.ndarray, s: int) -> np.ndarray:
    return to_uint8(imresize(rgb8, 1.0 / s))


def bi_check(gt: np.ndarray, s: int) -> float:
    """Largest difference (code values) between this imresize and vproc's degradation model
    (``vsr_blur`` sampled as ``vsr_residual`` samples it, no motion), away from the border."""
    from vproc.kernels import vsr_blur
    from vproc.kernels.vsr import sample_offset

    hr = np.ascontiguousarray(gt[..., 1], dtype=np.float32) / np.float32(255)
    want = imresize(hr.astype(np.float64), 1.0 / s)
    off = int(sample_offset(s))
    got = np.asarray(vsr_blur(hr, s))[off::s, off::s][:want.shape[0], :want.shape[1]]
    return float(np.abs(got[2:-2, 2:-2] - want[2:-2, 2:-2]).max() * 255.0)


# ---------------------------------------------------------------------------------------------
# Data


def load_gt(seq: str, frames: int, s: int) -> list[np.ndarray]:
    """The first ``frames`` (all if 0) GT frames of a Vid4 sequence, uint8 HxWx3 RGB, cropped to a
    multiple of ``s``."""
    files = sorted((DATA / "Vid4" / "GT" / seq).glob("Frame *.png"))
    files = files[:frames] if frames else files
    if not files:
        sys.exit(f"no frames in {DATA / 'Vid4' / 'GT' / seq}")
    out = []
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        out.append(np.ascontiguousarray(rgb[:h - h % s, :w - w % s]))
    return out


def rgb_to_yuv(rgb8: np.ndarray, pix_fmt: str) -> tuple[np.ndarray, ...]:
    """uint8 RGB -> BT.601 limited-range planes (MATLAB rgb2ycbcr, rounded); 4:2:0 chroma is the
    mean of each 2x2 block (odd sizes: edge replicated)."""
    ycc = rgb8.astype(np.float64) @ YCC_MATRIX.T + YCC_OFFSET
    y, cb, cr = (ycc[..., i] for i in range(3))
    if pix_fmt == "yuv420p":
        h, w = y.shape
        pad = ((0, h % 2), (0, w % 2))

        def half(c):
            c = np.pad(c, pad, mode="edge")
            return 0.25 * (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2])
        cb, cr = half(cb), half(cr)
    elif pix_fmt != "yuv444p":
        raise ValueError(pix_fmt)
    return tuple(to_uint8(p) for p in (y, cb, cr))


def yuv444_to_rgb(planes) -> np.ndarray:
    ycc = np.stack([p.astype(np.float64) for p in planes], axis=-1) - YCC_OFFSET
    return to_uint8(ycc @ np.linalg.inv(YCC_MATRIX).T)


def to_planes(rgb8: np.ndarray, pix_fmt: str):
    if pix_fmt == "rgbpf32":
        return np.ascontiguousarray(rgb8.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
    return rgb_to_yuv(rgb8, pix_fmt)


def from_planes(planes, pix_fmt: str) -> np.ndarray:
    if pix_fmt == "rgbpf32":
        rgb = np.stack([np.asarray(p) for p in planes], axis=-1)
        return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    if pix_fmt == "yuv444p":
        return yuv444_to_rgb(planes)
    raise ValueError(pix_fmt)


# ---------------------------------------------------------------------------------------------
# Methods: each maps the LR uint8 RGB frames of one sequence to (HR uint8 RGB frames, seconds)


def run_opencv(lrs, s: int):
    outs, spent = [], 0.0
    for f in lrs:
        h, w = f.shape[:2]
        t0 = time.perf_counter()
        outs.append(cv2.resize(f, (s * w, s * h), interpolation=cv2.INTER_CUBIC))
        spent += time.perf_counter() - t0
    return outs, spent


def run_matlab(lrs, s: int):
    return [to_uint8(imresize(f, float(s))) for f in lrs], None  # a reference: not timed


def run_ffmpeg_scale(lrs, s: int, flags: str = "lanczos"):
    h, w = lrs[0].shape[:2]
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-", "-vf", f"scale=iw*{s}:ih*{s}:flags={flags}",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    data = b"".join(f.tobytes() for f in lrs)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    spent = time.perf_counter() - t0
    got = np.frombuffer(out, np.uint8)
    if got.size != len(lrs) * s * s * h * w * 3:
        raise RuntimeError(f"ffmpeg {flags} returned {got.size} bytes for {len(lrs)} frames of {s * w}x{s * h}")
    return list(got.reshape(len(lrs), s * h, s * w, 3)), spent


def run_lanczos(lrs, s: int):
    return run_ffmpeg_scale(lrs, s, "lanczos")


def run_bicubic(lrs, s: int):
    return run_ffmpeg_scale(lrs, s, "bicubic")


def x264_round_trip(rgbs: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """``--compressed``: rgb24 frames -> yuv420p BT.601 limited -> libx264 crf -> decoded -> rgb24."""
    import tempfile

    h, w = rgbs[0].shape[:2]
    ff = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error"]
    with tempfile.TemporaryDirectory() as tmp:
        coded = Path(tmp) / "lr.mkv"
        subprocess.run([*ff, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(RATE), "-i", "-",
                        "-vf", "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p",
                        "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), str(coded)],
                       input=b"".join(f.tobytes() for f in rgbs), capture_output=True, check=True)
        out = subprocess.run([*ff, "-i", str(coded), "-vf", "scale=in_color_matrix=bt601:in_range=tv",
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    got = np.frombuffer(out, np.uint8)
    if got.size != len(rgbs) * h * w * 3:
        raise RuntimeError(f"x264 round trip returned {got.size} bytes for {len(rgbs)} frames of {w}x{h}")
    return list(got.reshape(len(rgbs), h, w, 3))


ADAPT_STEPS = 200  # --adapt-steps


def vsr_kwargs(method: str, s: int) -> dict:
    return {"flow": {"scale": s, "method": "flow"},
            "net": {"scale": s, "method": "net", "degradation": "clean"},
            "net-adapt": {"scale": s, "method": "net", "degradation": "clean", "adapt": ADAPT_STEPS},
            "net-stream": {"scale": s, "method": "net", "degradation": "stream"},
            "net-stream-adapt": {"scale": s, "method": "net", "degradation": "stream", "adapt": ADAPT_STEPS}}[method]


def availability(method: str, s: int) -> str | None:
    """None when this build's VsrParams accepts ``method``, else why not."""
    try:
        from vproc.nodes.vsr import VsrParams
    except ImportError as exc:
        return f"vproc.nodes.vsr not importable ({exc})"
    kw = vsr_kwargs(method, s)
    if "adapt" in kw and "adapt" not in {f.name for f in dataclasses.fields(VsrParams)}:
        return "VsrParams has no adapt field"
    try:
        VsrParams(**kw)
    except (ValueError, TypeError) as exc:
        return f"VsrParams({', '.join(f'{k}={v!r}' for k, v in kw.items())}) refused: {exc}"
    if kw["method"] == "net":
        from vproc.models.vsrnet import default_weights

        weights = default_weights(s, "stream" if kw.get("degradation") == "stream" else "bi")
        if not weights.is_file():
            return f"no shipped x{s} weights ({weights.name})"
    return None


def make_node(method: str, s: int, w: int, h: int, pix_fmt: str, device: str = "cpu"):
    from vproc.nodes.vsr import Vsr, VsrParams

    node = Vsr(VsrParams(**vsr_kwargs(method, s)), device, "vsr")
    node.open(StreamInfo(w, h, pix_fmt, TB, rate=Fraction(RATE), device=device, codec=SOURCE_CODEC))
    return node


def drive(node, inputs: list[Frame], keep) -> float:
    """Feed ``inputs`` (then flush); ``keep(frame)`` gets every output; returns the seconds spent in
    process and flush. Checks that the outputs are the inputs, in order."""
    pts, spent = [], 0.0
    try:
        for fr in inputs:
            t0 = time.perf_counter()
            got = node.process(fr)
            spent += time.perf_counter() - t0
            for o in got:
                pts.append(o.pts)
                keep(o)
        t0 = time.perf_counter()
        got = node.flush()
        spent += time.perf_counter() - t0
        for o in got:
            pts.append(o.pts)
            keep(o)
    finally:
        node.close()
    if pts != [f.pts for f in inputs]:
        raise RuntimeError(f"vsr returned {len(pts)} frames for {len(inputs)} (or out of order)")
    return spent


def run_vproc(method: str, pix_fmt: str):
    def run(lrs, s: int):
        h, w = lrs[0].shape[:2]
        node = make_node(method, s, w, h, pix_fmt)
        inputs = [Frame(to_planes(f, pix_fmt), i * 1000 // RATE, TB, pix_fmt) for i, f in enumerate(lrs)]
        outs = []
        # copies: the node's output buffers go back to its pool with the Frame
        spent = drive(node, inputs, lambda o: outs.append(from_planes(tuple(np.array(p) for p in o.planes),
                                                                          pix_fmt)))
        return outs, spent
    return run


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(run, lr: dict, gt: dict, s: int) -> dict:
    per_seq, all_p, all_s = {}, [], []
    spent, n = 0.0, 0
    for seq in SEQUENCES:
        outs, t = run(lr[seq], s)
        if len(outs) != len(gt[seq]):
            raise RuntimeError(f"{len(outs)} frames out for {len(gt[seq])} in {seq}")
        ps, ss = [], []
        for o, g in zip(outs, gt[seq]):
            if o.shape != g.shape:
                raise RuntimeError(f"{seq}: output {o.shape} for GT {g.shape}")
            yo, yg = crop_border(rgb_to_y(o), s), crop_border(rgb_to_y(g), s)
            ps.append(psnr(yo, yg))
            ss.append(ssim(yo, yg))
        per_seq[seq] = {"psnr_y": float(np.mean(ps)), "ssim_y": float(np.mean(ss)), "frames": len(outs),
                        "seconds": t}
        all_p += ps
        all_s += ss
        if t is not None:
            spent += t
            n += len(outs)
    return {
        "psnr_y": float(np.mean([r["psnr_y"] for r in per_seq.values()])),
        "ssim_y": float(np.mean([r["ssim_y"] for r in per_seq.values()])),
        "psnr_y_pooled": float(np.mean(all_p)),
        "ssim_y_pooled": float(np.mean(all_s)),
        "fps": n / spent if n and spent > 0 else None,
        "sequences": per_seq,
    }


# ---------------------------------------------------------------------------------------------
# Speed


def speed_inputs(w: int, h: int, n: int) -> list[np.ndarray]:
    files = sorted((DATA / "Vid4" / "GT" / SPEED_SEQ).glob("Frame *.png"))[:n]
    return [cv2.resize(cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), (w, h),
                       interpolation=cv2.INTER_AREA) for f in files]


def vproc_fps(method: str, rgbs, s: int, pix_fmt: str) -> float:
    h, w = rgbs[0].shape[:2]
    planes = [to_planes(f, pix_fmt) for f in rgbs]

    def frames(k):
        return [Frame(p, i * 1000 // RATE, TB, pix_fmt) for i, p in enumerate(planes[:k])]
    drive(make_node(method, s, w, h, pix_fmt), frames(3), lambda o: None)  # warm-up
    return len(planes) / drive(make_node(method, s, w, h, pix_fmt), frames(len(planes)), lambda o: None)


def vproc_fps_cuda(method: str, rgbs, s: int, pix_fmt: str = "yuv420p") -> float:
    """UNTESTED (written without a GPU): the node on CUDA, frames uploaded first, timed until the
    GPU is done."""
    h, w = rgbs[0].shape[:2]
    planes = [to_planes(f, pix_fmt) for f in rgbs]

    def timed(k):
        return seconds_on_cuda(make_node(method, s, w, h, pix_fmt, "cuda"), planes[:k], pix_fmt, RATE,
                               f"vsr {method}")

    timed(3)  # warm-up: kernels compiled, buffers allocated
    return len(planes) / timed(len(planes))


def speed(methods: list[str], n: int, cuda: bool) -> dict:
    out = {"cpu": {}, "cuda": {}}
    for label, w, h, s in CPU_SIZES:
        rgbs = speed_inputs(w, h, n)
        row = {}
        for m in methods:
            if m == "opencv":
                _, t = run_opencv(rgbs, s)
                row[METHODS[m]] = len(rgbs) / t
            elif m == "lanczos":
                _, t = run_lanczos(rgbs, s)
                row[METHODS[m]] = len(rgbs) / t
            elif m in VPROC and not m.endswith("adapt") and not availability(m, s):  # adapt: a one-off cost, not a rate
                for fmt in ("yuv420p", "rgbpf32"):
                    row[f"{METHODS[m]} ({fmt})"] = vproc_fps(m, rgbs, s, fmt)
        out["cpu"][label] = row
    if cuda:
        from vproc.device import cuda_status

        reason = cuda_status()
        if reason:
            out["cuda_unavailable"] = reason
        else:
            for label, w, h, s in GPU_SIZES:
                rgbs = speed_inputs(w, h, n)
                out["cuda"][label] = {f"{METHODS[m]} (yuv420p)": vproc_fps_cuda(m, rgbs, s)
                                      for m in methods if m in VPROC and not m.endswith("adapt") and not availability(m, s)}
    return out


# ---------------------------------------------------------------------------------------------
# Report


def cell(r: dict) -> str:
    return f"{r['psnr_y']:.2f} / {r['ssim_y']:.4f}"


def print_table(report: dict, s: int) -> None:
    res = report["results"]
    base = res.get(BASELINE)
    print(f"\n### Vid4 x{s} BI, Y-PSNR (dB) / Y-SSIM, {s} border pixels cropped\n")
    print("| method | " + " | ".join(SEQUENCES) + " | average | dPSNR vs OpenCV bicubic | fps (Vid4, CPU) |")
    print("|---|" + "---:|" * (len(SEQUENCES) + 3))
    for name, r in res.items():
        if "unavailable" in r or "error" in r:
            why = r.get("unavailable") or f"failed: {r['error']}"
            print(f"| {name}: {why} | " + " | ".join("-" for _ in SEQUENCES) + " | - | - | - |")
            continue
        seqs = " | ".join(cell(r["sequences"][q]) for q in SEQUENCES)
        dp = f"{r['psnr_y'] - base['psnr_y']:+.2f}" if base else "-"
        fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
        print(f"| {name} | {seqs} | {cell(r)} | {dp} | {fps} |")
    if s == 4:
        for name, v in PUBLISHED:
            print(f"| {name} | - | - | - | - | {v:.2f} / - | - | - |")
    pooled = [(n, r) for n, r in res.items() if "psnr_y_pooled" in r
              and abs(r["psnr_y_pooled"] - r["psnr_y"]) >= 0.005]
    if pooled:
        print("\naverage pooled over all frames instead of over the sequence means (Y-PSNR / Y-SSIM): "
              + "; ".join(f"{n} {r['psnr_y_pooled']:.2f} / {r['ssim_y_pooled']:.4f}" for n, r in pooled))
    if s == 4:
        print("published rows: x4 BI Vid4 Y-PSNR averages over all frames, quoted (bicubic, VESPCN, BasicVSR "
              "as tabulated in Chan et al., BasicVSR, CVPR 2021; BasicVSR++: Chan et al., CVPR 2022), "
              "not measured here")
    sys.stdout.flush()


def print_speed(sp: dict, n: int) -> None:
    for dev, title in (("cpu", f"this CPU ({os.cpu_count()} cores)"),
                       ("cuda", "the GPU (--cuda; UNTESTED code path)")):
        if not sp.get(dev):
            continue
        print(f"\n### fps on {title}: first {n} frames of Vid4 {SPEED_SEQ} resized (INTER_AREA) to the "
              "input size; vproc: node.process + flush after a warm-up\n")
        labels = list(sp[dev])
        print("| method | " + " | ".join(labels) + " |")
        print("|---|" + "---:|" * len(labels))
        names = list(dict.fromkeys(k for row in sp[dev].values() for k in row))
        for name in names:
            cells = []
            for lab in labels:
                row = sp[dev][lab]
                v, ref = row.get(name), row.get("vproc flow (yuv420p)")
                if v is None:
                    cells.append("-")
                else:
                    cells.append(f"{v:.1f}" + (f" ({v / ref:.2f}x flow)" if ref and name != "vproc flow (yuv420p)"
                                               else ""))
            print(f"| {name} | " + " | ".join(cells) + " |")
    if "cuda_unavailable" in sp:
        print(f"\n--cuda: no GPU to time ({sp['cuda_unavailable']})")


def targets(report: dict, full: bool, s: int) -> list[dict]:
    res, out = report["results"], []
    off = ([f"x{s}, not x4"] if s != 4 else []) + ([] if full else ["not every frame"])
    note = f" [this run: {', '.join(off)}: not the target's protocol]" if off else ""
    flow, base, net = res.get("vproc flow"), res.get(BASELINE), res.get("vproc net")
    if flow and base and "psnr_y" in flow:
        gain = flow["psnr_y"] - base["psnr_y"]
        out.append({"target": f"vproc flow >= OpenCV bicubic + {FLOW_GAIN} dB (Vid4 average)", "met": gain >= FLOW_GAIN,
                    "value": f"{flow['psnr_y']:.2f} dB vs {base['psnr_y']:.2f} dB: {gain:+.3f} dB{note}"})
    if net is None or "psnr_y" not in net:
        why = "not run" if net is None else net.get("unavailable") or f"failed: {net.get('error')}"
        out.append({"target": f"vproc net >= {NET_PSNR} dB (Vid4 average)", "met": None, "value": why})
    else:
        out.append({"target": f"vproc net >= {NET_PSNR} dB (Vid4 average)", "met": net["psnr_y"] >= NET_PSNR,
                    "value": f"{net['psnr_y']:.2f} dB{note}"})
    sp = report.get("speed") or {}
    f = sp.get("cpu", {}).get(CPU_TARGET_SIZE, {}).get("vproc flow (yuv420p)")
    out.append({"target": f"vproc flow {CPU_TARGET_SIZE} >= {CPU_FPS:g} fps on this CPU (yuv420p)",
                "met": None if f is None else f >= CPU_FPS,
                "value": "not measured" if f is None else f"{f:.1f} fps"})
    if sp.get("cuda") or "cuda_unavailable" in sp:
        g = sp.get("cuda", {}).get(GPU_TARGET_SIZE, {}).get("vproc net (yuv420p)")
        out.append({"target": f"vproc net {GPU_TARGET_SIZE} >= {GPU_FPS:g} fps on the GPU",
                    "met": None if g is None else g >= GPU_FPS,
                    "value": "not measured (no GPU, or net not available)" if g is None else f"{g:.1f} fps"})
    return out


def runner(m: str, vsr_format: str):
    return {"opencv": run_opencv, "matlab": run_matlab, "lanczos": run_lanczos,
            "bicubic": run_bicubic}.get(m) or run_vproc(m, vsr_format)


def run_methods(methods: list[str], lr: dict, gt: dict, s: int, vsr_format: str, unavailable: dict) -> dict:
    """``{table name: evaluate(...)}`` of every method on the LR frames ``lr``."""
    results = {}
    for m in methods:
        name = METHODS[m]
        if unavailable.get(m):
            results[name] = {"unavailable": f"not available in this build ({unavailable[m]})"}
            continue
        run = runner(m, vsr_format)
        try:
            if m in VPROC:
                run([f for f in lr[SEQUENCES[0]][:3]], s)  # warm-up: numba compiled, not timed
            results[name] = evaluate(run, lr, gt, s)
        except Exception as exc:
            if m == "flow" or m not in VPROC:
                raise
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}  # a net that does not run yet
        if m in VPROC:
            results[name]["setting"] = f"{vsr_kwargs(m, s)}, frames {vsr_format}"
    return results


def compressed(args, methods: list[str], unavailable: dict, gt: dict, lr: dict, s: int) -> dict:
    """The ``--compressed`` protocol (module docstring): tables per CRF, averages, targets."""
    global SOURCE_CODEC
    SOURCE_CODEC = "h264"
    per_crf = {}
    for crf in args.crfs:
        coded = {q: x264_round_trip(fs, crf) for q, fs in lr.items()}
        res = run_methods(methods, coded, gt, s, args.vsr_format, unavailable)
        per_crf[crf] = res
        ref = res.get(METHODS["lanczos"], {}).get("psnr_y")
        print(f"\n### Vid4 x{s} BI, then libx264 crf {crf} (preset medium), Y-PSNR (dB) / Y-SSIM, {s} border pixels cropped\n")
        print("| method | " + " | ".join(SEQUENCES) + " | average | dB over FFmpeg lanczos | fps (Vid4, CPU) |")
        print("|---|" + "---:|" * (len(SEQUENCES) + 3))
        for name, r in res.items():
            label = {"vproc net": "vproc net (clean)", "vproc net+adapt": "vproc net (clean)+adapt"}.get(name, name)
            if "psnr_y" not in r:
                print(f"| {label}: {r.get('unavailable') or 'failed: ' + r.get('error', '')} | "
                      + " | ".join("-" for _ in SEQUENCES) + " | - | - | - |")
                continue
            seqs = " | ".join(cell(r["sequences"][q]) for q in SEQUENCES)
            dp = "-" if ref is None else f"{r['psnr_y'] - ref:+.2f}"
            fps = "-" if r["fps"] is None else f"{r['fps']:.1f}"
            print(f"| {label} | {seqs} | {cell(r)} | {dp} | {fps} |")
        sys.stdout.flush()
    out = {"per_crf": per_crf, "targets": []}
    lanczos = METHODS["lanczos"]
    crfs = [c for c in TARGET_CRFS if c in per_crf]
    if crfs:
        print(f"\n### average over crf {', '.join(map(str, crfs))}: Y-PSNR, dB over FFmpeg lanczos\n")
        print("| method | Y-PSNR | dB over lanczos |")
        print("|---|---:|---:|")
        means = {}
        for name in per_crf[crfs[0]]:
            vals = [per_crf[c][name].get("psnr_y") for c in crfs]
            if None not in vals:
                means[name] = float(np.mean(vals))
        for name, v in means.items():
            print(f"| {name} | {v:.2f} | {v - means.get(lanczos, v):+.2f} |")
        stream = means.get(METHODS["net-stream"])
        need = STREAM_GAIN.get(s)
        if need is not None and lanczos in means:
            out["targets"].append({
                "target": f"vproc net (stream) >= FFmpeg lanczos + {need} dB at x{s}, averaged over crf {', '.join(map(str, crfs))}",
                "met": None if stream is None else stream - means[lanczos] >= need,
                "value": "not run" if stream is None else f"{stream - means[lanczos]:+.2f} dB"})
    worst = []
    for crf, res in per_crf.items():
        ref = res.get(lanczos, {}).get("psnr_y")
        for name, r in res.items():
            if ref is not None and name.startswith("vproc") and "psnr_y" in r:
                worst.append((r["psnr_y"] - ref, name, crf))
    if worst:
        gap, name, crf = min(worst)
        out["targets"].append({"target": "no vproc method below FFmpeg lanczos at any crf", "met": gap >= 0,
                               "value": f"worst {name} at crf {crf}: {gap:+.2f} dB"})
    return out


def main() -> None:
    global ADAPT_STEPS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=0, help="first N frames of each Vid4 sequence (default 0: all)")
    ap.add_argument("--scale", type=int, default=4, choices=[2, 3, 4])
    ap.add_argument("--methods", nargs="+", choices=list(METHODS),
                    help="methods to run (default: the protocol's: %s; with --compressed: %s; vproc net rows "
                         "only where this build has their weights)" % (" ".join(CLEAN_METHODS), " ".join(COMPRESSED_METHODS)))
    ap.add_argument("--compressed", action="store_true",
                    help="the compressed-Vid4 protocol: the BI LR frames through libx264 at --crfs first")
    ap.add_argument("--crfs", nargs="+", type=int, default=[18, 23, 28, 33], help="--compressed: x264 CRFs (default: %(default)s)")
    ap.add_argument("--vsr-format", default="rgbpf32", choices=["rgbpf32", "yuv444p"],
                    help="frame format the vproc node gets on Vid4 (default: %(default)s)")
    ap.add_argument("--speed-frames", type=int, default=30, help="frames per speed measurement (0: no speed)")
    ap.add_argument("--adapt-steps", type=int, default=ADAPT_STEPS, help="adapt steps of vproc net+adapt (default: %(default)s)")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--cuda", action="store_true",
                    help="also time the vproc methods on the GPU at 540p -> 1080p and 270p -> 1080p (untested)")
    args = ap.parse_args()
    if args.frames < 0 or args.speed_frames < 0:
        ap.error("--frames and --speed-frames must be >= 0")
    if not (DATA / "Vid4" / "GT").is_dir():
        sys.exit(f"benchmarks/vsr.py needs the shared data set at {DATA} (Vid4/GT); "
                 "it is not there, so there is nothing to measure")
    s = args.scale
    ADAPT_STEPS = args.adapt_steps
    chosen = args.methods or (COMPRESSED_METHODS if args.compressed else CLEAN_METHODS)
    methods = [m for m in METHODS if m in chosen]
    unavailable = {m: availability(m, s) for m in methods if m in VPROC}
    runnable = [m for m in methods if not unavailable.get(m)]

    t_start = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    gt = {q: load_gt(q, args.frames, s) for q in SEQUENCES}
    lr = {q: [bi_down(f, s) for f in fs] for q, fs in gt.items()}
    check = bi_check(gt[SEQUENCES[0]][0], s)
    print(f"BI check: this imresize vs vproc's degradation model (vsr_blur + sampling), x{s}, "
          f"{SEQUENCES[0]} frame 1, G channel, interior: max difference {check:.2g} code values")
    if not check < BI_CHECK_TOLERANCE:
        sys.exit(f"BI check failed: {check:.3g} >= {BI_CHECK_TOLERANCE} code values")

    if args.compressed:
        n = sum(len(fs) for fs in gt.values())
        print(f"\nvsr --compressed: Vid4 GT, {'all' if not args.frames else f'first {args.frames}'} frames each "
              f"({n} frames); LR by MATLAB imresize 1/{s}, then libx264 at crf {', '.join(map(str, args.crfs))}; "
              f"vproc on {args.vsr_format} frames; {os.cpu_count()} CPU cores"
              + ("" if load is None else f", 1-minute load average {load:.2f} at the start"))
        report = {"config": {"scale": s, "frames": {q: len(fs) for q, fs in gt.items()}, "crfs": args.crfs,
                             "methods": methods, "vsr_format": args.vsr_format, "cpu_cores": os.cpu_count(),
                             "load_average_1min_at_start": load}}
        report.update(compressed(args, methods, unavailable, gt, lr, s))
        finish(report, "issue 16", t_start, args.json)
        return

    results = run_methods(methods, lr, gt, s, args.vsr_format, unavailable)

    report = {
        "config": {"scale": s, "frames": {q: len(fs) for q, fs in gt.items()},
                   "sizes": {q: f"{fs[0].shape[1]}x{fs[0].shape[0]}" for q, fs in gt.items()},
                   "methods": methods, "vsr_format": args.vsr_format, "cpu_cores": os.cpu_count(),
                   "speed_frames": args.speed_frames, "cuda": args.cuda, "load_average_1min_at_start": load},
        "bi_check_max_diff": check,
        "results": results,
        "published_x4_bi_vid4_psnr_y": dict(PUBLISHED),
    }
    n = sum(len(fs) for fs in gt.values())
    sizes = ", ".join(f"{q} {v}" for q, v in report["config"]["sizes"].items())
    print(f"\nvsr: Vid4 GT ({sizes}), {'all' if not args.frames else f'first {args.frames}'} frames each ({n} frames); "
          f"LR by MATLAB imresize 1/{s} bicubic (antialiased), uint8; vproc on {args.vsr_format} frames; "
          f"{os.cpu_count()} CPU cores" + ("" if load is None else f", 1-minute load average {load:.2f} at the start "
                                            "(the fps are of a machine this busy)"))
    print_table(report, s)

    if args.speed_frames:
        report["speed"] = speed([m for m in runnable if m != "matlab"], args.speed_frames, args.cuda)
        print_speed(report["speed"], args.speed_frames)

    full = not args.frames or all(len(fs) == len(list((DATA / "Vid4" / "GT" / q).glob("Frame *.png")))
                                  for q, fs in gt.items())
    report["targets"] = targets(report, full, s)
    finish(report, "issue 5", t_start, args.json)


def finish(report: dict, issue: str, t_start: float, json_path: Path | None) -> None:
    """Print the targets and the run time; write every number to ``json_path`` if given."""
    print(f"\ntargets ({issue}):")
    for t in report["targets"]:
        verdict = "not checked" if t["met"] is None else "met" if t["met"] else "NOT met"
        print(f"- {t['target']}: {verdict} ({t['value']})")
    report["seconds"] = time.perf_counter() - t_start
    print(f"\nrun time {report['seconds']:.0f} s")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=1))
        print(f"numbers: {json_path}")


if __name__ == "__main__":
    main()
