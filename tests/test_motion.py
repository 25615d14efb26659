"""FlowWindow: flows between consecutive frames, chained over a window, clamped at clip ends."""

from __future__ import annotations

import numpy as np
import pytest

from vproc.errors import ConfigError
from vproc.kernels import warp
from vproc.motion import FlowWindow

H, W = 120, 160


def scene(dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """A smooth textured float plane in [0, 1], its content moved by (dx, dy) pixels."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    xx, yy = xx - dx, yy - dy
    v = 0.5 + 0.2 * np.sin(xx / 6.0) * np.cos(yy / 8.0) + 0.15 * np.sin((xx + 2 * yy) / 11.0)
    return v.astype(np.float32)


def test_flows_follow_a_translation_and_chain():
    fw = FlowWindow(W, H, guide_lines=H)  # guide at full size
    assert fw.guide_size == (W, H)
    for i in range(3):
        fw.add(i, scene(2.0 * i, -1.0 * i))
    flows = dict(fw.flows([0, 1, 2], 1))
    inner = (slice(20, -20), slice(20, -20))
    # frame 1 at x is frame 2 at x + (2, -1), and frame 0 at x - (2, -1)
    np.testing.assert_allclose(np.median(flows[2][inner], axis=(0, 1)), [2.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.median(flows[0][inner], axis=(0, 1)), [-2.0, 1.0], atol=0.1)
    two = dict(fw.flows([0, 1, 2], 0))[2]  # chained over two steps
    np.testing.assert_allclose(np.median(two[inner], axis=(0, 1)), [4.0, -2.0], atol=0.2)
    aligned = warp(scene(4.0, -2.0), two)
    assert np.abs(aligned - scene())[inner].mean() < 0.01


def test_half_size_guide_flow_warps_full_size_planes():
    fw = FlowWindow(W, H, guide_lines=H // 2)
    assert fw.guide_size == (W // 2, H // 2)
    fw.add("a", scene())
    fw.add("b", scene(3.0, 1.0))
    (key, flow), = fw.flows(["a", "b"], 0)
    assert key == "b" and flow.shape == (H // 2, W // 2, 2)
    aligned = warp(scene(3.0, 1.0), flow)  # resampled to the plane's size by the warp
    assert np.abs(aligned - scene())[20:-20, 20:-20].mean() < 0.01


def test_clamped_windows_and_forgetting():
    fw = FlowWindow(W, H)
    for k in "abc":
        fw.add(k, scene())
    assert [k for k, _ in fw.flows(["a", "a", "a", "b", "c"], 2)] == ["b", "c"]  # start of a clip
    assert [k for k, _ in fw.flows(["b", "c", "c"], 1)] == ["b"]  # end of a clip
    fw.keep({"b", "c"})
    assert [k for k, _ in fw.flows(["b", "c"], 1)] == ["b"]
    fw.reset()
    fw.add("d", scene())
    assert fw.flows(["c", "d"], 1) == []  # a new clip: no flow to the frame before the reset


def test_presets():
    with pytest.raises(ConfigError, match="unknown optical flow preset"):
        FlowWindow(W, H, preset="slowest")
