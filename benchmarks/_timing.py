"""Timing a node on the GPU, shared by the benchmarks (``python benchmarks/x.py`` puts this folder
on ``sys.path``)."""

from __future__ import annotations

import time
from fractions import Fraction

from vproc.frame import Frame


def seconds_on_cuda(node, planes_list, pix_fmt: str, rate: int, label: str) -> float:
    """Seconds ``node`` (opened on ``cuda``) takes over the frames ``planes_list`` (tuples of host
    planes): the frames are uploaded first, then ``process`` and ``flush`` are timed until the GPU
    has finished. The node is closed; a frame count other than the input's is an error."""
    from vproc.device import cupy, stream

    tb = Fraction(1, 1000)
    inputs = [Frame(tuple(p), i * 1000 // rate, tb, pix_fmt).to("cuda") for i, p in enumerate(planes_list)]
    cupy().cuda.Device().synchronize()
    count = 0
    try:
        t0 = time.perf_counter()
        for fr in inputs:
            count += len(node.process(fr))
        count += len(node.flush())
        stream().synchronize()
        cupy().cuda.Device().synchronize()
        spent = time.perf_counter() - t0
    finally:
        node.close()
    if count != len(inputs):
        raise RuntimeError(f"{label} (cuda) returned {count} frames for {len(inputs)}")
    return spent
