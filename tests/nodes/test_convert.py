"""``convert``: pixel formats and bit depths, on a decoded testsrc2 frame; round trips stay close."""

from __future__ import annotations

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.io.source import Source
from vproc.nodes.convert import Convert, ConvertParams
from vproc.params import build_params

from ..media import psnr


def make(fmt: str) -> Convert:
    return Convert(build_params(ConvertParams, {"format": fmt}, "node 'c'"), "cpu", "c")


@pytest.fixture(scope="module")
def decoded(clip_mp4) -> tuple[StreamInfo, Frame]:
    """The 10th frame of the testsrc2 clip, as the decoder gives it (read-only views)."""
    with Source(clip_mp4) as src:
        frames = [f for f in src.items() if isinstance(f, Frame)]
        return src.info, frames[10]


def chain(info: StreamInfo, frame: Frame, *formats: str) -> tuple[StreamInfo, Frame]:
    for fmt in formats:
        node = make(fmt)
        info = node.open(info)
        (frame,) = node.process(frame)
        assert frame.format == info.format == fmt
    return info, frame


def swscale_round_trip(frame: Frame) -> np.ndarray:
    """The same round trip done by PyAV/swscale directly (its defaults): what the node must match."""
    kw = dict(src_colorspace="ITU601", dst_colorspace="ITU601")
    rgb = frame._av_frame.reformat(format="rgb24", src_color_range="MPEG", dst_color_range="JPEG", **kw)
    return rgb.reformat(format="yuv420p", src_color_range="JPEG", dst_color_range="MPEG", **kw).to_ndarray()


def test_yuv_rgb_yuv_round_trip_is_close(decoded):
    info, frame = decoded
    rgb_info, rgb = chain(info, frame, "rgb24")
    assert rgb.planes[0].shape == (120, 160, 3) and rgb.planes[0].dtype == np.uint8
    assert rgb_info.color.range == "pc"  # RGB is full range
    back_info, back = chain(rgb_info, rgb, "yuv420p")
    assert back_info.color.range == "tv"
    assert [p.shape for p in back.planes] == [p.shape for p in frame.planes]
    assert psnr(back.planes[0], frame.planes[0]) > 40  # luma: only rounding
    # Chroma goes 4:2:0 -> 4:4:4 -> 4:2:0 through swscale's smoothing filters, which costs
    # testsrc2's saturated colour edges some sharpness (about 29 dB); no worse than swscale itself.
    ref = swscale_round_trip(frame)
    chroma, ref_chroma = np.concatenate([p.ravel() for p in back.planes[1:]]), ref[120:].ravel()
    original = np.concatenate([p.ravel() for p in frame.planes[1:]])
    assert psnr(chroma, original) > 25
    assert psnr(chroma, original) >= psnr(ref_chroma, original) - 0.01
    assert psnr(np.concatenate([p.ravel() for p in back.planes]), np.concatenate([p.ravel() for p in frame.planes])) > 30


def test_rgb24_matches_an_independent_bt601_conversion(decoded):
    info, frame = decoded
    _, rgb = chain(info, frame, "rgb24")
    y, u, v = (p.astype(np.float64) for p in frame.planes)
    u = np.repeat(np.repeat(u, 2, 0), 2, 1) - 128
    v = np.repeat(np.repeat(v, 2, 0), 2, 1) - 128
    y = (y - 16) * 255 / 219
    r = y + 1.402 * 255 / 224 * v
    g = y - (0.114 * 1.772 * u + 0.299 * 1.402 * v) / 0.587 * 255 / 224
    b = y + 1.772 * 255 / 224 * u
    ref = np.clip(np.stack([r, g, b], -1), 0, 255)
    assert psnr(rgb.planes[0], ref) > 30  # chroma upsampling differs; the matrix and order must not


