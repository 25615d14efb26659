"""Drawing onto frames in their own pixel format: the ``overlay`` and ``skeleton`` nodes' helper.

A colour is given once as RGB in 0..1 and turned into the samples of every plane of the stream's
format (:func:`plane_values`: YUV codes through the stream's matrix and range, RGB channel order,
grey as luma), so drawing never converts the whole frame. :class:`Canvas` copies a frame's planes
and draws lines and dots on each of them with OpenCV, coordinates scaled to each plane's
subsampling (vproc.geometry's continuous pixel coordinates). Every format vproc has can be drawn
on, float ``rgbpf32`` and 10/16-bit ones included: OpenCV draws lines and discs on any depth
(anti-aliased on 8-bit only), and text, which OpenCV renders on 8-bit images of 1, 3 or 4
channels only, is otherwise rendered into an 8-bit mask and painted through it.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from . import device as devices
from .colorspace import full_range, matrix_of
from .frame import Frame, StreamInfo

# Sub-pixel precision OpenCV's drawing gets through its ``shift`` argument (fractional bits).
_SHIFT = 4
_ONE = 1 << _SHIFT

# Where each RGB channel sits in the planes of the RGB formats: (plane, channel) per R, G, B.
_RGB_SLOTS = {
    "rgb24": ((0, 0), (0, 1), (0, 2)),
    "bgr24": ((0, 2), (0, 1), (0, 0)),
    "rgb48le": ((0, 0), (0, 1), (0, 2)),
    "gbrp": ((2, 0), (0, 0), (1, 0)),
    "rgbpf32": ((0, 0), (1, 0), (2, 0)),
}


def id_colour(track_id: int) -> tuple[float, float, float]:
    """A bright RGB colour (0..1) per id; consecutive ids are far apart in hue (golden angle)."""
    hue = (track_id * 0.381966) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.85, 1.0)


def plane_values(info: StreamInfo, rgb: tuple[float, float, float]) -> list[tuple[float, ...]]:
    """The sample values that paint ``rgb`` (0..1) into each plane of ``info``'s format: one
    tuple per plane, one value per interleaved channel (2 for NV12 chroma, 3 for packed RGB)."""
    fmt = info.pixel_format
    r, g, b = (min(max(float(c), 0.0), 1.0) for c in rgb)
    top = fmt.max_value
    if fmt.family == "rgb":
        values = [[0.0] * p.channels for p in fmt.planes]
        for c, (plane, channel) in zip((r, g, b), _RGB_SLOTS[fmt.name]):
            values[plane][channel] = c if fmt.is_float else round(c * top)
        return [tuple(v) for v in values]
    from .kernels.yuvrgb import KR_KB

    kr, kb = KR_KB[matrix_of(info)]
    luma = kr * r + (1.0 - kr - kb) * g + kb * b
    bits = fmt.bits
    full = full_range(info)
    scale = float(1 << (bits - 8))
    if fmt.family == "gray":
        return [(round(luma * top) if full else round((16 + 219 * luma) * scale),)]
    cb = (b - luma) / (2.0 * (1.0 - kb))
    cr = (r - luma) / (2.0 * (1.0 - kr))
    if full:
        y, u, v = luma * top, 128 * scale + cb * top, 128 * scale + cr * top
    else:
        y, u, v = (16 + 219 * luma) * scale, (128 + 224 * cb) * scale, (128 + 224 * cr) * scale
    y, u, v = (min(max(round(c), 0), int(top)) for c in (y, u, v))
    if fmt.name == "p010le":  # 10 significant bits in the high bits of each sample
        y, u, v = y << 6, u << 6, v << 6
    if len(fmt.planes) == 2:  # NV12 / P010: interleaved chroma
        return [(y,), (u, v)]
    return [(y,), (u,), (v,)]


class Canvas:
    """Writable copies of a frame's planes to draw on, then :meth:`frame` for the new frame.

    ``thickness`` and ``radius`` are in full-resolution pixels; subsampled planes get them scaled.
    """

    def __init__(self, frame: Frame, info: StreamInfo):
        self.source = frame
        self.info = info
        self.fmt = info.pixel_format
        self.planes = []
        for plane in frame.planes:
            copy = devices.empty(plane.shape, plane.dtype, "cpu")
            np.copyto(copy, plane)
            self.planes.append(copy)
        self._aa = cv2.LINE_AA if self.fmt.dtype == np.uint8 else cv2.LINE_8  # OpenCV: AA on 8-bit only

    def _each_plane(self, values):
        for plane, spec, value in zip(self.planes, self.fmt.planes, values):
            yield plane, 1.0 / (1 << spec.shift_x), 1.0 / (1 << spec.shift_y), value

    def lines(self, segments, values, thickness: float) -> None:
        """Draw line segments ``[(x0, y0, x1, y1), ...]`` in the colour ``values`` (see :func:`plane_values`)."""
        for plane, fx, fy, value in self._each_plane(values):
            t = max(1, round(thickness * fx))
            for x0, y0, x1, y1 in segments:
                cv2.line(plane, _pt(x0 * fx, y0 * fy), _pt(x1 * fx, y1 * fy), value, t, self._aa, _SHIFT)

    def polyline(self, points: np.ndarray, values, thickness: float) -> None:
        """Draw an open path through ``points`` (``(N, 2)`` x, y)."""
        for plane, fx, fy, value in self._each_plane(values):
            t = max(1, round(thickness * fx))
            pts = np.round(points * np.float32([fx, fy]) * _ONE - _ONE / 2).astype(np.int32)
            cv2.polylines(plane, [pts.reshape(-1, 1, 2)], False, value, t, self._aa, _SHIFT)

    def dots(self, points, values, radius: float) -> None:
        """Draw filled discs at ``[(x, y), ...]``."""
        for plane, fx, fy, value in self._each_plane(values):
            r = max(1, round(radius * fx))
            for x, y in points:
                cv2.circle(plane, _pt(x * fx, y * fy), r * _ONE, value, -1, self._aa, _SHIFT)

    def rectangle(self, box, values, thickness: float) -> None:
        """Draw the outline of ``(x0, y0, x1, y1)``."""
        x0, y0, x1, y1 = box
        self.lines([(x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)], values, thickness)

    def text(self, text: str, x: float, y: float, values, height: float) -> None:
        """Write ``text`` with its baseline's left end at ``(x, y)``, about ``height`` px tall."""
        for plane, fx, fy, value in self._each_plane(values):
            scale = height * fy / 22.0  # FONT_HERSHEY_SIMPLEX is about 22 px tall at scale 1
            org, thick = (round(x * fx), round(y * fy)), max(1, round(2 * scale))
            if plane.dtype == np.uint8 and (plane.ndim == 2 or plane.shape[2] in (3, 4)):
                cv2.putText(plane, text, org, _FONT, scale, value, thick, self._aa)
            else:  # OpenCV's putText takes 8-bit images of 1, 3 or 4 channels only (float,
                # 16-bit and NV12's two-channel chroma fail its assertions)
                _put_text_masked(plane, text, org, scale, value, thick)

    def frame(self) -> Frame:
        """The drawn frame: same timing, format and side data as the source frame."""
        planes = tuple(self.planes)
        return self.source.with_data(planes if len(planes) > 1 else planes[0])


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _put_text_masked(plane: np.ndarray, text: str, org: tuple[int, int], scale: float, value, thick: int) -> None:
    """putText for planes of any sample type: the text rendered into an 8-bit mask of its box,
    then ``value`` written where the mask is set (no anti-aliasing, as lines on such planes)."""
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thick)
    x0, y0 = max(org[0] - thick, 0), max(org[1] - h - thick, 0)
    x1, y1 = min(org[0] + w + thick, plane.shape[1]), min(org[1] + base + thick, plane.shape[0])
    if x1 <= x0 or y1 <= y0:
        return  # entirely outside the plane
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.putText(mask, text, (org[0] - x0, org[1] - y0), _FONT, scale, 255, thick, cv2.LINE_8)
    region = plane[y0:y1, x0:x1]
    region[mask > 0] = value if plane.ndim == 3 else value[0]


def _pt(x: float, y: float) -> tuple[int, int]:
    """A continuous-coordinate point as OpenCV's fixed-point pixel index (centre of pixel i = i + 0.5)."""
    return round((x - 0.5) * _ONE), round((y - 0.5) * _ONE)
