"""Loading ``native/<op>.cu`` into CuPy and launching its kernels; the one place that imports CuPy.

Each op's source is compiled once per process into a ``cupy.RawModule`` (CuPy itself then keeps
the binary per device and in its on-disk cache). The source gets ``#line 1 "<op>.cu"`` in front,
so compiler messages name the file and line a developer has to open. A compile error becomes a
:class:`~vproc.errors.DeviceError` carrying the compiler's message.

The ``.cu`` files live in ``native/`` next to the ``vproc`` package in a source checkout and are
installed as package data in ``vproc/native/``; both places are searched.

CuPy is imported only when a CUDA op actually runs (:func:`cupy`); :func:`is_cupy` tells a CuPy
array from a numpy one by its type's module, so the CPU path never imports CuPy.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

import vproc

from ..device import cupy, is_cupy  # noqa: F401  (re-exported for the ops)
from ..errors import DeviceError

# --fmad=false: no fused multiply-add contraction, so every float32 operation rounds as in the
# numba twins (LLVM does not contract without fastmath) and CUDA and CPU results should agree to
# the bit (tests/kernels/test_cuda.py checks it on a GPU); these kernels are bound by memory
# traffic, so the FMAs would save little.
OPTIONS = ("--std=c++14", "--fmad=false")
_INCLUDE = re.compile(r'\s*#include\s+"([\w.-]+\.cuh)"\s*$')

# 32 x 8 threads: a warp spans 32 consecutive pixels of a row (coalesced loads and stores).
BLOCK = (32, 8, 1)

_modules: dict[str, object] = {}
_kernels: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def native_dirs() -> tuple[Path, ...]:
    """Where ``<op>.cu`` files are looked for: the source checkout first, then package data."""
    pkg = Path(vproc.__file__).resolve().parent
    return (pkg.parent / "native", pkg / "native")


def native_path(op: str) -> Path:
    """The path of ``<op>.cu``; a :class:`DeviceError` naming the places searched when missing."""
    for folder in native_dirs():
        path = folder / f"{op}.cu"
        if path.is_file():
            return path
    raise DeviceError(f"CUDA source {op}.cu not found in {', '.join(str(d) for d in native_dirs())}")


def source(op: str) -> str:
    """The CUDA source of ``op``, with ``#line`` directives so messages point into ``<op>.cu``.

    A line ``#include "name.cuh"`` is replaced by that file from the same folder (helpers shared
    by several ops), so the module compiles without an include path (NVRTC has none by default).
    """
    path = native_path(op)
    out = [f'#line 1 "{op}.cu"']
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        header = path.parent / match.group(1)
        if not header.is_file():
            raise DeviceError(f"{op}.cu line {number}: {match.group(1)} not found in {path.parent}")
        out += [f'#line 1 "{match.group(1)}"', header.read_text(encoding="utf-8"), f'#line {number + 1} "{op}.cu"']
    return "\n".join(out) + "\n"


def module(op: str):
    """The compiled ``cupy.RawModule`` of ``native/<op>.cu``, built once per process."""
    with _lock:
        mod = _modules.get(op)
        if mod is None:
            cp = cupy()
            mod = cp.RawModule(code=source(op), options=OPTIONS)
            try:
                mod.compile()  # compile now, so an error surfaces here and not at first launch
            except Exception as exc:  # cupy.cuda.compiler.CompileException carries the log
                raise DeviceError(f"compiling {op}.cu for CUDA failed:\n{exc}") from exc
            _modules[op] = mod
    return mod


def kernel(op: str, name: str):
    """The ``cupy.RawKernel`` called ``name`` (an ``extern "C"`` function) of ``native/<op>.cu``."""
    key = (op, name)
    fn = _kernels.get(key)
    if fn is None:
        fn = module(op).get_function(name)
        with _lock:
            _kernels[key] = fn
    return fn


def grid(width: int, height: int, planes: int = 1, block: tuple[int, int, int] = BLOCK) -> tuple[int, int, int]:
    """Blocks covering ``width`` x ``height`` pixels, one grid z-slice per plane."""
    return (-(-width // block[0]), -(-height // block[1]), planes)


def i32(value) -> np.int32:
    """An ``int`` kernel argument (CuPy would pass a Python int as 64 bits)."""
    return np.int32(value)


def f32(value) -> np.float32:
    """A ``float`` kernel argument (CuPy would pass a Python float as a double)."""
    return np.float32(value)
