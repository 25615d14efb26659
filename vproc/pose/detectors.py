"""Person detectors for the top-down backends, and the image tiles they search.

A detector has ``tiles(width, height)`` (the regions of the frame it searches, one detector
call each) and ``detect(rgb, tile) -> [(Roi, score)]``. Two exist:

- ``mediapipe`` (:class:`vproc.pose.mediapipe_backend.MediaPipeDetector`): BlazePose's person
  detector, shipped in the ``mediapipe`` wheel; each detection gives the body's centre, size and
  rotation directly. Its input is 224x224: on a whole 16:9 frame a pedestrian a fifth of the
  frame high is a few dozen pixels and goes unseen, so the frame is cut into overlapping square
  tiles (:func:`grid`).
- ``hog`` (:class:`HogDetector`): OpenCV's built-in HOG + linear SVM people detector, needing
  nothing beyond OpenCV 4 (OpenCV 5 moved HOG out of the main module: there it is a
  :class:`~vproc.errors.ConfigError`); upright people at least ~100 px high, slower and looser
  than the above.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import ConfigError
from .backend import Roi


def grid(width: int, height: int, rows: int) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles ``(x0, y0, x1, y1)`` covering the frame, ``rows`` of them down.

    ``rows`` 0: the whole frame as one tile. ``rows`` 1: squares as high as the frame side by side
    (2 for 16:9). ``rows`` n >= 2: squares of side ``1.2 * height / n`` (neighbours overlap by at
    least 20%, so a person cut by one tile's edge is whole in the next), plus the whole frame
    for people too big for a tile."""
    if rows <= 0:
        return [(0, 0, width, height)]
    side = min(width, height) if rows == 1 else min(width, height, round(1.2 * height / rows))

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = math.ceil((length - side) / (0.8 * side)) + 1
        return [round(v) for v in np.linspace(0, length - side, n)]

    tiles = [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]
    if rows >= 2:
        tiles.insert(0, (0, 0, width, height))
    return tiles


class HogDetector:
    """OpenCV's HOG people detector (Dalal & Triggs), on the whole frame shrunk to at most
    ``max_height`` rows for speed. Boxes are widened to the model crop by the backend."""

    def __init__(self, max_height: int = 480, min_score: float = 0.5):
        if not hasattr(cv2, "HOGDescriptor"):
            raise ConfigError(f"pose: this OpenCV ({cv2.__version__}) has no HOG people detector; "
                              "use detector: mediapipe (pip install --no-deps mediapipe==0.10.14)")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.max_height = max_height
        self.min_score = min_score

    def tiles(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        return [(0, 0, width, height)]

    def detect(self, rgb: np.ndarray, tile) -> list[tuple[Roi, float]]:
        x0, y0, x1, y1 = tile
        img = rgb[y0:y1, x0:x1]
        f = min(1.0, self.max_height / img.shape[0])
        if f < 1:
            img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        rects, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.1)
        out = []
        for (x, y, w, h), weight in zip(rects, np.ravel(weights)):
            score = 1.0 / (1.0 + math.exp(-float(weight)))  # SVM margin -> 0..1
            if score >= self.min_score:
                box = (x0 + x / f, y0 + y / f, x0 + (x + w) / f, y0 + (y + h) / f)
                out.append((Roi.from_box(box), score))
        return out
