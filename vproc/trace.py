"""Tracing a one-pixel-wide skeleton into paths (the ``skeleton`` node's polylines).

:func:`trace_skeleton` turns a thin 8-connected skeleton (as :func:`vproc.kernels.thin` makes)
into paths between its endpoints and junctions, plus its closed loops, in the continuous pixel
coordinates of :mod:`vproc.geometry` (pixel ``(i, j)`` is the point ``(j + 0.5, i + 0.5)``).

Pixels are linked by *m-adjacency* (Gonzalez & Woods, "mixed" adjacency): 4-neighbours always,
diagonal neighbours only when no pixel is 4-adjacent to both. An 8-connected skeleton has
redundant diagonal links wherever a line turns a corner (``a b / . c``: ``a`` touches ``c``
through ``b`` and directly); with plain 8-adjacency every such corner would be a junction and
the trace would fall into two-point fragments. m-adjacency drops exactly those links and keeps
the 8-connectivity of every component.

A pixel with two links continues a path; the others are *nodes*: endpoints (one link),
junctions (three or more), isolated pixels (none). Every path runs from a node to a node
(possibly the same one) through pixels with two links, and every link is walked once, so a
pixel that is not a junction lies on exactly one path, and a junction ends one path per link.
Components without nodes are closed loops: their path starts and ends on the same pixel (the
first point repeated at the end). An isolated pixel is a path of one point.

Written by hand (numba) because no library traces pixel graphs into ordered paths: OpenCV's
``findContours`` follows the *outline* of a region (each one-pixel line twice, out and back),
and scikit-image has no tracer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Directions by index: E, SE, S, SW, W, NW, N, NE. Odd indices are diagonals, between the two
# 4-directions of indices d - 1 and d + 1 (mod 8).
_DY = np.array([0, 1, 1, 1, 0, -1, -1, -1], np.int64)
_DX = np.array([1, 1, 0, -1, -1, -1, 0, 1], np.int64)


@njit(cache=True)
def _links(pad, dy, dx):
    """For every foreground pixel of the zero-framed mask ``pad``, the bit set of its m-adjacent
    neighbours (bit ``d`` for direction ``d``)."""
    hp, wp = pad.shape
    links = np.zeros((hp, wp), np.uint8)
    for y in range(1, hp - 1):
        for x in range(1, wp - 1):
            if pad[y, x] == 0:
                continue
            bits = 0
            for d in range(8):
                if pad[y + dy[d], x + dx[d]] == 0:
                    continue
                if d & 1:  # diagonal: only when neither shared 4-neighbour is set
                    a = (d + 7) & 7
                    b = (d + 1) & 7
                    if pad[y + dy[a], x + dx[a]] or pad[y + dy[b], x + dx[b]]:
                        continue
                bits |= 1 << d
            links[y, x] = bits
    return links


@njit(cache=True)
def _degree(bits):
    n = 0
    while bits:
        n += bits & 1
        bits >>= 1
    return n


@njit(cache=True)
def _walk(links, used, y, x, d, dy, dx, ys, xs, n):
    """Follow the path that leaves ``(y, x)`` along link ``d`` until a node (or back at the
    start), marking each link used from both ends; appends the points to ``ys, xs`` from
    index ``n`` and returns the new count."""
    sy, sx = y, x
    ys[n] = y
    xs[n] = x
    n += 1
    while True:
        used[y, x] |= 1 << d
        y += dy[d]
        x += dx[d]
        used[y, x] |= 1 << ((d + 4) & 7)  # the same link seen from the other end
        ys[n] = y
        xs[n] = x
        n += 1
        bits = links[y, x]
        if _degree(bits) != 2 or (y == sy and x == sx):
            return n
        free = bits & ~used[y, x]
        if free == 0:  # cannot happen on a consistent graph; stop rather than loop
            return n
        d = 0
        while not (free >> d) & 1:
            d += 1


@njit(cache=True)
def _trace(pad, dy, dx):
    """All paths of the framed skeleton ``pad``: points ``(ys, xs)`` (frame coordinates) and
    ``starts`` (path ``k`` is ``starts[k]:starts[k + 1]``)."""
    links = _links(pad, dy, dx)
    used = np.zeros_like(links)
    hp, wp = pad.shape
    # Every link adds at most one point beyond a path's first, and every path has a first point.
    count = 0
    for y in range(hp):
        for x in range(wp):
            count += _degree(links[y, x]) + (1 if pad[y, x] else 0)
    ys = np.empty(count + 1, np.int64)
    xs = np.empty(count + 1, np.int64)
    starts = np.empty(count + 1, np.int64)
    n = 0
    k = 0
    for loops in range(2):  # first the paths from nodes, then what is left: closed loops
        for y in range(1, hp - 1):
            for x in range(1, wp - 1):
                if pad[y, x] == 0:
                    continue
                bits = links[y, x]
                node = _degree(bits) != 2
                if node == (loops == 1):
                    continue
                if bits == 0:  # an isolated pixel
                    starts[k] = n
                    k += 1
                    ys[n] = y
                    xs[n] = x
                    n += 1
                    continue
                for d in range(8):
                    if (bits >> d) & 1 and not (used[y, x] >> d) & 1:
                        starts[k] = n
                        k += 1
                        n = _walk(links, used, y, x, d, dy, dx, ys, xs, n)
                        if loops == 1:
                            break  # a loop pixel has two links; the walk used both
    starts[k] = n
    return ys[:n], xs[:n], starts[:k + 1]


def trace_skeleton(mask: np.ndarray) -> list[np.ndarray]:
    """The paths of a one-pixel-wide skeleton, split at endpoints and junctions.

    Args:
        mask: ``(H, W)`` numpy array, nonzero on the skeleton (e.g. :func:`vproc.kernels.thin`'s
            output). Thicker shapes are traced too, but their paths follow pixel links, not
            centre lines.

    Returns:
        One ``(N, 2)`` float32 array of ``x, y`` pixel-centre points (``column + 0.5, row +
        0.5``) per path, consecutive points 8-neighbours. Paths from a node run to a node; a
        closed loop repeats its first point at its end; an isolated pixel is one point. Paths
        come in raster order of their first point.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"trace_skeleton: expected an (H, W) mask (got shape {mask.shape})")
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask != 0
    ys, xs, starts = _trace(pad, _DY, _DX)
    # Frame coordinates are one more than image coordinates: pixel centre i + 0.5 is i' - 0.5.
    pts = np.stack([xs, ys], axis=1).astype(np.float32) - np.float32(0.5)
    return [pts[a:b] for a, b in zip(starts[:-1], starts[1:])]


def path_length(path: np.ndarray) -> float:
    """The length of a path in pixels (the sum of its segments; 0 for one point)."""
    if len(path) < 2:
        return 0.0
    return float(np.hypot(*np.diff(path, axis=0).T).sum())


def simplify(path: np.ndarray, epsilon: float) -> np.ndarray:
    """``path`` with fewer points, none of the dropped ones farther than ``epsilon`` pixels from
    the result (Douglas-Peucker, OpenCV's ``approxPolyDP``). A closed path (first point repeated
    at the end) stays closed; ``epsilon <= 0`` or a path of two points or fewer is returned as is."""
    import cv2

    if epsilon <= 0 or len(path) <= 2:
        return path
    closed = len(path) > 3 and bool((path[0] == path[-1]).all())
    # approxPolyDP measures an open curve against the chord from its first to its last point,
    # which for a closed one is a single point: give it the ring without the repeated point.
    curve = path[:-1] if closed else path
    out = cv2.approxPolyDP(np.ascontiguousarray(curve, np.float32).reshape(-1, 1, 2), float(epsilon), closed)
    out = out.reshape(-1, 2)
    if closed:
        out = np.concatenate([out, out[:1]])
    return out


__all__ = ["path_length", "simplify", "trace_skeleton"]
