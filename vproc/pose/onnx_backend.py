"""A user-supplied top-down keypoint model, run with onnxruntime.

The model's convention (what a file must look like to be used here):

- **One person per call.** The node finds people with a person detector (``detector``:
  ``mediapipe``, BlazePose's detector when mediapipe is installed, or ``hog``, OpenCV 4's
  people detector) and follows them from frame to frame by their keypoints, as the MediaPipe
  backend does (:class:`~vproc.pose.backend.TopDown`). Each person's crop is their box grown by
  ``padding`` (1.25) about its centre, then widened or heightened to the model's aspect ratio,
  upright (not rotated); parts outside the frame are black.
- **Input**: one tensor, float32 ``(1, 3, H, W)``, RGB, ``H`` and ``W`` fixed in the model; pixel
  values ``(v / 255 - mean) / std`` per channel (``mean`` 0 and ``std`` 1 by default: RGB in
  [0, 1]; ImageNet models want ``mean: [0.485, 0.456, 0.406]``, ``std: [0.229, 0.224, 0.225]``).
- **Output**: the first output, either
  - ``(1, K, 3)``: ``x, y, confidence`` per keypoint, ``x`` and ``y`` normalised to 0..1 across
    the crop's width and height (0 = the crop's left/top edge, 1 = its right/bottom edge), or
  - ``(1, K, h, w)``: one heatmap per keypoint over the crop; the keypoint is at the peak, refined
    to a sub-cell position by a parabola through the peak and its neighbours, cell ``(i, j)``
    covering the crop's ``[j/w, (j+1)/w] x [i/h, (i+1)/h]``; the confidence is the peak value
    clipped to 0..1.
- **Names**: the ``names`` parameter, else COCO-17 for 17 keypoints (with its bones), BlazePose's
  33 for 33, ``kp0..kpK-1`` otherwise.

A person is kept while the mean keypoint confidence is at least ``min_score``. The model runs on
``cpu`` or, when onnxruntime has ``CUDAExecutionProvider``, on ``cuda``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .backend import Observation, Roi, TopDown, keypoint_box
from .layouts import layout_for


def crop_box(roi: Roi, aspect: float, padding: float) -> tuple[float, float, float, float]:
    """The crop ``(x0, y0, width, height)`` in frame pixels for ``roi`` and a model input of
    ``aspect`` = W / H: the ROI grown by ``padding``, then its short side grown to the aspect."""
    w, h = roi.width * padding, roi.height * padding
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return roi.cx - w / 2, roi.cy - h / 2, w, h


def heatmap_peaks(maps: np.ndarray) -> np.ndarray:
    """``(K, 3)`` of ``x, y, peak`` in heatmap cells (continuous: cell ``j`` spans ``[j, j+1]``)
    for ``(K, h, w)`` heatmaps, refined by a parabola through the peak and its two neighbours."""
    k, h, w = maps.shape
    flat = maps.reshape(k, -1)
    idx = flat.argmax(1)
    iy, ix = np.divmod(idx, w)
    out = np.empty((k, 3), np.float32)
    for n in range(k):
        m, y, x = maps[n], iy[n], ix[n]
        dx = dy = 0.0
        if 0 < x < w - 1:
            dx = _vertex(m[y, x - 1], m[y, x], m[y, x + 1])
        if 0 < y < h - 1:
            dy = _vertex(m[y - 1, x], m[y, x], m[y + 1, x])
        out[n] = (x + 0.5 + dx, y + 0.5 + dy, m[y, x])
    return out


def _vertex(left: float, centre: float, right: float) -> float:
    curvature = left - 2 * centre + right
    if curvature >= 0:  # flat or not a maximum: keep the cell centre
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


class OnnxBackend(TopDown):
    """See the module docstring for the model convention."""

    def __init__(self, model: str, device: str = "cpu", detector=None, max_people: int = 3,
                 detect_every: int = 10, min_score: float = 0.3, names=None, mean=(0.0, 0.0, 0.0),
                 std=(1.0, 1.0, 1.0), padding: float = 1.25):
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigError("pose: device cuda needs onnxruntime with CUDAExecutionProvider "
                                  "(pip install onnxruntime-gpu), or set device: cpu")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(model), providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise ConfigError(f"pose: cannot load ONNX model {model!r}: {e}") from None
        inp = self.session.get_inputs()[0]
        shape = inp.shape
        if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) for d in shape[2:]):
            raise ConfigError(f"pose: the ONNX model's input must be (1, 3, H, W) with H and W fixed (got {shape})")
        self.input_name = inp.name
        self.in_h, self.in_w = int(shape[2]), int(shape[3])
        # The output's shape may be symbolic: one run on a blank crop says what it really is.
        probe = self.session.run(None, {self.input_name: np.zeros((1, 3, self.in_h, self.in_w), np.float32)})[0]
        if probe.ndim == 3 and probe.shape[0] == 1 and probe.shape[2] == 3:
            self.heatmaps = False
        elif probe.ndim == 4 and probe.shape[0] == 1:
            self.heatmaps = True
        else:
            raise ConfigError(f"pose: the ONNX model's output must be (1, K, 3) or (1, K, h, w) (got {probe.shape})")
        count = probe.shape[1]
        if names and len(names) != count:
            raise ConfigError(f"pose: names has {len(names)} entries, the model gives {count} keypoints")
        self.names, self.bones = layout_for(count, names)
        self.mean = np.asarray(mean, np.float32).reshape(3, 1, 1) * 255
        self.scale = 1.0 / (np.asarray(std, np.float32).reshape(3, 1, 1) * 255)
        self.padding = float(padding)
        if detector is None:
            from .detectors import HogDetector

            detector = HogDetector()
        super().__init__(detector, max_people, detect_every, min_score)

    def keypoints(self, rgb: np.ndarray, roi: Roi) -> np.ndarray:
        """``(K, 3)`` float32 ``x, y, confidence`` in frame pixels for the person in ``roi``."""
        import cv2

        x0, y0, cw, ch = crop_box(roi, self.in_w / self.in_h, self.padding)
        sx, sy = cw / self.in_w, ch / self.in_h
        # Inverse map: crop pixel (j, i) samples frame pixel index x0 + (j + 0.5) sx - 0.5 (centres).
        m = np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5]], np.float64)
        crop = cv2.warpAffine(rgb, m, (self.in_w, self.in_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        x = (crop.transpose(2, 0, 1).astype(np.float32) - self.mean) * self.scale
        out = self.session.run(None, {self.input_name: x[None]})[0][0]
        if self.heatmaps:
            peaks = heatmap_peaks(np.asarray(out, np.float32))
            u, v = peaks[:, 0] / out.shape[2], peaks[:, 1] / out.shape[1]
            conf = peaks[:, 2]
        else:
            u, v, conf = out[:, 0], out[:, 1], out[:, 2]
        kp = np.empty((len(u), 3), np.float32)
        kp[:, 0] = x0 + u * cw
        kp[:, 1] = y0 + v * ch
        kp[:, 2] = np.clip(conf, 0.0, 1.0)
        return kp

    def estimate(self, rgb: np.ndarray, roi: Roi, worker: int = 0):
        kp = self.keypoints(rgb, roi)
        box = keypoint_box(kp, 0.3)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:  # collapsed onto a point: nobody there
            return None
        score = float(kp[:, 2].mean())
        return Observation(box, score, kp), Roi.from_box(box)
