"""The CUDA loader (vproc.kernels._cuda) and the CPU path's independence from CuPy, without a GPU."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from vproc.errors import DeviceError
from vproc.kernels import _cuda

REPO = Path(__file__).resolve().parents[2]
OPS = sorted(p.stem for p in (REPO / "native").glob("*.cu"))


@pytest.mark.parametrize("op", OPS)
def test_every_op_has_its_source_with_a_line_directive(op):
    assert _cuda.native_path(op) == REPO / "native" / f"{op}.cu"
    src = _cuda.source(op)
    assert src.startswith(f'#line 1 "{op}.cu"\n')
    assert 'extern "C" __global__' in src


def test_shared_headers_are_pasted_in_with_line_directives():
    src = _cuda.source("denoise")
    lines = src.splitlines()
    at = lines.index('#line 1 "patch.cuh"')
    assert not any(line.startswith("#include") for line in lines) and "rational_weight" in src
    back = next(line for line in lines[at:] if line.startswith("#line") and "denoise.cu" in line)
    number = int(back.split()[1])  # the line after the #include in denoise.cu
    original = (REPO / "native" / "denoise.cu").read_text().splitlines()
    assert original[number - 2].startswith('#include "patch.cuh"')


def test_a_missing_header_is_a_device_error(tmp_path, monkeypatch):
    (tmp_path / "op.cu").write_text('#include "gone.cuh"\n')
    monkeypatch.setattr(_cuda, "native_dirs", lambda: (tmp_path,))
    with pytest.raises(DeviceError, match=r"op\.cu line 1: gone\.cuh not found"):
        _cuda.source("op")


def test_missing_source_is_a_device_error():
    with pytest.raises(DeviceError, match=r"nosuchop\.cu not found"):
        _cuda.source("nosuchop")


def test_is_cupy_does_not_import_cupy():
    assert not _cuda.is_cupy(np.zeros(3))
    fake = type("ndarray", (), {"__module__": "cupy._core.core"})()
    assert _cuda.is_cupy(fake)


def test_cpu_ops_never_import_cupy():
    code = (
        "import sys, numpy as np\n"
        "from vproc.kernels import resize, yuv_to_rgb\n"
        "resize(np.zeros((5, 7), np.float32), 3, 4)\n"
        "z = np.zeros((4, 4), np.uint8)\n"
        "yuv_to_rgb(z, z[:2, :2], z[:2, :2], matrix='bt709', full_range=False)\n"
        "assert 'cupy' not in sys.modules, 'cupy was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_missing_cupy_is_a_device_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    monkeypatch.setattr(_cuda, "_modules", {})
    with pytest.raises(DeviceError, match="CuPy is not usable"):
        _cuda.module("warp")


def test_compile_error_carries_the_compiler_message(monkeypatch):
    # A stand-in for CuPy whose RawModule fails like NVRTC does: the DeviceError must keep the
    # message (file:line from the #line directive) and name the op's file.
    seen = {}

    class CompileException(Exception):
        pass

    class RawModule:
        def __init__(self, *, code, options):
            seen.update(code=code, options=options)

        def compile(self):
            raise CompileException('warp.cu(12): error: identifier "oops" is undefined')

    fake = types.ModuleType("cupy")
    fake.RawModule = RawModule
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_cuda, "_modules", {})
    with pytest.raises(DeviceError, match=r"compiling warp\.cu for CUDA failed:\nwarp\.cu\(12\): error"):
        _cuda.module("warp")
    assert seen["code"].startswith('#line 1 "warp.cu"') and "--fmad=false" in seen["options"]
    assert isinstance(seen["options"], tuple)  # CuPy requires a tuple


def test_kernel_arguments_are_32_bit():
    assert _cuda.i32(5).dtype == np.int32 and _cuda.f32(0.5).dtype == np.float32
    assert _cuda.grid(53, 37, 3) == (2, 5, 3)
