"""Frame and StreamInfo: validation of planes, dtypes and timing; repr without pixels."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.frame import ColorInfo, Frame, StreamInfo

TB = Fraction(1, 25)


def yuv420(w=16, h=12, value=0, dtype=np.uint8):
    return (np.full((h, w), value, dtype), np.full((h // 2, w // 2), value, dtype), np.full((h // 2, w // 2), value, dtype))


def test_yuv420p_frame_properties():
    f = Frame(yuv420(), 7, TB, "yuv420p", meta={"k": 1}, duration=1)
    assert (f.width, f.height) == (16, 12)
    assert f.device == "cpu"
    assert f.time == Fraction(7, 25)
    assert len(f.planes) == 3


def test_odd_sizes_take_rounded_up_chroma():
    Frame((np.zeros((5, 7), np.uint8), np.zeros((3, 4), np.uint8), np.zeros((3, 4), np.uint8)), 0, TB, "yuv420p")
    with pytest.raises(ConfigError, match=r"expected \(3, 4\)"):
        Frame((np.zeros((5, 7), np.uint8), np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.uint8)), 0, TB, "yuv420p")


def test_single_array_layouts():
    rgb = Frame(np.zeros((12, 16, 3), np.uint8), 0, TB, "rgb24")
    assert (rgb.width, rgb.height, len(rgb.planes)) == (16, 12, 1)
    gray = Frame(np.zeros((12, 16), np.uint16), 0, TB, "gray10le")
    assert gray.planes[0].dtype == np.uint16
    flt = Frame(np.zeros((3, 12, 16), np.float32), 0, TB, "rgbpf32")  # (C, H, W)
    assert len(flt.planes) == 3 and flt.planes[0].shape == (12, 16)
    assert (flt.width, flt.height) == (16, 12)
    nv12 = Frame((np.zeros((12, 16), np.uint8), np.zeros((6, 8, 2), np.uint8)), 0, TB, "nv12")
    assert nv12.planes[1].shape == (6, 8, 2)


@pytest.mark.parametrize("data, fmt, words", [
    ((np.zeros((12, 16), np.uint8), np.zeros((12, 16), np.uint8), np.zeros((6, 8), np.uint8)), "yuv420p", "does not fit a 16x12 image"),
    (yuv420()[:2], "yuv420p", "needs 3 planes (got 2)"),
    (yuv420(dtype=np.uint16), "yuv420p", "dtype uint16 (expected uint8)"),
    (yuv420(), "yuv420p10le", "dtype uint8 (expected uint16)"),
    (np.zeros((12, 16), np.uint8), "rgb24", "expected (12, 16, 3)"),
    (np.zeros((12, 16, 4), np.uint8), "rgb24", "expected (12, 16, 3)"),
    (np.zeros((3, 12, 16), np.float64), "rgbpf32", "dtype float64 (expected float32)"),
    (np.zeros((12, 16, 3), np.float32), "rgbpf32", "needs 3 planes (got 12)"),  # HWC where CHW is meant
], ids=["chroma-size", "plane-count", "dtype-8bit", "dtype-10bit", "rgb-2d", "rgba", "float64", "hwc-float"])
def test_wrong_planes_are_refused(data, fmt, words):
    with pytest.raises(ConfigError) as info:
        Frame(data, 0, TB, fmt)
    assert words in str(info.value)


def test_unknown_format_suggests():
    with pytest.raises(ConfigError, match="unknown pixel format 'yuv420' \\(did you mean 'yuv420p'"):
        Frame(yuv420(), 0, TB, "yuv420")


def test_pts_must_be_an_integer():
    with pytest.raises(ConfigError, match="pts must be an int"):
        Frame(yuv420(), 1.5, TB, "yuv420p")
    f = Frame(yuv420(), np.int64(9), TB, "yuv420p")
    assert type(f.pts) is int and f.pts == 9


def test_repr_shows_shape_dtype_device_not_pixels():
    planes = yuv420(value=217)
    text = repr(Frame(planes, 3, TB, "yuv420p", meta={"pose": [1]}))
    assert "16x12" in text and "yuv420p" in text and "dtype=uint8" in text and "device=cpu" in text
    assert "pts=3" in text and "'pose'" in text
    assert "217" not in text and "array" not in text
    big = repr(Frame(np.full((3, 480, 640), 0.123, np.float32), 0, TB, "rgbpf32"))
    assert "640x480" in big and "float32" in big and "0.123" not in big
    assert len(big) < 200


def test_with_data_keeps_timing_and_copies_meta():
    f = Frame(yuv420(), 5, TB, "yuv420p", meta={"a": 1}, duration=2)
    g = f.with_data(np.zeros((12, 16, 3), np.uint8), "rgb24")
    assert (g.pts, g.time_base, g.duration, g.format) == (5, TB, 2, "rgb24")
    assert g.meta == {"a": 1} and g.meta is not f.meta
    h = f.with_data(yuv420(), pts=10)
    assert h.pts == 10
    with pytest.raises(ConfigError):
        f.with_data(np.zeros((12, 16), np.uint8))  # still yuv420p: one plane is not enough


def test_streaminfo_validation_and_replace():
    info = StreamInfo(160, 120, "yuv420p10le", Fraction(1, 12800), rate=Fraction(25), color=ColorInfo("bt709", "tv"))
    assert info.size == (160, 120)
    assert info.bit_depth == 10
    assert not info.color.full_range and ColorInfo(range="pc").full_range
    half = info.replace(width=80, height=60)
    assert half.size == (80, 60) and half.time_base == info.time_base and info.size == (160, 120)
    with pytest.raises(ConfigError, match="stream size must be positive"):
        StreamInfo(0, 120, "yuv420p", Fraction(1, 25))
    with pytest.raises(ConfigError, match="unknown pixel format"):
        StreamInfo(160, 120, "yuv42Op", Fraction(1, 25))
    with pytest.raises(ConfigError, match="time_base must be a positive Fraction"):
        StreamInfo(160, 120, "yuv420p", 0.04)
    with pytest.raises(ConfigError, match="time_base must be a positive Fraction"):
        StreamInfo(160, 120, "yuv420p", Fraction(0))
    with pytest.raises(ConfigError):
        info.replace(height=-1)


def test_a_frame_passing_pooled_pixels_on_keeps_them_from_the_pool():
    # A node that passes its input's pixels on with new side data (pose) must keep them out of
    # the pool while its frame lives: else the producer's next frame is written into them (seen:
    # --denoise --pose wrote frames of the future into earlier ones).
    import gc

    from vproc import device as devices

    shape = (12, 16)
    planes = tuple(devices.empty(s, np.uint8) for s in (shape, (6, 8), (6, 8)))
    first = Frame(planes, pts=0, time_base=Fraction(1, 25), format="yuv420p")
    devices.bind(first, planes)
    passed_on = first.with_data(first.data, meta={"people": []})
    del first
    gc.collect()
    again = [devices.empty(shape, np.uint8) for _ in range(4)]
    assert not any(a is passed_on.planes[0] for a in again)
    fresh = passed_on.with_data(np.zeros(shape, np.uint8), "gray")  # new pixels: nothing to keep
    assert passed_on._base is not None and fresh._base is None
