"""``lowlight`` with ``method: net``: the trained curve network in the node. Colour and range,
smoothing of the map over real time, the bound on brightness steps, timing through a graph, errors."""

from __future__ import annotations

import math

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
from .test_lowlight import H, TB, W, frame, intensity, scene



def make(device: str = "cpu", **params) -> Lowlight:
    node = Lowlight(build_params(LowlightParams, {"method": "net", **params}, "node 'll'"), device, "ll")
    node.open(StreamInfo(W, H, "rgbpf32", TB))
    return node


def noisy(scale: float, seed: int) -> np.ndarray:
    """The test scene at ``scale`` with fresh sensor-like noise (the same brightness every call)."""
    rng = np.random.default_rng(seed)
    return np.clip(scene(scale) + rng.normal(0, 0.01, (3, H, W)), 0, 1).astype(np.float32)


def test_brightens_keeps_colour_and_range():
    rgb = scene(0.15)
    rgb[:, :4, :4] = 0  # black stays black
    rgb[:, -2:, -2:] = [[[1.0]], [[0.5]], [[0.0]]]  # a saturated highlight is not clipped
    node = make()
    (out,) = node.process(frame(rgb, 0))
    got = np.stack(out.planes)
    assert got.dtype == np.float32 and got.shape == rgb.shape
    assert got.min() >= 0 and got.max() <= 1
    assert intensity(out).mean() > 2 * rgb.max(0).mean()  # really brightened
    assert (got[:, :4, :4] == 0).all()
    np.testing.assert_allclose(got[:, -1, -1], [1.0, 0.5, 0.0], atol=1e-6)
    v_in, v_out = rgb.max(0), got.max(0)
    lit = v_in > 0
    np.testing.assert_allclose(got[:, lit] / v_out[lit], rgb[:, lit] / v_in[lit], rtol=0, atol=2e-5)  # hue, saturation
    assert set(node.last) == {"mean_a", "offset", "mean_in", "mean_out"}
    assert node.last["offset"] == 0.0  # the first frame: its own map


def test_constant_brightness_gives_steady_output():
    """A clip whose brightness does not change (only its noise does): the output's mean
    intensity stays put from frame to frame."""
    node = make()
    means = [intensity(node.process(frame(noisy(0.12, i), 40 * i))[0]).mean() for i in range(12)]
    assert np.abs(np.diff(means)).max() < 0.004
    assert np.mean(means) > 0.3


def test_alternating_exposure_is_bounded_per_frame():
    scales = [0.08, 0.16] * 8
    times = range(0, 40 * len(scales), 40)
    bounded, free = make(max_step=0.01), make(max_step=1.0, smoothing=0.0)
    out_b = [intensity(bounded.process(frame(scene(s), t))[0]).mean() for s, t in zip(scales, times)]
    out_f = [intensity(free.process(frame(scene(s), t))[0]).mean() for s, t in zip(scales, times)]
    d_in = np.abs(np.diff([scene(s).max(0).mean() for s in scales]))
    d_b, d_f = np.abs(np.diff(out_b))[2:], np.abs(np.diff(out_f))[2:]
    assert d_in.min() > 0.05 and d_f.min() > 0.05  # the network alone follows the flicker
    assert d_b.max() <= 0.01 + 3e-3  # the bound (measured at the net's size), on the full frame
    assert min(out_b) > 0.25  # and still brightened


@pytest.mark.parametrize("times_ms", [[0, 40, 80, 120], [0, 200, 400, 600], [0, 10, 130, 170]])
def test_map_mean_is_smoothed_over_real_time(times_ms):
    """The map's mean follows an exponential moving average with time constant ``smoothing``
    over the frames' own times: mean_a + offset is the smoothed mean."""
    tau = 0.5
    node = make(smoothing=tau, max_step=1.0)
    node.process(frame(scene(0.5), times_ms[0]))
    mu = node.last["mean_a"]
    for t0, t1 in zip(times_ms, times_ms[1:]):
        node.process(frame(scene(0.08), t1))
        mu += (1 - math.exp(-(t1 - t0) / 1000 / tau)) * (node.last["mean_a"] - mu)
        assert node.last["mean_a"] + node.last["offset"] == pytest.approx(mu, abs=1e-6)
    node.reset()
    node.process(frame(scene(0.08), 1000))
    assert node.last["offset"] == 0.0


