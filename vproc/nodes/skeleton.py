"""``skeleton``: the morphological skeleton of a binary mask made from each frame.

Per frame:

1. Mask (``mask``), from the luma (the Y plane of YUV and grey, ``Kr R + Kg G + Kb B`` of RGB
   with the stream's matrix family from :mod:`vproc.colorspace`), as a fraction of full scale
   (``2^bits - 1``; no range expansion: limited-range black is 16/255):

   - ``threshold``: luma above ``threshold``; ``auto`` picks it by Otsu's method on a 256-bin
     histogram (as OpenCV's ``THRESH_OTSU``: on 8-bit luma the mask is exactly OpenCV's).
   - ``canny``: OpenCV's Canny edges of the 8-bit luma, thresholds ``low`` and ``high``
     (fractions of full scale), or ``auto``: 0.67 and 1.33 times the median luma.
   - ``person``: MediaPipe's selfie segmentation (``model: general``, 256 x 256, or
     ``landscape``, 144 x 256; both ship in the mediapipe wheel), probability above ``cut``.

   ``blur`` smooths the luma first (Gaussian sigma in pixels) for ``threshold`` and ``canny``;
   ``invert`` swaps foreground and background; ``min_area`` drops 8-connected components
   smaller than that many pixels (speckle that would each thin to a dot or a short spur).
2. Zhang-Suen thinning (:func:`vproc.kernels.thin`, identical to scikit-image's
   ``skeletonize(method="zhang")``): lines one pixel wide, connectivity kept.
3. Output (``output``): ``mask``, a ``gray`` frame of the same size, 255 on the skeleton and 0
   elsewhere; or ``overlay``, the input frame (same format) with the skeleton painted in
   ``color`` (RGB 0..1; converted to the stream's YUV with its matrix, range and depth, and
   on subsampled chroma painted wherever a chroma sample covers a skeleton pixel).
4. ``polylines: true`` also traces the skeleton into paths (:func:`vproc.trace.trace_skeleton`:
   split at endpoints and junctions, closed loops kept), drops those shorter than
   ``min_length`` pixels, simplifies them by ``epsilon`` pixels (Douglas-Peucker) and puts them
   into ``frame.meta["skeleton"]`` as :class:`vproc.geometry.Polylines` (pixel centres at
   ``i + 0.5``), which the sidecar writer serialises and ``resize``/``vsr`` rescale.

Formats: planar YUV (8 and 10 bits), ``gray``/``gray10le``/``gray16le``, ``gbrp``, ``rgbpf32``,
packed ``rgb24``/``bgr24``/``rgb48le``; semi-planar ``nv12``/``p010le`` are converted to
``yuv420p``/``yuv420p10le`` first (format negotiation, :mod:`vproc.runtime`).
Devices: ``cpu``; ``cuda`` for ``mask: threshold`` (luma, blur, Otsu, ``min_area`` labelling
and thinning on the device; the Otsu histogram, 256 counts, and the thinning's convergence
counters are the only reads back; ``polylines`` downloads the skeleton to trace it). Canny
(OpenCV) and the person mask (MediaPipe) run on the CPU only: asking for them on ``cuda`` is a
:class:`~vproc.errors.ConfigError`, not a silent CPU run. Stateless: one frame out per frame in,
pts and meta kept.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .. import device as devices
from ..colorspace import matrix_of
from ..draw import plane_values
from ..errors import ConfigError
from ..formats import FORMATS, get_format
from ..frame import ColorInfo, Frame, StreamInfo
from ..node import Node
from ..pose import INSTALL, quiet_stderr, require
from ..registry import register

#: MediaPipe's ``model_selection`` for each ``model``.
PERSON_MODELS = {"general": 0, "landscape": 1}
#: ``low``/``high: auto`` for Canny: these multiples of the median luma.
CANNY_AUTO = (0.67, 1.33)


@dataclass(frozen=True)
class SkeletonParams:
    mask: Literal["threshold", "canny", "person"] = field(default="threshold", metadata={
        "help": "what the skeleton is made of: threshold (luma above a level), canny (edges) or person "
                "(MediaPipe selfie segmentation, CPU only)"})
    threshold: float | Literal["auto"] = field(default="auto", metadata={
        "help": "mask: threshold: the luma level in 0..1 of full scale, or auto (Otsu)"})
    invert: bool = field(default=False, metadata={
        "help": "swap foreground and background of the mask (e.g. dark lines on a light page)"})
    low: float | Literal["auto"] = field(default="auto", metadata={
        "help": "mask: canny: lower hysteresis threshold in 0..1 of full scale, or auto (0.67 x median luma)"})
    high: float | Literal["auto"] = field(default="auto", metadata={
        "help": "mask: canny: upper hysteresis threshold in 0..1 of full scale, or auto (1.33 x median luma)"})
    blur: float = field(default=0.0, metadata={
        "help": "Gaussian blur sigma in pixels applied to the luma before threshold/canny (0 = none, up to 50)"})
    model: Literal["general", "landscape"] = field(default="general", metadata={
        "help": "mask: person: MediaPipe selfie segmentation model, general (256x256) or landscape (144x256, faster)"})
    cut: float = field(default=0.5, metadata={
        "help": "mask: person: probability above which a pixel is the person, in (0, 1)"})
    min_area: int = field(default=0, metadata={
        "help": "drop mask components (8-connected) smaller than this many pixels before thinning (0 = keep all)"})
    output: Literal["mask", "overlay"] = field(default="mask", metadata={
        "help": "mask: a gray frame, 255 on the skeleton; overlay: the input frame with the skeleton painted on it"})
    color: tuple[float, ...] = field(default=(0.0, 1.0, 0.0), metadata={
        "help": "output: overlay: the skeleton's colour as R, G, B in 0..1 (as the overlay node's colours)"})
    polylines: bool = field(default=False, metadata={
        "help": "also trace the skeleton into paths, put into the frame's meta as 'skeleton' (for the sidecar)"})
    min_length: float = field(default=0.0, metadata={
        "help": "polylines: drop paths shorter than this many pixels (0 = keep all, single pixels included)"})
    epsilon: float = field(default=1.0, metadata={
        "help": "polylines: simplify paths so no dropped point is farther than this many pixels (0 = every pixel)"})

    def __post_init__(self):
        for name in ("threshold", "low", "high"):
            v = getattr(self, name)
            if v != "auto" and not 0 <= v <= 1:
                raise ValueError(f"{name} must be auto or within 0..1 of full scale (got {v})")
        if self.low != "auto" and self.high != "auto" and self.low > self.high:
            raise ValueError(f"low must not exceed high (got low {self.low}, high {self.high})")
        if not 0 <= self.blur <= 50:
            raise ValueError(f"blur must be within 0..50 pixels (got {self.blur})")
        if not 0 < self.cut < 1:
            raise ValueError(f"cut must be within (0, 1) (got {self.cut})")
        if self.min_area < 0:
            raise ValueError(f"min_area must be 0 or more (got {self.min_area})")
        if len(self.color) != 3 or not all(0 <= c <= 1 for c in self.color):
            raise ValueError(f"color must be three values R, G, B within 0..1 (got {list(self.color)})")
        if self.min_length < 0:
            raise ValueError(f"min_length must be 0 or more (got {self.min_length})")
        if not 0 <= self.epsilon <= 100:
            raise ValueError(f"epsilon must be within 0..100 pixels (got {self.epsilon})")


@register("skeleton")
class Skeleton(Node):
    """Morphological skeleton of a threshold, Canny or person mask, as a mask or an overlay.

    Optionally traced into polylines in the frame's meta; see the module docstring."""

    Params = SkeletonParams
    devices = ("cpu", "cuda")
    sidecar_keys = ("skeleton",)  # with polylines: true
    formats = tuple(n for n, f in FORMATS.items() if all(p.channels != 2 for p in f.planes))
    formats_note = "planar and packed formats, not semi-planar"

    def check(self, info: StreamInfo) -> None:
        fmt = get_format(info.format)
        if any(p.channels == 2 for p in fmt.planes):
            raise ConfigError(f"skeleton does not take semi-planar {info.format} (in a graph a convert is "
                              f"inserted by itself; opened by hand, convert to e.g. yuv420p first)")
        p = self.params
        if self.device == "cuda" and p.mask != "threshold":
            lib = "OpenCV" if p.mask == "canny" else "MediaPipe"
            raise ConfigError(f"skeleton: mask: {p.mask} runs on the CPU only ({lib}); on CUDA use mask: "
                              f"threshold, or set device: cpu on this node")
        if p.mask == "person" and importlib.util.find_spec("mediapipe") is None:
            raise ConfigError(f"skeleton: mask: person needs MediaPipe, which is not installed: {INSTALL}")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        from .. import kernels  # numba compiles on first use: only graphs that need it

        self.kernels = kernels
        self.info = info
        self.fmt = info.pixel_format
        self.segmenter = None
        if self.params.mask == "person":
            require("mediapipe", "skeleton: mask: person")
            from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation

            with quiet_stderr():  # TFLite's start-up messages (see vproc.pose.quiet_stderr)
                self.segmenter = SelfieSegmentation(model_selection=PERSON_MODELS[self.params.model])
                self.segmenter.process(np.zeros((64, 64, 3), np.uint8))
        if self.params.polylines:
            from .. import trace

            self.trace = trace
        if self.params.output == "overlay":
            self.paint = plane_values(info, self.params.color)  # per plane, per channel
            return info
        return info.replace(format="gray", color=ColorInfo(range="pc"))

    def close(self) -> None:
        if getattr(self, "segmenter", None) is not None:
            self.segmenter.close()
            self.segmenter = None

    def process(self, frame: Frame) -> list[Frame]:
        xp = np if frame.device == "cpu" else devices.cupy()
        mask = self.mask(frame)
        if self.params.output == "mask":
            skel = devices.empty(mask.shape, np.uint8, frame.device)  # the output plane: pooled
            self.kernels.thin(mask, out=skel)  # 0/1
            skel *= np.uint8(255)
            out = frame.with_data(skel, "gray")
        else:
            skel = self.kernels.thin(mask).view(bool)  # scratch, 0/1 read as bool
            out = frame.with_data(self._overlay(frame, skel, xp))
        if self.params.polylines:
            out.meta["skeleton"] = self._polylines(skel if xp is np else xp.asnumpy(skel))
        return [out]

    # -- the mask -----------------------------------------------------------------------------

    def mask(self, frame: Frame):
        """The bool foreground mask of ``frame`` that is thinned (after ``invert`` and
        ``min_area``), ``(H, W)`` on the frame's device; for inspection and tests."""
        xp = np if frame.device == "cpu" else devices.cupy()
        p = self.params
        if p.mask == "person":
            mask = self._person(frame)
        else:
            luma = self._luma(frame, xp)
            if p.blur > 0:
                luma = self.kernels.gaussian_blur(luma, p.blur)
            if p.mask == "threshold":
                level = _otsu_level(luma, xp) if p.threshold == "auto" else np.float32(p.threshold)
                mask = luma > level
            else:
                mask = self._canny(luma)
        if p.invert:
            mask = ~mask
        if p.min_area > 1:
            mask = _drop_small(mask, p.min_area, xp)
        return mask

    def _luma(self, frame: Frame, xp):
        """float32 luma in [0, 1] of full scale, ``(H, W)``, on the frame's device."""
        fmt = self.fmt
        scale = np.float32(1.0 / fmt.max_value)
        if fmt.family != "rgb":
            return xp.multiply(frame.planes[0], scale, dtype=np.float32)
        r, g, b = _rgb_planes(frame)
        from ..kernels.yuvrgb import KR_KB

        kr, kb = KR_KB[matrix_of(self.info)]
        luma = xp.multiply(r, np.float32(kr) * scale, dtype=np.float32)
        luma += xp.multiply(g, np.float32(1.0 - kr - kb) * scale, dtype=np.float32)
        luma += xp.multiply(b, np.float32(kb) * scale, dtype=np.float32)
        return luma

    def _canny(self, luma: np.ndarray) -> np.ndarray:
        import cv2

        luma8 = np.rint(luma * np.float32(255)).astype(np.uint8)
        p = self.params
        median = float(np.median(luma8))
        low = CANNY_AUTO[0] * median if p.low == "auto" else 255.0 * p.low
        high = CANNY_AUTO[1] * median if p.high == "auto" else 255.0 * p.high
        return cv2.Canny(luma8, min(low, 255.0), min(high, 255.0)) != 0

    def _person(self, frame: Frame) -> np.ndarray:
        result = self.segmenter.process(self._rgb8(frame))
        prob = result.segmentation_mask
        if prob is None:  # MediaPipe gives no mask when it found nothing to segment
            return np.zeros((frame.height, frame.width), bool)
        return prob > np.float32(self.params.cut)

    def _rgb8(self, frame: Frame) -> np.ndarray:
        """The frame as contiguous uint8 RGB ``(H, W, 3)``, as MediaPipe takes it."""
        fmt = self.fmt
        if fmt.family == "yuv":
            from ..io.avframes import to_av

            return to_av(frame).to_ndarray(format="rgb24")  # swscale: any subsampling and depth
        if fmt.family == "gray":
            luma8 = np.rint(self._luma(frame, np) * np.float32(255)).astype(np.uint8)
            return np.repeat(luma8[..., None], 3, axis=2)
        rgb = np.stack(_rgb_planes(frame), axis=-1)
        if rgb.dtype == np.uint8:
            return rgb
        return np.rint(rgb * np.float32(255.0 / fmt.max_value)).astype(np.uint8)

    # -- outputs -------------------------------------------------------------------------------

    def _overlay(self, frame: Frame, on, xp):
        """A copy of the frame's pixels (same layout) with the skeleton painted in ``color``."""
        device = frame.device
        arrays = frame.data if isinstance(frame.data, tuple) else (frame.data,)
        copies = []
        for a in arrays:
            c = devices.empty(a.shape, a.dtype, device)
            c[...] = a
            copies.append(c)
        data = tuple(copies) if isinstance(frame.data, tuple) else copies[0]
        planes = frame.with_data(data).planes  # views into the copies, whatever the layout
        if len(planes) == 1 and planes[0].ndim == 3:  # packed RGB: one value per channel
            for ch, value in enumerate(self.paint[0]):
                planes[0][..., ch][on] = value
            return data
        for plane, spec, (value,) in zip(planes, self.fmt.planes, self.paint):
            plane[_subsample(on, spec.shift_x, spec.shift_y, xp)] = value
        return data

    def _polylines(self, on: np.ndarray):
        from ..geometry import Polylines

        p = self.params
        tr = self.trace
        paths = [path for path in tr.trace_skeleton(on) if p.min_length <= 0 or tr.path_length(path) >= p.min_length]
        return Polylines(tr.simplify(path, p.epsilon) for path in paths)


