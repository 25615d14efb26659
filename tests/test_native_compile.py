"""Every native/*.cu compiles to PTX with nvcc for Ampere (sm_80) and Hopper (sm_90).

Skipped where nvcc is not on PATH; CI has it. What is compiled is exactly what CuPy's NVRTC gets
at run time: the text from vproc.kernels._cuda.source (with its ``#line`` directive) and the
options of vproc.kernels._cuda.OPTIONS.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vproc.kernels._cuda import OPTIONS, source

NATIVE = Path(__file__).resolve().parents[1] / "native"
SOURCES = sorted(NATIVE.glob("*.cu"))
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")


def nvcc_ptx(text: str, tmp_path: Path, arch: str) -> subprocess.CompletedProcess:
    src = tmp_path / "unit.cu"
    src.write_text(text, encoding="utf-8")
    cmd = ["nvcc", "-ptx", f"-arch={arch}", *OPTIONS, str(src), "-o", str(tmp_path / "unit.ptx")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_there_are_sources():
    assert SOURCES, f"no .cu files in {NATIVE}"


@needs_nvcc
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_compiles_to_ptx(path, arch, tmp_path):
    done = nvcc_ptx(source(path.stem), tmp_path, arch)
    assert done.returncode == 0, done.stderr
    ptx = (tmp_path / "unit.ptx").read_text()
    # every extern "C" kernel made it into the module under its own (unmangled) name
    names = [line.split("(")[0].split()[-1] for line in path.read_text().splitlines()
             if line.startswith('extern "C" __global__')]
    assert names and all(f".entry {name}(" in ptx for name in names)


@needs_nvcc
def test_errors_point_into_the_op_file(tmp_path):
    # The #line directive that the loader prepends makes the compiler name <op>.cu and its line.
    broken = source("warp").replace("float bx = 1.0f - ax", "float bx = 1.0f - undefined_name", 1)
    done = nvcc_ptx(broken, tmp_path, "sm_80")
    line = next(i for i, text in enumerate(broken.splitlines()[1:], 1) if "undefined_name" in text)
    assert done.returncode != 0 and f"warp.cu({line})" in done.stderr
