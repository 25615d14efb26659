"""``stack``: put several inputs side by side (or one above the other), e.g. before/after views.

The first input sets the format and the size along the joining edge; the other inputs are
converted and scaled to match, so ``in: [source, sr]`` works across a super-resolution node.
Frames are paired by time (see the Node contract); side data of the first input is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from .. import device as devices
from ..frame import Frame, StreamInfo
from ..node import Node
from ..registry import register
from .convert import Convert, ConvertParams


@dataclass(frozen=True)
class StackParams:
    direction: Literal["horizontal", "vertical"] = field(default="horizontal", metadata={"help": "side by side, or one above the other"})


@register("stack")
class Stack(Node):
    """Join two or more inputs into one picture, side by side or stacked (comparisons)."""

    Params = StackParams
    inputs = -1

    def open(self, *infos: StreamInfo) -> StreamInfo:
        first = infos[0]
        fmt = first.pixel_format
        horizontal = self.params.direction == "horizontal"
        self.converters: list[Convert | None] = []
        self.sizes: list[tuple[int, int]] = []
        for info in infos:
            conv = None
            if info.format != first.format:
                conv = Convert(ConvertParams(first.format), self.device, f"{self.name}.convert")
                conv.open(info)
            self.converters.append(conv)
            if horizontal:
                h = first.height
                w = round(info.width * h / info.height)
            else:
                w = first.width
                h = round(info.height * w / info.width)
            if fmt.subsampled:
                w, h = w + (w & 1), h + (h & 1)
            self.sizes.append((w, h))
        self.part_shapes = [fmt.plane_shapes(w, h) for w, h in self.sizes]
        self.axis = 1 if horizontal else 0
        total_w = sum(w for w, _ in self.sizes) if horizontal else first.width
        total_h = first.height if horizontal else sum(h for _, h in self.sizes)
        self.shapes = fmt.plane_shapes(total_w, total_h)
        self.fmt = fmt
        return first.replace(width=total_w, height=total_h)

    def process(self, *frames: Frame) -> list[Frame]:
        parts = []
        for frame, conv, shapes in zip(frames, self.converters, self.part_shapes):
            if conv is not None:
                frame = conv.process(frame)[0]
            planes = []
            for plane, shape in zip(frame.planes, shapes):
                if plane.shape != shape:
                    plane = cv2.resize(plane, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).reshape(shape)
                planes.append(plane)
            parts.append(planes)
        joined = []
        for pieces, shape in zip(zip(*parts), self.shapes):
            out = devices.empty(shape, self.fmt.dtype)  # pooled: no allocation per frame
            joined.append(np.concatenate(pieces, axis=self.axis, out=out))
        joined = tuple(joined)
        return [frames[0].with_data(joined if len(joined) > 1 else joined[0])]

    def close(self) -> None:
        for conv in self.converters:
            if conv is not None:
                conv.close()
