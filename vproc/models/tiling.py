"""Tiled inference for networks that upscale: a frame too large for the device in one pass is cut
into overlapping tiles, each tile goes through the network on its own, and the centre of every
tile's output is kept.

A convolutional network's output pixel depends only on input pixels within its receptive
radius. A tile with ``overlap`` extra input pixels on every inner side therefore gives, in its
kept centre, the same values as the whole frame would, as long as ``overlap`` covers that radius
(the frame's own border is the network's business, as in a whole-frame pass). Tile origins are
multiples of ``multiple`` (a network with stride-2 levels sees the same sampling grid in a tile
as in the frame), so the stitched result matches a whole-frame pass to float rounding
(tests/models/test_tiling.py measures it on :class:`~vproc.models.vsrnet.VSRNet`).

Memory is bounded by the tile, not the frame: ``tile`` x ``tile`` input pixels (plus overlap)
per pass, whatever the frame size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..errors import ConfigError


def spans(size: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int, int, int]]:
    """Cut ``0..size`` into tiles: ``(in_start, in_stop, keep_start, keep_stop)`` per tile, input
    pixels ``in_start..in_stop`` (the kept part plus up to ``overlap`` on each inner side) and the
    kept part ``keep_start..keep_stop``; the kept parts partition ``0..size``. Kept parts start at
    multiples of ``multiple``, and so do the inputs when ``overlap`` is a multiple of it too."""
    if tile < 1 or overlap < 0 or multiple < 1:
        raise ConfigError(f"tiling: tile must be >= 1 and overlap >= 0 (got {tile}, {overlap})")
    if size <= tile:
        return [(0, size, 0, size)]
    step = max(multiple, tile // multiple * multiple)
    count = math.ceil(size / step)
    out = []
    for i in range(count):
        k0, k1 = i * step, min(size, (i + 1) * step)
        out.append((max(0, k0 - overlap), min(size, k1 + overlap), k0, k1))
    return out


def upscale_tiled(net: Callable[[torch.Tensor], torch.Tensor], frames: torch.Tensor, scale: int, tile: int,
                  overlap: int, multiple: int = 1) -> torch.Tensor:
    """``net`` maps ``(N, T, C, h, w)`` to ``(N, C, scale h, scale w)``; run it tile by tile over
    ``frames`` (tiles of ``tile`` x ``tile`` input pixels plus ``overlap`` on each inner side) and
    stitch the kept centres. One pass when the frame fits in a tile."""
    overlap = -(-overlap // multiple) * multiple  # the inputs start on the network's grid too
    n, _, c, h, w = frames.shape
    rows, cols = spans(h, tile, overlap, multiple), spans(w, tile, overlap, multiple)
    if len(rows) == 1 and len(cols) == 1:
        return net(frames)
    s = int(scale)
    out = frames.new_empty((n, c, s * h, s * w))
    for y0, y1, ky0, ky1 in rows:
        for x0, x1, kx0, kx1 in cols:
            part = net(frames[..., y0:y1, x0:x1])
            out[..., s * ky0:s * ky1, s * kx0:s * kx1] = part[..., s * (ky0 - y0):s * (ky1 - y0),
                                                                 s * (kx0 - x0):s * (kx1 - x0)]
    return out
