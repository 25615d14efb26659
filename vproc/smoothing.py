"""Smoothing over frame time, shared by the nodes that follow a per-frame estimate slowly."""

from __future__ import annotations

import math
from fractions import Fraction


class TimeEMA:
    """Exponential moving average over the frames' own times, not their count.

    After ``dt`` seconds since the previous update a new value gets the weight
    ``1 - exp(-dt / tau)``, so variable frame rates smooth alike; the first value is taken as it
    is; ``tau`` 0 follows the values. Values may be floats or numpy arrays.
    """

    def __init__(self, tau: float):
        self.tau = float(tau)
        self.reset()

    def reset(self) -> None:
        """Forget the state: the next value is taken as it is."""
        self.value = None
        self._time: Fraction | None = None

    def update(self, value, time: Fraction):
        """Blend ``value`` observed at ``time`` (seconds) in; returns the smoothed value."""
        if self.value is None or self.tau <= 0:
            self.value = value
        else:
            dt = max(float(time - self._time), 0.0)
            self.value = self.value + (1.0 - math.exp(-dt / self.tau)) * (value - self.value)
        self._time = time
        return self.value


__all__ = ["TimeEMA"]
