"""BlazePose (MediaPipe's full pose landmark model) for several people per frame.

Only what ships inside the ``mediapipe==0.10.14`` wheel is used: the person detector
(``pose_detection.tflite``) and the *full* landmark model (``pose_landmark_full.tflite``,
``MODEL_COMPLEXITY`` 1). The lite and heavy models are downloaded by MediaPipe at run time and
so are never asked for. MediaPipe's ``Pose`` solution follows one person; here its registered
C++ subgraphs run in two graphs of our own (``SolutionBase`` with a graph config):

- detector: ``PoseDetectionCpu`` on an image tile -> every person found (after NMS), each with a
  hip centre (keypoint 0) and a point whose distance and direction from it give the body's
  size and rotation (keypoint 1); :meth:`MediaPipeDetector.detect` turns them into ROIs exactly as
  MediaPipe's ``PoseDetectionToRoi`` does (square of side ``2 * |kp1 - kp0| * 1.25``, rotated so
  kp1 is straight above kp0);
- landmarks: ``PoseLandmarkByRoiCpu`` on the whole frame and one ROI -> 33 landmarks (or none
  when the model's person presence is under 0.5), and ``PoseLandmarksToRoi`` -> the ROI for the
  next frame, from the auxiliary landmarks, as MediaPipe's own tracking does.

The landmark graph is stateless between calls, so one graph serves any person; SolutionBase
gives each call a later timestamp. TFLite runs a graph on one core: with ``threads`` graphs the
people of a frame are estimated in parallel (on 2 cores, 2 people cost 19.5 ms instead of
32.8 ms at 720p). A keypoint's confidence is ``min(visibility, presence)``
(MediaPipe's own drawing hides a landmark when either is under 0.5).
"""

from __future__ import annotations

import math

import numpy as np

from . import quiet_stderr
from .backend import Observation, Roi, TopDown, keypoint_box
from .detectors import grid
from .layouts import BLAZEPOSE_BONES, BLAZEPOSE_NAMES

_DETECTOR_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }
"""

_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "next_roi"
input_side_packet: "model_complexity"
input_side_packet: "enable_segmentation"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image" output_stream: "SIZE:size" }
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "AUXILIARY_LANDMARKS:aux"
}
node { calculator: "PoseLandmarksToRoi" input_stream: "LANDMARKS:aux" input_stream: "IMAGE_SIZE:size" output_stream: "ROI:next_roi" }
"""

# PoseDetectionToRoi's constants: box scale and the angle kp0 -> kp1 is turned to.
_ROI_SCALE = 1.25
_TARGET_ANGLE = math.pi / 2


def _solution(text: str, outputs: list[str], side_inputs: dict | None = None):
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    config = text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())
    return SolutionBase(graph_config=config, side_inputs=side_inputs, outputs=outputs)


def _normalize_angle(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


class MediaPipeDetector:
    """BlazePose's person detector over the tiles of :func:`vproc.pose.detectors.grid`."""

    def __init__(self, rows: int = 2):
        self.rows = rows
        with quiet_stderr():  # start-up chatter of the graph and its first inference
            self.graph = _solution(_DETECTOR_GRAPH, ["detections"])
            self.detect(np.zeros((64, 64, 3), np.uint8), (0, 0, 64, 64))

    def tiles(self, width: int, height: int):
        return grid(width, height, self.rows)

    def detect(self, rgb: np.ndarray, tile) -> list[tuple[Roi, float]]:
        x0, y0, x1, y1 = tile
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        tw, th = x1 - x0, y1 - y0
        found = self.graph.process({"image": crop}).detections or []
        out = []
        for det in found:
            kps = det.location_data.relative_keypoints
            hx, hy = x0 + kps[0].x * tw, y0 + kps[0].y * th
            ex, ey = x0 + kps[1].x * tw, y0 + kps[1].y * th
            side = 2.0 * math.hypot(ex - hx, ey - hy) * _ROI_SCALE
            rotation = _normalize_angle(_TARGET_ANGLE - math.atan2(-(ey - hy), ex - hx))
            out.append((Roi(hx, hy, side, side, rotation), float(det.score[0])))
        return out

    def close(self) -> None:
        self.graph.close()


class MediaPipeBackend(TopDown):
    """BlazePose full, several people per frame (see the module docstring and
    :class:`~vproc.pose.backend.TopDown` for the detect-then-follow loop)."""

    names = BLAZEPOSE_NAMES
    bones = BLAZEPOSE_BONES

    def __init__(self, max_people: int = 3, detect_every: int = 10, min_score: float = 0.5, tiles: int = 2,
                 threads: int = 2):
        super().__init__(MediaPipeDetector(tiles), max_people, detect_every, min_score, threads)
        # One landmark graph per thread: TFLite runs each on one core, and a graph takes one
        # call at a time.
        with quiet_stderr():  # the graphs' start-up chatter (see quiet_stderr)
            self.graphs = [_solution(_LANDMARK_GRAPH, ["landmarks", "next_roi"],
                                     {"model_complexity": 1, "enable_segmentation": False})
                           for _ in range(self.threads)]
            blank = np.zeros((64, 64, 3), np.uint8)
            for worker in range(self.threads):  # first inference: TFLite's delegate messages
                self.estimate(blank, Roi(32, 32, 64, 64), worker)

    def estimate(self, rgb: np.ndarray, roi: Roi, worker: int = 0):
        from mediapipe.framework.formats import rect_pb2

        h, w = rgb.shape[:2]
        rect = rect_pb2.NormalizedRect(x_center=roi.cx / w, y_center=roi.cy / h, width=roi.width / w,
                                       height=roi.height / h, rotation=roi.rotation)
        res = self.graphs[worker].process({"image": rgb, "roi": rect})
        if res.landmarks is None or res.next_roi is None:
            return None
        lms = res.landmarks.landmark
        kp = np.empty((len(lms), 3), np.float32)
        for i, lm in enumerate(lms):
            kp[i] = (lm.x * w, lm.y * h, min(lm.visibility, lm.presence))
        np.clip(kp[:, 2], 0.0, 1.0, out=kp[:, 2])
        # The model passed its own presence gate (0.5); the mean presence of the torso and head
        # (the points always inside a person's crop) says how sure it is.
        presence = float(np.mean([min(max(lms[i].presence, 0.0), 1.0) for i in (0, 11, 12, 23, 24)]))
        nr = res.next_roi
        nxt = Roi(nr.x_center * w, nr.y_center * h, nr.width * w, nr.height * h, nr.rotation)
        return Observation(keypoint_box(kp), presence, kp), nxt

    def close(self) -> None:
        super().close()
        for graph in self.graphs:
            graph.close()
        self.detector.close()
