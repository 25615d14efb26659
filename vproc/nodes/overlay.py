"""``overlay``: draw the skeletons of ``Frame.meta`` onto the picture.

Draws what earlier nodes found: the ``pose`` node's people (bones and joints in a colour per
tracked id, optionally the box and the id) and the ``skeleton`` node's polylines. Coordinates are
the frame's own (``resize`` and ``vsr`` rescale them on the way), so the overlay can come after
upscaling and still land on the person. Joints below ``min_confidence`` and the bones touching
them are left out. Draws in the frame's own format (YUV codes from the stream's matrix and
range), so it costs no conversion; pixels away from the drawing are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..draw import Canvas, id_colour, plane_values
from ..errors import ConfigError
from ..formats import FORMATS, get_format
from ..frame import Frame, StreamInfo
from ..node import Node
from ..registry import register

_FORMATS = tuple(FORMATS)  # every format vproc has: drawn natively (vproc.draw), no conversion


@dataclass(frozen=True)
class OverlayParams:
    thickness: float = field(default=0, metadata={"help": "line width in pixels; 0 = about 1/360 of the frame's short side (at least 2)"})
    min_confidence: float = field(default=0.5, metadata={"help": "joints below this confidence (0..1) and their bones are not drawn"})
    joints: bool = field(default=True, metadata={"help": "draw a dot on every joint"})
    boxes: bool = field(default=False, metadata={"help": "draw every person's box"})
    labels: bool = field(default=True, metadata={"help": "write every person's id above their box"})
    skeleton: bool = field(default=True, metadata={"help": "draw the skeleton node's polylines (meta 'skeleton') too"})
    skeleton_color: tuple[float, float, float] = field(default=(1.0, 0.2, 0.9), metadata={"help": "RGB 0..1 of the polylines"})

    def __post_init__(self):
        if not 0 <= self.thickness <= 64:
            raise ValueError(f"thickness must be within 0..64 (got {self.thickness})")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be within 0..1 (got {self.min_confidence})")
        if len(self.skeleton_color) != 3 or not all(0 <= c <= 1 for c in self.skeleton_color):
            raise ValueError(f"skeleton_color must be three numbers within 0..1 (got {list(self.skeleton_color)})")


@register("overlay")
class Overlay(Node):
    """Draw the pose node's people (colour per id) and the skeleton node's polylines onto the frame."""

    Params = OverlayParams

    def check(self, info: StreamInfo) -> None:
        if get_format(info.format).name not in _FORMATS:
            raise ConfigError(f"overlay cannot draw on {info.format}; put a convert node before it "
                              f"(drawable: {', '.join(_FORMATS)})")

    def open(self, info: StreamInfo) -> StreamInfo:
        self.check(info)
        self.info = info
        p = self.params
        self.thickness = p.thickness or max(2.0, round(min(info.width, info.height) / 360))
        self._colours: dict[int, list] = {}
        self._skeleton_values = plane_values(info, p.skeleton_color)
        return info

    def _values(self, track_id: int) -> list:
        values = self._colours.get(track_id)
        if values is None:
            values = self._colours[track_id] = plane_values(self.info, id_colour(track_id))
        return values

    def process(self, frame: Frame) -> list[Frame]:
        people = frame.meta.get("people")
        polylines = frame.meta.get("skeleton") if self.params.skeleton else None
        if not people and not polylines:
            return [frame]  # nothing to draw: the same pixels, no copy
        p = self.params
        canvas = Canvas(frame, self.info)
        t = self.thickness
        for line in (polylines.lines if polylines else ()):
            if len(line) > 1:
                canvas.polyline(line, self._skeleton_values, t)
        for person in (people or ()):
            values = self._values(person.id)
            kp = person.keypoints
            seen = kp[:, 2] >= p.min_confidence
            segments = [(*kp[a, :2], *kp[b, :2]) for a, b in people.bones if seen[a] and seen[b]]
            canvas.lines(segments, values, t)
            if p.joints:
                canvas.dots(kp[seen, :2], values, 1.5 * t)
            x0, y0, x1, y1 = person.box
            if p.boxes:
                canvas.rectangle(person.box, values, max(1.0, t / 2))
            if p.labels:
                canvas.text(str(person.id), x0, max(y0 - 2 * t, 12 * t), values, 10 * t)
        return [canvas.frame()]


__all__ = ["Overlay", "OverlayParams"]
