"""``lowlight``: range, colour and monotonicity of the output, exposure reached, temporal smoothing
(by real time stamps) and its bound on brightness steps, format refusal, and a run end to end."""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest

import vproc
from vproc import device as devices
from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.nodes.lowlight import Lowlight, LowlightParams
from vproc.params import build_params

from .. import media

TB = Fraction(1, 1000)
H, W = 90, 160


def make(device: str = "cpu", **params) -> Lowlight:
    node = Lowlight(build_params(LowlightParams, params, "node 'll'"), device, "ll")
    node.open(StreamInfo(W, H, "rgbpf32", TB))
    return node


def scene(scale: float = 1.0, h: int = H, w: int = W) -> np.ndarray:
    """Planar float RGB with smooth colour and shading (intensity 0.2..1), times ``scale``."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([0.2 + 0.8 * xx, 0.45 + 0.3 * np.sin(5 * yy + 2 * xx), 0.9 - 0.7 * yy * (1 - xx)])
    return (rgb * scale).astype(np.float32)


def frame(rgb: np.ndarray, ms: int) -> Frame:
    return Frame(rgb, ms, TB, "rgbpf32", meta={"n": ms})


def intensity(f: Frame) -> np.ndarray:
    return np.stack(f.planes).max(0)


def feed(node: Lowlight, scales, times_ms) -> list[Frame]:
    out = []
    for s, t in zip(scales, times_ms):
        out += node.process(frame(scene(s), t))
    return out


def test_output_is_in_range_keeps_colour_and_is_monotonic():
    rng = np.random.default_rng(0)
    rgb = (scene(0.15) * rng.uniform(0.3, 1.0, (1, H, W))).astype(np.float32)  # textured and dark
    rgb[:, :4, :4] = 0  # black stays black
    rgb[:, -2:, -2:] = [[[1.0]], [[0.5]], [[0.0]]]  # a saturated highlight is not clipped
    node = make()
    (out,) = node.process(frame(rgb, 0))
    assert node.last["gain"] > 2  # really brightened
    got = np.stack(out.planes)
    assert got.dtype == np.float32 and got.shape == rgb.shape
    assert got.min() >= 0 and got.max() <= 1
    v_in, v_out = rgb.max(0), got.max(0)
    assert (got[:, :4, :4] == 0).all()
    np.testing.assert_allclose(got[:, -1, -1], [1.0, 0.5, 0.0], atol=1e-6)  # white-intensity pixel as it was
    lit = v_in > 0
    np.testing.assert_allclose(got[:, lit] / v_out[lit], rgb[:, lit] / v_in[lit], rtol=0, atol=1e-5)  # hue, saturation
    order = np.argsort(v_in, axis=None, kind="stable")
    # brighter in, brighter (or equal) out, up to float32 rounding (two ulp: see the op's docstring)
    assert (np.diff(v_out.ravel()[order]) >= -4e-7).all()
    assert (v_out >= v_in - 1e-7).all()


def test_dark_frame_reaches_the_target_once_settled():
    node = make(max_gain=16)
    scales = [0.6] + [0.1] * 75  # a bright start, then 3 s of dark at 25 fps
    out = feed(node, scales, range(0, 40 * len(scales), 40))
    before = float(scene(0.1).max(0).mean())
    after = float(intensity(out[-1]).mean())
    assert before < 0.1
    assert abs(after - 0.45) < 0.03
    assert abs(node.last["mean_out"] - after) < 0.01  # the histogram estimate of the output mean


def test_max_gain_caps_the_brightening():
    node = make()  # max_gain 8
    (out,) = node.process(frame(scene(0.1), 0))
    assert node.last["gain"] == pytest.approx(8.0) and node.last["wanted"] == pytest.approx(8.0)
    assert float(intensity(out).mean()) < 0.45 - 0.03  # short of the target, by the cap
    dark = scene(0.1).max(0)
    # the gain f(I) / I = 8 / (1 + 7 I): 8 at black, less on brighter tones
    np.testing.assert_allclose(intensity(out) / dark, 8 / (1 + 7 * dark), rtol=1e-5)


def test_bright_frame_is_left_as_it_is():
    node = make()
    src = frame(scene(1.0), 0)
    assert float(scene(1.0).max(0).mean()) > 0.45
    (out,) = node.process(src)
    assert out is src  # the identity, exactly: not even a copy
    assert node.last["gain"] == 1.0 and node.last["a"] == math.inf


def test_alternating_exposure_is_bounded_per_frame():
    """Source flicker (dark / less dark every other frame): the output's mean moves by at most
    max_step per frame, far less than the input's, where the smoothed curve alone would pass the
    flicker on, amplified."""
    scales = [0.08, 0.16] * 20
    times = range(0, 40 * len(scales), 40)
    in_means = np.array([scene(s).max(0).mean() for s in scales])
    bounded = [intensity(f).mean() for f in feed(make(max_step=0.01), scales, times)]
    unbounded = [intensity(f).mean() for f in feed(make(max_step=1.0), scales, times)]
    d_in = np.abs(np.diff(in_means))[5:]
    d_bounded = np.abs(np.diff(bounded))[5:]
    d_unbounded = np.abs(np.diff(unbounded))[5:]
    assert d_in.min() > 0.05
    assert d_bounded.max() <= 0.01 + 2e-3  # the bound, as measured on the 1/16 subsample
    assert d_bounded.max() < d_in.min() / 4
    assert d_unbounded.min() > d_in.max()  # without the bound: the same gain on both, so amplified
    assert 0.3 < np.mean(bounded[-10:]) < 0.6  # and still brightened towards the target


def test_step_bound_ramps_after_a_cut():
    node = make(max_gain=16, max_step=0.02, smoothing=0.0)  # no smoothing: only the bound acts
    out = feed(node, [0.6] + [0.1] * 40, range(0, 40 * 41, 40))
    means = np.array([intensity(f).mean() for f in out])
    assert np.abs(np.diff(means)).max() <= 0.02 + 2e-3
    assert abs(means[-1] - 0.45) < 0.03  # got there in the end


def log_gain(node: Lowlight) -> float:
    return math.log(node.last["gain"])


@pytest.mark.parametrize("times_ms", [[0, 40, 80, 120], [0, 200, 400, 600], [0, 10, 130, 170]])
def test_smoothing_follows_the_time_stamps(times_ms):
    """The log gain moves by 1 - exp(-dt / smoothing) of the way to the frame's own estimate,
    with dt the real time between frames: variable frame rates smooth by time."""
    tau = 0.5
    node = make(max_gain=32, smoothing=tau, max_step=1.0)
    node.process(frame(scene(0.3), times_ms[0]))
    u = log_gain(node)
    for t0, t1 in zip(times_ms, times_ms[1:]):
        node.process(frame(scene(0.08), t1))
        wanted = math.log(node.last["wanted"])
        u += (1 - math.exp(-(t1 - t0) / 1000 / tau)) * (wanted - u)
        assert log_gain(node) == pytest.approx(u, abs=1e-9)


def test_wider_spacing_settles_in_fewer_frames():
    scales = [0.3] + [0.08] * 5
    fast, slow = make(max_step=1.0, max_gain=32), make(max_step=1.0, max_gain=32)
    feed(fast, scales, range(0, 40 * 6, 40))  # 25 fps
    feed(slow, scales, range(0, 200 * 6, 200))  # 5 fps: the same frames, five times further apart
    u0 = math.log(scene_gain(0.3))
    wanted = math.log(fast.last["wanted"])
    assert slow.last["wanted"] == pytest.approx(fast.last["wanted"])
    assert log_gain(fast) < log_gain(slow) < wanted
    # the way still to go: exp(-0.2 s / 0.5 s) at 25 fps, exp(-1 s / 0.5 s) at 5 fps
    assert (wanted - log_gain(fast)) / (wanted - u0) == pytest.approx(math.exp(-0.4), rel=1e-6)
    assert (wanted - log_gain(slow)) / (wanted - u0) == pytest.approx(math.exp(-2.0), rel=1e-6)


def scene_gain(scale: float) -> float:
    node = make(max_step=1.0, max_gain=32)
    node.process(frame(scene(scale), 0))
    return node.last["gain"]


def test_separate_planes_give_the_same_result_and_timing_is_kept():
    rgb = scene(0.2)
    (a,) = make().process(frame(rgb, 7))
    (b,) = make().process(Frame(tuple(rgb), 7, TB, "rgbpf32", meta={"n": 7}, duration=40))
    np.testing.assert_array_equal(np.stack(a.planes), np.stack(b.planes))
    assert (b.pts, b.time_base, b.duration, b.meta) == (7, TB, 40, {"n": 7})


def test_steady_state_processing_allocates_nothing():
    node = make()
    src = frame(scene(0.2), 0)
    counts = []
    for i in range(4):
        (out,) = node.process(frame(src.data, 40 * i))
        devices.bind(out, (out.data,))
        counts.append(devices.STATS.snapshot()["allocations"])
        del out
    assert counts[1:] == [counts[0]] * 3


@pytest.mark.parametrize("fmt", ["yuv420p", "rgb24", "gbrp"])
def test_refuses_other_formats_with_the_fix(fmt):
    node = Lowlight(LowlightParams(), "cpu", "ll")
    with pytest.raises(ConfigError) as exc:
        node.open(StreamInfo(W, H, fmt, TB))
    message = str(exc.value)
    assert f"lowlight works on rgbpf32 (planar float RGB), not {fmt}" in message
    assert "the convert to rgbpf32 is inserted by itself" in message  # in a graph: negotiation


@pytest.mark.parametrize("values, words", [({"target": 1.2}, "target must be within 0.05..0.95"),
                                           ({"max_gain": 0.5}, "max_gain must be within 1..64"),
                                           ({"smoothing": -1}, "smoothing must be within 0..30"),
                                           ({"max_step": 0}, "max_step must be within 0.001..1"),
                                           ({"strength": 2}, "unknown param 'strength'")])
def test_params_are_validated(values, words):
    with pytest.raises(ConfigError, match="node 'll'") as exc:
        build_params(LowlightParams, values, "node 'll'")
    assert words in str(exc.value)


def test_listed_by_vproc_nodes():
    result = media.run_vproc("nodes")
    assert result.returncode == 0, result.stderr
    text = result.stdout.split("lowlight:")[1]
    assert "[devices: cpu, cuda; inputs: 1]" in text.splitlines()[0]
    for param in ("target: float = 0.45", "max_gain: float = 8.0", "smoothing: float = 0.5", "max_step: float = 0.01"):
        assert param in text


def mean_luma(path) -> tuple[int, float]:
    with av.open(str(path)) as c:
        lumas = [f.to_ndarray(format="gray").mean() for f in c.decode(c.streams.video[0])]
    return len(lumas), float(np.mean(lumas))


def test_end_to_end_brightens_a_dark_clip(media_dir, tmp_path):
    dark = media_dir / "dark.mp4"
    if not dark.exists():
        media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1",
                         "-vf", "format=rgb24,lutrgb=r=val*0.15:g=val*0.15:b=val*0.15,format=yuv420p",
                         "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(dark))
    graph = vproc.build_graph({"device": "cpu", "nodes": {
        "rgb": {"type": "convert", "in": "source", "params": {"format": "rgbpf32"}},
        "ll": {"type": "lowlight", "in": "rgb"},
        "yuv": {"type": "convert", "in": "ll", "params": {"format": "yuv420p"}},
    }, "output": {"in": "yuv", "preset": "veryfast", "crf": 18}})
    out = tmp_path / "bright.mp4"
    vproc.run(graph, str(dark), str(out))
    n_in, luma_in = mean_luma(dark)
    n_out, luma_out = mean_luma(out)
    assert n_out == n_in == 25
    assert luma_in < 40 and luma_out > luma_in + 40


# -- method: linear ---------------------------------------------------------------------------------

def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def underexposed(rgb: np.ndarray, exposure: float) -> np.ndarray:
    """``rgb`` (sRGB-coded) with ``exposure`` times the light, as a camera would have seen it."""
    return linear_to_srgb(srgb_to_linear(rgb.astype(np.float64)) * exposure).astype(np.float32)


def make_linear(transfer=None, matrix=None, **params) -> Lowlight:
    from vproc.frame import ColorInfo

    node = Lowlight(build_params(LowlightParams, {"method": "linear", **params}, "node 'll'"), "cpu", "ll")
    node.open(StreamInfo(W, H, "rgbpf32", TB, color=ColorInfo(matrix=matrix, transfer=transfer)))
    return node


def test_linear_undoes_an_underexposure_with_one_gain():
    clean = scene(0.5)
    node = make_linear(max_gain=16)
    (out,) = node.process(frame(underexposed(clean, 0.12), 0))
    g = node.last["gain"]
    assert 1 < g <= 16 and node.last["mean_out"] == pytest.approx(0.45, abs=0.01)
    # every pixel got the same gain in linear light: the output is the clean frame exposed g * 0.12
    np.testing.assert_allclose(np.stack(out.planes), underexposed(clean, 0.12 * g), atol=2e-4)


def test_linear_keeps_highlights_below_one_and_black_at_zero():
    rgb = scene(0.2)
    rgb[:, -3:, -3:] = 1.0
    rgb[:, :3, :3] = 0.0
    node = make_linear(max_gain=16, target=0.6)
    (out,) = node.process(frame(rgb, 0))
    planes = np.stack(out.planes)
    assert planes.max() <= 1.0 and planes[:, -1, -1].min() > 0.9999 and planes[:, 0, 0].max() == 0.0


def test_linear_uses_the_streams_transfer():
    rgb = scene(0.2)
    srgb, bt709 = make_linear(), make_linear(transfer="bt709")
    assert srgb.transfer == 0 and bt709.transfer == 1 and make_linear(matrix="bt709").transfer == 1
    (a,), (b,) = srgb.process(frame(rgb, 0)), bt709.process(frame(rgb, 0))
    assert np.abs(np.stack(a.planes) - np.stack(b.planes)).max() > 1e-3
    with pytest.raises(ConfigError, match="log100"):
        make_linear(transfer="log100")


def test_linear_restarts_at_a_scene_cut_and_smooths_within_a_shot():
    node = make_linear(max_gain=16, smoothing=2.0)
    dark, darker = underexposed(scene(0.8), 0.1), underexposed(scene(0.8), 0.07)
    node.process(frame(dark, 0))
    node.process(frame(darker, 40))  # the same shot a little darker: smoothed, not followed at once
    assert node.last["cut"] == 0.0 and node.last["gain"] < node.last["wanted"]
    other = (np.random.default_rng(1).random((3, H, W)) ** 4 * 0.3).astype(np.float32)  # another picture: a cut
    node.process(frame(other, 80))
    assert node.last["cut"] == 1.0 and node.last["gain"] == pytest.approx(node.last["wanted"])


# -- CUDA: the node on CuPy frames against the CPU node ---------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("method", ["curve", "linear"])
def test_cuda_node_equals_the_cpu_node(cp, method):
    scales = [0.6, 0.1, 0.12, 0.08]
    cpu, gpu = make(max_gain=16, method=method), make("cuda", max_gain=16, method=method)
    for i, s in enumerate(scales):
        rgb = scene(s)
        (c,) = cpu.process(frame(rgb, 40 * i))
        (g,) = gpu.process(frame(cp.asarray(rgb), 40 * i))
        assert g.device == "cuda"
        assert gpu.last["gain"] == pytest.approx(cpu.last["gain"], rel=1e-9)
        np.testing.assert_allclose(cp.asnumpy(g.data), np.stack(c.planes), rtol=0, atol=1e-6)
