"""TimeEMA: smoothing by frame time, not frame count."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from vproc.smoothing import TimeEMA


def test_first_value_then_weight_by_elapsed_time():
    ema = TimeEMA(0.5)
    assert ema.update(2.0, Fraction(0)) == 2.0
    got = ema.update(4.0, Fraction(1, 4))  # a quarter second later
    assert got == pytest.approx(2.0 + (1 - math.exp(-0.5)) * 2.0)
    # two updates of dt/2 equal one of dt (what makes variable frame rates smooth alike)
    a, b = TimeEMA(0.5), TimeEMA(0.5)
    a.update(0.0, Fraction(0))
    b.update(0.0, Fraction(0))
    a.update(1.0, Fraction(1, 10))
    a.update(1.0, Fraction(2, 10))
    assert a.value == pytest.approx(b.update(1.0, Fraction(2, 10)))


def test_zero_tau_follows_arrays_and_reset_forgets():
    ema = TimeEMA(0)
    ema.update(np.array([1.0, 2.0]), Fraction(0))
    np.testing.assert_array_equal(ema.update(np.array([3.0, 5.0]), Fraction(1, 25)), [3.0, 5.0])
    ema = TimeEMA(1.0)
    ema.update(1.0, Fraction(5))
    ema.update(3.0, Fraction(4))  # time going back counts as no time passed
    assert ema.value == 1.0
    ema.reset()
    assert ema.update(7.0, Fraction(6)) == 7.0
