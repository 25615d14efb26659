"""Fixtures for the kernel tests: the `cuda` marker and its gate, and OpenCV without IPP.

CUDA tests are marked ``@pytest.mark.cuda``. They skip when CuPy or a GPU is missing, unless
``VPROC_REQUIRE_CUDA=1`` (set on CI machines with a GPU), where a missing GPU fails them instead,
so a broken CUDA setup cannot pass as "all skipped".
"""

from __future__ import annotations

import os

import cv2
import pytest

from vproc.device import cuda_status


def pytest_configure(config):
    # Registered here (not in a shared ini file) so other test folders' configuration is untouched.
    config.addinivalue_line(
        "markers", "cuda: needs CuPy and a CUDA GPU; skipped without one unless VPROC_REQUIRE_CUDA=1")


def require_cuda():
    """The ``cupy`` module, or skip (fail under ``VPROC_REQUIRE_CUDA=1``) without a usable GPU."""
    reason = cuda_status()
    if reason is not None:
        if os.environ.get("VPROC_REQUIRE_CUDA") == "1":
            pytest.fail(f"VPROC_REQUIRE_CUDA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    import cupy

    return cupy


@pytest.fixture(autouse=True)
def _cuda_gate(request):
    """Applies the skip/fail rule to every test marked ``cuda``, whether or not it asks for ``cp``."""
    if request.node.get_closest_marker("cuda") is not None:
        require_cuda()


@pytest.fixture
def cp():
    """The ``cupy`` module (the test is skipped or failed as :func:`require_cuda` says)."""
    return require_cuda()


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
