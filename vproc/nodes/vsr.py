"""``vsr``: temporal video super-resolution by 2, 3 or 4: ``method: flow`` (no weights) or
``method: net`` (the project's network).

``method: net`` (:meth:`Vsr._net_window`): the luma of each window (the network's own: ``2 r + 1``
frames for its radius, or for a causal network the ``r + 1`` latest, the output frame last, which
adds no latency: for live use; clamped at the clip's ends as below) goes through
:class:`vproc.models.vsrnet.VSRNet` (weights from ``weights``, or the shipped
``vproc/weights/vsrnet_x<scale>_<degradation>.pt``: with ``degradation: auto``, the ``stream``
weights, trained on real x264/x265/VP9/AV1 encodings, for frames the source decoded from a lossy
delivery codec (StreamInfo.codec in :data:`STREAM_CODECS`), the clean ``bi`` ones otherwise),
in overlapping tiles when the frame is
larger than ``tile`` (:mod:`vproc.models.tiling`: memory bounded by the tile, stitched output
equal to a whole-frame pass); chroma and RGB as step 4 below. ``adapt: N`` holds the first
``adapt_frames`` frames, fine-tunes the network on them for N steps
(:func:`vproc.training.adapt.adapt`: the frames downscaled once more are the inputs, the frames
themselves the targets) and then lets them through; the node's ``summary`` reports it. On CUDA
the planes go to torch and back through DLPack (no copies), torch working on the runtime's CuPy
stream. Cuts are detected as below, on a small guide (the flow itself is not used).

``method: flow``: multi-frame reconstruction from a window of ``2 * radius + 1`` low-res (LR)
frames (clamped at the clip's ends) around each output frame, on the luma, in floats in [0, 1]:

1. Motion (:class:`vproc.motion.FlowWindow`): OpenCV's DIS optical flow between consecutive
   frames in both directions on the full-size luma (enlarged 2x, bicubic, below
   ``UPSCALE_BELOW`` lines: DIS's finest level works on 8 x 8 patches, too coarse for sub-pixel
   accuracy on small frames), chained over the window: flows from the centre to each neighbour
   and from each neighbour to the centre. DIS is sub-pixel: a known shift of 0.3/0.7 px is
   recovered within 0.1 px (tests/nodes/test_vsr.py).
2. Robust weights (:func:`vproc.kernels.vsr_weights`): every neighbour warped onto the centre's
   LR grid; its 3 x 3 patch distance to the centre gives a weight of about ``exp(-d /
   tolerance^2)``: occluded or badly aligned pixels (and whole frames across an undetected
   cut) drop out.
3. Reconstruction: the bicubic upscale of the centre (:func:`vproc.kernels.resize`), then
   ``iterations`` steps of Irani & Peleg's iterative back-projection against every observed LR
   frame of the window: each frame is predicted from the HR estimate by the degradation model
   (the estimate blurred by the BI filter, :func:`vproc.kernels.vsr_blur`, sampled where that
   frame's pixels land through the flow, :func:`vproc.kernels.vsr_residual`), and the
   prediction errors, weighted, are brought back to every HR pixel through the flows and added
   with step size ``step`` (:func:`vproc.kernels.vsr_backproject`).
4. Chroma planes (YUV) are upscaled bicubically (:func:`vproc.kernels.resize`, OpenCV's
   INTER_CUBIC); for RGB the luma detail (the reconstruction minus the bicubic luma) is added to
   each bicubically upscaled channel, which is the same thing done on Y with Cb/Cr bicubic. The
   SR literature evaluates on Y; chroma carries little detail.

The degradation model is MATLAB ``imresize``'s antialiased bicubic downscaling (the "BI" of the
video SR benchmarks). OpenCV's INTER_CUBIC downscale samples without antialiasing; as the model
(warp in HR, then ``cv2.resize`` down) it measured +0.44 dB over bicubic against +0.99 for the BI
filter (x4, the prototype below), INTER_AREA +0.90. On video downscaled otherwise the
back-projection still converges to frames consistent with the input, with a less exact blur.

Scene cuts: every arriving frame is compared with the one before, aligned by the flow
(:meth:`vproc.motion.FlowWindow.mismatch`: the fraction of badly explained pixels of the guide).
Above ``CUT_FRACTION`` the held frames are drained with windows clamped before the cut and the
motion state is reset: no frame is fused across a cut (measured on Vid4: 0.01..0.05 within a shot,
0.85..0.94 at joins between its sequences).

Measured (first 10 frames of each Vid4 sequence, GT cropped to a multiple of ``scale``, LR by
MATLAB-style ``imresize`` bicubic with antialiasing (BI), Y-PSNR (BT.601, ``scale`` border pixels
cropped) in dB; bicubic = OpenCV INTER_CUBIC, :func:`vproc.kernels.resize`); defaults (radius 2,
3 iterations, step 1.5, tolerance 12):

========  ===============  ===============  ===============
sequence  x2 bicubic/vsr   x3 bicubic/vsr   x4 bicubic/vsr
========  ===============  ===============  ===============
calendar  23.94 / 25.50    21.60 / 22.54    20.44 / 21.08
city      29.93 / 31.95    26.43 / 27.59    25.32 / 26.15
foliage   28.83 / 30.86    25.33 / 26.53    23.64 / 24.40
walk      32.51 / 33.96    28.39 / 29.49    26.21 / 27.11
mean      +1.77            +1.10            +0.78
========  ===============  ===============  ===============

What the choices are worth (x4, first 4 frames of each sequence, mean gain over bicubic). With
a numpy prototype, 6 iterations, step 1, tolerance 16: the centre alone (radius 0) +0.40 dB,
radius 2 +0.67; then the flow on a 2x guide +0.79, DIS "medium" instead of "fast" +0.86, step
1.5 +0.99. With this node: 3/6/10 iterations +0.78/+0.99/+1.13 dB; tolerance 10/13/16 (3
iterations) +0.74/+0.77/+0.78 at x4 against +1.72/+1.70/+1.62 at x2, hence 12. More iterations
are not always better: unregularised back-projection amplifies misregistration and noise (x2
city: +1.6 dB after 3 iterations, +1.0 after 6, at tolerance 16), so the iteration count also
regularises. Momentum (heavy ball, 0.8) reached the 6-iteration result in 4 at x4 but diverged
on x2 city: not used.

Speed (the node alone, numba twins on an idle 2-core CPU, ``yuv420p`` 640x360 -> 1280x720, x2,
frames of Vid4 city): 12.5..13 fps with the defaults; per frame 42 ms back-projection, 9 ms
residuals, 6.5 ms DIS, 3 ms chaining flows, 15 ms the rest. ``radius: 1`` runs at 21.8 fps for
-0.02 dB on Vid4 x2 (+1.75 instead of +1.77 over bicubic) and -0.11 dB at x4 (+0.67 / +0.78).

Formats: planar 8- and 10/16-bit YUV and grey (``yuv420p``, ``yuv422p``, ``yuv444p``, their
``10le`` forms, ``gray*``), ``gbrp`` and ``rgbpf32`` (``formats``; in a graph any other input is
converted first by format negotiation: packed ``rgb24``/``bgr24``, the Python API's usual frames,
to ``gbrp``, ``rgb48le`` to ``rgbpf32``, ``nv12``/``p010le`` to ``yuv420p``/``yuv420p10le``); output in the input's format at ``scale``
times the size (any size: nothing needs to be a multiple of anything). Devices: ``cpu`` (numba
twins) and ``cuda`` (the kernels; the flow stays on the host). Latency and warm-up: ``radius``
frames. Memory: the window's frames and their flows, whatever the video's length.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .. import device as devices
from ..errors import ConfigError
from ..formats import PLANAR, require_planar
from ..frame import Frame, StreamInfo
from ..geometry import scale_meta
from ..node import TemporalNode
from ..registry import register

#: Frames whose short side has fewer lines get their flow computed on a 2x enlarged guide.
UPSCALE_BELOW = 240
#: ``motion: auto`` uses DIS's "medium" preset on guides up to this many pixels, else "fast".
MEDIUM_UP_TO = 160_000
#: A frame whose guide the previous frame explains this badly (fraction of pixels) is a cut.
CUT_FRACTION = 0.4
#: BT.601 luma weights of (R, G, B), for RGB formats.
LUMA = (0.299, 0.587, 0.114)
#: ``method: net``: cuts are told on a guide of this many lines (the flow itself is not needed).
NET_GUIDE_LINES = 90
#: ``method: net``, ``tile: 0``: frames up to this many low-res pixels a side go through whole.
AUTO_TILE = 1024
#: Low-res pixels of context around a tile, beyond the network's receptive radius (about 27 for
#: the shipped design; tests/models/test_tiling.py checks tiles against whole frames).
TILE_OVERLAP = 32
#: Order of the planes of the RGB formats, as indices of R, G, B.
_RGB_ORDER = {"gbrp": (2, 0, 1), "rgbpf32": (0, 1, 2)}


@dataclass(frozen=True)
class VsrParams:
    scale: int = field(default=2, metadata={"help": "upscaling factor: 2, 3 or 4"})
    method: Literal["flow", "net"] = field(default="flow", metadata={
        "help": "flow: multi-frame reconstruction from optical flow and back-projection (no weights); "
                "net: the project's sliding-window network (weights shipped in vproc/weights/, or weights:)"})
    radius: int = field(default=2, metadata={
        "help": "flow: frames on each side used for each frame, 0..3 (latency in frames); "
                "net: the weights' own window is used"})
    iterations: int = field(default=3, metadata={"help": "flow: back-projection iterations, 1..20"})
    step: float = field(default=1.5, metadata={"help": "flow: back-projection step size, 0.1..2"})
    tolerance: float = field(default=12.0, metadata={
        "help": "flow: patch RMS difference (8-bit codes, 1..100) at which an aligned neighbour's weight "
                "falls to 1/e; lower rejects more (safer at occlusions), higher fuses more"})
    motion: Literal["auto", "fast", "medium"] = field(default="auto", metadata={
        "help": "flow: DIS optical flow preset; auto: medium on small frames, fast on large ones"})
    weights: str = field(default="", metadata={
        "help": "net: a weights file from 'vproc train vsr' (default: the shipped vsrnet_x<scale>_<degradation>.pt)"})
    degradation: Literal["auto", "clean", "stream", "bi", "bd"] = field(default="auto", metadata={
        "help": "net: which shipped weights: stream (trained on bicubic downscaling then real x264/x265/VP9/AV1 "
                "encoding), clean or bi (bicubic only), bd (blur, then subsample); auto: stream for frames "
                "decoded from a lossy delivery codec (H.264, HEVC, VP9, AV1, ...), where they are shipped, else bi"})
    adapt: int = field(default=0, metadata={
        "help": "net: before upscaling, fine-tune on the video's own frames downscaled (self-supervised) for "
                "this many steps, 0..5000 (0: off); see adapt_frames"})
    adapt_frames: int = field(default=32, metadata={
        "help": "net: frames at the start of the video held and adapted on, 2..1000 (their output waits for it)"})
    tile: int = field(default=0, metadata={
        "help": "net: process frames in tiles of this many low-res pixels square (with overlap), 0: auto "
                "(whole frames up to 1024x1024, tiles of 1024 above), else 32..4096"})

    def __post_init__(self):
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale must be one of 2, 3, 4 (got {self.scale})")
        if self.method not in ("flow", "net"):
            raise ValueError(f"method must be flow or net (got {self.method!r})")
        if not 0 <= self.radius <= 3:
            raise ValueError(f"radius must be within 0..3 (got {self.radius})")
        if not 1 <= self.iterations <= 20:
            raise ValueError(f"iterations must be within 1..20 (got {self.iterations})")
        if not 0.1 <= self.step <= 2:
            raise ValueError(f"step must be within 0.1..2 (got {self.step})")
        if not 1 <= self.tolerance <= 100:
            raise ValueError(f"tolerance must be within 1..100 (got {self.tolerance})")
        if self.motion not in ("auto", "fast", "medium"):
            raise ValueError(f"motion must be auto, fast or medium (got {self.motion!r})")
        if self.degradation not in ("auto", "clean", "stream", "bi", "bd"):
            raise ValueError(f"degradation must be auto, clean, stream, bi or bd (got {self.degradation!r})")
        if not 0 <= self.adapt <= 5000:
            raise ValueError(f"adapt must be within 0..5000 steps (got {self.adapt})")
        if self.adapt and self.method != "net":
            raise ValueError("adapt needs method: net (the flow method has no weights to adapt)")
        if not 2 <= self.adapt_frames <= 1000:
            raise ValueError(f"adapt_frames must be within 2..1000 (got {self.adapt_frames})")
        if self.tile and not 32 <= self.tile <= 4096:
            raise ValueError(f"tile must be 0 (auto) or within 32..4096 (got {self.tile})")


#: Lossy delivery codecs (FFmpeg's names): frames decoded from them carry blocking, ringing and
#: smeared texture, for which ``degradation: auto`` picks the ``stream`` weights.
STREAM_CODECS = frozenset({
    "h264", "hevc", "vvc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "h263", "h263p",
    "msmpeg4v2", "msmpeg4v3", "wmv1", "wmv2", "wmv3", "vc1", "theora", "flv1", "rv40", "mjpeg",
})


def weights_degradation(degradation: str, scale: int, codec: str | None) -> str:
    """The shipped weights' degradation for the node's ``degradation`` on frames decoded from
    ``codec``: ``auto`` is ``stream`` for :data:`STREAM_CODECS` when weights for ``scale`` are
    shipped, else ``bi``; ``clean`` is ``bi``; the others are themselves."""
    from ..models import vsrnet

    if degradation == "clean":
        return "bi"
    if degradation == "auto":
        stream = codec in STREAM_CODECS and vsrnet.default_weights(scale, "stream").is_file()
        return "stream" if stream else "bi"
    return degradation


@register("vsr")
class Vsr(TemporalNode):
    """Video super-resolution on the luma, chroma bicubic: optical-flow registration of 2r+1
    frames, robust weights and iterative back-projection (``flow``), or the sliding-window
    network, optionally adapted to the video first (``net``); see the module docstring."""

    Params = VsrParams
    devices = ("cpu", "cuda")
    # Negotiated conversions (Node.preferred_format) keep family, chroma and depth: packed RGB
    # becomes gbrp, a lossless reordering (the luma guide is computed from R, G, B as for
    # rgbpf32, and the detail added back to each channel), rather than yuv444p, which would
    # round-trip the colours through a matrix and 8-bit rounding.
    formats = PLANAR
    formats_note = "planar formats"

    def check(self, info: StreamInfo) -> None:
        fmt = require_planar(info.format, "vsr")
        if fmt.family == "rgb" and fmt.name not in _RGB_ORDER:
            raise ConfigError(f"vsr: unsupported RGB format {info.format} (use rgbpf32 or gbrp)")
        if min(info.width, info.height) < 8:
            raise ConfigError(f"vsr needs frames of at least 8x8 pixels (got {info.width}x{info.height})")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        from .. import kernels  # numba compiles on first use: only graphs that need it
        from ..motion import FlowWindow

        p = self.params
        self.kernels = kernels
        self.s = p.scale
        self.radius = p.radius
        self.fmt = info.pixel_format
        self.peak = float(self.fmt.max_value)
        self.lr = (info.height, info.width)
        self.hr = (info.height * p.scale, info.width * p.scale)
        self.out_shapes = self.fmt.plane_shapes(self.hr[1], self.hr[0])
        self.rgb = _RGB_ORDER.get(self.fmt.name) if self.fmt.family == "rgb" else None
        self.net = None
        self.future = None  # a symmetric window, but for a causal network
        self.adapt_stats: dict | None = None
        self._pending: list[Frame] | None = None  # frames held for adapt
        if p.method == "net":
            self._open_net(info)
            # Only cuts are told from the motion: a small guide does.
            self.motion = FlowWindow(info.width, info.height, guide_lines=NET_GUIDE_LINES, preset="fast")
        else:
            upscale = 2 if min(info.width, info.height) < UPSCALE_BELOW else 1
            area = info.width * info.height * upscale * upscale
            preset = p.motion if p.motion != "auto" else ("medium" if area <= MEDIUM_UP_TO else "fast")
            self.motion = FlowWindow(info.width, info.height, guide_lines=max(info.width, info.height),
                                     preset=preset, upscale=upscale)
        self.tolerance = p.tolerance / 255.0
        self.reset()
        return info.resized(self.hr[1], self.hr[0])  # keeps the display aspect ratio (SAR)

    def _open_net(self, info: StreamInfo) -> None:
        """Load the network (the shipped weights unless ``weights`` names a file) onto the node's
        device; its window sets the radius."""
        from ..models import vsrnet
        from ..training.adapt import MIN_CROP, crop_size

        p = self.params
        self.degradation = weights_degradation(p.degradation, p.scale, info.codec)
        path = Path(p.weights) if p.weights else vsrnet.default_weights(p.scale, self.degradation)
        if not p.weights and not path.is_file():
            raise ConfigError(f"vsr: no shipped weights for x{p.scale} ({self.degradation}): {path.name}; train them "
                              f"with 'vproc train vsr --scale {p.scale} --degradation {self.degradation}' or set weights:")
        self.torch_device = "cuda" if self.device == "cuda" else "cpu"
        net = vsrnet.load(path, self.torch_device)
        if net.scale != p.scale:
            raise ConfigError(f"vsr: the weights {path.name} upscale x{net.scale}, the node's scale is {p.scale}")
        if net.channels != 1:
            raise ConfigError(f"vsr: the weights {path.name} are for {net.channels} planes; the node runs luma networks")
        if p.adapt and not crop_size(info.height, info.width, p.scale):
            raise ConfigError(f"vsr adapt: frames of {info.width}x{info.height} are too small to adapt a "
                              f"x{p.scale} network on (at least {MIN_CROP * p.scale}x{MIN_CROP * p.scale})")
        self.net = net
        self.radius = net.radius
        self.future = 0 if net.causal else None  # causal: the output frame last, no latency
        self.tile = p.tile or AUTO_TILE
        self._pending = [] if p.adapt else None

    @property
    def summary(self) -> dict:
        """Scene cuts seen, the ``net`` method's weights (their degradation, or the file set), and
        with ``adapt`` what the adaptation did (steps, seconds, the self-supervised PSNR before
        and after)."""
        out = {"cuts": self.cuts} if hasattr(self, "cuts") else {}
        if self.net is not None:
            out["weights"] = self.params.weights or self.degradation
        if self.adapt_stats is not None:
            out["adapt"] = self.adapt_stats
        return out

    def reset(self) -> None:
        """Forget all state (held frames, flows): the next frame starts a clip."""
        self._clear()
        self._luma: dict[int, object] = {}
        self._feats: dict[int, object] = {}  # method net: the network's features of each held frame
        self.motion.reset()
        #: The last output's numbers, for tests and diagnostics: ``neighbours`` fused, and
        #: ``cuts``: scene cuts detected so far.
        self.last: dict = {}
        self.cuts = 0

    # -- arrival: luma, flows to the previous frame, cut detection -------------------------

    def process(self, frame: Frame) -> list[Frame]:
        if self._pending is not None:  # adapt: hold the first frames, adapt on them, then go on
            self._pending.append(frame)
            return self._adapt() if len(self._pending) >= self.params.adapt_frames else []
        return self._arrive(frame)

    def flush(self) -> list[Frame]:
        out = self._adapt() if self._pending is not None else []
        return out + super().flush()

    def _adapt(self) -> list[Frame]:
        """Fine-tune the network on the held frames (:func:`vproc.training.adapt.adapt`), then
        let them through."""
        from ..training.adapt import adapt

        held, self._pending = self._pending, None
        lumas = []
        for f in held:
            y = self._luma_of(f)
            lumas.append(y.get() if devices.is_cupy(y) else y)
        # (stream weights adapt on bicubic-downscaled pairs: their spatial model; not re-encoded)
        self.adapt_stats = adapt(self.net, lumas, self.params.adapt,
                                 degradation="bi" if self.degradation == "stream" else self.degradation,
                                 device=self.torch_device)
        out = []
        for f in held:
            out += self._arrive(f)
        return out

    def _arrive(self, frame: Frame) -> list[Frame]:
        luma = self._luma_of(frame)
        key = id(frame)
        out = []
        self.motion.add(key, luma)
        if self._count and self.motion.mismatch(key) > CUT_FRACTION:
            out += self.drain()  # windows clamped before the cut; motion forgotten
            self.cuts += 1
            self.motion.add(key, luma)  # the first frame of the new clip
        self._luma[key] = luma
        out += super().process(frame)
        held = {id(f) for f in self._held}
        for table in (self._luma, self._feats):  # ids are reused once frames are gone: forget them
            for k in [k for k in table if k not in held]:
                del table[k]
        self.motion.keep(held | {key})  # the newest frame is the next one's reference (radius 0)
        return out

    def drain(self) -> list[Frame]:
        out = super().drain()
        self._luma.clear()
        self._feats.clear()
        self.motion.reset()
        return out

    def _luma_of(self, frame: Frame):
        """The frame's luma as float32 in [0, 1] on its device."""
        xp = np if frame.device == "cpu" else devices.cupy()
        planes = frame.planes
        inv = np.float32(1.0 / self.peak)
        if self.rgb is None:
            return xp.multiply(planes[0], inv, dtype=np.float32)
        r, g, b = (planes[i] for i in self.rgb)
        y = xp.multiply(r, np.float32(LUMA[0] / self.peak), dtype=np.float32)
        y += xp.multiply(g, np.float32(LUMA[1] / self.peak), dtype=np.float32)
        y += xp.multiply(b, np.float32(LUMA[2] / self.peak), dtype=np.float32)
        return y

    # -- output: register, weigh, back-project -------------------------------------------

    def process_window(self, window: list[Frame], center: Frame) -> list[Frame]:
        if self.net is not None:
            return self._net_window(window, center)
        k = self.kernels
        xp = np if center.device == "cpu" else devices.cupy()
        keys = [id(f) for f in window]
        to_nbr = self.motion.flows(keys, self.radius)
        to_center = self.motion.flows_to(keys, self.radius)
        assert [a for a, _ in to_nbr] == [b for b, _ in to_center]
        h, w = self.lr
        y_c = self._luma[keys[self.radius]]
        n = len(to_nbr)
        obs = xp.empty((n + 1, h, w), np.float32)
        obs[0] = y_c
        for j, (key, _) in enumerate(to_nbr):
            obs[j + 1] = self._luma[key]
        fwd = bwd = wts = None
        if n:
            fwd = xp.asarray(np.stack([self._lr_flow(f) for _, f in to_nbr]))
            bwd = xp.asarray(np.stack([self._lr_flow(f) for _, f in to_center]))
            aligned = xp.empty((n, h, w), np.float32)
            for j in range(n):
                k.warp(obs[j + 1], fwd[j], out=aligned[j])
            wts = k.vsr_weights(y_c, aligned, self.tolerance)
        hh, ww = self.hr
        x = k.resize(y_c, hh, ww, "bicubic")
        z = xp.empty_like(x)
        resid = xp.empty_like(obs)
        for _ in range(self.params.iterations):
            k.vsr_blur(x, self.s, out=z)
            k.vsr_residual(z, obs, bwd, self.s, out=resid)
            k.vsr_backproject(x, resid, fwd, wts, self.s, self.params.step, out=x)
        self.last = {"neighbours": n}
        # Keypoints and other coordinates in meta follow the pixels (vproc.geometry).
        meta = scale_meta(center.meta, self.s, self.s)
        return [center.with_data(self._output(xp, center, x), meta=meta)]

    def _net_window(self, window: list[Frame], center: Frame) -> list[Frame]:
        """``method: net``: the window's luma through the network (in tiles when large); the
        luma planes cross to torch and back without copies (DLPack on CUDA)."""
        import torch

        from ..models.tiling import upscale_tiled
        from ..models.vsrnet import MULTIPLE

        xp = np if center.device == "cpu" else devices.cupy()
        keys = [id(f) for f in window]
        stack = xp.stack([self._luma[k] for k in keys])
        h, w = self.lr
        with torch.inference_mode(), _torch_stream(xp):
            x = torch.from_numpy(stack) if xp is np else torch.from_dlpack(stack)
            if max(h, w) <= self.tile:  # one pass: each frame's features are computed once, not per window
                for k, plane in zip(keys, x):
                    if k not in self._feats:
                        self._feats[k] = self.net.features(self.net.pad(plane[None, None]))
                feats = torch.stack([self._feats[k][0] for k in keys])[None]
                y = self.net(x[None, :, None], feats)[0, 0]
            else:
                y = upscale_tiled(self.net, x[None, :, None], self.s, self.tile, TILE_OVERLAP, MULTIPLE)[0, 0]
            luma = y.numpy() if xp is np else xp.from_dlpack(y)
        self.last = {"neighbours": len(set(keys)) - 1}
        meta = scale_meta(center.meta, self.s, self.s)
        return [center.with_data(self._output(xp, center, luma), meta=meta)]

    def _lr_flow(self, flow: np.ndarray) -> np.ndarray:
        """A guide-size flow at the LR frame's size, in LR pixels."""
        h, w = self.lr
        gh, gw = flow.shape[:2]
        if (gh, gw) == (h, w):
            return flow
        import cv2

        small = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA)
        small[..., 0] *= np.float32(w / gw)
        small[..., 1] *= np.float32(h / gh)
        return small

    def _output(self, xp, frame: Frame, luma):
        """The output planes: the reconstructed luma plus bicubic chroma (YUV), or the luma detail
        added to every bicubically upscaled channel (RGB); rounded and clamped for integers."""
        k = self.kernels
        dev = "cpu" if xp is np else "cuda"
        dtype = self.fmt.dtype
        planes = frame.planes
        if self.rgb is None:
            out = [luma]
            for plane, shape in zip(planes[1:], self.out_shapes[1:]):
                out.append(k.resize(xp.multiply(plane, np.float32(1.0 / self.peak), dtype=np.float32),
                                    shape[0], shape[1], "bicubic"))
        else:
            src = xp.stack([xp.multiply(p, np.float32(1.0 / self.peak), dtype=np.float32) for p in planes])
            up = k.resize(src, self.hr[0], self.hr[1], "bicubic")
            r, g, b = (up[i] for i in self.rgb)
            detail = luma - (np.float32(LUMA[0]) * r + np.float32(LUMA[1]) * g + np.float32(LUMA[2]) * b)
            out = [up[i] + detail for i in range(3)]
        whole = None
        if self.fmt.name == "rgbpf32":  # one (3, H, W) array, as the kernels and resize give it
            whole = devices.empty((3,) + tuple(self.out_shapes[0]), dtype, dev)
        result = []
        for i, (plane, shape) in enumerate(zip(out, self.out_shapes)):
            dst = devices.empty(shape, dtype, dev) if whole is None else whole[i]
            xp.clip(plane, 0.0, 1.0, out=plane)
            if dtype == np.float32:
                dst[...] = plane
            else:
                xp.multiply(plane, np.float32(self.peak), out=plane)
                xp.rint(plane, out=plane)
                dst[...] = plane
            result.append(dst)
        if whole is not None:
            return whole
        return tuple(result) if len(result) > 1 else result[0]


def _torch_stream(xp):
    """On CUDA, torch's work goes on the CuPy stream the runtime made current for this thread
    (the kernels before and after it are ordered with it); on the CPU nothing."""
    if xp is np:
        return contextlib.nullcontext()
    import torch

    return torch.cuda.stream(torch.cuda.ExternalStream(xp.cuda.get_current_stream().ptr))


__all__ = ["Vsr", "VsrParams"]
