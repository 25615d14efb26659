"""``trace_skeleton``: paths cover the skeleton (every pixel once, junctions once per branch),
consecutive points are 8-neighbours, paths end at endpoints and junctions, loops close; and
``simplify`` / ``path_length``.

Junctions are recomputed here on their own, from the definition (m-adjacency: 4-neighbours, and
diagonal neighbours with no shared 4-neighbour), not taken from the module.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from vproc.geometry import Polylines
from vproc.kernels import thin
from vproc.trace import path_length, simplify, trace_skeleton

from .kernels.test_thin import SHAPES, blobs

N4 = [(0, 1), (1, 0), (0, -1), (-1, 0)]
DIAG = [(1, 1), (1, -1), (-1, 1), (-1, -1)]


def links(mask, y, x):
    """m-adjacent neighbours of (y, x)."""
    h, w = mask.shape

    def on(yy, xx):
        return 0 <= yy < h and 0 <= xx < w and mask[yy, xx]

    out = [(y + dy, x + dx) for dy, dx in N4 if on(y + dy, x + dx)]
    out += [(y + dy, x + dx) for dy, dx in DIAG if on(y + dy, x + dx) and not on(y + dy, x) and not on(y, x + dx)]
    return out


def pixels(path):
    """(row, col) of each point, checking the points are pixel centres."""
    ij = path[:, ::-1] - 0.5
    assert np.array_equal(ij, np.round(ij)), "points are not pixel centres"
    return [tuple(p) for p in ij.astype(int)]


def check_paths(mask, paths):
    mask = mask != 0
    degree = {(y, x): len(links(mask, y, x)) for y, x in zip(*np.nonzero(mask))}
    seen = Counter()
    for path in paths:
        assert path.dtype == np.float32 and path.ndim == 2 and path.shape[1] == 2
        pts = pixels(path)
        if len(pts) > 1:
            steps = np.abs(np.diff(np.array(pts), axis=0)).max(axis=1)
            assert (steps == 1).all(), "a step is not to an 8-neighbour"
        if len(pts) > 2 and pts[0] == pts[-1] and degree[pts[0]] == 2:
            pts = pts[:-1]  # a closed loop: its start is repeated at its end
            interior = pts
        else:  # from a node to a node through pixels with two links
            assert degree[pts[0]] != 2 and degree[pts[-1]] != 2, f"path ends inside a line: {pts[0]}, {pts[-1]}"
            interior = pts[1:-1]
        assert all(degree[p] == 2 for p in interior), "a junction or endpoint inside a path"
        seen.update(pts)
    assert set(seen) == set(degree), "paths do not cover the skeleton exactly"
    for p, n in seen.items():
        if degree[p] <= 2:
            assert n == 1, f"pixel {p} (not a junction) on {n} paths"
        else:
            assert n <= degree[p], f"junction {p} ends {n} paths but has {degree[p]} links"


def test_pixel_centre_coordinates_and_order():
    m = np.zeros((6, 9), np.uint8)
    m[2, 3:8] = 1
    (path,) = trace_skeleton(m)
    np.testing.assert_array_equal(path, [[x + 0.5, 2.5] for x in range(3, 8)])


def test_plus_splits_at_the_junction():
    m = np.zeros((9, 9), np.uint8)
    m[4, 1:8] = 1
    m[1:8, 4] = 1
    paths = trace_skeleton(m)
    assert len(paths) == 4 and all(len(p) == 4 for p in paths)
    assert all(tuple(p[0]) == (4.5, 4.5) or tuple(p[-1]) == (4.5, 4.5) for p in paths)
    check_paths(m, paths)


def test_corner_is_not_a_junction():
    # a staircase turn: 8-adjacency would link the corner's ends directly as well
    m = np.zeros((8, 8), np.uint8)
    m[1, 1:5] = 1
    m[1:7, 4] = 1
    paths = trace_skeleton(m)
    assert len(paths) == 1 and len(paths[0]) == m.sum()
    check_paths(m, paths)


def test_closed_loop_and_lasso():
    ring = cv2.circle(np.zeros((24, 24), np.uint8), (12, 12), 8, 1, 1)
    (path,) = trace_skeleton(ring)
    assert tuple(path[0]) == tuple(path[-1]) and len(path) == ring.sum() + 1
    check_paths(ring, [path])
    lasso = ring.copy()
    lasso[20:24, 12] = 1  # a tail hanging from the ring
    paths = trace_skeleton(lasso)
    assert len(paths) == 2
    check_paths(lasso, paths)


def test_isolated_pixels_and_empty():
    assert trace_skeleton(np.zeros((5, 7), np.uint8)) == []
    m = np.zeros((5, 7), np.uint8)
    m[0, 0] = m[4, 6] = 1
    paths = trace_skeleton(m)
    assert [p.tolist() for p in paths] == [[[0.5, 0.5]], [[6.5, 4.5]]]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_cover_skeletons_of_shapes(name):
    skel = thin(SHAPES[name])
    check_paths(skel, trace_skeleton(skel))


def test_cover_random_skeletons():
    for seed in range(6):
        skel = thin(blobs(90, 120, 1.5 + seed, 0.4, seed))
        check_paths(skel, trace_skeleton(skel))


def test_path_length():
    assert path_length(np.zeros((1, 2), np.float32)) == 0.0
    assert path_length(np.array([[0, 0], [3, 4], [3, 5]], np.float32)) == pytest.approx(6.0)


def test_simplify_keeps_ends_and_stays_within_epsilon():
    path = max(trace_skeleton(thin(SHAPES["letters"])), key=len)
    for eps in (0.5, 1.0, 3.0):
        short = simplify(path, eps)
        assert len(short) < len(path)
        np.testing.assert_array_equal(short[0], path[0])
        np.testing.assert_array_equal(short[-1], path[-1])
        # every original point lies within eps of the simplified polyline
        a, b = short[:-1, None], short[1:, None]
        ab = b - a
        t = np.clip(((path[None] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
        d = np.linalg.norm(a + t[..., None] * ab - path[None], axis=-1).min(axis=0)
        assert d.max() <= eps + 1e-4
    assert simplify(path, 0) is path
    ring = trace_skeleton(cv2.circle(np.zeros((40, 40), np.uint8), (20, 20), 15, 1, 1))[0]
    closed = simplify(ring, 1.0)
    assert 4 <= len(closed) < len(ring) and tuple(closed[0]) == tuple(closed[-1])


def test_polylines_of_a_trace_scale():
    paths = trace_skeleton(thin(SHAPES["ring"]))
    lines = Polylines(paths)
    scaled = lines.scaled(2.0, 0.5)
    assert len(scaled) == len(paths)
    for got, want in zip(scaled.lines, paths):
        np.testing.assert_allclose(got, want * np.float32([2.0, 0.5]))
    assert lines.to_json()[0][0] == [round(float(paths[0][0, 0]), 2), round(float(paths[0][0, 1]), 2)]


def test_rejects_non_2d():
    with pytest.raises(ValueError):
        trace_skeleton(np.zeros((3, 3, 3), np.uint8))
