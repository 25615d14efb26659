"""Compute device selection: ``auto``, ``cpu`` or ``cuda``.

``auto`` picks CUDA only when CuPy is installed and sees a GPU; asking for ``cuda`` without one is
a :class:`~vproc.errors.DeviceError`, never a silent CPU run. CuPy is imported lazily, so the CPU
path never imports it.
"""

from __future__ import annotations

import functools

from .errors import DeviceError


@functools.lru_cache(maxsize=1)
def cuda_status() -> str | None:
    """None when a CUDA GPU is usable through CuPy, else the reason why not (one line)."""
    try:
        import cupy  # noqa: F401  (optional: the `cuda` extra)
    except Exception as exc:  # ImportError, or a CuPy build that finds no CUDA libraries
        return f"CuPy is not installed or failed to import ({type(exc).__name__}: {exc}); install vproc[cuda]"
    try:
        # is_available() itself may warn or raise on machines without a driver: guard it.
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy finds no usable CUDA driver or GPU ({exc})"
    return None if count > 0 else "CuPy sees no CUDA GPU"


def resolve(requested: str, supported: tuple[str, ...] = ("cpu", "cuda"), who: str = "graph") -> str:
    """The concrete device ("cpu" or "cuda") for a request, checked against what ``who`` supports."""
    if requested == "auto":
        if "cuda" in supported and cuda_status() is None:
            return "cuda"
        return "cpu" if "cpu" in supported else _fail(who, "cuda", supported)
    if requested not in supported:
        return _fail(who, requested, supported)
    if requested == "cuda":
        reason = cuda_status()
        if reason is not None:
            raise DeviceError(f"{who}: device 'cuda' was requested but {reason}")
    return requested


def _fail(who: str, requested: str, supported: tuple[str, ...]) -> str:
    raise DeviceError(f"{who}: runs on {', '.join(supported)} only, not on '{requested}'")
