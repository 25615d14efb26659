"""ONNX backend: models built here with onnx.helper, whose keypoints are a known function of
the crop, so the mapping crop -> frame pixels is checked for both output conventions."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from vproc.errors import ConfigError  # noqa: E402
from vproc.pose.backend import Observation, Roi  # noqa: E402
from vproc.pose.layouts import COCO17_NAMES  # noqa: E402
from vproc.pose.onnx_backend import OnnxBackend, crop_box, heatmap_peaks  # noqa: E402


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def mean_model(path, k=17, h=32, w=24):
    """(1, K, 3): every keypoint is (mean R, mean G, mean B) of the crop, in [0, 1]."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3], keepdims=0),  # (1, 3)
        helper.make_node("Reshape", ["m", "shape"], ["r"]),  # (1, 1, 3)
        helper.make_node("Tile", ["r", "reps"], ["y"]),  # (1, K, 3)
    ]
    graph = helper.make_graph(
        nodes, "mean", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, k, 3])],
        [helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, 3]),
         helper.make_tensor("reps", TensorProto.INT64, [3], [1, k, 1])])
    return _save(graph, path)


def heatmap_model(path, k=2, h=64, w=48, pool=4):
    """(1, K, h/pool, w/pool): every heatmap is the red channel average-pooled by ``pool``."""
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["red"]),
        helper.make_node("AveragePool", ["red"], ["p"], kernel_shape=[pool, pool], strides=[pool, pool]),
        helper.make_node("Tile", ["p", "reps"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "heat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, k, h // pool, w // pool])],
        [helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
         helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
         helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
         helper.make_tensor("reps", TensorProto.INT64, [4], [1, k, 1, 1])])
    return _save(graph, path)


class Boxes:
    """A stand-in detector: the given boxes, on the one whole-frame tile."""

    def __init__(self, *boxes):
        self.boxes = boxes

    def tiles(self, w, h):
        return [(0, 0, w, h)]

    def detect(self, rgb, tile):
        return [(Roi.from_box(b), 0.9) for b in self.boxes]


def test_keypoint_output_maps_to_frame_pixels(tmp_path):
    backend = OnnxBackend(mean_model(tmp_path / "m.onnx"), detector=Boxes())
    assert backend.names == COCO17_NAMES and not backend.heatmaps and len(backend.bones) == 16
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:] = (64, 191, 255)
    roi = Roi.from_box((100, 50, 160, 170))  # 60 x 120, aspect 0.5; the model's is 0.75
    kp = backend.keypoints(frame, roi)
    x0, y0, cw, ch = crop_box(roi, 24 / 32, 1.25)
    assert (cw, ch) == pytest.approx((112.5, 150.0))  # 120 * 1.25 high, widened to 3:4
    assert x0 == pytest.approx(130 - 56.25) and y0 == pytest.approx(110 - 75)
    np.testing.assert_allclose(kp[:, 0], x0 + 64 / 255 * cw, atol=1e-3)
    np.testing.assert_allclose(kp[:, 1], y0 + 191 / 255 * ch, atol=1e-3)
    np.testing.assert_allclose(kp[:, 2], 1.0)


def test_normalisation_params(tmp_path):
    backend = OnnxBackend(mean_model(tmp_path / "m.onnx"), detector=Boxes(), mean=(0.25, 0.5, 0.0), std=(0.5, 0.5, 2.0))
    frame = np.full((100, 100, 3), 255, np.uint8)
    kp = backend.keypoints(frame, Roi.from_box((40, 30, 60, 70)))
    x0, y0, cw, ch = crop_box(Roi.from_box((40, 30, 60, 70)), 0.75, 1.25)
    np.testing.assert_allclose(kp[0], [x0 + 1.5 * cw, y0 + 1.0 * ch, 0.5], atol=1e-3)


