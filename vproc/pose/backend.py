"""What a pose backend is, and the top-down loop both built-in backends share.

A backend turns one RGB frame into :class:`Observation` s (box, score, keypoints in the frame's
pixel coordinates); ids and smoothing are the node's business (:mod:`.tracker`,
:mod:`.one_euro`). Both built-in backends are top-down (:class:`TopDown`): a person detector
finds people, a keypoint model runs once per person on a crop around them (a region of interest,
:class:`Roi`), and each person's keypoints give the crop for the next frame, as MediaPipe's own
pose tracking does. The detector therefore runs on a schedule, not on every frame: its image
tiles (see :mod:`.detectors`) are spread over ``detect_every`` frames, round robin, so each frame
pays for a few tiles at most (and with ``threads`` > 1 the search runs alongside the
per-person models, which are spread over the threads too) and the whole frame is searched every ``detect_every`` frames;
when nobody is tracked the first frame searches all tiles at once.

Per frame: (1) each tracked person's keypoint model runs on their ROI; a person whose model
reports no person (score under ``min_score``) is let go (the tracker keeps their id for its grace
period, and the detector finds them again); (2) the tiles due this frame are searched, and each
detection whose centre is not within someone already tracked is tried, if there
is room or it is larger than the smallest person tracked (by 20%, so two similar people do not
take turns); (3) two
people whose boxes overlap by IoU 0.5 or more, or whose sure keypoints lie together, are one
person seen twice (:func:`same_person`): the lower score goes;
(4) at most ``max_people`` stay, the largest first (box area times score), so the people in
front are the ones kept when a crowd is behind them.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np

from .tracker import iou_matrix


@dataclass(frozen=True)
class Roi:
    """A square or rectangular region around a person, in frame pixels: centre, size and the
    rotation (radians, counter-clockwise) that makes the person upright in the crop."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    @property
    def box(self) -> np.ndarray:
        """The axis-aligned box ``(x0, y0, x1, y1)`` that holds the rotated region."""
        c, s = abs(math.cos(self.rotation)), abs(math.sin(self.rotation))
        hw = 0.5 * (self.width * c + self.height * s)
        hh = 0.5 * (self.width * s + self.height * c)
        return np.array([self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh])

    @classmethod
    def from_box(cls, box, scale: float = 1.0) -> Roi:
        x0, y0, x1, y1 = (float(v) for v in box)
        return cls(0.5 * (x0 + x1), 0.5 * (y0 + y1), (x1 - x0) * scale, (y1 - y0) * scale)


@dataclass
class Observation:
    """One person in one frame: ``box`` ``(x0, y0, x1, y1)``, ``score`` 0..1 and ``keypoints``
    ``(K, 3)`` float32 ``x, y, confidence``, all in the frame's pixel coordinates."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray


def keypoint_box(keypoints: np.ndarray, min_confidence: float = 0.5) -> np.ndarray:
    """The box around the keypoints confident enough (all of them when fewer than 3 are)."""
    pts = keypoints[keypoints[:, 2] >= min_confidence, :2]
    if len(pts) < 3:
        pts = keypoints[:, :2]
    return np.array([*pts.min(0), *pts.max(0)], np.float64)


class Backend(abc.ABC):
    """A pose model: ``names`` and ``bones`` of its keypoint layout, and a call per frame."""

    names: tuple[str, ...] = ()
    bones: tuple[tuple[int, int], ...] = ()

    @abc.abstractmethod
    def __call__(self, rgb: np.ndarray) -> list[Observation]:
        """The people in ``rgb`` (``(H, W, 3)`` uint8, RGB), in frame pixel coordinates."""

    def reset(self) -> None:
        """Forget everyone tracked (a new clip)."""

    def close(self) -> None:
        """Release the model."""

    @property
    def summary(self) -> dict:
        """Counters for the node's stats (detector runs, people tried...)."""
        return {}


@dataclass
class _Lead:
    roi: Roi
    obs: Observation


