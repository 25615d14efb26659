"""glibc's allocator tuned for video frames: frame-sized buffers reused from the heap instead of
mapped afresh from the kernel every frame.

Every frame of a graph allocates buffers of a few hundred KiB to tens of MiB (planes, the
floats a kernel works in, outputs). glibc serves blocks above its mmap threshold with a fresh
``mmap`` and gives them back with ``munmap`` when freed, and it trims the top of its heaps when
they are free: either way the next frame's buffer is new memory, which the kernel faults in and
zeroes page by page. Profiling a ``vsr`` run (perf, 320x180 -> 640x360) found the process
spending about 6% of its time in page faults and page clearing. :func:`tune` raises the mmap
threshold to glibc's maximum (32 MiB) and keeps up to 512 MiB of free heap (with 64 MiB of top
padding), so those buffers are recycled: ``benchmarks/allocator.py`` measured a whole ``vsr``
run at 10.70 s instead of 12.52 s (medians of three alternating runs each, 200 frames, one
compute thread). The price is a resident size that
stays at its high-water mark instead of shrinking between frames.

Applied once, when :mod:`vproc` is imported (every entry point: the command line, the Python
API, Ray workers). ``VPROC_MALLOC_TUNING=0`` in the environment leaves the allocator alone; other
C libraries (macOS, musl) are left alone too.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's malloc.h
SETTINGS = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 512 << 20, M_TOP_PAD: 64 << 20}
_applied: bool | None = None


def tune() -> bool:
    """Apply :data:`SETTINGS` with ``mallopt`` (once per process); True when they are in force."""
    global _applied
    if _applied is None:
        _applied = False
        if os.environ.get("VPROC_MALLOC_TUNING", "1") != "0" and sys.platform.startswith("linux") \
                and platform.libc_ver()[0] == "glibc":
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            _applied = all(mallopt(option, value) == 1 for option, value in SETTINGS.items())
    return _applied
