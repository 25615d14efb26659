"""``denoise``: temporal, motion-compensated video denoising with a spatial pass.

For each output frame the node fuses a window of ``2 * radius + 1`` frames (clamped at the clip's
ends) around it, every plane on its own, in floats in [0, 1]:

1. Motion (:class:`vproc.motion.FlowWindow`). OpenCV's DIS optical flow on a small grey guide
   of every frame (the first plane, luma or green, shrunk to about 360 lines), once per pair of
   consecutive frames in both directions, chained to the frames further away. The flow is
   computed on the host, at the guide's size, on both devices.
2. Alignment. Every neighbour's planes are backward-warped onto the centre frame
   (:func:`vproc.kernels.warp`, bilinear).
3. Temporal fusion (:mod:`vproc.kernels.denoise`). Per pixel and neighbour, the mean squared
   difference to the centre over a 3 x 3 patch ``d``; for a well-aligned neighbour ``E[d] = 2
   sigma^2``, so only the excess counts: weight about ``exp(-max(d - 2 sigma^2, 0) / (tolerance
   sigma^2))``, the centre weighs 1. Static and well-tracked regions average all ``2 radius + 1``
   frames (noise down by up to ``sqrt(5)`` at radius 2); where the flow is wrong (occlusions,
   fast or non-rigid motion, a scene cut) the neighbours' patches differ and fade out: no
   ghosting, at the cost of less denoising there.
4. Spatial pass (``spatial: true``): a local Wiener filter over 3 x 3 windows removes the noise
   variance the fusion left, which is known per pixel (``sigma^2 sum(w^2) / sum(w)^2``): strong
   where the fusion found no partner, gentle where it averaged many frames. (3 x 3 measured
   better than 5 x 5 on Vid4: +0.2 dB at sigma 15 and +0.3 dB at sigma 25.)
5. Mean kept: each output plane is shifted by its difference of mean to the input plane (then
   clamped to the range). Removing zero-mean noise should not change a frame's brightness, but
   the weighted fusion is slightly biased where noise is skewed (dark, clipped shadows: the
   weights correlate with the values), by about 0.1 code, varying from frame to frame with the
   motion; a later brightening curve amplifies that into flicker. Measured in
   benchmarks/lowlight.py: the graph's flicker 0.110 without this step, 0.065 with it, PSNR
   20.22 / 20.21 dB; benchmarks/denoise.py PSNR unchanged to 0.01 dB at sigma 15 and 40 and
   Poisson-Gaussian.

``strength: auto`` estimates sigma for every plane twice: spatially, from the frame alone
(:func:`vproc.kernels.estimate_noise`, robust to edges and texture, but it sees only the finest
spatial frequencies: right for white noise, blind to the spatially correlated noise of real
cameras and of codecs), and temporally, from the frame and the frame before it aligned onto it
by the flow (:func:`vproc.kernels.estimate_temporal_noise`: the noise that changes from frame
to frame, correlated or not; skipped across a scene cut, where FlowWindow's mismatch is over
``CUT_MISMATCH``). Sigma is the larger of the spatial estimate and ``TEMPORAL_GAIN`` times the
temporal one: the fusion's patch distances of correlated noise spread wider than those of white
noise of the same variance (fewer independent samples per patch), and the 3 x 3 Wiener pass sees
less of it, so both need a larger sigma to act on it; the gain also undoes the temporal
estimate's bias on moving white noise (up to -15 %, bilinear alignment). Measured on two clips
that are not Vid4 (openpose's street video area-downscaled to 640x360, and vtest, 16 frames
each, with fixed strengths swept): PSNR peaks at 1.2 to 1.6 times the true sigma for white,
Poisson-Gaussian and correlated noise alike.

Frames decoded from 8-bit H.264 also carry their quantiser (the source has the decoder export
it when a node reads it, ``Node.reads_meta``: ``Frame.meta["h264_qp"]``, the mean over the
macroblocks), and sigma is at least ``CODING_NOISE`` times its quantiser step
``2 ** ((QP - 4) / 6)``: a codec keeps noise partly as a pattern that stays from frame to frame
where it skips blocks and flattens it elsewhere, so the estimates see little of what it left,
and the fusion and the Wiener pass reduce that error too. Measured on the same two clips
through libx264 (QP about 28, 33 and 39 at crf 23, 28 and 33): PSNR peaks near sigma 4 at crf
28 and 33, clean or noisy before encoding, where the estimates alone gave 0.1 to 2; 0.12 puts
the floor at about 2, 3.4 and 7 for crf 23, 28 and 33 (+0.1 to +1.1 dB, never worse).

The two estimates also tell white noise from correlated noise: on white noise the spatial one
is about the temporal one (1.0 to 1.2 times), on correlated noise a fraction of it (0.2 on the
clips above, through a codec too). Below ``CORRELATED_RATIO`` the plane's Wiener pass averages
over ``WIENER_CORRELATED`` (5 x 5) instead of 3 x 3 windows: a 3 x 3 mean of correlated noise
keeps most of it. Measured on the same clips: +0.5 and +0.1 dB on correlated noise (+0.4 and
+0.1 through x264 crf 23), where 5 x 5 on white noise loses 0.3 to 0.6 dB, hence not always.

Estimates are taken on the first two frames (the first temporal one replaces the first frame's
spatial-only value, before that frame is output) and every ``ESTIMATE_EVERY``-th frame after
(every 8th: the temporal estimate costs as much as the spatial one, a warp and two medians, and
every 4th with both measured 13 % slower at 720p than every 4th with the spatial one alone),
and the variance is smoothed over time with an exponential moving average of time constant
``NOISE_SMOOTHING`` seconds of frame time, so a single odd frame does not change the
filtering. A number sets sigma directly, in 8-bit code values for every
plane (scaled for deeper formats: 10 means 40 at 10 bits).

Formats: planar 8- and 16-bit (``yuv420p``, ``yuv422p``, ``yuv444p``, their ``10le`` forms,
``gray*``, ``gbrp``) and ``rgbpf32`` (``formats``); in a graph, any other input gets a conversion
inserted (format negotiation, :mod:`vproc.runtime`): packed 8-bit RGB (``rgb24``, ``bgr24``) to
``gbrp``, ``rgb48le`` to ``rgbpf32``, ``nv12``/``p010le`` to ``yuv420p``/``yuv420p10le``. Devices: ``cpu`` (numba twins) and ``cuda`` (the kernels; the flow stays on the host, so a
small guide is downloaded and small flow fields are uploaded every frame).
Latency and warm-up: ``radius`` frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .. import device as devices
from ..device import is_cupy
from ..formats import PLANAR, require_planar
from ..frame import Frame, StreamInfo
from ..node import TemporalNode
from ..registry import register
from ..smoothing import TimeEMA

#: ``strength: auto`` re-estimates the noise on every this many frames.
ESTIMATE_EVERY = 8
#: Time constant (seconds of frame time) of the smoothing of the estimated noise variance.
NOISE_SMOOTHING = 1.0
#: Sigma is at least this times the temporal estimate (module docstring).
TEMPORAL_GAIN = 1.4
#: Sigma is at least this times H.264's quantiser step ``2 ** ((QP - 4) / 6)`` of the frame (its
#: mean QP, exported by the decoder: Frame.meta["h264_qp"]), in 8-bit codes (module docstring).
CODING_NOISE = 0.12
#: No temporal estimate where more than this fraction of the frame is not explained by the one
#: before it (FlowWindow.mismatch): a scene cut, whose difference is not noise.
CUT_MISMATCH = 0.3
#: Window size of the Wiener pass (the temporal weights use 3 x 3 patches) ...
WIENER = 3
#: ... and on a plane whose noise is spatially correlated: its spatial estimate below
#: CORRELATED_RATIO times its temporal one (module docstring).
WIENER_CORRELATED = 5
CORRELATED_RATIO = 0.5
#: Smallest sigma used (in [0, 1] units; a tenth of an 8-bit code): clean input stays as it is.
MIN_SIGMA = 0.1 / 255.0


@dataclass(frozen=True)
class DenoiseParams:
    strength: float | Literal["auto"] = field(default="auto", metadata={
        "help": "noise sigma in 8-bit code values (0.1..100), or auto: estimated from the video, per plane"})
    radius: int = field(default=2, metadata={
        "help": "frames on each side fused with each frame, 1..3 (latency in frames)"})
    tolerance: float = field(default=1.0, metadata={
        "help": "how far a neighbour's patch may differ beyond the noise before it is left out, "
                "in noise variances (0.1..10); higher averages more and risks ghosting"})
    spatial: bool = field(default=True, metadata={
        "help": "a spatial pass (local Wiener filter) after the temporal fusion"})

    def __post_init__(self):
        if self.strength != "auto" and not 0.1 <= self.strength <= 100:
            raise ValueError(f"strength must be auto or within 0.1..100 (got {self.strength})")
        if not 1 <= self.radius <= 3:
            raise ValueError(f"radius must be within 1..3 (got {self.radius})")
        if not 0.1 <= self.tolerance <= 10:
            raise ValueError(f"tolerance must be within 0.1..10 (got {self.tolerance})")


class _Record:
    """What the node keeps of one held frame: float planes, and per plane the noise variance and
    the Wiener window used for it."""

    __slots__ = ("planes", "var", "wiener")

    def __init__(self, planes, var, wiener):
        self.planes = planes  # float32 planes in [0, 1] on the node's device
        self.var = var  # noise variance per plane used for this frame
        self.wiener = wiener  # Wiener window per plane


@register("denoise")
class Denoise(TemporalNode):
    """Temporal denoiser: motion-compensated fusion of 2r+1 frames plus a spatial Wiener pass."""

    Params = DenoiseParams
    devices = ("cpu", "cuda")
    reads_meta = ("h264_qp",)
    # Planes are filtered one by one, so any planar layout works; the negotiated conversion
    # (Node.preferred_format: FFmpeg's nearest) keeps family, chroma and depth. For packed RGB
    # that is gbrp, not yuv444p: a lossless reordering of the same samples (no RGB -> YUV -> RGB
    # round trip), the green plane is a good flow guide, and the noise of each camera channel is
    # estimated where it is; 16-bit RGB goes to rgbpf32, as vproc has no gbrp16.
    formats = PLANAR
    formats_note = "planar formats"

    def check(self, info: StreamInfo) -> None:
        require_planar(info.format, "denoise")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        from .. import kernels  # numba compiles on first use: only graphs that need it
        from ..motion import FlowWindow

        self.kernels = kernels
        self.motion = FlowWindow(info.width, info.height)
        self.radius = self.params.radius
        fmt = info.pixel_format
        self.fmt = fmt
        self.scale = 1.0 if fmt.is_float else float(fmt.max_value)
        self.shapes = fmt.plane_shapes(info.width, info.height)
        fixed = self.params.strength
        # A number is sigma in 8-bit codes; planes are in [0, 1] whatever the depth.
        self.fixed_var = None if fixed == "auto" else (float(fixed) / 255.0) ** 2
        self.reset()
        return info

    def reset(self) -> None:
        """Forget all state (held frames, flows, the noise estimate): the next frame starts a clip."""
        self._clear()
        self._records: dict[int, _Record] = {}
        self.motion.reset()
        self._var = TimeEMA(NOISE_SMOOTHING)  # smoothed noise variance per plane
        self._seen = 0
        self._wiener = [WIENER] * len(self.shapes)  # per plane, from the last temporal estimate
        self._temporal = None  # the last temporal estimate (8-bit codes per plane)
        #: The last estimate's parts (``strength: auto``), for tests and diagnostics: sigma
        #: per plane in 8-bit codes; ``temporal`` None where none was made this time (not due,
        #: no frame before it, or a cut).
        self.last_estimate: dict = {"spatial": None, "temporal": None, "coding": None}
        #: The last frame's numbers, for tests and diagnostics: ``sigma`` per plane (8-bit
        #: codes), ``neighbours`` fused.
        self.last: dict = {}

    # -- arrival: float planes, guide, flows to the previous frame, noise estimate ----------

    def process(self, frame: Frame) -> list[Frame]:
        xp = np if frame.device == "cpu" else devices.cupy()
        planes = [xp.multiply(p, np.float32(1.0 / self.scale), dtype=np.float32) for p in frame.planes]
        self.motion.add(id(frame), planes[0])
        var = self._noise(planes, frame)
        self._records[id(frame)] = _Record(planes, var, tuple(self._wiener))
        out = super().process(frame)
        held = {id(f) for f in self._held}
        for key in [k for k in self._records if k not in held]:
            del self._records[key]
        self.motion.keep(held)
        return out

    def drain(self) -> list[Frame]:
        out = super().drain()
        self._records.clear()
        self.motion.reset()
        return out

    def _noise(self, planes, frame: Frame) -> list[float]:
        """The noise variance per plane for this frame: fixed, or estimated and smoothed."""
        if self.fixed_var is not None:
            return [self.fixed_var] * len(planes)
        first_pair = self._seen == 1
        if self._seen % ESTIMATE_EVERY == 0 or first_pair:
            sigma = self._estimate(planes, id(frame), frame.meta.get("h264_qp"))
            if first_pair and self.last_estimate["temporal"] is not None:
                self._var.reset()  # the first frame's spatial-only value gives way (docstring)
            self._var.update((sigma / 255.0) ** 2, frame.time)
            if first_pair:
                for rec in self._records.values():  # not output yet: latency is radius >= 1 frames
                    rec.var, rec.wiener = self._floored(), tuple(self._wiener)
        self._seen += 1
        return self._floored()

    def _floored(self) -> list[float]:
        return [max(float(v), MIN_SIGMA ** 2) for v in self._var.value]

    def _estimate(self, planes, key, qp: float | None) -> np.ndarray:
        """Sigma per plane in 8-bit codes: the largest of the spatial estimate, TEMPORAL_GAIN
        times the temporal one and the coding error's level from the frame's H.264 ``qp``
        (module docstring)."""
        k = self.kernels
        spatial = np.array([k.estimate_noise(p, bits=8) for p in planes])
        temporal = None
        link = self.motion.previous(key)
        prev = self._records.get(link[0]) if link is not None else None
        if prev is not None and self.motion.mismatch(key) <= CUT_MISMATCH:
            flow = devices.cupy().asarray(link[1]) if is_cupy(planes[0]) else link[1]
            temporal = np.array([k.estimate_temporal_noise(p, k.warp(q, flow), bits=8)
                                 for p, q in zip(planes, prev.planes)])
        coding = None if qp is None else CODING_NOISE * 2.0 ** ((qp - 4.0) / 6.0)
        self.last_estimate = {"spatial": spatial, "temporal": temporal, "coding": coding}
        if temporal is not None:
            self._temporal = temporal
            self._wiener = [WIENER_CORRELATED if sp < CORRELATED_RATIO * t else WIENER for sp, t in zip(spatial, temporal)]
        temporal = self._temporal  # the latest (the estimates in between keep it)
        sigma = spatial if temporal is None else np.maximum(spatial, TEMPORAL_GAIN * temporal)
        return sigma if coding is None else np.maximum(sigma, coding)

    # -- output: align, fuse, spatial pass ---------------------------------------------------

    def process_window(self, window: list[Frame], center: Frame) -> list[Frame]:
        rec = self._records[id(center)]
        flows = [(self._records[key], flow) for key, flow in
                 self.motion.flows([id(f) for f in window], self.radius)]
        xp = np if center.device == "cpu" else devices.cupy()
        # The warp resamples the guide-size flows to each plane's size itself.
        fields = [flow if xp is np else xp.asarray(flow) for _, flow in flows]
        others = [o for o, _ in flows]
        out = [self._plane(xp, i, plane, shape, others, fields, rec.var[i], rec.wiener[i])
               for i, (plane, shape) in enumerate(zip(rec.planes, self.shapes))]
        self.last = {"sigma": [math.sqrt(v) * 255.0 for v in rec.var], "neighbours": len(flows),
                     "wiener": list(rec.wiener)}
        return [center.with_data(tuple(out) if len(out) > 1 else out[0])]

    def _plane(self, xp, i, plane, shape, others, flows, var, wiener):
        k = self.kernels
        dtype = self.fmt.dtype
        if flows:
            nbrs = xp.empty((len(flows),) + tuple(shape), np.float32)
            for j, (other, flow) in enumerate(zip(others, flows)):
                k.warp(other.planes[i], flow, out=nbrs[j])
            fused, resid = k.fuse_temporal(plane, nbrs, var, self.params.tolerance)
        else:  # a clip of one frame: nothing to fuse
            fused, resid = plane, xp.full(shape, var, np.float32)
        if self.params.spatial:
            mean, local_var = k.local_mean_var(fused, wiener)
            fused = k.wiener_shrink(fused, mean, local_var, resid, out=fused if flows else None)
        if flows or self.params.spatial:  # step 5: the frame's mean brightness kept (no device sync)
            fused += plane.mean() - fused.mean()
            xp.clip(fused, 0.0, 1.0, out=fused)
        result = devices.empty(shape, dtype, "cpu" if xp is np else "cuda")
        if dtype == np.float32:
            result[...] = fused
        else:
            scaled = xp.multiply(fused, np.float32(self.scale), out=fused if (flows or self.params.spatial) else None)
            xp.rint(scaled, out=scaled)
            result[...] = scaled  # in [0, scale] already: the kernels clamp to [0, 1]
        return result


__all__ = ["Denoise", "DenoiseParams"]
