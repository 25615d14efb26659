"""Fixtures for the kernel tests: OpenCV without IPP (the `cuda` gate is in tests/conftest.py)."""

from __future__ import annotations

import cv2
import pytest


@pytest.fixture
def cv_plain():
    """``cv2`` with its optimisations (IPP) switched off for the test, restored afterwards.

    The wheels route float resize through Intel IPP, which maps coordinates slightly differently
    (about 2e-6 on [0, 1] data); OpenCV's own code is the algorithm the twins reproduce bit for bit.
    """
    before = cv2.useOptimized()
    cv2.setUseOptimized(False)
    try:
        yield cv2
    finally:
        cv2.setUseOptimized(before)
