"""``overlay``: bones and joints of meta's people drawn in each id's colour, in the frame's own
format; low-confidence joints left out; frames without people pass untouched."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vproc.draw import id_colour, plane_values
from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.geometry import Polylines
from vproc.kernels.yuvrgb import yuv_to_rgb
from vproc.nodes.overlay import Overlay, OverlayParams
from vproc.params import build_params
from vproc.pose.people import People, Person

TB = Fraction(1, 25)
W, H = 200, 120


def make(fmt="yuv420p", **params):
    node = Overlay(build_params(OverlayParams, {"labels": False, **params}, "o"), "cpu", "o")
    node.open(StreamInfo(W, H, fmt, TB, rate=Fraction(25)))
    return node


def person(pid, x0, conf=(0.9, 0.9, 0.9)):
    kp = np.array([[x0, 20.5, conf[0]], [x0, 100.5, conf[1]], [x0 + 30, 100.5, conf[2]]], np.float32)
    return Person(pid, (x0 - 5, 15, x0 + 35, 105), 0.9, kp)


def crowd(*persons):
    return People(tuple(persons), ("head", "hip", "knee"), ((0, 1), (1, 2)))


def grey_frame(fmt, meta):
    if fmt == "rgb24":
        return Frame(np.full((H, W, 3), 60, np.uint8), 5, TB, fmt, meta=meta)
    y = np.full((H, W), 60, np.uint8)
    c = np.full((H // 2, W // 2), 128, np.uint8)
    return Frame((y, c, c.copy()), 5, TB, fmt, meta=meta)


def rgb_of(frame) -> np.ndarray:
    if frame.format == "rgb24":
        return frame.data.astype(np.float32) / 255
    y, u, v = frame.planes
    return np.moveaxis(yuv_to_rgb(y, u, v, matrix="bt601", full_range=False), 0, -1)


@pytest.mark.parametrize("fmt", ["yuv420p", "rgb24"])
def test_bones_in_each_ids_colour(fmt):
    frame = grey_frame(fmt, {"people": crowd(person(1, 40.5), person(2, 120.5))})
    out = make(fmt, joints=False).process(frame)[0]
    assert out.pts == 5 and out.format == fmt and "people" in out.meta
    rgb = rgb_of(out)
    for pid, x in ((1, 40), (2, 120)):
        on_bone = rgb[60, x]  # the middle of the vertical bone head -> hip
        assert np.abs(on_bone - np.array(id_colour(pid))).max() < 0.12, (pid, on_bone)
    assert np.abs(rgb[60, 40] - rgb[60, 120]).max() > 0.2  # two ids, two colours
    far = rgb[5:12, 180:195]
    assert np.abs(far - rgb_of(frame)[5:12, 180:195]).max() < 1e-6  # away from the drawing: unchanged
    assert np.array_equal(grey_frame(fmt, {}).planes[0], frame.planes[0])  # input not written


def test_low_confidence_joint_and_its_bones_left_out():
    frame = grey_frame("yuv420p", {"people": crowd(person(1, 40.5, conf=(0.9, 0.9, 0.2)))})
    out = make(min_confidence=0.5, joints=False).process(frame)[0]
    y = out.planes[0]
    assert y[60, 40] != 60  # head -> hip drawn
    assert (y[100, 50:68] == 60).all()  # hip -> knee not: the knee is below min_confidence


def test_no_people_passes_the_frame_untouched():
    frame = grey_frame("yuv420p", {"people": crowd()})
    assert make().process(frame)[0] is frame


def test_polylines_drawn():
    frame = grey_frame("yuv420p", {"skeleton": Polylines([[[10.5, 60.5], [190.5, 60.5]]])})
    out = make().process(frame)[0]
    assert (out.planes[0][60, 20:180] != 60).all()
    assert (out.planes[0][20, :] == 60).all()


def test_plane_values_match_the_matrix():
    info = StreamInfo(W, H, "nv12", TB, rate=Fraction(25))
    y, uv = plane_values(info, (1.0, 1.0, 1.0))
    assert y == (235,) and uv == (128, 128)
    info10 = StreamInfo(W, H, "yuv420p10le", TB, rate=Fraction(25))
    assert plane_values(info10, (0.0, 0.0, 0.0))[0] == (64,)


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "yuv422p", "yuv444p10le", "nv12", "p010le", "gray",
                                 "gray16le", "rgb24", "bgr24", "rgb48le", "gbrp", "rgbpf32"])
def test_labels_boxes_and_joints_drawn_on_every_format(fmt):
    """OpenCV's putText takes 8-bit images only: on float (lowlight's rgbpf32) and 16-bit planes
    the id is drawn through an 8-bit mask (``--lowlight --pose`` crashed here)."""
    from vproc.formats import get_format

    pf = get_format(fmt)
    planes = tuple(np.full(s, pf.max_value * 0.25, pf.dtype) for s in pf.plane_shapes(W, H))
    frame = Frame(planes if len(planes) > 1 else planes[0], 5, TB, fmt,
                  meta={"people": crowd(person(1, 40.5), person(23, 120.5))})
    out = make(fmt, labels=True, boxes=True).process(frame)[0]
    assert out.format == fmt and out.pts == 5
    changed = [not np.array_equal(a, b) for a, b in zip(out.planes, frame.planes)]
    assert changed[0]  # drawn (luma, or the first RGB plane)
    label = [p[: max(1, int(15 * p.shape[0] / H)), :] for p in out.planes]  # above the boxes: the ids
    assert any(not np.array_equal(a, b[: a.shape[0]]) for a, b in zip(label, frame.planes))
    assert all(a.dtype == b.dtype for a, b in zip(out.planes, frame.planes))


def test_unknown_format_refused():
    node = Overlay(OverlayParams(), "cpu", "o")
    with pytest.raises(ConfigError, match="overlay cannot draw on yuv410p|unknown pixel format"):
        node.open(StreamInfo(W, H, "yuv410p", TB, rate=Fraction(25)))


def test_bad_params():
    with pytest.raises(ConfigError, match="min_confidence"):
        build_params(OverlayParams, {"min_confidence": 2}, "o")
