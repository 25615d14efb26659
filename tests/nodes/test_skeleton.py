"""``skeleton``: the skeleton equals scikit-image's ``skeletonize(method="zhang")`` of the mask
(exact), mask sources (threshold with Otsu and invert, Canny, person), luma per format, output
frames (mask, overlay), polylines in the meta, frame accounting, and parameter errors.

The CUDA path against this one is in tests/nodes/test_cuda.py.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction

import cv2
import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.frame import ColorInfo, Frame, StreamInfo
from vproc.geometry import Polylines
from vproc.kernels.yuvrgb import rgb_to_yuv
from vproc.nodes.skeleton import Skeleton, SkeletonParams
from vproc.params import build_params
from vproc.registry import get

from ..kernels.test_thin import SHAPES, blobs

skeletonize = pytest.importorskip("skimage.morphology").skeletonize

TB = Fraction(1, 25)


def make(device: str = "cpu", **params) -> Skeleton:
    return Skeleton(build_params(SkeletonParams, params, "node 's'"), device, "s")


def run(node: Skeleton, frame: Frame, info: StreamInfo | None = None) -> Frame:
    info = info or StreamInfo(frame.width, frame.height, frame.format, TB)
    node.open(info)
    try:
        (out,) = node.process(frame)
    finally:
        node.close()
    return out


def gray(img: np.ndarray, pts: int = 0, **meta) -> Frame:
    img = np.ascontiguousarray(img)
    img.flags.writeable = False  # nodes must not write into their inputs
    return Frame(img, pts, TB, "gray", meta=dict(meta))


def zhang(mask) -> np.ndarray:
    return skeletonize(np.asarray(mask, bool), method="zhang").astype(np.uint8) * 255


def scene(h=90, w=120) -> np.ndarray:
    """A 0/1 mask with a filled rectangle, a ring and a thick diagonal."""
    m = np.zeros((h, w), np.uint8)
    m[10:30, 8:70] = 1
    cv2.circle(m, (90, 55), 22, 1, 6)
    cv2.line(m, (10, 80), (60, 45), 1, 5)
    return m


# -- the skeleton itself ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rectangle", "disc", "ring", "letters", "touching_border", "blobs1", "empty"])
def test_mask_output_equals_skimage_zhang(name):
    mask = SHAPES[name]
    out = run(make(threshold=0.5), gray(mask * 200 + 20))
    assert out.format == "gray" and out.data.dtype == np.uint8 and out.data.shape == mask.shape
    np.testing.assert_array_equal(out.data, zhang(mask))


def test_otsu_equals_opencv_and_16_bit_is_the_same():
    rng = np.random.default_rng(3)
    img = np.clip(scene() * 110 + 60 + rng.normal(0, 18, scene().shape), 0, 255).astype(np.uint8)
    level, want = cv2.threshold(img, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    node = make()  # threshold: auto
    node.open(StreamInfo(120, 90, "gray", TB))
    np.testing.assert_array_equal(node.mask(gray(img)), want.astype(bool))
    out = run(make(), gray(img))
    np.testing.assert_array_equal(out.data, zhang(want))
    assert 60 < level < 170
    # 16-bit samples v * 257 are the same luma: the same histogram, level and skeleton
    deep = Frame(img.astype(np.uint16) * 257, 0, TB, "gray16le")
    np.testing.assert_array_equal(run(make(), deep).data, out.data)


def test_fixed_threshold_and_invert():
    m = scene()
    light = m * 180 + 30  # shapes at 210, background 30
    dark = 240 - m * 200  # shapes at 40 on 240
    want = zhang(m)
    np.testing.assert_array_equal(run(make(threshold=0.4), gray(light)).data, want)
    np.testing.assert_array_equal(run(make(threshold=0.4, invert=True), gray(dark)).data, want)
    # without invert the background is the foreground: a different skeleton
    assert not np.array_equal(run(make(threshold=0.4), gray(dark)).data, want)
    # the level is a fraction of full scale: at 0.9 nothing of the light scene is above it
    assert not run(make(threshold=0.9), gray(light)).data.any()


def test_blur_before_the_threshold():
    img = (scene() * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(img.astype(np.float32) / 255, (0, 0), 3.0)
    out = run(make(threshold=0.5, blur=3.0), gray(img))
    np.testing.assert_array_equal(out.data, zhang(blurred > 0.5))
    assert not np.array_equal(out.data, zhang(scene()))


def test_min_area_drops_speckle():
    m = scene()
    speckled = m.copy()
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, (88, 118), (40, 2)):
        if not m[max(y - 2, 0):y + 4, max(x - 2, 0):x + 4].any():
            speckled[y:y + 2, x:x + 2] = 1  # 2 x 2 dots away from the shapes
    assert speckled.sum() > m.sum() + 20
    out = run(make(threshold=0.5, min_area=10), gray(speckled * 255))
    np.testing.assert_array_equal(out.data, zhang(m))
    assert not np.array_equal(run(make(threshold=0.5), gray(speckled * 255)).data, zhang(m))


@pytest.mark.parametrize("low, high", [(0.1, 0.3), ("auto", "auto")])
def test_canny(low, high):
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur((scene() * 150 + 50).astype(np.uint8), (0, 0), 1.0)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    if low == "auto":
        med = float(np.median(img))
        edges = cv2.Canny(img, 0.67 * med, 1.33 * med)
    else:
        edges = cv2.Canny(img, low * 255, high * 255)
    out = run(make(mask="canny", low=low, high=high), gray(img))
    assert edges.any()
    np.testing.assert_array_equal(out.data, zhang(edges))


# -- luma per format ------------------------------------------------------------------------


def colour_frame(fmt: str, rgb: tuple, mask: np.ndarray, height_tag: str | None = None) -> Frame:
    """``mask`` painted in 8-bit ``rgb`` on black, in an RGB-family format."""
    img = mask[..., None] * np.array(rgb, np.uint8)  # (H, W, 3) RGB
    if fmt == "rgb24":
        data = img
    elif fmt == "bgr24":
        data = np.ascontiguousarray(img[..., ::-1])
    elif fmt == "rgb48le":
        data = img.astype(np.uint16) * 257
    elif fmt == "gbrp":
        data = (img[..., 1].copy(), img[..., 2].copy(), img[..., 0].copy())
    else:  # rgbpf32
        data = np.ascontiguousarray(img.transpose(2, 0, 1), np.float32) / np.float32(255)
    return Frame(data, 0, TB, fmt)


@pytest.mark.parametrize("fmt", ["rgb24", "bgr24", "rgb48le", "gbrp", "rgbpf32"])
def test_rgb_luma_uses_the_stream_matrix(fmt):
    m = scene()
    frame = colour_frame(fmt, (0, 255, 0), m)  # green: luma 0.587 (BT.601), 0.7152 (BT.709)
    sd = StreamInfo(120, 90, fmt, TB)  # no matrix tag, SD height: BT.601
    hd = StreamInfo(120, 90, fmt, TB, color=ColorInfo(matrix="bt709"))
    assert not run(make(threshold=0.65), frame, sd).data.any()
    np.testing.assert_array_equal(run(make(threshold=0.65), frame, hd).data, zhang(m))
    np.testing.assert_array_equal(run(make(threshold=0.55), frame, sd).data, zhang(m))
    # red 0.299 and blue 0.114: a channel order or Kr/Kb mix-up puts one on the wrong side of 0.25
    np.testing.assert_array_equal(run(make(threshold=0.25), colour_frame(fmt, (255, 0, 0), m), sd).data, zhang(m))
    assert not run(make(threshold=0.25), colour_frame(fmt, (0, 0, 255), m), sd).data.any()


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "gray10le"])
def test_yuv_luma_is_the_y_plane(fmt):
    info = StreamInfo(120, 90, fmt, TB)
    f = info.pixel_format
    m = scene()
    y = (m * 150 + 30).astype(f.dtype) * (4 if f.bits == 10 else 1)
    planes = [y] + [np.full(s, 512 if f.bits == 10 else 128, f.dtype) for s in f.plane_shapes(120, 90)[1:]]
    frame = Frame(tuple(planes) if len(planes) > 1 else planes[0], 0, TB, fmt)
    np.testing.assert_array_equal(run(make(threshold=0.4), frame, info).data, zhang(m))


# -- outputs --------------------------------------------------------------------------------


def test_stream_info_and_frame_accounting():
    node = make(threshold=0.5)
    src = StreamInfo(120, 90, "yuv420p", TB, rate=Fraction(25))
    out_info = node.open(src)
    assert (out_info.format, out_info.size, out_info.rate, out_info.time_base) == ("gray", (120, 90), 25, TB)
    assert out_info.color.range == "pc"
    frames = []
    for i, pts in enumerate([3, 7, 8, 20]):
        y = np.ascontiguousarray(np.roll(scene(), 5 * i, axis=1) * 200 + 20)
        planes = (y, np.full((45, 60), 128, np.uint8), np.full((45, 60), 128, np.uint8))
        for p in planes:
            p.flags.writeable = False
        frames.append(Frame(planes, pts, TB, "yuv420p", meta={"tag": i}, duration=1))
    outs = [o for f in frames for o in node.process(f)] + node.flush()
    node.close()
    assert [o.pts for o in outs] == [3, 7, 8, 20]
    assert [o.meta for o in outs] == [{"tag": i} for i in range(4)]
    assert all(o.duration == 1 and o.time_base == TB for o in outs)
    assert not np.array_equal(outs[0].data, outs[1].data)  # each frame its own skeleton
    for f, o in zip(frames, outs):
        np.testing.assert_array_equal(o.data, zhang(f.planes[0] > 127))


def test_overlay_rgb24():
    m = scene()
    rng = np.random.default_rng(2)
    img = (m[..., None] * 200 + rng.integers(0, 40, (90, 120, 3))).astype(np.uint8)
    frame = Frame(img, 5, TB, "rgb24", meta={"k": 1})
    out = run(make(threshold=0.5, output="overlay", color=[1, 0, 0.2]), frame)
    assert out.format == "rgb24" and out.data.shape == img.shape and out.pts == 5 and out.meta == {"k": 1}
    on = zhang(np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)) > 127) > 0
    assert on.sum() > 50
    assert (out.data[on] == [255, 0, 51]).all()
    np.testing.assert_array_equal(out.data[~on], img[~on])


@pytest.mark.parametrize("fmt", ["bgr24", "gbrp", "rgbpf32"])
def test_overlay_rgb_channel_orders(fmt):
    m = scene()
    frame = colour_frame(fmt, (255, 255, 255), m)
    out = run(make(threshold=0.5, output="overlay", color=[1, 0, 0.2]), frame)
    assert out.format == fmt
    on = zhang(m) > 0
    rgb = {"bgr24": lambda d: d[..., ::-1], "gbrp": lambda d: np.stack([d[2], d[0], d[1]], -1),
           "rgbpf32": lambda d: np.rint(np.stack(d, -1) * 255)}[fmt](out.data)
    assert (rgb[on] == [255, 0, 51]).all() and (rgb[~on] == m[~on][:, None] * 255).all()


@pytest.mark.parametrize("fmt, bits", [("yuv420p", 8), ("yuv420p10le", 10)])
def test_overlay_yuv_paints_luma_and_covering_chroma(fmt, bits):
    info = StreamInfo(121, 91, fmt, TB)  # odd: the last chroma row/column covers one pixel
    f = info.pixel_format
    m = np.zeros((91, 121), np.uint8)
    m[10:40, 20:90] = 1
    cv2.circle(m, (100, 70), 15, 1, -1)
    scale = 4 if bits == 10 else 1
    planes = [np.ascontiguousarray(m * 150 + 30).astype(f.dtype) * scale] + \
             [np.full(s, 128 * scale, f.dtype) for s in f.plane_shapes(121, 91)[1:]]
    out = run(make(threshold=0.4, output="overlay", color=[0, 1, 0]), Frame(tuple(planes), 0, TB, fmt), info)
    want = rgb_to_yuv(np.zeros((3, 2, 2), np.float32) + np.float32([0, 1, 0])[:, None, None],
                      matrix="bt601", full_range=False, bits=bits)
    y, u, v = (int(p.ravel()[0]) for p in want)
    on = zhang(m) > 0
    assert (out.planes[0][on] == y).all()
    np.testing.assert_array_equal(out.planes[0][~on], planes[0][~on])
    pad = np.pad(on, ((0, 1), (0, 1)))
    chroma_on = pad[0::2, 0::2] | pad[1::2, 0::2] | pad[0::2, 1::2] | pad[1::2, 1::2]
    for plane, value in zip(out.planes[1:], (u, v)):
        assert plane.shape == chroma_on.shape
        assert (plane[chroma_on] == value).all() and (plane[~chroma_on] == 128 * scale).all()


def test_overlay_keeps_one_array_layout():
    data = np.zeros((3, 40, 50), np.float32)
    data[:, 10:30, 10:40] = 1.0
    out = run(make(threshold=0.5, output="overlay"), Frame(data, 0, TB, "rgbpf32"))
    assert isinstance(out.data, np.ndarray) and out.data.shape == (3, 40, 50)
    assert data.max() == 1.0 and (data[1] == data[0]).all()  # the input is untouched


# -- polylines ------------------------------------------------------------------------------


def test_polylines_in_meta():
    m = scene()
    m[85:88, 110:113] = 1  # a dot: thins to one pixel, a path of one point
    out = run(make(threshold=0.5, polylines=True, epsilon=0), gray(m * 255, tag=1))
    lines = out.meta["skeleton"]
    assert isinstance(lines, Polylines) and out.meta["tag"] == 1 and len(lines) >= 3
    pts = np.concatenate(lines.lines)
    cols, rows = (pts - 0.5).T.astype(int)
    painted = np.zeros_like(m)
    painted[rows, cols] = 255
    np.testing.assert_array_equal(painted, out.data)  # the paths cover the skeleton exactly
    simplified = run(make(threshold=0.5, polylines=True), gray(m * 255)).meta["skeleton"]
    assert len(simplified) == len(lines) and sum(map(len, simplified.lines)) < len(pts) / 3
    long_only = run(make(threshold=0.5, polylines=True, min_length=30), gray(m * 255)).meta["skeleton"]
    assert 1 <= len(long_only) < len(lines)
    half = simplified.scaled(0.5, 0.5)
    np.testing.assert_allclose(half.lines[0], simplified.lines[0] * 0.5)
    assert isinstance(simplified.to_json(), list)


def test_no_polylines_unless_asked():
    assert "skeleton" not in run(make(threshold=0.5), gray(scene() * 255)).meta


# -- person --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut():
    pytest.importorskip("mediapipe")
    from skimage import data

    return data.astronaut()  # NASA portrait (public domain), shipped with scikit-image


@pytest.mark.parametrize("model", ["general", "landscape"])
def test_person_mask_covers_the_person(astronaut, model):
    node = make(mask="person", model=model)
    node.open(StreamInfo(512, 512, "rgb24", TB))
    try:
        mask = node.mask(Frame(astronaut, 0, TB, "rgb24"))
        (out,) = node.process(Frame(astronaut, 0, TB, "rgb24"))
    finally:
        node.close()
    assert mask.shape == (512, 512) and mask.dtype == bool
    assert mask[40:130, 180:280].mean() > 0.9  # head and helmet
    assert mask[320:500, 64:448].mean() > 0.9  # shoulders and suit
    assert mask[0:12].mean() < 0.02 and mask[100:200, 420:].mean() < 0.02 and mask[0:200, 0:100].mean() < 0.02
    on = out.data > 0
    assert on.sum() > 300 and not (on & ~mask).any()  # the skeleton lies inside the person


def test_person_from_yuv_matches_rgb(astronaut):
    from vproc.nodes.convert import Convert, ConvertParams

    conv = Convert(ConvertParams("yuv420p"))
    info = StreamInfo(512, 512, "rgb24", TB)
    yuv_info = conv.open(info)
    (yuv,) = conv.process(Frame(astronaut, 0, TB, "rgb24"))
    masks = []
    for frame, inf in ((Frame(astronaut, 0, TB, "rgb24"), info), (yuv, yuv_info)):
        node = make(mask="person")
        node.open(inf)
        masks.append(node.mask(frame))
        node.close()
    iou = (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()
    assert iou > 0.95


def test_person_cut_and_invert(astronaut):
    node = make(mask="person", cut=0.5, invert=True, min_area=5000)
    node.open(StreamInfo(512, 512, "rgb24", TB))
    inv = node.mask(Frame(astronaut, 0, TB, "rgb24"))
    node.close()
    assert inv[0:12].mean() > 0.95 and inv[320:500, 64:448].mean() < 0.1


# -- configuration ----------------------------------------------------------------------------


def test_registered():
    assert get("skeleton") is Skeleton


@pytest.mark.parametrize("params, words", [
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "otsu"}, "threshold"),
    ({"low": 0.5, "high": 0.2}, "low"),
    ({"high": -0.1}, "high"),
    ({"blur": -1}, "blur"),
    ({"cut": 1.0}, "cut"),
    ({"min_area": -3}, "min_area"),
    ({"color": [1, 2]}, "color"),
    ({"color": [0, 0, 255]}, "color"),
    ({"mask": "edges"}, "mask"),
    ({"output": "lines"}, "output"),
    ({"model": "full"}, "model"),
    ({"min_length": -1}, "min_length"),
    ({"epsilon": -0.5}, "epsilon"),
    ({"thresold": 0.5}, "did you mean 'threshold'"),
])
def test_bad_params(params, words):
    with pytest.raises(ConfigError, match=words) as err:
        make(**params)
    assert "\n" not in str(err.value)


def test_semi_planar_formats_are_refused():
    with pytest.raises(ConfigError, match="convert"):
        make().open(StreamInfo(64, 48, "nv12", TB))


@pytest.mark.parametrize("mask", ["canny", "person"])
def test_cpu_only_masks_are_refused_on_cuda(mask):
    with pytest.raises(ConfigError, match=f"mask: {mask} runs on the CPU only"):
        make("cuda", mask=mask).check(StreamInfo(64, 48, "gray", TB))
    make("cuda", mask="threshold").check(StreamInfo(64, 48, "gray", TB))  # no error, no GPU needed


def test_missing_mediapipe_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install --no-deps mediapipe==0\.10\.14"):
        make(mask="person").check(StreamInfo(64, 48, "gray", TB))


def test_random_masks_equal_skimage():
    for seed in range(4):
        m = blobs(70, 90, 1.0 + seed, 0.5, seed)
        np.testing.assert_array_equal(run(make(threshold=0.5), gray(m * 255)).data, zhang(m))


def test_mask_output_comes_from_the_pool():
    from . import allocation_counts

    node = make(threshold=0.5)
    node.open(StreamInfo(120, 90, "gray", TB))
    counts = allocation_counts(node, gray(scene() * 255))
    assert counts[-1] == counts[1]  # steady state: the output plane comes back to the pool
