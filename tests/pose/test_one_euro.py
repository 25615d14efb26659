"""One-Euro filter: exact on constant input, jitter down >= 2x on a noisy track, bounded lag,
driven by time (not frame count), low-confidence joints damped."""

from __future__ import annotations

import numpy as np
import pytest

from vproc.pose.one_euro import OneEuro


def second_diff(x):
    return np.abs(x[2:] - 2 * x[1:-1] + x[:-2]).mean()


def run(filt, xs, times, conf=None, scale=100.0):
    return np.array([filt(x, t, None if conf is None else conf[i], scale) for i, (x, t) in enumerate(zip(xs, times))])


def test_constant_signal_is_exact():
    xs = np.tile(np.array([[12.5, 40.25], [3.0, -7.0]]), (100, 1, 1))
    out = run(OneEuro(0.5, 10.0), xs, np.arange(100) / 50)
    np.testing.assert_array_equal(out, xs)


def test_noisy_track_jitter_halved_and_lag_bounded():
    rng = np.random.default_rng(0)
    fps, n = 50, 400
    t = np.arange(n) / fps
    # A walk: still, then 150 px/s to the right (1.5 heights/s for a 100 px person), then still.
    truth = np.where(t < 2, 100.0, np.minimum(100 + 150 * (t - 2), 400.0))
    xs = np.stack([truth, np.full(n, 50.0)], 1)[:, None, :] + rng.normal(0, 2.0, (n, 1, 2))
    out = run(OneEuro(0.5, 10.0), xs, t)
    assert second_diff(xs[:, 0, 0]) / second_diff(out[:, 0, 0]) >= 2.0
    # Still parts: closer to the truth than the raw samples.
    still = t < 2
    assert np.abs(out[still, 0, 0] - truth[still]).mean() < 0.6 * np.abs(xs[still, 0, 0] - truth[still]).mean()
    # Moving part (after 0.2 s of settling): the smoothed point trails by under 0.05 s of motion.
    moving = (t > 2.2) & (t < 3.8)
    lag_px = (truth[moving] - out[moving, 0, 0]).mean()
    assert 0 <= lag_px < 150 * 0.05
    assert abs(out[-1, 0, 0] - 400) < 2


def test_time_not_frame_count_drives_it():
    # The same motion sampled at 25 and at 50 fps ends at nearly the same smoothed value.
    def final(fps):
        t = np.arange(int(fps * 0.4)) / fps
        xs = (100 * t)[:, None, None] * np.ones((1, 1, 2))
        return run(OneEuro(1.0, 0.0), xs, t)[-1, 0, 0]
    a, b = final(25), final(50)
    assert abs(a - b) < 0.1 * abs(a) and a < 100 * 0.4 - 5  # and it does lag (min_cutoff 1 Hz, beta 0)


def test_low_confidence_joint_is_held():
    f = OneEuro(0.5, 10.0, min_confidence=0.5)
    f(np.array([[0.0, 0.0], [0.0, 0.0]]), 0.0)
    out = f(np.array([[50.0, 0.0], [50.0, 0.0]]), 0.02, confidence=np.array([1.0, 0.0]))
    assert out[1, 0] == 0.0 and out[0, 0] > 0.0
    half = f(np.array([[50.0, 0.0], [50.0, 0.0]]), 0.04, confidence=np.array([1.0, 0.25]))
    assert 0.0 < half[1, 0] < half[0, 0]


def test_bad_parameters():
    with pytest.raises(ValueError):
        OneEuro(0.0, 1.0)