class TopDown(Backend):
    """The detect-then-follow loop of the module docstring; subclasses give the detector
    (``self.detector``: an object with ``tiles(w, h)`` and ``detect(rgb, tile) -> [(Roi,
    score)]``) and :meth:`estimate`."""

    def __init__(self, detector, max_people: int = 3, detect_every: int = 10, min_score: float = 0.5,
                 threads: int = 1):
        self.detector = detector
        self.threads = max(1, int(threads))
        self._pool = None
        if self.threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="pose")
        self.max_people = int(max_people)
        self.detect_every = max(1, int(detect_every))
        self.min_score = float(min_score)
        self.leads: list[_Lead] = []
        self._tiles: list | None = None
        self._size: tuple[int, int] | None = None
        self._cursor = 0
        self.stats = {"frames": 0, "tiles": 0, "detections": 0, "estimates": 0, "people": 0}

    @abc.abstractmethod
    def estimate(self, rgb: np.ndarray, roi: Roi, worker: int = 0) -> tuple[Observation, Roi] | None:
        """Keypoints of the person in ``roi``, and the ROI to look in on the next frame; None
        when the model finds no person there. Calls with different ``worker`` (0 ..
        ``threads - 1``) may run at the same time; calls with the same one never do."""

    def reset(self) -> None:
        self.leads = []
        self._cursor = 0

    @property
    def summary(self) -> dict:
        n = max(self.stats["frames"], 1)
        return {"people_per_frame": round(self.stats["people"] / n, 3),
                "detector_tiles_per_frame": round(self.stats["tiles"] / n, 3),
                "estimates_per_frame": round(self.stats["estimates"] / n, 3)}

    def _due_tiles(self, w: int, h: int) -> list:
        if self._size != (w, h):
            self._tiles, self._size, self._cursor = self.detector.tiles(w, h), (w, h), 0
        tiles = self._tiles
        if not self.leads:  # nobody to follow: search everywhere now, and restart the cycle
            self._cursor = 1
            return list(tiles)
        # Tile i is searched on frame (i * detect_every) // len(tiles) of each cycle.
        slot = self._cursor % self.detect_every
        self._cursor += 1
        n = len(tiles)
        return [t for i, t in enumerate(tiles) if (i * self.detect_every) // n == slot]

    def _estimate_all(self, rgb, rois: list[Roi], also=None) -> list[_Lead | None]:
        """Estimate every ROI, spread over the worker threads; ``also`` (a callable) runs
        alongside them and its result is returned last."""
        self.stats["estimates"] += len(rois)

        def run(worker: int):
            out = []
            for roi in rois[worker::self.threads]:
                found = self.estimate(rgb, roi, worker)
                out.append(_Lead(found[1], found[0]) if found and found[0].score >= self.min_score else None)
            return out

        if self._pool is None:
            extra = also() if also else None
            return run(0) + [extra]
        futures = [self._pool.submit(run, w) for w in range(min(self.threads, len(rois)))]
        extra = self._pool.submit(also) if also else None
        parts = [f.result() for f in futures]
        merged = [None] * len(rois)
        for w, part in enumerate(parts):
            merged[w::self.threads] = part
        return merged + [extra.result() if extra else None]

    def _detect(self, rgb, tiles) -> list[tuple[Roi, float]]:
        found = []
        for tile in tiles:
            self.stats["tiles"] += 1
            found += self.detector.detect(rgb, tile)
        self.stats["detections"] += len(found)
        return found

    def __call__(self, rgb: np.ndarray) -> list[Observation]:
        h, w = rgb.shape[:2]
        self.stats["frames"] += 1
        tiles = self._due_tiles(w, h)
        # Following the people we have and searching this frame's tiles are independent: together.
        *leads, found = self._estimate_all(rgb, [lead.roi for lead in self.leads],
                                           (lambda: self._detect(rgb, tiles)) if tiles else None)
        leads = [lead for lead in leads if lead]
        # A detection is new when it overlaps nobody followed, and worth a model run when it
        # could make the cut of max_people (the largest first, as below).
        found = sorted(found or (), key=lambda d: -d[0].width * d[0].height * d[1])
        fresh: list[Roi] = []
        smallest = min((l.roi.width * l.roi.height * l.obs.score for l in leads), default=0.0)
        for roi, score in found:
            if any(_inside(roi, lead.obs.box) for lead in leads) or any(_near(roi, r) for r in fresh):
                continue
            if len(fresh) >= self.max_people:
                break
            if len(leads) + len(fresh) >= self.max_people and roi.width * roi.height * score <= 1.2 * smallest:
                continue  # would not displace anyone: not worth a model run
            fresh.append(roi)
        if fresh:
            leads += [lead for lead in self._estimate_all(rgb, fresh)[:-1] if lead]
        leads.sort(key=lambda l: -l.obs.score)
        kept: list[_Lead] = []
        for lead in leads:  # the same person reached from two ROIs: keep the surer one
            if not any(same_person(lead.obs, k.obs) for k in kept):
                kept.append(lead)
        kept.sort(key=lambda l: -_area(l.obs.box) * l.obs.score)
        self.leads = kept[:self.max_people]
        self.stats["people"] += len(self.leads)
        return [lead.obs for lead in self.leads]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _inside(roi: Roi, box) -> bool:
    """Whether the ROI's centre (a body's centre) lies in ``box`` grown by 10%: someone already
    followed."""
    x0, y0, x1, y1 = box
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return x0 - mx <= roi.cx <= x1 + mx and y0 - my <= roi.cy <= y1 + my


def _near(a: Roi, b: Roi) -> bool:
    """Whether two detections are one body: centres closer than a fifth of the larger ROI (the
    same person found in two overlapping tiles)."""
    return math.hypot(a.cx - b.cx, a.cy - b.cy) < 0.2 * max(a.width, a.height, b.width, b.height)


def same_person(a: Observation, b: Observation) -> bool:
    """Whether two observations are one person: boxes overlapping by IoU 0.5 or more, or the
    keypoints both are sure of lying together (median distance under 10% of the larger box's
    long side), which also catches a crop that found only the upper body of someone followed."""
    if iou_matrix(a.box, b.box)[0, 0] >= 0.5:
        return True
    sure = (a.keypoints[:, 2] >= 0.5) & (b.keypoints[:, 2] >= 0.5)
    if sure.sum() < 3:
        return False
    d = np.linalg.norm(a.keypoints[sure, :2] - b.keypoints[sure, :2], axis=1)
    size = max(a.box[2] - a.box[0], a.box[3] - a.box[1], b.box[2] - b.box[0], b.box[3] - b.box[1])
    return float(np.median(d)) < 0.1 * size


def _area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