def test_heatmap_peak_maps_to_frame_pixels(tmp_path):
    backend = OnnxBackend(heatmap_model(tmp_path / "h.onnx"), detector=Boxes())
    assert backend.heatmaps and backend.names == ("kp0", "kp1")
    yy, xx = np.mgrid[0:480, 0:640] + 0.5
    for cx, cy in ((301.3, 222.8), (288.0, 250.5)):
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 6.0 ** 2))
        frame = np.zeros((480, 640, 3), np.uint8)
        frame[..., 0] = np.round(255 * blob)
        roi = Roi.from_box((250, 150, 346, 278))  # 96 x 128: the crop is 120 x 160, 10 px per cell
        kp = backend.keypoints(frame, roi)
        assert np.abs(kp[:, 0] - cx).max() < 2.5 and np.abs(kp[:, 1] - cy).max() < 2.5  # a quarter cell
        assert 0.5 < kp[0, 2] <= 1.0


def test_heatmap_peaks_subcell():
    maps = np.zeros((1, 5, 5), np.float32)
    maps[0, 2, 1:4] = (0.5, 1.0, 0.5)  # symmetric: exactly the cell centre
    maps[0, 1:4, 2] = (0.25, 1.0, 0.75)  # brighter below: pulled down
    x, y, c = heatmap_peaks(maps)[0]
    assert x == pytest.approx(2.5) and 2.5 < y < 3.0 and c == 1.0


def spread_model(path, h=32, w=24):
    """(1, 5, 3): four corners of the crop's central 80% and its centre, confidence 0.9 (plus 0
    times the crop's mean, so the output depends on the input)."""
    kps = [[0.1, 0.1, 0.9], [0.9, 0.1, 0.9], [0.5, 0.5, 0.9], [0.1, 0.9, 0.9], [0.9, 0.9, 0.9]]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2, 3], keepdims=1),  # (1, 1, 1, 1)
        helper.make_node("Reshape", ["m", "shape"], ["r"]),  # (1, 1, 1)
        helper.make_node("Mul", ["r", "zero"], ["z"]),
        helper.make_node("Add", ["z", "kps"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "spread", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 3])],
        [helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, 1]),
         helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
         helper.make_tensor("kps", TensorProto.FLOAT, [1, 5, 3], sum(kps, []))])
    return _save(graph, path)


def test_tracking_loop_follows_people(tmp_path):
    detector = Boxes((20, 20, 80, 100), (200, 10, 245, 70))  # both 3:4, as the model
    backend = OnnxBackend(spread_model(tmp_path / "s.onnx"), detector=detector, max_people=3,
                          detect_every=5)
    frame = np.full((120, 320, 3), 128, np.uint8)
    first = backend(frame)
    assert len(first) == 2
    # The person box is the keypoints' box: the central 80% of the crop, i.e. the detection.
    boxes = sorted(tuple(np.round(o.box, 3)) for o in first)
    assert boxes == [(20, 20, 80, 100), (200, 10, 245, 70)]
    for _ in range(9):  # followed from their keypoints; detections overlap them and are skipped
        out = backend(frame)
        assert sorted(tuple(np.round(o.box, 3)) for o in out) == boxes
    s = backend.summary
    assert s["people_per_frame"] == 2 and s["detector_tiles_per_frame"] == 0.2  # the first frame, then 1 in 5
    # max_people 1 keeps the larger person only.
    backend = OnnxBackend(spread_model(tmp_path / "s.onnx"), detector=detector, max_people=1)
    assert [tuple(np.round(o.box, 3)) for o in backend(frame)] == [(20, 20, 80, 100)]


def test_bad_models(tmp_path):
    with pytest.raises(ConfigError, match="cannot load"):
        OnnxBackend(str(tmp_path / "missing.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load"):
        OnnxBackend(str(bad))
    # Output (1, K) is neither convention.
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    with pytest.raises(ConfigError, match=r"\(1, K, 3\)"):
        OnnxBackend(_save(graph, tmp_path / "flat.onnx"))
    with pytest.raises(ConfigError, match="names"):
        OnnxBackend(mean_model(tmp_path / "m.onnx"), names=["a", "b"])
