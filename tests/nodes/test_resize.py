"""``resize``: output sizes (scale, width/height with -1), plane shapes per format, interpolation."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.io.source import Source
from vproc.kernels.resample import resize
from vproc.nodes.resize import Resize, ResizeParams
from vproc.params import build_params

from . import allocation_counts

TB = Fraction(1, 25)


def make(device: str = "cpu", **params) -> Resize:
    return Resize(build_params(ResizeParams, params, "node 'r'"), device, "r")


def info(w=160, h=120, fmt="yuv420p"):
    return StreamInfo(w, h, fmt, TB, rate=Fraction(25))


def yuv_frame(w=160, h=120, seed=0) -> Frame:
    rng = np.random.default_rng(seed)
    planes = (rng.integers(16, 236, (h, w), dtype=np.uint8),
              rng.integers(16, 241, ((h + 1) // 2, (w + 1) // 2), dtype=np.uint8),
              rng.integers(16, 241, ((h + 1) // 2, (w + 1) // 2), dtype=np.uint8))
    return Frame(planes, 3, TB, "yuv420p", meta={"tag": 1}, duration=1)


@pytest.mark.parametrize("params, size", [
    ({"scale": 0.5}, (80, 60)),
    ({"scale": 2}, (320, 240)),
    ({"scale": 0.3}, (48, 36)),
    ({"width": 100, "height": -1}, (100, 76)),  # 75 rounded up to even for 4:2:0
    ({"width": -1, "height": 90}, (120, 90)),
    ({"width": 64, "height": 64}, (64, 64)),
    ({"width": 101}, (102, 76)),  # height follows the aspect; both even
])
def test_output_size(params, size):
    node = make(**params)
    out = node.open(info())
    assert out.size == size
    assert out.format == "yuv420p" and out.time_base == TB and out.rate == 25
    frame = node.process(yuv_frame())[0]
    w, h = size
    assert [p.shape for p in frame.planes] == [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
    assert all(p.dtype == np.uint8 for p in frame.planes)


def test_sizes_of_formats_without_subsampling_are_rounded_only_where_computed():
    # An even RGB/4:4:4 picture is most likely encoded back to 4:2:0 (lowlight works in float
    # RGB on a 4:2:0 source): sizes vproc computes stay even, as FFmpeg's scale=-2; sizes given
    # exactly, or of an odd input, are kept.
    assert make(width=100, height=-1).open(info(fmt="rgb24")).size == (100, 76)
    assert make(width=100, height=-1).open(info(fmt="yuv444p")).size == (100, 76)
    assert make(width=101, height=75).open(info(fmt="rgb24")).size == (101, 75)
    assert make(scale=0.5).open(info(270, 480, fmt="rgbpf32")).size == (136, 240)
    assert make(scale=0.5).open(info(266, 481, fmt="rgbpf32")).size == (133, 240)  # an odd input: as computed


def test_timing_and_meta_are_kept():
    node = make(scale=0.5)
    node.open(info())
    src = yuv_frame()
    out = node.process(src)
    assert len(out) == 1
    assert (out[0].pts, out[0].time_base, out[0].duration, out[0].meta) == (3, TB, 1, {"tag": 1})
    assert out[0].meta is not src.meta


@pytest.mark.parametrize("interp, flag", [("nearest", cv2.INTER_NEAREST), ("bilinear", cv2.INTER_LINEAR),
                                          ("bicubic", cv2.INTER_CUBIC), ("lanczos", cv2.INTER_LANCZOS4),
                                          ("area", cv2.INTER_AREA)])
def test_every_plane_is_resized_with_the_chosen_interpolation(interp, flag):
    node = make(scale=0.5, interp=interp)
    node.open(info())
    src = yuv_frame()
    out = node.process(src)[0]
    for got, plane in zip(out.planes, src.planes):
        want = cv2.resize(plane, (got.shape[1], got.shape[0]), interpolation=flag)
        np.testing.assert_array_equal(got, want)


def test_interpolations_differ():
    src = yuv_frame()
    results = {}
    for interp in ("nearest", "bilinear", "bicubic", "lanczos", "area"):
        node = make(scale=0.7, interp=interp)  # (at exactly 0.5, bilinear and area agree)
        node.open(info())
        results[interp] = node.process(src)[0].planes[0]
    values = list(results.values())
    assert all(not np.array_equal(a, b) for i, a in enumerate(values) for b in values[i + 1:])


def test_area_upscaling_falls_back_to_bicubic():
    up_area, up_cubic = make(scale=2, interp="area"), make(scale=2, interp="bicubic")
    up_area.open(info())
    up_cubic.open(info())
    src = yuv_frame()
    np.testing.assert_array_equal(up_area.process(src)[0].planes[0], up_cubic.process(src)[0].planes[0])


def test_flat_image_stays_flat():
    planes = (np.full((120, 160), 100, np.uint8), np.full((60, 80), 60, np.uint8), np.full((60, 80), 200, np.uint8))
    node = make(width=64, height=-1, interp="lanczos")
    node.open(info())
    out = node.process(Frame(planes, 0, TB, "yuv420p"))[0]
    assert [int(np.unique(p)[0]) for p in out.planes] == [100, 60, 200]
    assert all(np.unique(p).size == 1 for p in out.planes)


@pytest.mark.parametrize("fmt, data", [
    ("rgb24", np.zeros((120, 160, 3), np.uint8)),
    ("gray", np.zeros((120, 160), np.uint8)),
    ("gray10le", np.zeros((120, 160), np.uint16)),
    ("rgbpf32", np.zeros((3, 120, 160), np.float32)),
    ("nv12", (np.zeros((120, 160), np.uint8), np.zeros((60, 80, 2), np.uint8))),
    ("yuv420p10le", (np.zeros((120, 160), np.uint16), np.zeros((60, 80), np.uint16), np.zeros((60, 80), np.uint16))),
])
def test_plane_shapes_and_dtypes_per_format(fmt, data):
    node = make(scale=0.5)
    out_info = node.open(info(fmt=fmt))
    frame = node.process(Frame(data, 0, TB, fmt))[0]
    assert frame.format == fmt and (frame.width, frame.height) == out_info.size == (80, 60)
    src = Frame(data, 0, TB, fmt)
    for got, plane in zip(frame.planes, src.planes):
        assert got.dtype == plane.dtype
        assert got.ndim == plane.ndim
        assert got.shape[:2] == (plane.shape[0] // 2, plane.shape[1] // 2)


def test_decoded_frames_are_not_written_to(clip_mp4):
    node = make(scale=0.5)
    with Source(clip_mp4) as src:
        node.open(src.info)
        frame = next(f for f in src.items() if isinstance(f, Frame))
        before = [p.copy() for p in frame.planes]
        out = node.process(frame)[0]
        assert all(np.array_equal(a, b) for a, b in zip(before, frame.planes))
        assert out.planes[0].shape == (60, 80)


@pytest.mark.parametrize("params, words", [
    ({}, "give either scale or width/height"),
    ({"scale": 0.5, "width": 80}, "give either scale or width/height"),
    ({"scale": 0}, "scale must be within (0, 16]"),
    ({"scale": 100}, "scale must be within (0, 16] (got 100"),
    ({"width": 0}, "width must be -1 or within 1..16384"),
    ({"height": 20000}, "height must be -1 or within 1..16384"),
    ({"width": -1}, "-1 needs the other side given"),
    ({"width": -1, "height": -1}, "-1 needs the other side given"),
    ({"scale": 0.5, "interp": "cubic"}, "interp must be one of bicubic, lanczos, area, bilinear, nearest"),
    ({"scale": "big"}, "scale must be"),
])
def test_params_are_validated(params, words):
    with pytest.raises(ConfigError) as info_:
        make(**params)
    assert words in str(info_.value)
    assert str(info_.value).startswith("node 'r': ")


def test_too_small_result_is_refused():
    with pytest.raises(ConfigError, match="gives an empty image"):
        make(scale=0.001).open(info(fmt="rgb24"))


def float_rgb(w=160, h=120, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    smooth = np.stack([0.5 + 0.4 * np.sin(xx / 9 + c) * np.cos(yy / 7 - c) for c in range(3)])
    return np.clip(smooth + rng.normal(0, 0.05, smooth.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("interp", ["bicubic", "bilinear"])
@pytest.mark.parametrize("params", [{"scale": 2}, {"scale": 0.5}, {"scale": 0.7}, {"width": 203, "height": 61}])
def test_float_rgb_on_the_cpu_matches_the_resampling_kernel(interp, params):
    """The CPU path (OpenCV) and the CUDA path's kernel (here its numba twin, the same arithmetic)
    compute the same resampling; OpenCV's IPP code maps coordinates in a slightly different
    precision (about 2e-6 on [0, 1] data)."""
    node = make(interp=interp, **params)
    out_info = node.open(info(fmt="rgbpf32"))
    img = float_rgb()
    (out,) = node.process(Frame(img, 0, TB, "rgbpf32"))
    assert out.data.shape == (3, out_info.height, out_info.width) and out.data.dtype == np.float32
    want = resize(img, out_info.height, out_info.width, interp)
    np.testing.assert_allclose(out.data, want, rtol=0, atol=1e-4)
    (three,) = node.process(Frame(tuple(img), 0, TB, "rgbpf32"))  # separate planes: the same
    np.testing.assert_array_equal(three.data, out.data)


@pytest.mark.parametrize("fmt", ["yuv420p", "rgbpf32"])
def test_steady_state_processing_allocates_nothing(fmt):
    """Output planes come from the buffer pool and return to it when the frame is released (the
    runtime ties them to the frame), so after the first frame nothing is allocated."""
    node = make(scale=0.5)
    node.open(info(fmt=fmt))
    src = yuv_frame() if fmt == "yuv420p" else Frame(float_rgb(), 0, TB, fmt)
    counts = allocation_counts(node, src)
    assert counts[1:] == [counts[0]] * 3


@pytest.mark.parametrize("fmt, params", [
    ("yuv420p", {"scale": 0.5}),
    ("rgb24", {"scale": 2, "interp": "bilinear"}),
    ("gray16le", {"scale": 2}),
    ("rgbpf32", {"scale": 2, "interp": "lanczos"}),
    ("rgbpf32", {"scale": 0.5, "interp": "nearest"}),
    ("rgbpf32", {"scale": 0.5, "interp": "area"}),
])
def test_cuda_refuses_what_only_opencv_does(fmt, params):
    with pytest.raises(ConfigError) as exc:
        make("cuda", **params).open(info(fmt=fmt))
    message = str(exc.value)
    assert "resize on CUDA handles rgbpf32 with interp bilinear or bicubic only" in message
    assert f"(got {fmt}, {params.get('interp', 'bicubic')})" in message
    assert "convert to rgbpf32 first" in message


@pytest.mark.parametrize("interp", ["bicubic", "bilinear", "area"])  # area upscaling is bicubic
def test_cuda_accepts_float_rgb_with_the_kernel_methods(interp):
    assert make("cuda", scale=2, interp=interp).open(info(fmt="rgbpf32")).size == (320, 240)