def test_float_rgb_is_planar_in_unit_range(decoded):
    info, frame = decoded
    f_info, flt = chain(info, frame, "rgbpf32")
    assert f_info.bit_depth == 32
    planes = flt.planes
    assert len(planes) == 3
    assert all(p.shape == (120, 160) and p.dtype == np.float32 for p in planes)
    stacked = np.stack(planes)
    assert stacked.min() >= 0.0 and stacked.max() <= 1.0
    assert stacked.max() > 0.9 and stacked.min() < 0.1  # testsrc2 has bright and dark areas
    _, rgb = chain(info, frame, "rgb24")
    # R, G, B order, and the same values as 8-bit RGB (swscale's 16-bit path rounds differently).
    diff = np.abs(stacked.transpose(1, 2, 0) * 255 - rgb.planes[0].astype(np.float32))
    assert diff.max() <= 2.5 and diff.mean() < 0.5


def test_float_rgb_back_to_yuv(decoded):
    info, frame = decoded
    f_info, flt = chain(info, frame, "rgbpf32")
    _, back = chain(f_info, flt, "yuv420p")
    assert psnr(back.planes[0], frame.planes[0]) > 40
    for a, b in zip(back.planes[1:], frame.planes[1:]):
        assert psnr(a, b) > 25


def test_ten_bit_is_limited_range_uint16(decoded):
    info, frame = decoded
    t_info, ten = chain(info, frame, "yuv420p10le")
    assert t_info.bit_depth == 10
    y, u, v = ten.planes
    assert all(p.dtype == np.uint16 for p in ten.planes)
    assert [p.shape for p in ten.planes] == [(120, 160), (60, 80), (60, 80)]
    # Limited range (64..940 luma, 64..960 chroma) wherever the 8-bit source is in its limited
    # range; x264's ringing leaves a few source samples outside, which are kept, not clipped.
    for ten_plane, src_plane, top in ((y, frame.planes[0], 235), (u, frame.planes[1], 240), (v, frame.planes[2], 240)):
        inside = (src_plane >= 16) & (src_plane <= top)
        assert inside.mean() > 0.95
        assert ten_plane[inside].min() >= 64 and ten_plane[inside].max() <= 4 * top
        assert ten_plane.max() <= 1023
    assert y.max() > 255  # really 10-bit values, not 8-bit ones in a wider type
    # 8 -> 10 bit is a shift by two bits.
    np.testing.assert_allclose(y.astype(np.int32), frame.planes[0].astype(np.int32) * 4, atol=4)
    _, back = chain(t_info, ten, "yuv420p")
    for a, b in zip(back.planes, frame.planes):
        assert psnr(a, b) > 45


def test_gray_is_the_full_range_luma(decoded):
    info, frame = decoded
    g_info, gray = chain(info, frame, "gray")
    assert gray.planes[0].shape == (120, 160) and gray.planes[0].dtype == np.uint8
    assert g_info.color.range == "pc"  # swscale writes grey full range: say so
    expected = np.clip((frame.planes[0].astype(np.float64) - 16) * 255 / 219, 0, 255)
    assert np.abs(gray.planes[0] - expected).max() <= 1
    back_info, back = chain(g_info, gray, "yuv420p")
    assert back_info.color.range == "tv"
    inside = (frame.planes[0] >= 16) & (frame.planes[0] <= 235)
    assert np.abs(back.planes[0].astype(int) - frame.planes[0])[inside].max() <= 1
    assert np.abs(back.planes[1].astype(int) - 128).max() <= 1  # no colour


def test_same_format_passes_frames_through(decoded):
    info, frame = decoded
    node = make("yuv420p")
    assert node.open(info) == info
    assert node.process(frame)[0] is frame


def test_timing_meta_and_read_only_outputs(decoded):
    info, frame = decoded
    frame = frame.with_data(frame.data, meta={"k": 2})
    _, out = chain(info, frame, "rgb24")
    assert (out.pts, out.time_base, out.meta) == (frame.pts, frame.time_base, {"k": 2})
    for plane in (*frame.planes, *out.planes):
        assert not plane.flags.writeable  # frames are shared along the graph
        with pytest.raises(ValueError):
            plane[0, 0] = 0


def test_unknown_format_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        make("yuv420")
    assert "node 'c'" in str(info.value)
    assert "unknown pixel format 'yuv420'" in str(info.value) and "did you mean 'yuv420p'" in str(info.value)
