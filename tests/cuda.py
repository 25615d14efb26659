"""The `cuda` marker and its gate, shared by every test folder that has CUDA tests.

CUDA tests are marked ``@pytest.mark.cuda``. They skip when CuPy or a GPU is missing, unless
``VPROC_REQUIRE_CUDA=1`` (set on CI machines with a GPU), where a missing GPU fails them instead,
so a broken CUDA setup cannot pass as "all skipped".

With ``VPROC_CUDA_EMULATE=1`` (``make test``, so CI) CuPy is :mod:`tests.fake_cupy` during each
``cuda`` test, its kernels the real ``native/*.cu`` compiled for the host by
:mod:`tests.cuda_emu.emulator`: every ``cuda`` test runs, except the few in
:data:`REAL_DEVICE_ONLY`, which need what only a GPU has and skip with the reason given there.

``tests/conftest.py`` imports the fixtures and registers the marker for every folder.
"""

from __future__ import annotations

import os

import pytest

from vproc.device import cuda_status

MARKER = "cuda: needs CuPy and a CUDA GPU; skipped without one unless VPROC_REQUIRE_CUDA=1"


EMULATED = os.environ.get("VPROC_CUDA_EMULATE") == "1"

# Tests (by function name) that the emulator cannot stand in for, and why.
REAL_DEVICE_ONLY: dict[str, str] = {
    "test_cuda_net_equals_the_cpu_net": "torch on a CUDA device (the emulator stands in for CuPy, not for torch)",
    "test_net_on_cuda_equals_cpu": "torch on a CUDA device (the emulator stands in for CuPy, not for torch)",
}


_EMULATED_MODULES = ("cupy", "cupyx", "cupyx.scipy", "cupyx.scipy.ndimage")


def install_emulator() -> dict:
    """CuPy (and the parts of cupyx vproc uses) replaced by the host emulator; returns what
    :func:`remove_emulator` puts back."""
    import sys
    import types

    import scipy.ndimage

    from . import fake_cupy

    before = {name: sys.modules.get(name) for name in _EMULATED_MODULES}
    ndimage = types.ModuleType("cupyx.scipy.ndimage")
    for name in dir(scipy.ndimage):
        fn = getattr(scipy.ndimage, name)
        if callable(fn) and not name.startswith("_"):
            setattr(ndimage, name, fake_cupy.on_device(fn))
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy.ndimage = ndimage
    sys.modules.update({"cupy": fake_cupy, "cupyx": cupyx, "cupyx.scipy": cupyx.scipy, "cupyx.scipy.ndimage": ndimage})
    _forget_devices()
    return before


def remove_emulator(before: dict) -> None:
    import sys

    for name, module in before.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
    _forget_devices()


def _forget_devices() -> None:
    """vproc.device's cached answers (is there a GPU, its buffer pools, streams) start afresh."""
    import threading

    from vproc import device

    cuda_status.cache_clear()
    device._device_pool.cache_clear()
    device._local = threading.local()


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
    """Applies the skip/fail rule to every test marked ``cuda``, whether or not it asks for ``cp``.

    Emulated, the emulator is CuPy for the ``cuda`` tests only: every other test sees a machine
    without a GPU, as most users' are, so ``device: auto`` keeps choosing the CPU there."""
    if request.node.get_closest_marker("cuda") is None:
        yield
        return
    before = None
    if EMULATED:
        why = REAL_DEVICE_ONLY.get(getattr(request.node, "originalname", request.node.name))
        if why:
            pytest.skip(f"needs a real GPU: {why}")
        before = install_emulator()
    try:
        require_cuda()
        yield
    finally:
        if before is not None:
            remove_emulator(before)


@pytest.fixture
def cp():
    """The ``cupy`` module (the test is skipped or failed as :func:`require_cuda` says)."""
    return require_cuda()
