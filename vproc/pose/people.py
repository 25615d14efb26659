"""People found in a frame: what the ``pose`` node puts into ``Frame.meta["people"]``.

Coordinates follow :mod:`vproc.geometry` (continuous pixel coordinates of the frame that carries
them), so ``resize`` and ``vsr`` rescale them and an ``overlay`` drawn later lands on the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Person:
    """One tracked person: a stable ``id`` while they stay in view, their ``box``
    ``(x0, y0, x1, y1)``, a detection ``score`` in 0..1 and ``keypoints``, a ``(K, 3)`` float32
    array of ``x, y, confidence`` (confidence 0..1: how sure the model is that the joint is
    present and visible)."""

    id: int
    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    def scaled(self, sx: float, sy: float) -> Person:
        kp = self.keypoints.copy()
        kp[:, 0] *= sx
        kp[:, 1] *= sy
        x0, y0, x1, y1 = self.box
        return Person(self.id, (x0 * sx, y0 * sy, x1 * sx, y1 * sy), self.score, kp)

    def to_json(self) -> dict:
        return {
            "id": int(self.id),
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(c), 4)]
                          for x, y, c in self.keypoints],
        }


@dataclass(frozen=True)
class People:
    """Everyone found in one frame, with the keypoint layout they share: ``names`` of the K
    keypoints and the ``bones`` (pairs of keypoint indices) an overlay draws."""

    people: tuple[Person, ...]
    names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.people)

    def __iter__(self):
        return iter(self.people)

    def scaled(self, sx: float, sy: float) -> People:
        return People(tuple(p.scaled(sx, sy) for p in self.people), self.names, self.bones)

    def to_json(self) -> list:
        """For the sidecar: one object per person (``id``, ``box``, ``score``, ``keypoints``)."""
        return [p.to_json() for p in self.people]
