"""A temporal test node shared by the runtime's and the segmented engines' tests: the mean of its
window, so every output depends on its neighbours; it records each window's frame values (the
first pixel of each frame) to check the clamping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vproc.node import TemporalNode


@dataclass(frozen=True)
class MeanParams:
    radius: int = 2


class WindowMean(TemporalNode):
    """The mean of a window of ``2 * radius + 1`` frames (``self.windows``: what each one held)."""

    Params = MeanParams

    def open(self, info):
        self.radius = self.params.radius
        self.windows = []
        return info

    def process_window(self, window, center):
        self.windows.append([int(f.planes[0][0, 0]) for f in window])
        planes = tuple(np.mean([f.planes[k].astype(np.float32) for f in window], axis=0).round().astype(np.uint8)
                       for k in range(len(center.planes)))
        return [center.with_data(planes if len(planes) > 1 else planes[0])]