def test_no_smoothing_is_the_network_alone():
    node = make(smoothing=0.0, max_step=1.0)
    for i, s in enumerate([0.5, 0.1, 0.3]):
        node.process(frame(scene(s), 40 * i))
        assert node.last["offset"] == 0.0


def test_separate_planes_give_the_same_result_and_timing_is_kept():
    rgb = scene(0.2)
    (a,) = make().process(frame(rgb, 7))
    (b,) = make().process(Frame(tuple(rgb), 7, TB, "rgbpf32", meta={"n": 7}, duration=40))
    np.testing.assert_array_equal(np.stack(a.planes), np.stack(b.planes))
    assert (b.pts, b.time_base, b.duration, b.meta) == (7, TB, 40, {"n": 7})


def test_steady_state_processing_allocates_no_frame_buffers():
    node = make()
    counts = []
    for i in range(4):
        (out,) = node.process(frame(scene(0.2), 40 * i))
        devices.bind(out, (out.data,))
        counts.append(devices.STATS.snapshot()["allocations"])
        del out
    assert counts[1:] == [counts[0]] * 3


def test_missing_weights_fail_at_open(tmp_path):
    node = Lowlight(LowlightParams(method="net", weights=str(tmp_path / "none.pt")), "cpu", "ll")
    with pytest.raises(ConfigError, match="lowlight weights not found: .*none.pt"):
        node.open(StreamInfo(W, H, "rgbpf32", TB))


def test_method_is_validated():
    with pytest.raises(ConfigError, match="method must be one of curve, net"):
        build_params(LowlightParams, {"method": "zero-dce"}, "node 'll'")


def test_listed_by_vproc_nodes():
    text = media.run_vproc("nodes").stdout.split("lowlight:")[1]
    assert "method: 'curve' | 'net' | 'linear' = 'curve'" in text and "weights: str | null = None" in text


def test_graph_keeps_frame_count_and_times(media_dir, tmp_path):
    dark = media_dir / "dark_net.mkv"
    if not dark.exists():
        media.run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1",
                         "-vf", "format=rgb24,lutrgb=r=val*0.15:g=val*0.15:b=val*0.15,format=yuv420p",
                         "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", str(dark))
    graph = vproc.build_graph({"device": "cpu", "nodes": {
        "rgb": {"type": "convert", "in": "source", "params": {"format": "rgbpf32"}},
        "ll": {"type": "lowlight", "in": "rgb", "params": {"method": "net"}},
        "yuv": {"type": "convert", "in": "ll", "params": {"format": "yuv420p"}},
    }, "output": {"in": "yuv", "preset": "veryfast", "crf": 18}})
    out = tmp_path / "bright.mkv"
    vproc.run(graph, str(dark), str(out))
    src, got = media.inspect(dark), media.inspect(out)
    assert got.frames == src.frames == 25
    assert got.video_times == src.video_times
    with av.open(str(dark)) as a, av.open(str(out)) as b:
        luma_in = np.mean([f.to_ndarray(format="gray").mean() for f in a.decode(video=0)])
        luma_out = [f.to_ndarray(format="gray").mean() for f in b.decode(video=0)]
    assert np.mean(luma_out) > luma_in + 40
    assert np.abs(np.diff(luma_out)).max() < 255 * 0.01 + 1.5  # no flicker (8-bit luma units)


# -- CUDA: the net on CuPy frames against the CPU node ------------------------------------------------


@pytest.mark.cuda
def test_cuda_net_equals_the_cpu_net(cp):
    """The same frames through the node on both devices. Tolerances allow for cuDNN's TF32
    convolutions (torch's default on Ampere and later: 10-bit mantissas in the network's
    products), not yet measured on a GPU."""
    cpu, gpu = make(), make("cuda")
    for i, s in enumerate([0.6, 0.1, 0.12, 0.08]):
        rgb = scene(s)
        (c,) = cpu.process(frame(rgb, 40 * i))
        (g,) = gpu.process(frame(cp.asarray(rgb), 40 * i))
        assert g.device == "cuda"
        assert gpu.last["mean_a"] == pytest.approx(cpu.last["mean_a"], abs=2e-3)
        assert gpu.last["mean_out"] == pytest.approx(cpu.last["mean_out"], abs=2e-3)
        diff = np.abs(cp.asnumpy(g.data) - np.stack(c.planes))
        assert diff.max() < 2e-2 and diff.mean() < 2e-3
