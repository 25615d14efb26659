"""``pose`` node: timing and pixels untouched, people in meta in the input's pixel coordinates
(yuv420p and other formats), ids, errors at open for bad backends and models."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from vproc import registry
from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.nodes.pose import Pose, PoseParams
from vproc.params import build_params
from vproc.pose.people import People

TB = Fraction(1, 50)
NOSE = 0


def make(device="cpu", **params) -> Pose:
    return Pose(build_params(PoseParams, params, "node 'pose'"), device, "pose")


def astronaut(scale=1.0) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    img = data.astronaut()
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return img


def yuv420(rgb: np.ndarray, pts: int) -> Frame:
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    y = i420[:h].copy()
    u = i420[h:h + h // 4].reshape(h // 2, w // 2).copy()
    v = i420[h + h // 4:].reshape(h // 2, w // 2).copy()
    return Frame((y, u, v), pts, TB, "yuv420p", meta={"tag": 7}, duration=2)


def test_registered():
    assert registry.get("pose") is Pose


def test_yuv420p_passthrough_and_people_in_input_pixels():
    pytest.importorskip("mediapipe")
    rgb = astronaut(1.5)  # 768x768: coordinates must be this frame's, not the model's or the photo's
    node = make()
    info = StreamInfo(768, 768, "yuv420p", TB, rate=Fraction(50))
    assert node.open(info) == info
    try:
        frames = [yuv420(rgb, pts) for pts in (0, 2, 4, 7)]
        copies = [tuple(p.copy() for p in f.planes) for f in frames]
        outs = [o for f in frames for o in node.process(f)]
        assert node.flush() == []
        assert [o.pts for o in outs] == [0, 2, 4, 7] and len(outs) == 4
        ids = set()
        for f, o, before in zip(frames, outs, copies):
            assert o.format == "yuv420p" and o.duration == 2 and o.time_base == TB
            for a, b in zip(o.planes, before):
                np.testing.assert_array_equal(a, b)  # pixels untouched
            for a, b in zip(f.planes, before):
                np.testing.assert_array_equal(a, b)  # input not written either
            assert o.meta["tag"] == 7 and "people" not in f.meta
            people = o.meta["people"]
            assert isinstance(people, People) and len(people) == 1 and len(people.names) == 33
            person = people.people[0]
            ids.add(person.id)
            nose = person.keypoints[NOSE]
            assert 1.5 * 180 < nose[0] < 1.5 * 260 and 1.5 * 90 < nose[1] < 1.5 * 170
        assert len(ids) == 1
        assert node.summary["people_per_frame"] == 1.0 and node.summary["ids"] == 1
    finally:
        node.close()


@pytest.mark.parametrize("fmt", ["rgb24", "bgr24", "rgbpf32", "gray"])
def test_other_formats(fmt):
    pytest.importorskip("mediapipe")
    rgb = astronaut()
    data = {"rgb24": rgb, "bgr24": np.ascontiguousarray(rgb[..., ::-1]),
            "rgbpf32": np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255,
            "gray": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)}[fmt]
    node = make(smoothing=False)
    node.open(StreamInfo(512, 512, fmt, TB))
    try:
        out = node.process(Frame(data, 3, TB, fmt))[0]
        assert out.data is data or np.shares_memory(out.planes[0], data)
        people = out.meta["people"]
        assert len(people) == 1
        nose = people.people[0].keypoints[NOSE]
        assert 180 < nose[0] < 260 and 90 < nose[1] < 170
    finally:
        node.close()


def test_two_people_distinct_ids():
    pytest.importorskip("mediapipe")
    img = astronaut()
    two = np.ascontiguousarray(np.concatenate([img, img[:, ::-1]], axis=1))
    node = make()
    node.open(StreamInfo(1024, 512, "rgb24", TB))
    try:
        seen = []
        for pts in range(3):
            people = node.process(Frame(two, pts, TB, "rgb24"))[0].meta["people"]
            assert len(people) == 2
            seen.append({p.id: p.keypoints[NOSE, 0] < 512 for p in people})
        assert len(seen[0]) == 2 and seen[0] == seen[1] == seen[2]  # same ids, same sides
    finally:
        node.close()


def test_errors():
    with pytest.raises(ConfigError, match="model"):
        make(backend="onnx")
    with pytest.raises(ConfigError, match="max_people"):
        make(max_people=0)
    info = StreamInfo(64, 64, "yuv420p", TB)
    pytest.importorskip("onnxruntime")
    with pytest.raises(ConfigError, match="missing or unreadable"):
        make(backend="onnx", model="/nonexistent/model.onnx").open(info)
    with pytest.raises(ConfigError, match="CPU only"):
        make("cuda").check(info)
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ConfigError, match="CUDAExecutionProvider"):
            make("cuda", backend="onnx", model="x.onnx").check(info)


def test_onnx_backend_in_node(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.pose.test_onnx_backend import heatmap_model, mean_model

    import cv2

    detector = "hog" if hasattr(cv2, "HOGDescriptor") else "auto"  # OpenCV 5 has no HOG
    if detector == "auto":
        pytest.importorskip("mediapipe")
        with pytest.raises(ConfigError, match="HOG"):
            make(backend="onnx", model=mean_model(tmp_path / "m.onnx"), detector="hog").open(
                StreamInfo(160, 120, "yuv420p", TB))
    node = make(backend="onnx", model=mean_model(tmp_path / "m.onnx"), detector=detector)
    node.open(StreamInfo(160, 120, "yuv420p", TB))
    try:
        assert node.backend.names[0] == "nose" and len(node.backend.names) == 17
        out = node.process(yuv420(np.full((120, 160, 3), 90, np.uint8), 0))[0]
        assert len(out.meta["people"]) == 0 and out.meta["people"].names[0] == "nose"
    finally:
        node.close()
    with pytest.raises(ConfigError, match="names"):
        make(backend="onnx", model=heatmap_model(tmp_path / "h.onnx"), names=["a"], detector=detector).open(
            StreamInfo(160, 120, "yuv420p", TB))