def _rgb_planes(frame: Frame) -> tuple:
    """``(R, G, B)`` planes (views) of an RGB-family frame, packed or planar."""
    fmt = frame.format
    if fmt in ("rgb24", "bgr24", "rgb48le"):
        d = frame.data
        chans = (d[..., 0], d[..., 1], d[..., 2])
        return chans[::-1] if fmt == "bgr24" else chans
    planes = frame.planes
    return (planes[2], planes[0], planes[1]) if fmt == "gbrp" else tuple(planes)


def _otsu_level(luma, xp) -> np.float32:
    """Otsu's level for float ``luma`` in [0, 1]: the luma is binned to 256 levels (exactly the
    8-bit codes for 8-bit input), the bin ``t`` that maximises the between-class variance is
    found as OpenCV's ``getThreshVal_Otsu_8u`` finds it (first maximum), and the level returned
    lies halfway between bins ``t`` and ``t + 1``, so ``luma > level`` is ``code > t``."""
    bins = xp.clip(xp.rint(luma * np.float32(255)), 0, 255).astype(np.uint8)
    hist = xp.bincount(bins.ravel(), minlength=256)
    hist = np.asarray(hist if xp is np else hist.get(), np.float64)  # 256 counts: the one read back
    hist /= hist.sum()
    mu = float(np.dot(np.arange(256), hist))
    q1 = mu1 = best = 0.0
    t = 0
    eps = float(np.finfo(np.float32).eps)
    # OpenCV's loop, in its order of operations, so ties and roundings fall the same way.
    for i in range(256):
        p_i = float(hist[i])
        mu1 *= q1
        q1 += p_i
        q2 = 1.0 - q1
        if min(q1, q2) < eps or max(q1, q2) > 1.0 - eps:
            continue
        mu1 = (mu1 + i * p_i) / q1
        mu2 = (mu - q1 * mu1) / q2
        sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
        if sigma > best:
            best, t = sigma, i
    return np.float32((t + 0.5) / 255.0)


def _drop_small(mask, min_area: int, xp):
    """``mask`` without its 8-connected components of fewer than ``min_area`` pixels."""
    if xp is np:
        import cv2

        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    else:
        from cupyx.scipy import ndimage

        labels, n = ndimage.label(mask, structure=xp.ones((3, 3), bool))
        keep = xp.bincount(labels.ravel(), minlength=n + 1) >= min_area
    keep[0] = False  # the background
    return keep[labels]


def _subsample(on, shift_x: int, shift_y: int, xp):
    """The skeleton mask at a chroma plane's size: a sample is set where any pixel it covers is."""
    if shift_y:
        if on.shape[0] & 1:
            on = xp.concatenate([on, on[-1:]], axis=0)
        on = on[0::2] | on[1::2]
    if shift_x:
        if on.shape[1] & 1:
            on = xp.concatenate([on, on[:, -1:]], axis=1)
        on = on[:, 0::2] | on[:, 1::2]
    return on


__all__ = ["Skeleton", "SkeletonParams"]
