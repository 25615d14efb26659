"""Side data with image coordinates, and how geometry nodes carry it along.

Some nodes put coordinates into ``Frame.meta`` (the ``pose`` node's people, the ``skeleton``
node's polylines). Coordinates are continuous pixel coordinates of the frame that carries them:
the image spans ``[0, width] x [0, height]`` and pixel ``(i, j)`` has its centre at
``(i + 0.5, j + 0.5)``. In that convention a resize by ``sx, sy`` maps ``(x, y)`` to
``(x * sx, y * sy)`` exactly, whatever the interpolation.

A meta value that holds coordinates implements :class:`Geometric` (a ``scaled`` method); nodes
that change the frame's geometry (``resize``, ``vsr``) pass their output frame's meta through
:func:`scale_meta`, so an ``overlay`` after them still lands on the person. Values without
coordinates pass unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Geometric(Protocol):
    """A meta value with image coordinates."""

    def scaled(self, sx: float, sy: float) -> "Geometric":
        """The same value with every x multiplied by ``sx`` and every y by ``sy`` (a new object)."""


def scale_meta(meta: dict[str, Any], sx: float, sy: float) -> dict[str, Any]:
    """A copy of ``meta`` with every :class:`Geometric` value scaled by ``sx, sy``."""
    if sx == 1 and sy == 1:
        return dict(meta)
    return {k: v.scaled(sx, sy) if isinstance(v, Geometric) else v for k, v in meta.items()}


class Polylines:
    """Open or closed paths in image coordinates (e.g. a skeleton traced into strokes): each a
    ``(N, 2)`` float32 array of ``x, y`` points. Lives in ``meta["skeleton"]``."""

    def __init__(self, lines):
        import numpy as np

        self.lines = tuple(np.asarray(line, np.float32).reshape(-1, 2) for line in lines)

    def __len__(self) -> int:
        return len(self.lines)

    def scaled(self, sx: float, sy: float) -> "Polylines":
        import numpy as np

        factor = np.array([sx, sy], np.float32)
        return Polylines(line * factor for line in self.lines)

    def to_json(self) -> list:
        """For the sidecar: a list of paths, each a list of ``[x, y]`` rounded to 0.01 px."""
        return [[[round(float(x), 2), round(float(y), 2)] for x, y in line] for line in self.lines]
