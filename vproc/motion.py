"""Dense motion for temporal nodes: optical flow between the frames of a sliding window.

:class:`FlowWindow` keeps, for the frames a temporal node holds, a small grey *guide* of each
frame and the flows between consecutive frames in both directions, computed once per pair with
OpenCV's DIS optical flow (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV
2016). Flows to frames further away are chained: ``t -> t+2`` is ``t -> t+1`` plus ``t+1 -> t+2``
sampled where the first one lands. A flow ``f`` from frame ``a`` to frame ``b`` satisfies
``a(x) ~ b(x + f(x))``: backward-warping ``b`` by it (:func:`vproc.kernels.warp`, which also
resamples a guide-size flow to any plane's size) aligns ``b`` onto ``a``.

The guide is the frame's first plane (luma, or green for RGB) shrunk so that its short side has
about ``guide_lines`` lines, by the same kernels on both devices (bilinear at a factor of 2 is the
2 x 2 average; beyond that a box blur first stands in for the area average), then quantised to
8 bits for DIS. Only the guide leaves the GPU; the flow is computed on the host.

For small frames whose flow must be sub-pixel accurate (super-resolution), ``upscale`` enlarges
the full-size guide instead (bicubic): DIS, whose finest level works on 8 x 8 patches, then
resolves finer motion (measured in :mod:`vproc.nodes.vsr`). Flows stay at the guide's size, in
guide pixels, as always. :meth:`FlowWindow.flows_to` gives the flows the other way (from each
frame to the centre), and :meth:`FlowWindow.mismatch` how badly a frame is explained by the one
before it (a scene cut).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from .device import is_cupy
from .errors import ConfigError

#: The guide's short side, in lines (360: 720p and 4:2:0 chroma of 720p share its size).
GUIDE_LINES = 360
#: The smallest guide side: OpenCV's DIS fails on images under 16 pixels (smaller frames are enlarged).
MIN_GUIDE = 16

_PRESETS = {"ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST", "fast": "DISOPTICAL_FLOW_PRESET_FAST",
            "medium": "DISOPTICAL_FLOW_PRESET_MEDIUM"}


class FlowWindow:
    """Guides and consecutive flows of the frames of one clip, keyed by the caller's keys."""

    def __init__(self, width: int, height: int, *, guide_lines: int = GUIDE_LINES, preset: str = "fast",
                 upscale: int = 1):
        import cv2

        from . import kernels

        if preset not in _PRESETS:
            raise ConfigError(f"unknown optical flow preset {preset!r} (choose from {', '.join(_PRESETS)})")
        self._cv2 = cv2
        self._kernels = kernels
        factor = max(1, round(min(width, height) / guide_lines))
        if int(upscale) != upscale or not 1 <= upscale <= 4 or (upscale > 1 and factor > 1):
            raise ConfigError(f"flow guide upscale must be 1..4, and > 1 only with a full-size guide "
                              f"(got {upscale} for {width}x{height} and guide_lines {guide_lines})")
        self._upscale = int(upscale)
        #: (width, height) of the guides and the flows.
        self.guide_size = (max(MIN_GUIDE, width // factor) * self._upscale, max(MIN_GUIDE, height // factor) * self._upscale)
        self._dis = cv2.DISOpticalFlow_create(getattr(cv2, _PRESETS[preset]))
        gw, gh = self.guide_size
        self._grid = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
        self.reset()

    def reset(self) -> None:
        """Forget every frame: the next one added starts a new clip (no flow to the one before)."""
        self._guides: dict[Hashable, np.ndarray] = {}
        self._fwd: dict[Hashable, np.ndarray] = {}  # key -> flow to the next frame
        self._bwd: dict[Hashable, np.ndarray] = {}  # key -> flow to the previous frame
        self._prev: dict[Hashable, Hashable] = {}  # key -> the key added before it
        self._last: Hashable | None = None

    def guide(self, plane) -> np.ndarray:
        """The uint8 guide of a first plane in [0, 1] (numpy or CuPy), on the host."""
        gw, gh = self.guide_size
        h, w = plane.shape
        k = min(h // gh, w // gw)
        src = self._kernels.box_blur(plane, k | 1) if k > 2 else plane
        small = self._kernels.resize(src, gh, gw, "bicubic" if self._upscale > 1 else "bilinear")
        if is_cupy(small):
            small = small.get()
        return np.clip(small * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)

    def add(self, key: Hashable, plane) -> None:
        """Add the next frame of the clip (its first plane, in [0, 1]): its guide and the flows
        between it and the frame added before it, both ways."""
        guide = self.guide(plane)
        prev = self._last
        if prev is not None:
            self._fwd[prev] = self._dis.calc(self._guides[prev], guide, None)
            self._bwd[key] = self._dis.calc(guide, self._guides[prev], None)
            self._prev[key] = prev
        self._guides[key] = guide
        self._last = key

    def previous(self, key: Hashable) -> tuple[Hashable, np.ndarray] | None:
        """``(key of the frame added before key, flow from key to it)``, at the guide's size, or
        None for the first frame of a clip (or once that frame is dropped)."""
        prev = self._prev.get(key)
        if prev is None or prev not in self._guides:
            return None
        return prev, self._bwd[key]

    def keep(self, keys) -> None:
        """Drop every frame whose key is not in ``keys`` (the frames no window reaches any more)."""
        keys = set(keys)
        for table in (self._guides, self._fwd, self._bwd, self._prev):
            for k in [k for k in table if k not in keys]:
                del table[k]

    def flows(self, window: Sequence[Hashable], center: int) -> list[tuple[Hashable, np.ndarray]]:
        """``(key, flow)`` from ``window[center]`` to each other distinct frame of ``window``
        (consecutive frames of the clip, clamped at its ends: repeated keys are skipped), at the
        guide's size; the frames after the centre first, nearest first, then those before."""
        out = []
        base = window[center]
        for step, links in ((1, self._fwd), (-1, self._bwd)):
            flow, here, seen = None, base, {base}
            i = center + step
            while 0 <= i < len(window):
                other = window[i]
                link = links.get(here)
                if other in seen or link is None:
                    break  # the window is clamped here: the clip ends
                flow = link if flow is None else flow + self._sample(link, flow)
                seen.add(other)
                out.append((other, flow))
                here = other
                i += step
        return out

    def flows_to(self, window: Sequence[Hashable], center: int) -> list[tuple[Hashable, np.ndarray]]:
        """``(key, flow)`` from each other distinct frame of ``window`` to ``window[center]``, in
        the order of :meth:`flows`: the consecutive flows chained from that frame back to the
        centre, so ``frame(x) ~ centre(x + flow(x))`` on that frame's own grid."""
        out = []
        base = window[center]
        for step, links in ((1, self._bwd), (-1, self._fwd)):  # after the centre: back by bwd links
            path, seen = [], {base}
            i = center + step
            while 0 <= i < len(window):
                other = window[i]
                if other in seen or links.get(other) is None:
                    break  # the window is clamped here: the clip ends
                seen.add(other)
                path.append(other)
                i += step
            for n, key in enumerate(path):
                flow = links[key]
                for m in range(n - 1, -1, -1):  # key -> path[n-1] -> ... -> path[0] -> base
                    flow = flow + self._sample(links[path[m]], flow)
                out.append((key, flow))
        return out

    def mismatch(self, key: Hashable, tolerance: float = 20.0) -> float:
        """The fraction of the guide of ``key`` that the frame added before it, warped onto it
        by the flow between them, does not explain: pixels whose 3 x 3 mean absolute difference
        exceeds ``tolerance`` (8-bit codes). 0.0 for the first frame of a clip. Near 1 across a
        scene cut; a few percent (occlusions, flow errors) within a shot."""
        prev = self._prev.get(key)
        if prev is None or prev not in self._guides:
            return 0.0
        cv2 = self._cv2
        moved = self._sample(self._guides[prev].astype(np.float32), self._bwd[key])
        diff = cv2.absdiff(moved, self._guides[key].astype(np.float32))
        diff = cv2.blur(diff, (3, 3), borderType=cv2.BORDER_REPLICATE)
        return float(np.count_nonzero(diff > tolerance)) / diff.size

    def _sample(self, field: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """``field`` sampled at ``x + flow(x)`` (bilinear, border replicate)."""
        gx, gy = self._grid
        return self._cv2.remap(field, gx + flow[..., 0], gy + flow[..., 1], self._cv2.INTER_LINEAR,
                               borderMode=self._cv2.BORDER_REPLICATE)


__all__ = ["FlowWindow", "GUIDE_LINES"]
