"""Tiled inference (:mod:`vproc.models.tiling`): the tiles' kept parts cover the frame exactly once,
and a network run tile by tile gives what it gives on the whole frame."""

from __future__ import annotations

import pytest
import torch

from vproc.errors import ConfigError
from vproc.models import vsrnet
from vproc.models.tiling import spans, upscale_tiled
from vproc.nodes.vsr import TILE_OVERLAP


@pytest.mark.parametrize("size, tile, overlap, multiple", [(100, 32, 8, 4), (97, 40, 5, 1), (30, 64, 16, 4),
                                                           (129, 64, 32, 4)])
def test_kept_parts_partition_the_frame_and_start_on_the_grid(size, tile, overlap, multiple):
    parts = spans(size, tile, overlap, multiple)
    kept = [(k0, k1) for _, _, k0, k1 in parts]
    assert kept[0][0] == 0 and kept[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:]))
    for i0, i1, k0, k1 in parts:
        assert k0 % multiple == 0 and i0 <= k0 < k1 <= i1 <= size
        assert i0 == max(0, k0 - overlap) and i1 == min(size, k1 + overlap)


def test_bad_tiles_are_config_errors():
    with pytest.raises(ConfigError):
        spans(10, 0, 4)


@pytest.mark.parametrize("scale", [2, 4])
def test_tiles_of_the_vsr_network_match_the_whole_frame(scale):
    """The network with random weights everywhere (its flow layer too, which training starts at
    zero): with the node's overlap, stitched tiles equal the whole-frame pass to float rounding,
    while too little overlap visibly differs (the check can fail)."""
    torch.manual_seed(scale)
    net = vsrnet.VSRNet(scale, radius=1, features=16, blocks=2).eval()
    with torch.no_grad():
        net.flow.out.weight.normal_(0, 0.05)
        net.flow.out.bias.normal_(0, 0.5)
    x = torch.rand(1, 3, 1, 75, 90)
    with torch.inference_mode():
        whole = net(x)
        tiled = upscale_tiled(net, x, scale, 32, TILE_OVERLAP, vsrnet.MULTIPLE)
        thin = upscale_tiled(net, x, scale, 32, 2, vsrnet.MULTIPLE)
    assert tiled.shape == whole.shape == (1, 1, scale * 75, scale * 90)
    assert (tiled - whole).abs().max() < 1e-5
    assert (thin - whole).abs().max() > 1e-3
