"""A stand-in for CuPy that keeps "device" arrays in host memory, for testing the runtime's
CUDA data path (uploads, downloads, streams, events, pools) on machines without a GPU.

It models only what vproc's transfer code calls, with CuPy's signatures: ``ndarray.set(host,
stream=)``, ``ndarray.get(stream=, out=)``, ``cuda.Stream``/events, ``cuda.alloc_pinned_memory``.
Kernels are not modelled: test nodes use array operations. Real CUDA behaviour (asynchrony, the
kernels themselves) is covered by the ``cuda``-marked tests on a GPU.
"""

from __future__ import annotations

import types

import numpy as np


class ndarray(np.ndarray):
    """A "device" array: a numpy array whose type lives in a module named like CuPy's."""

    def set(self, host, stream=None):
        np.copyto(np.asarray(self), host)

    def get(self, stream=None, out=None):
        if out is None:
            return np.array(self, copy=True).view(np.ndarray)
        np.copyto(out, np.asarray(self))
        return out


ndarray.__module__ = "cupy_fake"


def empty(shape, dtype=np.float32):
    return np.empty(shape, dtype).view(ndarray)


def stack(arrays):
    return np.stack([np.asarray(a) for a in arrays]).view(ndarray)


class _Event:
    done = True


class Stream:
    def __init__(self, non_blocking=False):
        self.recorded = 0

    def use(self):
        return self

    def record(self):
        self.recorded += 1
        return _Event()

    def wait_event(self, event):
        assert isinstance(event, _Event)

    def synchronize(self):
        pass


def _alloc_pinned_memory(nbytes):
    return bytearray(nbytes)


cuda = types.SimpleNamespace(
    Stream=Stream,
    alloc_pinned_memory=_alloc_pinned_memory,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
)
