"""``vsr`` with ``method: net``: the node feeds each clamped window of luma to the network and puts
the result back in the frame's format; frame accounting for every scale and odd sizes; no window
across a scene cut; ``adapt`` fine-tunes on the video's own frames and reports it; refusals.

The network here has tiny weights trained a step by the tests (:func:`weights`): these tests are
about the node, not about what the shipped weights achieve (tests/models/test_vsr_weights.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from vproc.errors import ConfigError
from vproc.formats import get_format
from vproc.frame import Frame, StreamInfo
from vproc.models import vsrnet
from vproc.nodes.vsr import Vsr, VsrParams
from vproc.params import build_params
from vproc.training import vsr as training

from .test_vsr import as_gray8, run, scene

TB = Fraction(1, 25)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[int, str]:
    """x2, x3, x4 networks (radius 1, 8 features) trained one step on random images."""
    folder = tmp_path_factory.mktemp("vsr-weights")
    rng = np.random.default_rng(3)
    images = [(rng.random((70, 80, 3)) * 255).astype(np.uint8) for _ in range(3)]
    s = training.Settings(batch=2, lr_crop=12, radius=1, features=8, blocks=1)
    out = {}
    for scale in (2, 3, 4):
        path = folder / f"x{scale}.pt"
        training.train(scale, "bi", 1, None, path, 0, settings=s, images=images)
        out[scale] = str(path)
    return out


def make(weights, w: int, h: int, fmt: str = "gray", scale: int = 2, **params) -> tuple[Vsr, StreamInfo]:
    node = Vsr(build_params(VsrParams, {"scale": scale, "method": "net", "weights": weights[scale], **params},
                            "node 'sr'"), "cpu", "sr")
    return node, node.open(StreamInfo(w, h, fmt, TB, rate=Fraction(25)))


def moving(h: int, w: int, n: int, seed: int = 4, speed: float = 0.4) -> list[np.ndarray]:
    return [as_gray8(scene(h, w, speed * i, 0.25 * speed * i, seed=seed)) for i in range(n)]


@pytest.mark.parametrize("s", [2, 3, 4])
def test_shapes_pts_and_frame_counts_for_every_scale(weights, s):
    w, h = 37, 29  # odd: 4:2:0 chroma of 19x15
    node, info = make(weights, w, h, "yuv420p", s)
    assert (info.width, info.height) == (s * w, s * h)
    assert node.radius == 1 and node.latency == 1 and node.warmup == 1
    c = (-(-h // 2), -(-w // 2))
    frames = [(y, np.full(c, 100, np.uint8), np.full(c, 150, np.uint8)) for y in moving(h, w, 5)]
    out = run(node, frames, "yuv420p")
    assert [f.pts for f in out] == [3 * i + 7 for i in range(5)] and [f.meta["n"] for f in out] == list(range(5))
    for f in out:
        assert tuple(p.shape for p in f.planes) == get_format("yuv420p").plane_shapes(s * w, s * h)
        assert all(p.dtype == np.uint8 for p in f.planes)
        assert (f.planes[1] == 100).all() and (f.planes[2] == 150).all()  # flat chroma, bicubic


def test_each_output_is_the_network_on_its_clamped_window(weights):
    h, w = 30, 41
    frames = moving(h, w, 4)
    node, _ = make(weights, w, h)
    out = run(node, frames, "gray")
    net = vsrnet.load(weights[2])
    lumas = [torch.from_numpy(f.astype(np.float32) / 255) for f in frames]
    for c, got in enumerate(out):
        window = torch.stack([lumas[min(max(c + d, 0), 3)] for d in (-1, 0, 1)])[None, :, None]
        with torch.no_grad():
            want = np.clip(np.round(net(window)[0, 0].numpy() * 255), 0, 255)
        assert np.abs(got.planes[0].astype(int) - want).max() <= 1


def test_tiles_give_the_whole_frame_result_and_state_stays_bounded(weights):
    """A frame larger than ``tile`` goes through in tiles (each frame's features then computed
    per tile); the result is the one-pass result (features cached per frame) to a code value."""
    h, w = 50, 75
    frames = moving(h, w, 12)
    whole, _ = make(weights, w, h)
    tiled, _ = make(weights, w, h, tile=32)
    a, b = [], []
    for i, y in enumerate(frames):
        a += whole.process(Frame(y, i, TB, "gray"))
        b += tiled.process(Frame(y, i, TB, "gray"))
        assert len(whole._feats) <= 3 and not tiled._feats  # the window's frames only
    a, b = a + whole.flush(), b + tiled.flush()
    assert len(a) == len(b) == 12
    for x, y in zip(a, b):
        assert np.abs(x.planes[0].astype(int) - y.planes[0].astype(int)).max() <= 1


def test_a_causal_network_adds_no_latency(tmp_path):
    rng = np.random.default_rng(5)
    images = [(rng.random((60, 60, 3)) * 255).astype(np.uint8) for _ in range(2)]
    s = training.Settings(batch=2, lr_crop=12, radius=2, causal=True, features=8, blocks=1)
    training.train(2, "bi", 1, None, tmp_path / "causal.pt", 0, settings=s, images=images)
    node, _ = make({2: str(tmp_path / "causal.pt")}, 30, 24)
    assert (node.latency, node.warmup) == (0, 2)
    frames = moving(24, 30, 4)
    net = vsrnet.load(tmp_path / "causal.pt")
    lumas = [torch.from_numpy(f.astype(np.float32) / 255) for f in frames]
    for c, y in enumerate(frames):
        (got,) = node.process(Frame(y, c, TB, "gray"))  # out at once
        window = torch.stack([lumas[max(c + d, 0)] for d in (-2, -1, 0)])[None, :, None]
        with torch.no_grad():
            want = np.clip(np.round(net(window)[0, 0].numpy() * 255), 0, 255)
        assert got.pts == c and np.abs(got.planes[0].astype(int) - want).max() <= 1
    assert node.flush() == []


def test_ten_bit_and_rgb_frames(weights):
    h, w = 24, 30
    ys = moving(h, w, 3)
    node, _ = make(weights, w, h, "yuv420p10le")
    chroma = (np.full((12, 15), 512, np.uint16),) * 2
    out = run(node, [(y.astype(np.uint16) * 4,) + chroma for y in ys], "yuv420p10le")
    assert out[1].planes[0].dtype == np.uint16 and int(out[1].planes[0].max()) <= 1023
    assert (out[1].planes[1] == 512).all()
    gray, _ = make(weights, w, h)
    ref = run(gray, ys, "gray")
    # the same luma as the 8-bit run, to within the 8-bit rounding of the input
    assert np.abs(out[1].planes[0] / 1023.0 - ref[1].planes[0] / 255.0).max() < 0.02
    node, _ = make(weights, w, h, "gbrp")
    out = run(node, [(y, y, y) for y in ys], "gbrp")
    assert [p.shape for p in out[1].planes] == [(2 * h, 2 * w)] * 3
    for p in out[1].planes:  # grey in, grey out
        assert np.abs(p.astype(int) - ref[1].planes[0]).max() <= 1


def test_no_window_across_a_scene_cut(weights):
    h, w = 36, 44
    shot_a, shot_b = moving(h, w, 4, seed=2), moving(h, w, 4, seed=3, speed=-0.3)
    node, _ = make(weights, w, h)
    joined = run(node, shot_a + shot_b, "gray")
    assert node.cuts == 1 and node.summary["cuts"] == 1 and len(joined) == 8
    alone = run(make(weights, w, h)[0], shot_a, "gray") + run(make(weights, w, h)[0], shot_b, "gray")
    for got, want in zip(joined, alone):
        np.testing.assert_array_equal(got.planes[0], want.planes[0])


def test_adapt_fine_tunes_on_the_video_before_upscaling_and_reports(weights):
    h, w = 48, 64
    frames = moving(h, w, 7, seed=5)
    node, _ = make(weights, w, h, adapt=60, adapt_frames=5)
    before = {k: v.clone() for k, v in node.net.state_dict().items()}
    out = []
    for i, y in enumerate(frames):
        got = node.process(Frame(y, i, TB, "gray"))
        assert got == [] if i < 4 else len(got) >= 1  # held until five frames are in
        out += got
    out += node.flush()
    assert [f.pts for f in out] == list(range(7))
    stats = node.summary["adapt"]
    assert stats["steps"] == 60 and stats["frames"] == 5 and stats["seconds"] > 0
    assert stats["self_psnr_after"] > stats["self_psnr_before"] + 0.1
    assert any(not torch.equal(before[k], v) for k, v in node.net.state_dict().items())
    # the adapted network upscales every frame, the held ones included
    net = node.net
    with torch.no_grad():
        x = torch.from_numpy(np.stack([frames[0], frames[0], frames[1]]).astype(np.float32) / 255)[None, :, None]
        want = np.clip(np.round(net(x)[0, 0].numpy() * 255), 0, 255)
    assert np.abs(out[0].planes[0].astype(int) - want).max() <= 1


def test_adapt_on_a_clip_shorter_than_adapt_frames(weights):
    node, _ = make(weights, 40, 32, adapt=3, adapt_frames=32)
    out = run(node, moving(32, 40, 3), "gray")
    assert len(out) == 3 and node.summary["adapt"]["frames"] == 3


def test_refusals(weights, tmp_path):
    with pytest.raises(ConfigError, match="adapt needs method: net"):
        build_params(VsrParams, {"adapt": 10}, "node 'sr'")
    with pytest.raises(ConfigError, match="tile"):
        build_params(VsrParams, {"method": "net", "tile": 8}, "node 'sr'")
    node = Vsr(VsrParams(scale=3, method="net"), "cpu", "sr")  # no x3 weights ship
    with pytest.raises(ConfigError, match="no shipped weights for x3"):
        node.open(StreamInfo(64, 48, "gray", TB))
    with pytest.raises(ConfigError, match="upscale x4, the node's scale is 2"):
        Vsr(VsrParams(scale=2, method="net", weights=weights[4]), "cpu", "sr").open(StreamInfo(64, 48, "gray", TB))
    with pytest.raises(ConfigError, match="not found"):
        Vsr(VsrParams(method="net", weights=str(tmp_path / "none.pt")), "cpu", "sr").open(StreamInfo(64, 48, "gray", TB))
    with pytest.raises(ConfigError, match="too small to adapt"):
        make(weights, 30, 20, scale=4, adapt=5)


@pytest.mark.cuda
def test_net_on_cuda_equals_cpu(cp, weights):
    """The same frames through the node on both devices (DLPack both ways, torch on the runtime's
    CuPy stream). Tolerance: cuDNN's TF32 convolutions; not yet measured on a GPU."""
    h, w = 45, 61
    frames = moving(h, w, 4)
    outs = {}
    for device in ("cpu", "cuda"):
        node = Vsr(VsrParams(scale=2, method="net", weights=weights[2]), device, "sr")
        node.open(StreamInfo(w, h, "gray", TB))
        got = []
        for i, y in enumerate(frames):
            got += node.process(Frame(cp.asarray(y) if device == "cuda" else y, i, TB, "gray"))
        outs[device] = got + node.flush()
    for a, b in zip(outs["cpu"], outs["cuda"]):
        assert b.device == "cuda" and b.pts == a.pts
        assert np.abs(cp.asnumpy(b.planes[0]).astype(int) - a.planes[0]).max() <= 2
