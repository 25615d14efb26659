"""Stable identities across frames: match each frame's person boxes to the tracks of the frames
before by box overlap.

Each track predicts where its box is now from its velocity (constant velocity, the velocity
smoothed over the last updates), so a walker hidden for a few frames, or passing someone, is
still found where they went. Matching is greedy on intersection over union (IoU) of the new
boxes with the predicted ones, best pair first, pairs under
``min_iou`` never matched: with a few people per frame greedy and Hungarian agree except in
contrived ties, and greedy needs no solver. A box left unmatched starts a new track with a
fresh id (ids count up and are never reused); a track left unmatched keeps its id for ``grace``
seconds of frame time, so a person hidden for a moment (or missed by the model) comes back under
the same id, and is dropped after that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou_matrix(a, b) -> np.ndarray:
    """IoU of every box of ``a`` (``(N, 4)`` x0, y0, x1, y1) with every box of ``b`` (``(M, 4)``)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Track:
    """One identity: its id, its last box, when it was last seen (seconds) and the box's
    velocity (per second)."""

    id: int
    box: np.ndarray
    seen: float
    velocity: np.ndarray = None  # type: ignore[assignment]

    def predict(self, time: float) -> np.ndarray:
        if self.velocity is None:
            return self.box
        return self.box + self.velocity * (time - self.seen)

    def move(self, box: np.ndarray, time: float) -> None:
        dt = time - self.seen
        if dt > 0:
            v = (box - self.box) / dt
            # Smoothed, so one noisy box does not throw the prediction.
            self.velocity = v if self.velocity is None else 0.5 * (self.velocity + v)
        self.box, self.seen = box, time


class Tracker:
    """Assigns stable ids to the boxes of successive frames (see the module docstring).

    Args:
        min_iou: the least overlap for a box to continue a track.
        grace: seconds a track waits unmatched before its id is dropped.
    """

    def __init__(self, min_iou: float = 0.2, grace: float = 0.5):
        self.min_iou = float(min_iou)
        self.grace = float(grace)
        self.tracks: list[Track] = []
        self.next_id = 1
        self.dropped: list[int] = []  # ids dropped by the last update

    def update(self, boxes, time: float) -> list[int]:
        """Ids for ``boxes`` (``(N, 4)``) seen at ``time`` seconds, in the same order."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = [0] * len(boxes)
        free_boxes = set(range(len(boxes)))
        free_tracks = set(range(len(self.tracks)))
        if self.tracks and len(boxes):
            iou = iou_matrix(boxes, np.stack([t.predict(time) for t in self.tracks]))
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                i, j = divmod(int(flat), iou.shape[1])
                if iou[i, j] < self.min_iou:
                    break
                if i in free_boxes and j in free_tracks:
                    free_boxes.discard(i)
                    free_tracks.discard(j)
                    track = self.tracks[j]
                    track.move(boxes[i], time)
                    ids[i] = track.id
        for i in sorted(free_boxes):
            self.tracks.append(Track(self.next_id, boxes[i], time))
            ids[i] = self.next_id
            self.next_id += 1
        self.dropped = [t.id for t in self.tracks if time - t.seen > self.grace]
        self.tracks = [t for t in self.tracks if time - t.seen <= self.grace]
        return ids

    def reset(self) -> None:
        """Drop every track (ids still never come back)."""
        self.dropped = [t.id for t in self.tracks]
        self.tracks = []
