"""Fixtures of the segmented engines' tests: a 4 s clip with a keyframe every 12 frames (0.48 s),
libx264 with B-frames plus AAC audio, and test nodes registered for the length of a test."""

from __future__ import annotations

import pytest

from vproc import registry
from vproc.node import Node

from .. import media
from ..window_mean import WindowMean

GOP = ("-g", "12", "-keyint_min", "12", "-sc_threshold", "0")

#: Set by a test: the node "test_crash" raises on the first frame at or after this time (s).
CRASH: dict = {"at": None}


class Crash(Node):
    """Passes frames through; raises at ``CRASH["at"]`` (not a parameter: the graph stays the same)."""

    def process(self, frame):
        if CRASH["at"] is not None and frame.time >= CRASH["at"]:
            raise RuntimeError("simulated crash")
        return [frame]


@pytest.fixture(scope="session")
def gop_clip(media_dir):
    """testsrc2 160x120 @ 25 fps, 4 s (100 frames), keyframe every 12 frames, B-frames, AAC; MP4."""
    return media.make_clip(media_dir / "gop12.mp4", seconds=4, extra=GOP)


@pytest.fixture
def test_nodes():
    registry.register("test_seg_mean")(WindowMean)
    registry.register("test_crash")(Crash)
    CRASH["at"] = None
    try:
        yield
    finally:
        CRASH["at"] = None
        # only ours: built-in kinds imported meanwhile register once per process
        registry._KINDS.pop("test_seg_mean", None)
        registry._KINDS.pop("test_crash", None)
