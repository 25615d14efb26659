"""The One-Euro filter (Casiez, Roussel, Vogel: "1 Euro Filter", CHI 2012), vectorised.

A low-pass filter whose cutoff rises with speed: ``cutoff = min_cutoff + beta * |dx/dt|``, so a
still keypoint is smoothed hard (jitter down) and a moving one is followed closely (little lag).
Per update, with ``dt`` the time since the previous one in seconds::

    alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))
    dx   = (x - x_prev) / dt;   dx_s = dx_s + alpha(d_cutoff) (dx - dx_s)
    x_s  = x_s + alpha(min_cutoff + beta |dx_s|) (x - x_s)

Times are the frames' own (seconds from pts), never a frame counter, so variable frame rates
filter alike. Each keypoint's speed is the norm of its 2-D velocity (x and y share one cutoff),
divided by ``scale`` when given: with the person's height as ``scale``, ``beta`` is in
"per person-height per second" and the same parameters suit any resolution and distance (as
MediaPipe's landmark smoothing scales by the object's size).

Confidence: a keypoint observed with confidence ``c`` below ``min_confidence`` moves the filter
by ``alpha * c / min_confidence`` only, down to holding its last value at ``c = 0``: occluded
joints, whose guesses jump about, are damped, and a joint that comes back is followed again at
once, without a cliff between the two.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff, dt: float):
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


class OneEuro:
    """One-Euro filter over an array of points ``(K, D)``; one instance per tracked object.

    Args:
        min_cutoff: cutoff in Hz at standstill: lower smooths more (and lags more when slow).
        beta: how fast the cutoff rises with speed (speed in ``scale`` units per second).
        d_cutoff: cutoff in Hz of the speed estimate itself.
        min_confidence: confidences below it damp the update (see the module docstring).
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0,
                 min_confidence: float = 0.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One-Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.min_confidence = float(min_confidence)
        self.reset()

    def reset(self) -> None:
        """Forget the state: the next value is taken as it is."""
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None  # smoothed velocity, (K, D)
        self.time: float | None = None

    def __call__(self, x, time: float, confidence=None, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` (``(K, D)``) observed at ``time`` seconds; returns the smoothed ``(K, D)``
        float64 array (a new one). ``confidence`` is ``(K,)`` in 0..1 or None (all sure)."""
        x = np.asarray(x, np.float64)
        if self.value is None or x.shape != self.value.shape:
            self.value = x.copy()
            self.speed = np.zeros_like(x)
            self.time = float(time)
            return self.value.copy()
        dt = float(time) - self.time
        if dt <= 0:  # same instant again: nothing new to learn from
            return self.value.copy()
        weight = np.ones(x.shape[0])
        if confidence is not None and self.min_confidence > 0:
            weight = np.clip(np.asarray(confidence, np.float64) / self.min_confidence, 0.0, 1.0)
        w = weight[:, None]
        dx = (x - self.value) / dt
        self.speed = self.speed + w * _alpha(self.d_cutoff, dt) * (dx - self.speed)
        speed = np.linalg.norm(self.speed, axis=1, keepdims=True) / max(float(scale), 1e-9)
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self.value = self.value + w * a * (x - self.value)
        self.time = float(time)
        return self.value.copy()
