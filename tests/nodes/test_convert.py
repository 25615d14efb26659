"""``convert``: pixel formats and bit depths, on a decoded testsrc2 frame; round trips stay close."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.formats import get_format
from vproc.frame import ColorInfo, Frame, StreamInfo
from vproc.io.avframes import from_av, to_av
from vproc.io.source import Source
from vproc.kernels.yuvrgb import rgb_to_yuv
from vproc.nodes.convert import KERNEL_YUV, Convert, ConvertParams
from vproc.params import build_params

from . import allocation_counts
from ..media import psnr

TB = Fraction(1, 25)
SWS_MATRIX = {"bt601": "ITU601", "bt709": "ITU709", "bt2020": "BT2020"}


def make(fmt: str, device: str = "cpu") -> Convert:
    return Convert(build_params(ConvertParams, {"format": fmt}, "node 'c'"), device, "c")


def bt601_limited(frame: Frame) -> np.ndarray:
    """A decoded 4:2:0 frame as unclipped float64 RGB (0..255, (H, W, 3)): BT.601, limited range,
    each chroma sample covering its 2x2 block; written out independently of vproc and swscale."""
    y, u, v = (p.astype(np.float64) for p in frame.planes)
    u = np.repeat(np.repeat(u, 2, 0), 2, 1) - 128
    v = np.repeat(np.repeat(v, 2, 0), 2, 1) - 128
    y = (y - 16) * 255 / 219
    r = y + 1.402 * 255 / 224 * v
    g = y - (0.114 * 1.772 * u + 0.299 * 1.402 * v) / 0.587 * 255 / 224
    b = y + 1.772 * 255 / 224 * u
    return np.stack([r, g, b], -1)


def smooth_rgb(h: int, w: int) -> np.ndarray:
    """Planar float RGB with slowly varying colour, well inside [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([0.15 + 0.7 * xx, 0.5 + 0.3 * np.sin(3 * yy + 2 * xx), 0.85 - 0.6 * yy * xx]).astype(np.float32)


def yuv_frame(fmt: str, rgb: np.ndarray, matrix: str = "bt601", full: bool = False) -> Frame:
    bits, nv12, msb = KERNEL_YUV[fmt]
    planes = rgb_to_yuv(rgb, matrix=matrix, full_range=full, bits=bits, nv12=nv12, msb_aligned=msb)
    return Frame(tuple(planes), 7, TB, fmt, meta={"k": 1})


def codes(plane: np.ndarray, fmt: str) -> np.ndarray:
    """Sample values as ints at the format's own depth (P010's are in the high bits)."""
    return plane.astype(np.int64) >> (6 if fmt == "p010le" else 0)


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
    ref = np.clip(bt601_limited(frame), 0, 255)
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
    # R, G, B order, and the same values as swscale's 8-bit RGB, give or take swscale's own
    # fixed-point error (up to 2.9 codes from the exact conversion the kernel path computes).
    diff = np.abs(stacked.transpose(1, 2, 0) * 255 - rgb.planes[0].astype(np.float32))
    assert diff.max() <= 3.5 and diff.mean() < 1


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


# -- the kernel path: 4:2:0 YUV <-> rgbpf32 ---------------------------------------------------------


def test_float_rgb_is_the_exact_bt601_conversion(decoded):
    """yuv420p -> rgbpf32 runs on the kernel twin: the float64 BT.601 formula to float32 precision."""
    info, frame = decoded
    _, flt = chain(info, frame, "rgbpf32")
    want = np.clip(bt601_limited(frame), 0, 255) / 255
    np.testing.assert_allclose(np.stack(flt.planes).transpose(1, 2, 0), want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("fmt", KERNEL_YUV)
@pytest.mark.parametrize("matrix, rng, family", [(None, None, "bt601"), ("bt709", "pc", "bt709"),
                                                 ("bt2020nc", "tv", "bt2020")])
def test_kernel_path_agrees_with_swscale_on_smooth_content(fmt, matrix, rng, family):
    """The kernel path against the same conversion done by swscale, both ways.

    A fair comparison: the kernels take each chroma sample for its 2x2 block (nearest neighbour)
    and average 2x2 blocks going back, where swscale may filter; on smooth colour the methods
    agree, which leaves swscale's fixed-point error (up to ~3.5 codes of 255 from the exact
    conversion, which the kernels compute: see the test above). The bounds still catch the
    stream's matrix or range being ignored: a wrong matrix is 12 to 18 codes off here.
    """
    h, w = 120, 160  # even: at an odd edge the two place the last chroma sample differently
    full = rng == "pc"
    bits = get_format(fmt).bits
    src = yuv_frame(fmt, smooth_rgb(h, w), family, full)
    info = StreamInfo(w, h, fmt, TB, color=ColorInfo(matrix, rng))
    sws = dict(src_colorspace=SWS_MATRIX[family], dst_colorspace=SWS_MATRIX[family])
    f_info, flt = chain(info, src, "rgbpf32")
    ref = from_av(to_av(src).reformat(format="rgb48le", src_color_range="JPEG" if full else "MPEG",
                                      dst_color_range="JPEG", **sws), "rgbpf32", TB)
    diff = np.abs(np.stack(flt.planes) - np.stack(ref.planes)) * 255
    assert diff.max() <= 4 and diff.mean() <= 2
    # Back to YUV (limited range, as swscale writes YUV from RGB), from exact float RGB.
    rgb = Frame(smooth_rgb(h, w), 7, TB, "rgbpf32")
    _, back = chain(f_info, rgb, fmt)
    ref = from_av(to_av(rgb).reformat(format=fmt, src_color_range="JPEG", dst_color_range="MPEG", **sws), fmt, TB)
    for got, want in zip(back.planes, ref.planes):
        assert np.abs(codes(got, fmt) - codes(want, fmt)).max() <= 2 << (bits - 8)


def test_round_trip_through_the_kernels_is_exact_where_rgb_holds_the_colour(decoded):
    """yuv420p -> rgbpf32 -> yuv420p, testsrc2. The RGB step clips colours outside the RGB cube
    (x264's ringing around testsrc2's saturated bars makes many); elsewhere both directions are
    linear and the 2x2 mean of the RGB gives back each block's chroma, so only rounding is left."""
    info, frame = decoded
    f_info, flt = chain(info, frame, "rgbpf32")
    back_info, back = chain(f_info, flt, "yuv420p")
    assert (back_info.color.range, back_info.color.matrix) == ("tv", "smpte170m")
    rgb = bt601_limited(frame)
    inside = (rgb.min(-1) >= 0) & (rgb.max(-1) <= 255)
    blocks = inside.reshape(60, 2, 80, 2).all(axis=(1, 3))
    assert inside.mean() > 0.15 and blocks.mean() > 0.1  # enough to say something (22% and 17% here)
    y, u, v = (p.astype(int) for p in back.planes)
    assert np.abs(y - frame.planes[0])[inside].max() <= 1
    assert np.abs(u - frame.planes[1])[blocks].max() <= 1
    assert np.abs(v - frame.planes[2])[blocks].max() <= 1
    assert psnr(back.planes[0], frame.planes[0]) > 30  # clipped colours included


@pytest.mark.parametrize("fmt", KERNEL_YUV)
def test_round_trip_on_smooth_content_is_within_one_code(fmt):
    src = yuv_frame(fmt, smooth_rgb(120, 160))
    f_info, flt = chain(StreamInfo(160, 120, fmt, TB), src, "rgbpf32")
    _, back = chain(f_info, flt, fmt)
    for got, want in zip(back.planes, src.planes):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.abs(codes(got, fmt) - codes(want, fmt)).max() <= 1


@pytest.mark.parametrize("fmt", KERNEL_YUV)
def test_kernel_outputs_have_the_format_shapes_and_ranges(fmt):
    h, w = 45, 75  # odd: the last chroma row and column cover one luma row/column
    spec = get_format(fmt)
    rgb = np.random.default_rng(0).random((3, h, w), dtype=np.float32)
    rgb[:, 0, :2] = [[0, 1], [0, 1], [0, 1]]  # black, white: the extreme luma codes
    rgb[:, 2:4, 0:2] = np.array([1, 0, 0], np.float32)[:, None, None]  # a red and a yellow block:
    rgb[:, 2:4, 2:4] = np.array([1, 1, 0], np.float32)[:, None, None]  # the extreme chroma codes
    _, yuv = chain(StreamInfo(w, h, "rgbpf32", TB), Frame(rgb, 7, TB, "rgbpf32"), fmt)
    assert [p.shape for p in yuv.planes] == list(spec.plane_shapes(w, h))
    assert all(p.dtype == spec.dtype for p in yuv.planes)
    s = 1 << (spec.bits - 8)
    y, chroma = codes(yuv.planes[0], fmt), np.concatenate([codes(p, fmt).ravel() for p in yuv.planes[1:]])
    assert (y.min(), y.max()) == (16 * s, 235 * s)  # limited range, reached by black and white
    assert (chroma.min(), chroma.max()) == (16 * s, 240 * s)
    if fmt == "p010le":
        assert all((p & 0x3F == 0).all() for p in yuv.planes)  # 10 bits in the high bits
    _, back = chain(StreamInfo(w, h, fmt, TB), yuv, "rgbpf32")
    assert back.data.shape == (3, h, w) and back.data.dtype == np.float32
    assert back.data.min() >= 0 and back.data.max() <= 1
    np.testing.assert_allclose(back.data[:, 2, :4], [[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]], atol=1 / 255)


def test_layouts_carry_the_same_samples():
    rgb = smooth_rgb(44, 60)
    planar = {fmt: chain(StreamInfo(60, 44, "rgbpf32", TB), Frame(rgb, 0, TB, "rgbpf32"), fmt)[1].planes
              for fmt in KERNEL_YUV}
    nv12, p010 = planar["nv12"], planar["p010le"]
    for a, b in ((nv12, planar["yuv420p"]), (p010, planar["yuv420p10le"])):
        shift = 6 if a is p010 else 0
        np.testing.assert_array_equal(a[0] >> shift, b[0])
        np.testing.assert_array_equal(a[1][:, :, 0] >> shift, b[1])
        np.testing.assert_array_equal(a[1][:, :, 1] >> shift, b[2])


def test_float_rgb_as_separate_planes_converts_alike():
    rgb = smooth_rgb(40, 64)
    info = StreamInfo(64, 40, "rgbpf32", TB)
    _, one = chain(info, Frame(rgb, 0, TB, "rgbpf32"), "yuv420p")
    _, three = chain(info, Frame(tuple(rgb), 0, TB, "rgbpf32"), "yuv420p")
    for a, b in zip(one.planes, three.planes):
        np.testing.assert_array_equal(a, b)


def test_kernel_path_keeps_timing_and_meta():
    src = yuv_frame("nv12", smooth_rgb(40, 64))
    src.duration = 2
    _, out = chain(StreamInfo(64, 40, "nv12", TB), src, "rgbpf32")
    assert (out.pts, out.time_base, out.duration, out.meta) == (7, TB, 2, {"k": 1})
    assert out.meta is not src.meta


@pytest.mark.parametrize("w, h, tag, family", [(160, 120, None, "bt601"), (1280, 720, None, "bt709"),
                                               (160, 120, "bt709", "bt709"), (1280, 720, "bt470bg", "bt601")])
def test_the_matrix_used_is_declared_and_kept(w, h, tag, family):
    """An untagged stream gets the tag of the matrix vproc assumed, so a later resize (which
    changes the size that assumption depends on) and the sink keep using the same one."""
    info = StreamInfo(w, h, "yuv420p", TB, color=ColorInfo(tag, None, "bt709", "bt709"))
    f_info = make("rgbpf32").open(info)
    want_tag = tag or {"bt601": "smpte170m", "bt709": "bt709"}[family]
    assert f_info.color == ColorInfo(want_tag, "pc", "bt709", "bt709")
    small = f_info.replace(width=64, height=36)  # as a resize would leave it
    node = make("yuv420p")
    y_info = node.open(small)
    assert y_info.color == ColorInfo(want_tag, "tv", "bt709", "bt709")
    rgb = smooth_rgb(36, 64)
    (out,) = node.process(Frame(rgb, 0, TB, "rgbpf32"))
    for got, want in zip(out.planes, rgb_to_yuv(rgb, matrix=family, full_range=False)):
        np.testing.assert_array_equal(got, want)


def test_swscale_conversions_between_rgb_and_yuv_declare_the_matrix_too(decoded):
    info, _ = decoded
    rgb_info = make("rgb24").open(info)
    assert (rgb_info.color.matrix, rgb_info.color.range) == ("smpte170m", "pc")
    assert make("yuv420p10le").open(info).color.matrix is None  # YUV to YUV: nothing to declare


def test_steady_state_processing_allocates_nothing():
    """Outputs come from the buffer pool and go back to it when the frame is released (what the
    runtime does with every output frame), so after the first frame nothing is allocated."""
    node = make("rgbpf32")
    node.open(StreamInfo(64, 40, "yuv420p", TB))
    src = yuv_frame("yuv420p", smooth_rgb(40, 64))
    counts = allocation_counts(node, src)
    assert counts[1:] == [counts[0]] * 3


# -- CUDA: what is refused at open, before any CuPy -------------------------------------------------


@pytest.mark.parametrize("src, dst", [("yuv420p", "rgb24"), ("rgbpf32", "yuv444p"), ("yuv422p", "rgbpf32"),
                                      ("yuv420p", "yuv420p10le"), ("rgb24", "rgbpf32")])
def test_cuda_refuses_conversions_that_only_swscale_does(src, dst):
    with pytest.raises(ConfigError) as exc:
        make(dst, "cuda").open(StreamInfo(64, 40, src, TB))
    message = str(exc.value)
    assert f"converting {src} to {dst} runs on the CPU only" in message
    assert "on CUDA, convert handles yuv420p, yuv420p10le, nv12, p010le <-> rgbpf32" in message


@pytest.mark.parametrize("fmt", KERNEL_YUV)
def test_cuda_accepts_the_kernel_conversions(fmt):
    assert make("rgbpf32", "cuda").open(StreamInfo(64, 40, fmt, TB)).format == "rgbpf32"
    assert make(fmt, "cuda").open(StreamInfo(64, 40, "rgbpf32", TB)).format == fmt
    info = StreamInfo(64, 40, "rgb24", TB)
    assert make("rgb24", "cuda").open(info) == info  # nothing to convert: passes through anywhere
