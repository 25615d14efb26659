"""``resize``: scale frames with OpenCV, by a factor or to a target size.

Every plane is resized at its own (subsampled) size, so YUV 4:2:0 stays 4:2:0 without a trip
through RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2

from ..errors import ConfigError
from ..frame import Frame, StreamInfo
from ..node import Node
from ..registry import register

_INTERP = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
    "area": cv2.INTER_AREA,
}


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
    """Scale frames to a new size (OpenCV ``cv2.resize`` per plane)."""

    Params = ResizeParams

    def open(self, info: StreamInfo) -> StreamInfo:
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
        if w < 1 or h < 1:
            raise ConfigError(f"resizing {info.width}x{info.height} gives an empty image ({w}x{h})")
        self.size = (w, h)
        self.shapes = fmt.plane_shapes(w, h)
        self.interp = _INTERP[p.interp]
        if p.interp == "area" and (w > info.width or h > info.height):
            self.interp = cv2.INTER_CUBIC  # area is only defined for shrinking; OpenCV would fall back silently
        return info.replace(width=w, height=h)

    def process(self, frame: Frame) -> list[Frame]:
        planes = tuple(
            cv2.resize(plane, (shape[1], shape[0]), interpolation=self.interp)
            for plane, shape in zip(frame.planes, self.shapes)
        )
        planes = tuple(p.reshape(s) for p, s in zip(planes, self.shapes))  # OpenCV drops a channel axis of 1
        return [frame.with_data(planes if len(planes) > 1 else planes[0])]
