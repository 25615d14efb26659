"""``resize``: scale frames by a factor or to a target size.

Every plane is resized at its own (subsampled) size, so YUV 4:2:0 stays 4:2:0 without a trip
through RGB. Output planes come from the device's buffer pool (:func:`vproc.device.empty`).

What runs where:

- ``cpu``: OpenCV's ``cv2.resize``, any format and interpolation.
- ``cuda``: :func:`vproc.kernels.resample.resize` (OpenCV's bilinear and bicubic, same mapping
  and weights), for ``rgbpf32`` with ``bilinear`` or ``bicubic`` only; in a graph that puts the
  node on ``cuda``, other formats get a conversion to ``rgbpf32`` inserted (format negotiation;
  ``device: auto`` rather keeps such a node on the CPU); other methods, or the node opened by
  hand on another format, are a :class:`~vproc.errors.ConfigError` when it opens.

Why not the kernel's numba twin on the CPU as well: measured on 2 cores, (3, H, W) float32, the
twin against ``cv2.resize`` per plane (IPP), ms per frame at 480p / 720p / 1080p:
x2 bicubic 2.4/4.9/11.2 vs 3.0/3.9/12.9; x2 bilinear 1.8/3.8/8.9 vs 1.1/2.8/10.9;
x1.5 bicubic 2.3/5.5/16.9 vs 1.0/2.4/5.9; x0.5 bicubic 0.8/1.7/4.7 vs 0.2/0.5/2.0. OpenCV wins
everywhere but at integer upscales of large frames, where the two are within 20%; the two agree
within 1e-5 (IPP's coordinate rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2

from .. import device as devices
from ..errors import ConfigError
from ..frame import Frame, StreamInfo
from ..geometry import scale_meta
from ..node import Node
from ..registry import register

_INTERP = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "area": cv2.INTER_AREA,
}

#: The one format the CUDA path resizes (the kernels' planar float RGB).
CUDA_FORMAT = "rgbpf32"


@dataclass(frozen=True)
class ResizeParams:
    scale: float | None = field(default=None, metadata={"help": "factor for both sides (e.g. 0.5 or 2)"})
    width: int | None = field(default=None, metadata={"help": "target width; -1 keeps the aspect ratio from height"})
    height: int | None = field(default=None, metadata={"help": "target height; -1 keeps the aspect ratio from width"})
    interp: Literal["bicubic", "lanczos", "area", "bilinear", "nearest"] = field(
        default="bicubic", metadata={"help": "interpolation (area is best for shrinking)"})

    def __post_init__(self):
        by_size = self.width is not None or self.height is not None
        if (self.scale is None) == (not by_size):
            raise ValueError("give either scale or width/height")
        if self.scale is not None and not 0 < self.scale <= 16:
            raise ValueError(f"scale must be within (0, 16] (got {self.scale})")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and v != -1 and not 1 <= v <= 16384:
                raise ValueError(f"{name} must be -1 or within 1..16384 (got {v})")
        if self.width == -1 and self.height in (None, -1) or self.height == -1 and self.width is None:
            raise ValueError("-1 needs the other side given")


@register("resize")
class Resize(Node):
    """Scale frames to a new size: OpenCV per plane on the CPU; on CUDA the resampling kernel,
    for ``rgbpf32`` with bilinear or bicubic interpolation (see the module docstring)."""

    Params = ResizeParams
    devices = ("cpu", "cuda")

    def input_formats(self) -> tuple[str, ...] | None:
        """Any format on the CPU; on CUDA the kernel's rgbpf32 (a graph that puts this node
        on ``cuda`` explicitly gets the conversion; ``device: auto`` keeps it on the CPU)."""
        if self.device == "cuda" and self.params.interp in ("bilinear", "bicubic"):
            return (CUDA_FORMAT,)
        return None

    def check(self, info: StreamInfo) -> None:
        if self.device == "cuda":
            from ..kernels.resample import METHODS  # only on CUDA: the CPU path needs no numba

            interp = self._interp(info, *self._size(info))
            if info.format != CUDA_FORMAT or interp not in METHODS:
                raise ConfigError(
                    f"resize on CUDA handles {CUDA_FORMAT} with interp {' or '.join(METHODS)} only (got "
                    f"{info.format}, {self.params.interp}): convert to {CUDA_FORMAT} first, or run this node on the CPU")

    def _interp(self, info: StreamInfo, w: int, h: int) -> str:
        if self.params.interp == "area" and (w > info.width or h > info.height):
            return "bicubic"  # area is only defined for shrinking; OpenCV would fall back silently
        return self.params.interp

    def _size(self, info: StreamInfo) -> tuple[int, int]:
        p = self.params
        fmt = info.pixel_format
        if p.scale is not None:
            w, h = round(info.width * p.scale), round(info.height * p.scale)
        else:
            w, h = p.width, p.height  # validation leaves at least one of them concrete
            if w in (None, -1):
                w = round(info.width * h / info.height)
            if h in (None, -1):
                h = round(info.height * w / info.width)
        if fmt.subsampled:  # keep chroma planes whole: encoders refuse odd 4:2:0 sizes
            w, h = w + (w & 1), h + (h & 1)
        elif not (info.width & 1 or info.height & 1):
            # An even picture in RGB or float (a YUV source converted for lowlight, say) is
            # most likely encoded back to 4:2:0: a size vproc computes stays even, as FFmpeg's
            # scale=-2 keeps it; a width or height given exactly is kept as given.
            if p.scale is not None or p.width in (None, -1):
                w += w & 1
            if p.scale is not None or p.height in (None, -1):
                h += h & 1
        if w < 1 or h < 1:
            raise ConfigError(f"resizing {info.width}x{info.height} gives an empty image ({w}x{h})")
        return w, h

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        fmt = info.pixel_format
        w, h = self._size(info)
        interp = self._interp(info, w, h)
        if self.device == "cuda":
            # Imported here: the CPU path needs neither numba nor the kernels.
            from ..kernels.resample import resize

            self.kernel = resize
        self.size = (w, h)
        self.shapes = fmt.plane_shapes(w, h)
        self.dtype = fmt.dtype
        self.method = interp
        self.interp = _INTERP[interp]
        self.planar = fmt.name == CUDA_FORMAT  # one (3, H, W) output array, as the kernels want
        return info.resized(w, h)  # the display aspect ratio stays, as with FFmpeg's scale

    def process(self, frame: Frame) -> list[Frame]:
        w, h = self.size
        # Keypoints and other coordinates in meta follow the pixels (vproc.geometry).
        meta = scale_meta(frame.meta, w / frame.width, h / frame.height)
        if self.device == "cuda":
            src = frame.data
            if isinstance(src, tuple):  # three separate planes: the kernel takes one (3, H, W) array
                src = devices.cupy().stack(src)
            out = devices.empty((3, h, w), self.dtype, "cuda")
            return [frame.with_data(self.kernel(src, h, w, self.method, out=out), meta=meta)]
        if self.planar:
            out = devices.empty((3, h, w), self.dtype, "cpu")
            planes = tuple(out)  # OpenCV writes each plane into its row of the one array
        else:
            planes = tuple(devices.empty(s, self.dtype, "cpu") for s in self.shapes)
        for src, dst in zip(frame.planes, planes):
            # dst has exactly the shape and type OpenCV produces, so it is written in place.
            cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=self.interp)
        if self.planar:
            return [frame.with_data(out, meta=meta)]
        return [frame.with_data(planes if len(planes) > 1 else planes[0], meta=meta)]
