"""Side data with coordinates (vproc.geometry): the meta types scale, and the geometry nodes
(resize, vsr) carry keypoints along so they stay on the same image content."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vproc.frame import Frame, StreamInfo
from vproc.geometry import Polylines, scale_meta
from vproc.nodes.resize import Resize, ResizeParams
from vproc.nodes.vsr import Vsr, VsrParams
from vproc.params import build_params
from vproc.pose.people import People, Person

TB = Fraction(1, 25)


def people(x=40.5, y=30.5) -> People:
    kp = np.array([[x, y, 0.9], [x + 10, y + 20, 0.4]], np.float32)
    return People((Person(7, (x - 5, y - 5, x + 15, y + 25), 0.8, kp),), ("a", "b"), ((0, 1),))


def test_scale_meta_scales_geometric_values_only():
    meta = {"people": people(), "skeleton": Polylines([[[1, 2], [3, 4]]]), "tag": 5}
    out = scale_meta(meta, 2.0, 0.5)
    kp = out["people"].people[0].keypoints
    np.testing.assert_allclose(kp[:, :2], [[81, 15.25], [101, 25.25]])
    np.testing.assert_allclose(kp[:, 2], [0.9, 0.4])  # confidences untouched
    assert out["people"].people[0].box == (71.0, 12.75, 111.0, 27.75)
    np.testing.assert_allclose(out["skeleton"].lines[0], [[2, 1], [6, 2]])
    assert out["tag"] == 5
    assert meta["people"].people[0].keypoints[0, 0] == np.float32(40.5)  # the input is not changed


def bright_dot_frame(w, h, x, y) -> Frame:
    """A yuv420p frame, dark but for a bright 4x4 block whose centre is (x, y)."""
    luma = np.full((h, w), 20, np.uint8)
    luma[int(y) - 2:int(y) + 2, int(x) - 2:int(x) + 2] = 230
    chroma = np.full(((h + 1) // 2, (w + 1) // 2), 128, np.uint8)
    return Frame((luma, chroma, chroma.copy()), 0, TB, "yuv420p", meta={"people": people(x, y)})


def centroid(luma: np.ndarray) -> tuple[float, float]:
    """Centre of the bright block in continuous pixel coordinates."""
    wts = np.clip(luma.astype(np.float64) - 20, 0, None)
    ys, xs = np.indices(luma.shape)
    return (wts * (xs + 0.5)).sum() / wts.sum(), (wts * (ys + 0.5)).sum() / wts.sum()


@pytest.mark.parametrize("params", [{"scale": 2}, {"width": 100, "height": 90}, {"scale": 0.5}])
def test_resize_keeps_keypoints_on_the_content(params):
    frame = bright_dot_frame(160, 120, 64, 48)
    node = Resize(build_params(ResizeParams, params, "r"), "cpu", "r")
    node.open(StreamInfo(160, 120, "yuv420p", TB, rate=Fraction(25)))
    out = node.process(frame)[0]
    kx, ky = out.meta["people"].people[0].keypoints[0, :2]
    cx, cy = centroid(out.planes[0])
    assert abs(kx - cx) < 0.3 and abs(ky - cy) < 0.3, (kx, ky, cx, cy)
    assert out.meta["people"].people[0].keypoints[0, 2] == np.float32(0.9)


def test_vsr_scales_keypoints():
    node = Vsr(build_params(VsrParams, {"scale": 3, "radius": 0}, "v"), "cpu", "v")
    node.open(StreamInfo(64, 48, "yuv420p", TB, rate=Fraction(25)))
    frame = bright_dot_frame(64, 48, 30, 20)
    out = node.process(frame) + node.flush()
    kx, ky = out[0].meta["people"].people[0].keypoints[0, :2]
    cx, cy = centroid(out[0].planes[0])
    assert abs(kx - 90) < 1e-4 and abs(ky - 60) < 1e-4
    assert abs(kx - cx) < 0.5 and abs(ky - cy) < 0.5, (cx, cy)
