"""``denoise``: noise estimate, PSNR gain on a moving textured clip, no ghosting behind a moving
square, frame accounting and timing, 8- and 10-bit, fixed strength, format refusal, and a run of
a graph end to end."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import vproc
from vproc.errors import ConfigError
from vproc.frame import Frame, StreamInfo
from vproc.nodes.denoise import (
    CODING_NOISE, ESTIMATE_EVERY, TEMPORAL_GAIN, WIENER, WIENER_CORRELATED, Denoise, DenoiseParams,
)
from vproc.params import build_params

from .. import media

TB = Fraction(1, 25)
H, W = 96, 128


def make(fmt: str = "yuv420p", device: str = "cpu", h: int = H, w: int = W, **params) -> Denoise:
    node = Denoise(build_params(DenoiseParams, params, "node 'dn'"), device, "dn")
    node.open(StreamInfo(w, h, fmt, TB, rate=Fraction(25)))
    return node


def texture(h: int, w: int, shift: float) -> np.ndarray:
    """A smooth-plus-detailed luma pattern (30..220) moved right by ``shift`` pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xx = xx - shift
    return 125 + 60 * np.sin(xx / 7.0) * np.cos(yy / 9.0) + 35 * np.sin((xx + 2 * yy) / 3.1)


def clip(n: int, sigma: float, *, step: float = 1.5, bits: int = 8, seed: int = 0):
    """(clean, noisy) yuv420p (or 10-bit) frames of the texture moving ``step`` px per frame."""
    rng = np.random.default_rng(seed)
    scale = (1 << (bits - 8))
    dtype = np.uint8 if bits == 8 else np.uint16
    clean, noisy = [], []
    for i in range(n):
        y = texture(H, W, i * step) * scale
        u = np.full((H // 2, W // 2), 128.0 * scale)
        v = np.full((H // 2, W // 2), 100.0 * scale)
        planes = [y, u, v]
        clean.append([np.round(p).astype(dtype) for p in planes])
        noisy.append([np.clip(np.round(p + rng.normal(0, sigma * scale, p.shape)), 0, 255 * scale).astype(dtype)
                      for p in planes])
    return clean, noisy


def run(node: Denoise, frames, fmt: str = "yuv420p") -> list[Frame]:
    out = []
    for i, planes in enumerate(frames):
        out += node.process(Frame(tuple(planes), i * 2, Fraction(1, 50), fmt, meta={"n": i}))
    return out + node.flush()


def test_estimates_the_noise_within_15_percent():
    _, noisy = clip(6, 10.0)
    node = make()
    run(node, noisy)
    spatial, temporal = node.last_estimate["spatial"], node.last_estimate["temporal"]
    assert spatial[0] == pytest.approx(10.0, rel=0.15)
    assert spatial[1] == pytest.approx(10.0, rel=0.15)  # flat chroma: the noise alone
    # The bilinear alignment (sub-pixel motion: 1.5 px a frame) averages some of the
    # neighbour's noise, in the flat chroma too, which moves with the luma's flow: up to -15 %.
    assert 0.8 * 10.0 < temporal[0] < 1.05 * 10.0
    assert 0.8 * 10.0 < temporal[1] < 1.05 * 10.0
    sigma = node.last["sigma"]
    assert sigma[0] == pytest.approx(max(spatial[0], TEMPORAL_GAIN * temporal[0]), rel=0.05)
    assert node.last["wiener"] == [WIENER] * 3  # white noise: the 3 x 3 Wiener pass


def correlated_clip(n: int, std: float, *, blur: float = 0.8, step: float = 1.5, cut: int | None = None):
    """(clean, noisy) yuv420p frames of the moving texture with camera-like noise: white noise
    blurred by a Gaussian of ``blur`` px and rescaled to ``std`` (every plane); from frame
    ``cut`` on, a different picture (a scene cut)."""
    import cv2

    rng = np.random.default_rng(7)
    clean, noisy = [], []
    for i in range(n):
        y = texture(H, W, i * step) if cut is None or i < cut else 255 - texture(H, W, 40 - 3 * i)[::-1]
        planes = [y, np.full((H // 2, W // 2), 128.0), np.full((H // 2, W // 2), 100.0)]
        clean.append([np.round(p).astype(np.uint8) for p in planes])
        fields = [cv2.GaussianBlur(rng.normal(0.0, 1.0, p.shape), (0, 0), blur) for p in planes]
        noisy.append([np.clip(np.round(p + f * (std / f.std())), 0, 255).astype(np.uint8)
                      for p, f in zip(planes, fields)])
    return clean, noisy


def test_denoises_spatially_correlated_noise():
    """Camera-like noise, which the spatial estimate sees a fifth of: the temporal estimate finds
    it, the first frame included, and the node removes most of it (it used to leave it all:
    sigma estimated at about 2 for a true 8, PSNR up by under 0.5 dB)."""
    clean, noisy = correlated_clip(10, 8.0)
    node = make()
    out, sigmas, temporal = [], [], []
    for i, planes in enumerate(noisy):
        for o in node.process(Frame(tuple(planes), i * 2, Fraction(1, 50), "yuv420p")):
            out.append(o)
            sigmas.append(node.last["sigma"][0])
        if node.last_estimate["temporal"] is not None:
            temporal.append(node.last_estimate["temporal"][0])
    out += node.flush()
    assert node.last_estimate["spatial"][0] < 0.4 * 8.0
    assert temporal and temporal[-1] == pytest.approx(8.0, rel=0.15)
    assert sigmas[0] == pytest.approx(sigmas[-1], rel=0.15) and sigmas[0] > 8.0  # frame 0 got it too
    assert node.last["wiener"] == [WIENER_CORRELATED] * 3  # correlated: a wider Wiener window
    before = np.mean([media.psnr(n[0], c[0]) for n, c in zip(noisy, clean)])
    after = np.mean([media.psnr(o.planes[0], c[0]) for o, c in zip(out, clean)])
    assert after > before + 4.0, (before, after)


def test_no_temporal_estimate_across_a_scene_cut():
    cut = ESTIMATE_EVERY  # an estimating frame
    _, noisy = correlated_clip(cut + 2, 8.0, cut=cut)
    node = make()
    for i, planes in enumerate(noisy[:cut]):
        node.process(Frame(tuple(planes), i * 2, Fraction(1, 50), "yuv420p"))
    assert node.last_estimate["temporal"] is not None  # frame 1's
    node.process(Frame(tuple(noisy[cut]), cut * 2, Fraction(1, 50), "yuv420p"))  # after the cut
    assert node.last_estimate["temporal"] is None
    assert node.last["sigma"][0] < 20  # the cut's difference did not reach the noise level


@pytest.mark.parametrize("bits, fmt", [(8, "yuv420p"), (10, "yuv420p10le")])
def test_improves_psnr_on_a_moving_clip(bits, fmt):
    clean, noisy = clip(10, 12.0, bits=bits)
    out = run(make(fmt), noisy, fmt)
    peak = 255.0 * (1 << (bits - 8))
    before = np.mean([media.psnr(n[0], c[0], peak) for n, c in zip(noisy, clean)])
    after = np.mean([media.psnr(o.planes[0], c[0], peak) for o, c in zip(out, clean)])
    assert after > before + 6.0, (before, after)
    assert all(o.planes[0].dtype == np.dtype(np.uint8 if bits == 8 else np.uint16) for o in out)
    assert max(int(o.planes[0].max()) for o in out) <= peak


def test_keeps_frame_count_order_pts_and_side_data():
    _, noisy = clip(7, 5.0)
    node = make(radius=3)
    assert node.latency == 3 and node.warmup == 3
    out = run(node, noisy)
    assert [f.pts for f in out] == [2 * i for i in range(7)]
    assert [f.meta["n"] for f in out] == list(range(7))
    one = make()
    assert len(run(one, noisy[:1])) == 1  # a clip of one frame: the spatial pass alone


def test_no_ghosting_behind_a_moving_square():
    """A bright square moving 5 px per frame over a flat grey: the fused frame must not show the
    square where it was or will be (a ghost), nor lose it where it is."""
    rng = np.random.default_rng(3)
    frames, boxes = [], []
    for i in range(9):
        y = np.full((H, W), 60.0)
        x0 = 20 + 5 * i
        y[30:60, x0:x0 + 30] = 200.0
        boxes.append(x0)
        noisy = np.clip(np.round(y + rng.normal(0, 4.0, y.shape)), 0, 255).astype(np.uint8)
        frames.append([noisy, np.full((H // 2, W // 2), 128, np.uint8), np.full((H // 2, W // 2), 128, np.uint8)])
    out = run(make(), frames)
    for i in range(2, 7):
        y = out[i].planes[0].astype(np.float64)
        x0 = boxes[i]
        trail = y[32:58, x0 - 10:x0 - 1]  # where the square was in the two frames before
        lead = y[32:58, x0 + 31:x0 + 40]  # where it will be in the two after
        inside = y[32:58, x0 + 1:x0 + 29]
        assert abs(trail.mean() - 60) < 3 and trail.max() < 90, (i, trail.mean(), trail.max())
        assert abs(lead.mean() - 60) < 3 and lead.max() < 90, (i, lead.mean(), lead.max())
        assert abs(inside.mean() - 200) < 3 and inside.min() > 170


def test_fixed_strength_overrides_the_estimate():
    _, noisy = clip(3, 10.0)
    node = make(strength=4)
    run(node, noisy)
    assert node.last["sigma"] == pytest.approx([4.0, 4.0, 4.0])


def test_refuses_semi_planar_formats_and_bad_params():
    with pytest.raises(ConfigError, match="works on planar formats, not nv12 .in a graph a convert to yuv420p"):
        Denoise(DenoiseParams(), "cpu", "dn").check(StreamInfo(W, H, "nv12", TB))
    with pytest.raises(ValueError, match="radius"):
        DenoiseParams(radius=5)
    with pytest.raises(ValueError, match="strength"):
        DenoiseParams(strength=0)


def test_rgb_float_frames():
    clean, noisy = clip(5, 8.0)
    rgb = [np.stack([n[0], n[0], n[0]]).astype(np.float32) / 255 for n in noisy]
    node = make("rgbpf32")
    out = []
    for i, r in enumerate(rgb):
        out += node.process(Frame(r, i, TB, "rgbpf32"))
    out += node.flush()
    assert len(out) == 5 and out[0].planes[0].dtype == np.float32
    err_in = np.mean([(r[0] * 255 - c[0]) ** 2 for r, c in zip(rgb, clean)])
    err_out = np.mean([(o.planes[0] * 255 - c[0]) ** 2 for o, c in zip(out, clean)])
    assert err_out < err_in / 3


def test_a_graph_with_denoise_runs_end_to_end(tmp_path):
    src = media.make_clip(tmp_path / "in.mp4", seconds=1, size="160x120")
    graph = tmp_path / "g.yaml"
    graph.write_text("version: 1\nnodes:\n  dn: {type: denoise, in: source, params: {radius: 1}}\n"
                     "output: {in: dn, codec: libx264, crf: 18}\n")
    out = tmp_path / "out.mp4"
    stats = vproc.run(str(graph), str(src), str(out))
    got, want = media.inspect(out), media.inspect(src)
    assert got.video_times == want.video_times
    assert [p for _, _, p in got.audio_packets] == [p for _, _, p in want.audio_packets]  # audio copied
    assert stats.frames_out == stats.frames_in == want.frames


def test_tiny_frames():
    """Frames smaller than DIS's 16-pixel minimum: the guide is enlarged, the output stays small."""
    h, w = 10, 12
    rng = np.random.default_rng(1)
    node = make(h=h, w=w)
    frames = [[rng.integers(0, 256, (h, w), dtype=np.uint8), rng.integers(0, 256, (h // 2, w // 2), dtype=np.uint8),
               rng.integers(0, 256, (h // 2, w // 2), dtype=np.uint8)] for _ in range(4)]
    out = run(node, frames)
    assert len(out) == 4 and out[0].planes[0].shape == (h, w)


def test_keeps_each_frames_mean_brightness():
    """Dark, clipped (skewed) noise: the output's mean per plane stays the input's."""
    rng = np.random.default_rng(4)
    frames = []
    for i in range(6):
        y = np.clip(np.round(texture(H, W, 2.0 * i) * 0.15 + rng.normal(0, 6.0, (H, W))), 0, 255).astype(np.uint8)
        frames.append([y, np.full((H // 2, W // 2), 128, np.uint8), np.full((H // 2, W // 2), 128, np.uint8)])
    out = run(make(), frames)
    for o, f in zip(out, frames):
        assert abs(o.planes[0].astype(np.float64).mean() - f[0].mean()) < 0.05


def test_an_h264_frames_quantiser_sets_a_floor_under_sigma():
    """Frames decoded from H.264 carry their QP; the coding error it implies is a floor under
    sigma where the noise estimates see little (a clean picture through a coarse quantiser)."""
    clean, _ = clip(6, 0.0)
    node = make()
    for i, planes in enumerate(clean):
        node.process(Frame(tuple(planes), i * 2, Fraction(1, 50), "yuv420p", meta={"h264_qp": 34.0}))
    floor = CODING_NOISE * 2 ** ((34.0 - 4) / 6)
    assert node.last_estimate["coding"] == pytest.approx(floor)
    assert node.last_estimate["spatial"][0] < floor / 2 and node.last["sigma"][0] == pytest.approx(floor, rel=0.01)
    plain = make()
    run(plain, clean)
    assert plain.last_estimate["coding"] is None and plain.last["sigma"][0] < floor / 2


def test_a_graph_with_denoise_asks_the_source_for_the_quantisers():
    from vproc.pipeline import transcode_graph

    assert transcode_graph(denoise=True).reads_meta() == {"h264_qp"}
    assert transcode_graph().reads_meta() == frozenset()  # passthrough: nothing exported, no cost
