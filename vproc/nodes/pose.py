"""``pose``: human body keypoints of several people per frame, with stable ids and smoothing.

Pixels pass through untouched (same frame, same format); each frame gets
``meta["people"]``, a :class:`~vproc.pose.people.People`: per person an ``id`` (stable while they
stay in view), a ``box``, a ``score`` and ``(K, 3)`` keypoints ``x, y, confidence`` in the input
frame's pixel coordinates (continuous: the image spans ``[0, width] x [0, height]``, see
:mod:`vproc.geometry`), plus the layout's keypoint ``names`` and ``bones``.

Backends (``backend``):

- ``mediapipe`` (default, ``cpu``): BlazePose full, the 33-keypoint model shipped inside the
  ``mediapipe==0.10.14`` wheel, made multi-person by its own person detector on image tiles and
  per-person tracking from landmarks (:mod:`vproc.pose.mediapipe_backend`,
  :mod:`vproc.pose.backend`). Nothing is downloaded at run time.
- ``onnx`` (``cpu``; ``cuda`` when onnxruntime has the CUDA provider): a top-down keypoint model
  of one's own (``model``), with the input/output convention of :mod:`vproc.pose.onnx_backend`.

Install: ``pip install -e '.[pose]' && pip install --no-deps mediapipe==0.10.14``.

Speed: the person detector searches ``tiles`` of the frame spread over ``detect_every`` frames
(a tile or two per frame), and the keypoint model runs once per person per frame, so the cost
grows with ``max_people`` (3 by default: about 16 ms per person for BlazePose full on one core;
``threads`` 2 runs two people at once). Measured on 2 cores (openpose_video, 1280x720 at 50 fps,
a street with many pedestrians, 200 frames, the node alone, defaults): 25.7 fps with 2.56 people
per frame (``tiles`` 1: 28.5 fps, 2.46 people; ``tiles`` 0: 36.9 fps, 2.06 people).

Identity and smoothing (:mod:`vproc.pose.tracker`, :mod:`vproc.pose.one_euro`): boxes are matched
to the previous frames' by IoU, and an id survives ``grace`` seconds unseen; each person's
keypoints go through a One-Euro filter over the frames' own times (``smoothing: false`` turns it
off), with speeds in person heights per second so one setting fits every size; confidences are
passed through as measured. The defaults (``min_cutoff`` 1 Hz, ``beta`` 0.5) come from a sweep
on the first 200 frames of both clips of ``benchmarks/skeleton.py``: among the settings that
halved the jitter (mean keypoint acceleration) on both with a margin, the one with least lag: 6.1x less jitter
at 62 ms lag on openpose_video (50 fps, people ~300 px tall) and 2.2x at 69 ms on vtest (10 fps,
people ~50 px). MediaPipe's own (0.05, 80) gave 1.25x on the first; (0.5, 10) 2.1x / 10 ms and
1.2x / 16 ms: less lag, but not half the jitter on the small, slow-frame-rate people.

The node's ``summary`` (in the run's statistics: ``--json``, ``--stats``) counts people per
frame, detector tiles per frame, model runs per frame and ids handed out.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import ConfigError
from ..formats import get_format
from ..frame import Frame, StreamInfo
from ..node import Node
from ..pose import require
from ..pose.one_euro import OneEuro
from ..pose.people import People, Person
from ..pose.tracker import Tracker
from ..registry import register

@dataclass(frozen=True)
class PoseParams:
    backend: Literal["mediapipe", "onnx"] = field(default="mediapipe", metadata={
        "help": "mediapipe: BlazePose full (33 keypoints, shipped in the mediapipe wheel); onnx: a keypoint model file of one's own"})
    model: str | None = field(default=None, metadata={
        "help": "onnx: the model file (input (1, 3, H, W) RGB, output (1, K, 3) or (1, K, h, w) heatmaps; see vproc.pose.onnx_backend)"})
    max_people: int = field(default=3, metadata={
        "help": "most people followed per frame, the largest first, 1..32; each costs one model run per frame"})
    detect_every: int = field(default=10, metadata={
        "help": "frames over which the person detector's tiles are spread (the whole frame searched once per this many), 1..1000"})
    tiles: int = field(default=2, metadata={
        "help": "mediapipe detector tiles: 0 whole frame only, 1 frame-high squares, n >= 2 n rows of overlapping squares plus the whole frame (small people need tiles)"})
    detector: Literal["auto", "mediapipe", "hog"] = field(default="auto", metadata={
        "help": "onnx: person detector: mediapipe (BlazePose's, when installed), hog (OpenCV's people detector); auto: mediapipe if installed"})
    min_score: float | None = field(default=None, metadata={
        "help": "least person score kept, 0..1 (default 0.5 for mediapipe: presence of head and torso; 0.3 for onnx: mean keypoint confidence)"})
    threads: int = field(default=2, metadata={
        "help": "mediapipe: people estimated in parallel (one model per thread), 1..16"})
    names: list[str] | None = field(default=None, metadata={
        "help": "onnx: keypoint names (default: COCO-17 for 17 keypoints, else kp0..kpK-1)"})
    mean: list[float] = field(default=(0.0, 0.0, 0.0), metadata={
        "help": "onnx: per-channel mean subtracted from RGB in [0, 1]"})
    std: list[float] = field(default=(1.0, 1.0, 1.0), metadata={
        "help": "onnx: per-channel divisor of RGB in [0, 1] after the mean"})
    smoothing: bool = field(default=True, metadata={
        "help": "One-Euro filter on every keypoint (false: raw model output)"})
    min_cutoff: float = field(default=1.0, metadata={
        "help": "One-Euro cutoff in Hz at standstill, > 0: lower is smoother and slower to follow slow moves"})
    beta: float = field(default=0.5, metadata={
        "help": "One-Euro speed coefficient, >= 0 (speed in person heights per second): higher follows fast moves with less lag"})
    d_cutoff: float = field(default=1.0, metadata={
        "help": "One-Euro cutoff in Hz of the speed estimate, > 0"})
    grace: float = field(default=0.5, metadata={
        "help": "seconds a person may go unseen and come back under the same id, 0..60"})

    def __post_init__(self):
        if not 1 <= self.max_people <= 32:
            raise ValueError(f"max_people must be within 1..32 (got {self.max_people})")
        if not 1 <= self.detect_every <= 1000:
            raise ValueError(f"detect_every must be within 1..1000 (got {self.detect_every})")
        if not 0 <= self.tiles <= 8:
            raise ValueError(f"tiles must be within 0..8 (got {self.tiles})")
        if self.min_score is not None and not 0 <= self.min_score <= 1:
            raise ValueError(f"min_score must be within 0..1 (got {self.min_score})")
        if not 1 <= self.threads <= 16:
            raise ValueError(f"threads must be within 1..16 (got {self.threads})")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need 3 values each, std > 0")
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0, beta >= 0")
        if not 0 <= self.grace <= 60:
            raise ValueError(f"grace must be within 0..60 seconds (got {self.grace})")
        if self.backend == "onnx" and not self.model:
            raise ValueError("backend onnx needs model: the path of an .onnx file")


@register("pose")
class Pose(Node):
    """Multi-person body keypoints into ``meta["people"]``; pixels untouched (module docstring)."""

    Params = PoseParams
    devices = ("cpu", "cuda")
    sidecar_keys = ("people",)

    def check(self, info: StreamInfo) -> None:
        if self.device == "cuda":
            if self.params.backend != "onnx":
                raise ConfigError("pose: the mediapipe backend runs on the CPU only (set device: cpu on this node)")
            ort = require("onnxruntime", "pose")
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigError("pose: device cuda needs onnxruntime with CUDAExecutionProvider "
                                  "(pip install onnxruntime-gpu), or set device: cpu")
        fmt = get_format(info.format)
        if fmt.family not in ("yuv", "rgb", "gray"):
            raise ConfigError(f"pose: cannot read {info.format} frames")

    def open(self, info: StreamInfo) -> StreamInfo:
        from .convert import Convert, ConvertParams

        self.check(info)
        p = self.params
        self.backend = self._backend()
        # Frames reach the model as packed 8-bit RGB, converted by the convert node's own code
        # (the stream's matrix and range; no copy when they already are rgb24).
        self.to_rgb = Convert(ConvertParams("rgb24"), "cpu", f"{self.name}.rgb")
        self.to_rgb.open(info)
        self.tracker = Tracker(grace=p.grace)
        self.filters: dict = {}
        self.frames = 0
        return info

    def _backend(self):
        p = self.params
        if p.backend == "mediapipe":
            require("mediapipe", "pose")
            from ..pose.mediapipe_backend import MediaPipeBackend

            score = 0.5 if p.min_score is None else p.min_score
            return MediaPipeBackend(p.max_people, p.detect_every, score, p.tiles, p.threads)
        require("onnxruntime", "pose")
        import os

        if not os.path.isfile(p.model) or not os.access(p.model, os.R_OK):
            raise ConfigError(f"pose: model file {p.model!r} is missing or unreadable")
        detector = None
        want = p.detector
        if want == "auto":
            want = "mediapipe" if importlib.util.find_spec("mediapipe") else "hog"
        if want == "mediapipe":
            require("mediapipe", "pose")
            from ..pose.mediapipe_backend import MediaPipeDetector

            detector = MediaPipeDetector(p.tiles)
        from ..pose.onnx_backend import OnnxBackend

        score = 0.3 if p.min_score is None else p.min_score
        return OnnxBackend(p.model, self.device, detector, p.max_people, p.detect_every, score,
                           p.names, p.mean, p.std)

    def process(self, frame: Frame) -> list[Frame]:
        rgb = self.to_rgb.process(frame.to("cpu"))[0].data
        observations = self.backend(np.ascontiguousarray(rgb))
        time = float(frame.pts * frame.time_base)
        ids = self.tracker.update([o.box for o in observations], time)
        for gone in self.tracker.dropped:
            self.filters.pop(gone, None)
        people = []
        p = self.params
        for pid, obs in zip(ids, observations):
            kp = np.array(obs.keypoints, np.float32)
            if p.smoothing:
                filt = self.filters.get(pid)
                if filt is None:
                    filt = self.filters[pid] = OneEuro(p.min_cutoff, p.beta, p.d_cutoff, min_confidence=0.5)
                height = max(float(obs.box[3] - obs.box[1]), float(obs.box[2] - obs.box[0]), 1.0)
                kp[:, :2] = filt(kp[:, :2], time, kp[:, 2], scale=height)
            box = tuple(float(v) for v in obs.box)
            people.append(Person(int(pid), box, float(obs.score), kp))
        self.frames += 1
        out = frame.with_data(frame.data)
        out.meta = dict(frame.meta)
        out.meta["people"] = People(tuple(people), self.backend.names, self.backend.bones)
        return [out]

    @property
    def summary(self) -> dict:
        """Counters of the run so far: the backend's, and the ids handed out."""
        out = dict(self.backend.summary) if hasattr(self, "backend") else {}
        if hasattr(self, "tracker"):
            out["ids"] = self.tracker.next_id - 1
        return out

    def close(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
