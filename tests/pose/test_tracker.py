"""Tracker: ids stable through crossings, new ids for newcomers, grace period, never reused."""

from __future__ import annotations

import numpy as np

from vproc.pose.tracker import Tracker, iou_matrix


def box(cx, cy, w=40, h=100):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_iou():
    m = iou_matrix([box(0, 0), box(100, 0)], [box(0, 0), box(20, 0)])
    np.testing.assert_allclose(m[0], [1.0, 1 / 3])
    assert m[1, 0] == 0


def test_crossing_appearing_disappearing():
    tr = Tracker(grace=0.3)
    fps = 25
    a_ids, b_ids = set(), set()
    for i in range(50):
        t = i / fps
        # a walks right, b walks left, passing each other 30 px apart vertically at frame 25.
        boxes = [box(50 + 8 * i, 200), box(450 - 8 * i, 230)]
        if i >= 10:
            boxes.append(box(600, 100))  # c appears at frame 10 and stays
        if 30 <= i < 34:  # b hidden for 4 frames (0.16 s < grace): same id after
            boxes.pop(1)
        ids = tr.update(boxes, t)
        assert len(set(ids)) == len(ids)
        a_ids.add(ids[0])
        if not 30 <= i < 34:
            b_ids.add(ids[1])
        if i == 10:
            assert ids[2] == 3
    assert a_ids == {1} and b_ids == {2}
    # a leaves for longer than the grace period: it comes back with a new id, never an old one.
    for i in range(50, 70):
        tr.update([box(600, 100)], i / fps)
    ids = tr.update([box(450, 200), box(600, 100)], 70 / fps)
    assert ids == [4, 3]
    assert 1 not in [t.id for t in tr.tracks]


def test_unmatched_track_dropped_after_grace():
    tr = Tracker(grace=0.5)
    tr.update([box(0, 0)], 0.0)
    tr.update([], 0.4)
    assert [t.id for t in tr.tracks] == [1] and tr.dropped == []
    tr.update([], 0.6)
    assert tr.tracks == [] and tr.dropped == [1]
