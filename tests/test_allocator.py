"""The allocator tuning (:mod:`vproc.allocator`): in force after ``import vproc`` on glibc, and
left alone when the environment says so."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

import vproc  # noqa: F401  (imports tune the allocator)
from vproc import allocator

CHECK = "import vproc.allocator as a; print(a.tune())"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tuned_on_import_and_once():
    assert allocator._applied is True and allocator.tune() is True


def test_opt_out_by_environment():
    out = subprocess.run([sys.executable, "-c", CHECK], env={"VPROC_MALLOC_TUNING": "0", "PATH": ""},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
