"""``convert`` and ``resize`` on CuPy frames against the same nodes on numpy frames.

Tolerances, as documented for the kernels (tests/kernels/test_cuda.py): ``convert`` runs the same
float32 arithmetic on both devices (CUDA kernel vs numba twin), so RGB may differ by 1e-6 and YUV
samples by one code (a .5 rounding decision). ``resize`` runs OpenCV on the CPU, whose IPP code
maps coordinates in a slightly different precision than the kernel (which matches OpenCV's plain
code bit for bit): 1e-5 on [0, 1] data.

All tests are marked ``cuda``: skipped without CuPy or a GPU unless ``VPROC_REQUIRE_CUDA=1``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vproc.frame import Frame, StreamInfo
from vproc.nodes.convert import KERNEL_YUV, Convert, ConvertParams
from vproc.nodes.resize import Resize, ResizeParams

pytestmark = pytest.mark.cuda

TB = Fraction(1, 25)
H, W = 37, 53  # odd, and not multiples of the 32 x 8 block: exercises the bounds checks


def rgb(seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((3, H, W), dtype=np.float32)


def on_gpu(cp, frame: Frame) -> Frame:
    data = tuple(cp.asarray(p) for p in frame.data) if isinstance(frame.data, tuple) else cp.asarray(frame.data)
    return frame.with_data(data)


def both(node_type, params, info: StreamInfo, frame: Frame, cp) -> tuple[Frame, Frame]:
    """(CPU output, CUDA output) of one node kind on the same frame."""
    outs = []
    for device, f in (("cpu", frame), ("cuda", on_gpu(cp, frame))):
        node = node_type(params, device, "n")
        node.open(info)
        (out,) = node.process(f)
        outs.append(out)
    assert outs[1].device == "cuda" and outs[1].format == outs[0].format
    return outs[0], outs[1]


@pytest.mark.parametrize("fmt", KERNEL_YUV)
def test_convert_yuv_to_rgb_on_cuda_equals_cpu(cp, fmt):
    node = Convert(ConvertParams(fmt), "cpu")  # makes the YUV input
    node.open(StreamInfo(W, H, "rgbpf32", TB))
    (src,) = node.process(Frame(rgb(), 3, TB, "rgbpf32"))
    cpu, gpu = both(Convert, ConvertParams("rgbpf32"), StreamInfo(W, H, fmt, TB), src, cp)
    assert gpu.data.shape == (3, H, W) and gpu.data.dtype == np.float32
    np.testing.assert_allclose(cp.asnumpy(gpu.data), cpu.data, rtol=0, atol=1e-6)
    assert gpu.pts == cpu.pts == 3


@pytest.mark.parametrize("fmt", KERNEL_YUV)
@pytest.mark.parametrize("planes", [False, True])  # one (3, H, W) array, or three planes
def test_convert_rgb_to_yuv_on_cuda_equals_cpu(cp, fmt, planes):
    img = rgb(1)
    src = Frame(tuple(img) if planes else img, 3, TB, "rgbpf32")
    cpu, gpu = both(Convert, ConvertParams(fmt), StreamInfo(W, H, "rgbpf32", TB), src, cp)
    shift = 6 if fmt == "p010le" else 0
    for g, c in zip(gpu.planes, cpu.planes):
        assert g.shape == c.shape and g.dtype == c.dtype
        assert (np.abs(cp.asnumpy(g).astype(np.int64) - c) >> shift).max() <= 1


@pytest.mark.parametrize("interp", ["bicubic", "bilinear"])
@pytest.mark.parametrize("params", [{"scale": 2}, {"scale": 0.5}, {"width": 80, "height": 21}])
def test_resize_on_cuda_equals_cpu(cp, interp, params):
    p = ResizeParams(interp=interp, **params)
    for data in (rgb(2), tuple(rgb(2))):
        cpu, gpu = both(Resize, p, StreamInfo(W, H, "rgbpf32", TB), Frame(data, 3, TB, "rgbpf32"), cp)
        assert gpu.data.shape == cpu.data.shape and gpu.data.dtype == np.float32
        np.testing.assert_allclose(cp.asnumpy(gpu.data), cpu.data, rtol=0, atol=1e-5)


def test_a_gpu_chain_stays_on_the_gpu(cp):
    """yuv420p -> rgbpf32 -> resize x2 -> yuv420p on CuPy frames: no step leaves the device."""
    info = StreamInfo(W + 1, H + 1, "rgbpf32", TB)
    enc = Convert(ConvertParams("yuv420p"), "cpu")
    enc.open(info)
    (src,) = enc.process(Frame(np.random.default_rng(3).random((3, H + 1, W + 1), dtype=np.float32), 0, TB, "rgbpf32"))
    frame, info = on_gpu(cp, src), info.replace(format="yuv420p")
    for node in (Convert(ConvertParams("rgbpf32"), "cuda"), Resize(ResizeParams(scale=2), "cuda"),
                 Convert(ConvertParams("yuv420p"), "cuda")):
        info = node.open(info)
        (frame,) = node.process(frame)
        assert frame.device == "cuda" and frame.format == info.format
    assert (frame.width, frame.height) == (2 * (W + 1), 2 * (H + 1))


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le"])
def test_denoise_on_cuda_equals_cpu(cp, fmt):
    """The same guide (same kernels), hence the same flow, then twin vs kernel: one code."""
    from vproc.nodes.denoise import Denoise, DenoiseParams

    h, w = 72, 96
    rng = np.random.default_rng(0)
    top = 255 if fmt == "yuv420p" else 1023
    dtype = np.uint8 if fmt == "yuv420p" else np.uint16
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(5):
        y = top * (0.5 + 0.3 * np.sin((xx - 2 * i) / 5.0) * np.cos(yy / 7.0))
        planes = [y, np.full((h // 2, w // 2), top / 2), np.full((h // 2, w // 2), top / 3)]
        frames.append(tuple(np.clip(np.round(p + rng.normal(0, top / 25, p.shape)), 0, top).astype(dtype)
                            for p in planes))
    info = StreamInfo(w, h, fmt, TB)
    outs = {}
    for device in ("cpu", "cuda"):
        node = Denoise(DenoiseParams(), device, "dn")
        node.open(info)
        got = []
        for i, planes in enumerate(frames):
            f = Frame(planes, i, TB, fmt)
            got += node.process(on_gpu(cp, f) if device == "cuda" else f)
        got += node.flush()
        outs[device] = got
    assert len(outs["cuda"]) == len(outs["cpu"]) == 5
    for a, b in zip(outs["cpu"], outs["cuda"]):
        assert b.device == "cuda"
        for pa, pb in zip(a.planes, b.planes):
            diff = np.abs(cp.asnumpy(pb).astype(np.int64) - pa)
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv420p10le", "rgbpf32"])
def test_vsr_on_cuda_equals_cpu(cp, fmt):
    """The same guides (same kernels), hence the same flows, then twins vs kernels: one code (or
    1e-5 on float RGB), in a few pixels at most."""
    from vproc.nodes.vsr import Vsr, VsrParams

    h, w = 45, 61  # odd: 4:2:0 chroma of 31x23
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    top = {"yuv420p": 255, "yuv420p10le": 1023, "rgbpf32": 1.0}[fmt]
    frames = []
    for i in range(5):
        y = 0.5 + 0.3 * np.sin((xx - 0.7 * i) / 2.3) * np.cos((yy + 0.4 * i) / 3.1)
        if fmt == "rgbpf32":
            data = np.stack([y, 0.8 * y, 0.5 + 0 * y]).astype(np.float32)
        else:
            dtype = np.uint8 if fmt == "yuv420p" else np.uint16
            c = (-(-h // 2), -(-w // 2))
            data = tuple(np.clip(np.round(p * top), 0, top).astype(dtype) for p in
                         (y, 0.5 + 0.1 * rng.random(c), np.full(c, 0.4)))
        frames.append(Frame(data, i, TB, fmt))
    info = StreamInfo(w, h, fmt, TB)
    outs = {}
    for device in ("cpu", "cuda"):
        node = Vsr(VsrParams(scale=3), device, "sr")
        assert node.open(info).size == (3 * w, 3 * h)
        got = []
        for f in frames:
            got += node.process(on_gpu(cp, f) if device == "cuda" else f)
        outs[device] = got + node.flush()
    assert len(outs["cuda"]) == len(outs["cpu"]) == 5
    for a, b in zip(outs["cpu"], outs["cuda"]):
        assert b.device == "cuda" and b.pts == a.pts
        for pa, pb in zip(a.planes, b.planes):
            assert pb.shape == pa.shape and pb.dtype == pa.dtype
            if fmt == "rgbpf32":
                np.testing.assert_allclose(cp.asnumpy(pb), pa, rtol=0, atol=1e-5)
            else:
                diff = np.abs(cp.asnumpy(pb).astype(np.int64) - pa)
                assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.parametrize("params", [
    {"threshold": "auto"},  # Otsu: histogram on the device, level on the host
    {"threshold": 0.45, "invert": True, "min_area": 30},  # labelling by cupyx.scipy.ndimage
    {"threshold": "auto", "output": "overlay", "polylines": True},
])
@pytest.mark.parametrize("fmt", ["yuv420p", "rgb24", "rgbpf32"])
def test_skeleton_on_cuda_equals_cpu(cp, fmt, params):
    """Threshold mask and thinning on the device: the same skeleton to the pixel (the luma is
    the same float32 arithmetic, the thinning decision table the same on both devices)."""
    import cv2

    from vproc.nodes.skeleton import Skeleton, SkeletonParams

    h, w = 91, 133  # odd: chroma 46 x 67, and not multiples of the 256-thread blocks
    rng = np.random.default_rng(4)
    level = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 4)
    level = (level - level.min()) / (level.max() - level.min())
    if fmt == "yuv420p":
        c = (-(-h // 2), -(-w // 2))
        data = (np.round(16 + 219 * level).astype(np.uint8), np.full(c, 128, np.uint8), np.full(c, 100, np.uint8))
    elif fmt == "rgb24":
        data = np.round(np.stack([level, 0.8 * level, level ** 2], -1) * 255).astype(np.uint8)
    else:
        data = np.stack([level, 0.8 * level, level ** 2]).astype(np.float32)
    frame = Frame(data, 9, TB, fmt, meta={"k": 1})
    cpu, gpu = both(Skeleton, SkeletonParams(**params), StreamInfo(w, h, fmt, TB), frame, cp)
    assert gpu.pts == cpu.pts == 9 and gpu.meta.keys() == cpu.meta.keys()
    for pc, pg in zip(cpu.planes, gpu.planes):
        np.testing.assert_array_equal(cp.asnumpy(pg), pc)
    if params.get("output") != "overlay":
        assert (cpu.data == 255).sum() > 50
    if params.get("polylines"):
        for a, b in zip(cpu.meta["skeleton"].lines, gpu.meta["skeleton"].lines, strict=True):
            np.testing.assert_array_equal(a, b)


def test_skeleton_blur_on_cuda_equals_cpu(cp):
    """With a blur, the Gaussian kernel and its twin agree to about 1e-6, so a luma exactly at
    the level could fall on the other side: allow a handful of pixels."""
    from vproc.nodes.skeleton import Skeleton, SkeletonParams

    rng = np.random.default_rng(6)
    img = (rng.random((80, 120)) * 255).astype(np.uint8)
    cpu, gpu = both(Skeleton, SkeletonParams(threshold="auto", blur=3.0), StreamInfo(120, 80, "gray", TB),
                    Frame(img, 0, TB, "gray"), cp)
    differ = (cp.asnumpy(gpu.data) != cpu.data).sum()
    assert (cpu.data == 255).sum() > 50 and differ <= 10
