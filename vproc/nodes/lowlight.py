"""``lowlight``: exposure and contrast recovery by a per-frame curve, smoothed over time.

Three methods (``method``): ``curve`` (the default), a parametric curve solved per frame for a
target exposure; ``net``, curves estimated per pixel region by a small trained network;
``linear``, one gain per frame in linear light, which is what an underexposure took away. All
work on ``rgbpf32`` (in a graph any other input is converted to it by format negotiation,
:mod:`vproc.runtime`), on ``cpu`` or ``cuda``,
keep hue (every channel of a pixel scaled alike), never clip, and hold no frames (latency 0).

``method: curve``
-----------------

Per pixel (:mod:`vproc.kernels.lowlight`): the curve ``f(x, a) = (a + 1) x / (x + a)`` on the
intensity ``I = max(R, G, B)``, every channel scaled by ``f(I) / I``: monotonic, ``0 -> 0`` and
``1 -> 1``, hue and channel ratios kept, nothing clipped; on ``cpu`` the numba twin, on ``cuda``
the kernel.

Per frame, the curve's parameter is chosen to reach an exposure, then smoothed over time:

1. Estimate. A 256-bin histogram of ``I`` over every 4th pixel of every 4th row (with each bin's
   mean ``I``) gives the mean output intensity ``M(s)`` for any ``s = 1 / a`` without touching the
   frame again; ``M`` increases with ``s``. Bisection finds the ``s`` where ``M(s) = target``,
   within ``0 <= s <= max_gain - 1`` (``1 + s`` is the curve's slope at 0, the gain on the darkest
   tones and on their noise). A frame already at or above ``target`` gets ``s = 0``: the identity,
   and the node passes it through untouched.
2. Smooth. The log gain ``u = log(1 + s)`` follows an exponential moving average with time
   constant ``smoothing`` seconds over the frames' own times: ``u += (1 - exp(-dt / smoothing))
   (u_wanted - u)`` with ``dt`` the real time since the previous frame, so variable frame rates
   smooth by time, not by frame count. (``log(1 + s) = log((a + 1) / a)`` rather than ``log a``:
   it is 0 at the identity, where ``log a`` is infinite, and ``-log a`` for small ``a``.)
   Gains within 1e-4 of 1 snap to the identity.
3. Bound. The mean output intensity moves by at most ``max_step`` from one frame to the next:
   when the smoothed ``s`` would move it further (the source itself flickers, or a cut), ``s`` is
   set, for that frame only, to where ``M(s)`` is at the bound. The guarantee holds whenever the
   curve family can meet it: the curve never darkens, nor brightens past ``max_gain``, so a
   source that jumps brighter by more than ``max_step`` with ``s`` already 0 jumps in the output
   too. Measured on the histogram of every 4th pixel (the full frame's mean follows it within
   about 2e-3 in the tests), and loose by at most 1e-4 where a gain snaps to the identity.

On ``cuda`` the 2 KiB histogram is downloaded each frame, which waits for that frame's upload
and histogram (one stream synchronisation per frame).

``method: linear``
------------------

Underexposure is a gain in linear light (less light reached the sensor); a curve on the coded
values cannot undo it, whatever its parameter. Per pixel (:func:`vproc.kernels.lowlight.apply_linear_gain`,
numba twin and ``native/lowlight.cu``): each channel is linearised with the stream's transfer
function (its colour tag: sRGB, BT.709/601/2020, PQ, HLG, linear, gamma 2.2/2.8; untagged, BT.709
for frames converted from YUV video and sRGB otherwise), multiplied by the frame's gain, and
encoded back; above a knee (0.75 of full scale in linear light) a shoulder takes up what the gain
adds, so a full-scale input lands on 1 exactly and nothing clips hard (a large gain still crowds
bright lights into the top codes), and channel ratios in linear light (hue) are kept. Gain 1 is
the identity.

Per frame the gain is found, smoothed and bounded as the curve's parameter (steps 1-3 above, on
the same histogram, with ``1 + s`` the gain and the output intensity of a bin the per-pixel
function applied to it): the mean output intensity aims at ``target``, the gain stays within
``1..max_gain``, its log follows the time-constant average, the mean moves at most ``max_step``
a frame. And scene cuts restart it: a frame whose tonal shape (the distribution of its log
linear intensity about its mean, which an exposure change leaves alone) has more than half its
samples in other bins than the previous frame's (:data:`CUT`) gets its own gain at once,
neither smoothed nor bounded against the shot before.

``method: net``
---------------

:mod:`vproc.models.zerodce`: a Zero-DCE++-style network (10,431 parameters) trained by the
project without references (``vproc train lowlight``; weights and model card in
``vproc/weights/``, or ``weights:`` a file of one's own) looks at the frame shrunk to at most 256
pixels on its short side and returns a map ``A`` in [-1, 1] of curve parameters, smooth over the
picture; upsampled to full size, ``LE(x) = x + A x (1 - x)`` is applied 8 times to ``I = max(R, G,
B)`` and every channel is scaled by ``LE(I) / I``. Darker regions get stronger curves than
brighter ones (the ``curve`` method uses one curve for the whole frame). ``target`` and
``max_gain`` do not apply: the exposure is the network's (trained towards a mean intensity of 0.6
per 16x16 patch, held back by keeping local contrast and by the grey-world term).

Over time, per frame (torch, on the frame's device, under ``inference_mode``; on ``cuda`` on this
thread's CuPy stream, the frame shared through DLPack):

1. Smooth. The map's spatial mean ``m`` (over every 2nd pixel of every 2nd row at the network's
   size) follows an exponential moving average ``mu`` with time constant ``smoothing`` over the
   frames' own times, as the ``curve`` method's log gain does;
   the frame is enhanced with its own map shifted by ``mu - m`` (clamped to [-1, 1]). The
   network's spatial detail is the frame's own (no trails behind moving objects, which smoothing
   the whole map per pixel would leave); its overall strength changes smoothly.
2. Bound. The mean output intensity, measured on the same samples of the frame at the
   network's size, moves by at most ``max_step`` from one frame to the next: the shift is set,
   for that frame only, by bisection to where the mean is at the bound (it is increasing in the
   shift). The full frame's mean follows it within about 3e-3 in the tests.

Both steps work in float64 numpy on the samples of the intensity and the map, copied to the host
once per frame (a few tens of KB at 1080p); on ``cuda`` that copy waits for the frame's network
pass (one stream synchronisation per frame).

:attr:`Lowlight.last` holds the last frame's numbers (for tests and diagnostics).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .. import device as devices
from ..errors import ConfigError
from ..frame import Frame, StreamInfo
from ..node import Node
from ..registry import register
from ..smoothing import TimeEMA

#: The format the curve works on: planar float RGB in [0, 1].
FORMAT = "rgbpf32"
#: Histogram subsampling: every STEP-th pixel of every STEP-th row (1/16 of the pixels).
STEP = 4
#: Log gains below this are the identity (gain < 1.0001: under 0.003 of a code at 8 bits).
SNAP = 1e-4
_BISECTIONS = 40  # on u = log(1 + s) in [0, log(max_gain)]: steps of at most 3.5 / 2**40


@dataclass(frozen=True)
class LowlightParams:
    method: Literal["curve", "net", "linear"] = field(default="curve", metadata={
        "help": "curve: the reciprocal curve solved per frame for target; net: the trained curve network (vproc/weights); "
                "linear: one gain per frame in linear light (the stream's transfer), with a highlight shoulder"})
    target: float = field(default=0.45, metadata={
        "help": "curve, linear: mean output intensity (max of R, G, B) aimed for, 0.05..0.95; brighter frames are left as they are"})
    max_gain: float = field(default=8.0, metadata={
        "help": "curve: cap on the gain of the darkest tones (the curve's slope at 0); linear: cap on the gain; 1..64"})
    smoothing: float = field(default=0.5, metadata={
        "help": "time constant in seconds of the smoothing of the curve over time, 0..30 (0: none)"})
    max_step: float = field(default=0.01, metadata={
        "help": "largest change of the mean output intensity from one frame to the next, 0.001..1"})
    weights: str | None = field(default=None, metadata={
        "help": "net: a weights file (state dict) instead of the shipped vproc/weights/zerodce_lowlight.pt"})

    def __post_init__(self):
        if not 0.05 <= self.target <= 0.95:
            raise ValueError(f"target must be within 0.05..0.95 (got {self.target})")
        if not 1 <= self.max_gain <= 64:
            raise ValueError(f"max_gain must be within 1..64 (got {self.max_gain})")
        if not 0 <= self.smoothing <= 30:
            raise ValueError(f"smoothing must be within 0..30 seconds (got {self.smoothing})")
        if not 0.001 <= self.max_step <= 1:
            raise ValueError(f"max_step must be within 0.001..1 (got {self.max_step})")


class Histogram:
    """The intensity histogram of one frame as weights and bin means; ``mean(s)`` is ``M(s)``."""

    def __init__(self, counts: np.ndarray, sums: np.ndarray):
        counts = np.asarray(counts, np.float64)
        used = counts > 0
        self.weights = counts[used] / max(counts.sum(), 1.0)
        self.values = np.asarray(sums, np.float64)[used] / counts[used]

    def mean(self, s: float) -> float:
        """Mean of ``f(I) = I (1 + s) / (1 + s I)`` over the histogram."""
        v = self.values
        return float(self.weights @ (v * (1 + s) / (1 + s * v)))

    def solve(self, target: float, lo: float, hi: float) -> float:
        """The ``s`` in ``[lo, hi]`` with ``mean(s) = target``, or the end nearer to it."""
        if self.mean(lo) >= target:
            return lo
        if self.mean(hi) <= target:
            return hi
        ul, uh = math.log1p(lo), math.log1p(hi)
        for _ in range(_BISECTIONS):
            um = 0.5 * (ul + uh)
            if self.mean(math.expm1(um)) < target:
                ul = um
            else:
                uh = um
        return math.expm1(0.5 * (ul + uh))


class LinearHistogram(Histogram):
    """The same histogram for ``method: linear``: ``mean(s)`` is the mean output intensity
    under the gain ``1 + s`` in linear light (the largest channel maps through
    :func:`vproc.kernels.lowlight.linear_intensity` alone), increasing in ``s``. ``kernels``:
    :mod:`vproc.kernels.lowlight`, which the node imports when it opens."""

    def __init__(self, counts, sums, transfer: int, kernels):
        super().__init__(counts, sums)
        self._out, self.transfer = kernels.linear_intensity, transfer
        # The picture's tonal shape, blind to exposure: the distribution of log linear intensity
        # about its mean (an exposure change shifts log intensity, it does not reshape it).
        logs = np.log(kernels.to_linear(self.values, transfer) + 1e-4)
        centred = logs - float(self.weights @ logs)
        self.shape = np.histogram(centred, bins=SHAPE_BINS, range=(-6.0, 6.0), weights=self.weights)[0]

    def mean(self, s: float) -> float:
        return float(self.weights @ self._out(self.values, 1.0 + s, self.transfer))


#: method linear: a frame whose tonal shape (:attr:`LinearHistogram.shape`, in SHAPE_BINS bins
#: of log intensity about its mean) differs from the previous frame's by more than this, as
#: the share of samples that moved bins, starts a new scene: its gain is estimated afresh,
#: neither smoothed nor bounded against the shot before. A change of exposure alone is no cut.
CUT = 0.5
SHAPE_BINS = 24


@register("lowlight")
class Lowlight(Node):
    """Brighten dark video: a curve on max(R, G, B) per frame (solved for a target, or a trained net) or a gain in linear light, smoothed over time."""

    Params = LowlightParams
    devices = ("cpu", "cuda")
    formats = (FORMAT,)
    formats_note = f"{FORMAT} (planar float RGB) only"

    def check(self, info: StreamInfo) -> None:
        if info.format != FORMAT:
            raise ConfigError(
                f"lowlight works on {FORMAT} (planar float RGB), not {info.format} (in a graph the "
                f"convert to {FORMAT} is inserted by itself; opened by hand, convert first)")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        self.net: NetCurves | None = None
        if self.params.method == "net":
            self.net = NetCurves(self.params, self.device)  # imports torch, loads the weights
        else:
            from ..kernels import lowlight  # numba compiles on first use: only graphs that need it

            self.kernels = lowlight
        self.s_max = self.params.max_gain - 1.0
        if self.params.method == "linear":
            # untagged: BT.709 for frames converted from YUV video (a matrix is named), sRGB otherwise
            family = "yuv" if info.color.matrix not in (None, "gbr") else "rgb"
            self.transfer = self.kernels.transfer_code(info.color.transfer, family)
        self.reset()
        return info

    def close(self) -> None:
        self.net = None

    def reset(self) -> None:
        """Forget the smoothing state: the next frame is estimated afresh (a new clip)."""
        if getattr(self, "net", None) is not None:
            self.net.reset()
        self._u = TimeEMA(self.params.smoothing)  # smoothed log gain
        self._mean: float | None = None  # mean output intensity of the previous frame
        self._shape: np.ndarray | None = None  # the previous frame's tonal shape (method linear)
        #: The last frame's numbers: ``gain`` (1 + s), ``a`` (1 / s, inf for the identity),
        #: ``wanted`` (the gain estimated for that frame alone), ``mean_in``, ``mean_out``, and
        #: for ``linear`` ``cut`` (1.0 when the frame started a new scene).
        self.last: dict[str, float] = {}

    def process(self, frame: Frame) -> list[Frame]:
        if self.net is not None:
            out = self.net.process(frame)
            self.last = self.net.last
            return [out]
        rgb = frame.data
        if isinstance(rgb, tuple):  # three separate planes: the kernel takes one (3, H, W) array
            rgb = (np if frame.device == "cpu" else devices.cupy()).stack(rgb)
        counts, sums = self.kernels.intensity_histogram(rgb, STEP)
        if frame.device != "cpu":
            counts, sums = counts.get(), sums.get()
        linear = self.params.method == "linear"
        hist = LinearHistogram(counts, sums, self.transfer, self.kernels) if linear else Histogram(counts, sums)
        cut = False
        if linear:
            cut = self._shape is not None and 0.5 * float(np.abs(hist.shape - self._shape).sum()) > CUT
            self._shape = hist.shape
            if cut:
                self._u.reset()
                self._mean = None
        s = self._choose(hist, frame.time)
        if linear:
            self.last["cut"] = float(cut)
        if s == 0.0:
            return [frame]  # the identity, exactly: no pass over the pixels
        out = devices.empty(rgb.shape, np.float32, frame.device)
        if linear:
            return [frame.with_data(self.kernels.apply_linear_gain(rgb, 1.0 + s, self.transfer, out=out))]
        return [frame.with_data(self.kernels.apply_curve(rgb, 1.0 / s, out=out))]

    def _choose(self, hist: Histogram, time) -> float:
        p = self.params
        wanted = hist.solve(p.target, 0.0, self.s_max)
        u_wanted = math.log1p(wanted)
        u = self._u.update(u_wanted, time)  # the first frame starts at its own estimate
        s = math.expm1(u) if u >= SNAP else 0.0
        if self._mean is not None:
            lo, hi = self._mean - p.max_step, self._mean + p.max_step
            m = hist.mean(s)
            if m > hi:
                s = hist.solve(hi, 0.0, s)
            elif m < lo:
                s = hist.solve(lo, s, self.s_max)
            if math.log1p(s) < SNAP:
                s = 0.0
        mean_out = hist.mean(s)
        self._mean = mean_out
        self.last = {"gain": 1.0 + s, "a": 1.0 / s if s > 0 else math.inf, "wanted": 1.0 + wanted,
                     "mean_in": hist.mean(0.0), "mean_out": mean_out}
        return s


class NetCurves:
    """The ``net`` method: the curve network's map per frame, its mean smoothed over time and
    the mean output intensity's frame-to-frame step bounded (see the module docstring)."""

    _BISECTIONS = 24  # on the offset in [-2, 2]: steps of 2.4e-7
    _SAMPLE = 2  # the bound's statistic reads every 2nd pixel of every 2nd row at the net's size

    def __init__(self, params: LowlightParams, device: str):
        import torch

        from ..models import zerodce

        self.torch, self.zerodce, self.params = torch, zerodce, params
        # channels-last: measured 47 ms instead of 72 ms for the net at 240x427 on 2 CPU cores
        self.model = zerodce.load(params.weights, "cuda" if device == "cuda" else "cpu").to(
            memory_format=torch.channels_last)
        self._streams: dict[int, object] = {}
        self.reset()

    def reset(self) -> None:
        self._mu = TimeEMA(self.params.smoothing)  # smoothed mean of the curve map
        self._mean: float | None = None  # mean output intensity of the previous frame
        #: ``mean_a`` (the frame's own map mean), ``offset`` (added to the map), ``mean_in``,
        #: ``mean_out`` (intensity at the net's size, every 2nd pixel of every 2nd row).
        self.last: dict[str, float] = {}

    def _context(self, frame: Frame):
        if frame.device != "cuda":
            return contextlib.nullcontext()
        # torch queues its work on this thread's CuPy stream, after the frame's upload or producer.
        ptr = devices.stream().ptr
        stream = self._streams.get(ptr)
        if stream is None:
            stream = self._streams[ptr] = self.torch.cuda.ExternalStream(ptr)
        return self.torch.cuda.stream(stream)

    def process(self, frame: Frame) -> Frame:
        torch, zd = self.torch, self.zerodce
        with self._context(frame), torch.inference_mode():
            planes = frame.as_torch()  # shares the frame's memory (DLPack): read only
            x = (torch.stack(planes) if isinstance(planes, tuple) else planes).unsqueeze(0)
            low = zd.downscale(x)
            a = self.model.curves(low.contiguous(memory_format=torch.channels_last))
            c = self._offset(a, low, frame.time)
            out = devices.empty(tuple(x.shape[1:]), np.float32, frame.device)
            zd.enhance(x, (a + c).clamp_(-1, 1), out=devices.as_torch(out).unsqueeze(0))
        return frame.with_data(out)

    def _offset(self, a, low, time) -> float:
        """The constant added to this frame's map: its mean moved to the smoothed mean, then
        the mean output intensity kept within ``max_step`` of the previous frame's."""
        p = self.params
        k = self._SAMPLE
        # Every 2nd pixel of every 2nd row of the intensity and the map, at the net's size, to the
        # host in one copy (on cuda: the frame's one synchronisation); the decisions below are
        # float64 numpy on a few thousand values, the same on both devices.
        samples = self.torch.stack([low.amax(1)[0, ::k, ::k].clamp(0, 1), a[0, 0, ::k, ::k]])
        i, a = samples.cpu().numpy().astype(np.float64)
        m = float(a.mean())
        mu = self._mu.update(m, time)

        def mean_out(c: float) -> float:
            gain = np.clip(a + c, -1.0, 1.0)
            x = i
            for _ in range(self.zerodce.ITERATIONS):
                x = x + gain * x * (1.0 - x)
            return float(x.mean())

        c = mu - m
        out = mean_out(c)
        if self._mean is not None and abs(out - self._mean) > p.max_step:
            up = out > self._mean
            goal = self._mean + (p.max_step if up else -p.max_step)
            lo, hi = (-2.0, c) if up else (c, 2.0)  # beyond +-2 every map value is clamped
            for _ in range(self._BISECTIONS):
                mid = 0.5 * (lo + hi)
                if mean_out(mid) > goal:
                    hi = mid
                else:
                    lo = mid
            c = lo if up else hi  # the side that keeps the step within the bound
            out = mean_out(c)
        self._mean = out
        self.last = {"mean_a": m, "offset": c, "mean_in": float(i.mean()), "mean_out": out}
        return c
