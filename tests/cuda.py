"""The `cuda` marker and its gate, shared by every test folder that has CUDA tests.

CUDA tests are marked ``@pytest.mark.cuda``. They skip when CuPy or a GPU is missing, unless
``VPROC_REQUIRE_CUDA=1`` (set on CI machines with a GPU), where a missing GPU fails them instead,
so a broken CUDA setup cannot pass as "all skipped".

``tests/conftest.py`` imports the fixtures and registers the marker for every folder.
"""

from __future__ import annotations

import os

import pytest

from vproc.device import cuda_status

MARKER = "cuda: needs CuPy and a CUDA GPU; skipped without one unless VPROC_REQUIRE_CUDA=1"


def register_marker(config) -> None:
    """Declare the ``cuda`` marker (once, however many conftests ask: each may load alone)."""
    if MARKER not in config.getini("markers"):
        config.addinivalue_line("markers", MARKER)


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
def cuda_gate(request):
    """Applies the skip/fail rule to every test marked ``cuda``, whether or not it asks for ``cp``."""
    if request.node.get_closest_marker("cuda") is not None:
        require_cuda()


@pytest.fixture
def cp():
    """The ``cupy`` module (the test is skipped or failed as :func:`require_cuda` says)."""
    return require_cuda()
