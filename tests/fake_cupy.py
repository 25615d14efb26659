"""A stand-in for CuPy that keeps "device" arrays in host memory, for testing the CUDA path
(uploads, downloads, streams, events, pools, and the kernels themselves) without a GPU.

It models what vproc calls, with CuPy's signatures: ``ndarray.set(host, stream=)``,
``ndarray.get(stream=, out=)``, ``cuda.Stream``/events, ``cuda.alloc_pinned_memory``,
``asarray``/``asnumpy``, and ``RawModule``/``RawKernel``, whose kernels are the real ``.cu``
sources compiled for the host and launched by :mod:`tests.cuda_emu.emulator` with CuPy's
argument rules. Any other ``cupy.<name>`` is numpy's function, its arrays made device arrays
(CuPy mirrors numpy's API); mixing a host numpy array into a device ufunc is refused, as CuPy
refuses it. What it cannot show (asynchrony, timings, torch on the device) stays with the
``cuda``-marked tests on a real GPU (``tests/cuda.py``: ``REAL_DEVICE_ONLY``).
"""

from __future__ import annotations

import types

import numpy as np


class ndarray(np.ndarray):
    """A "device" array: a numpy array whose type lives in a module named like CuPy's."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if type(x) is np.ndarray and x.ndim > 0:
                raise TypeError(f"Unsupported type {type(x)}: a host numpy array in a device operation "
                                f"({ufunc.__name__}); CuPy refuses it")
        args = [np.asarray(x) if isinstance(x, ndarray) else x for x in inputs]
        given = kwargs.get("out")
        if given is not None:
            kwargs["out"] = tuple(np.asarray(x) for x in given)
        result = getattr(ufunc, method)(*args, **kwargs)
        if given is not None:  # the arrays given, as numpy returns them
            return given if len(given) > 1 else given[0]
        return device_arrays(result)

    @property
    def device(self):
        return cuda.Device(0)

    def set(self, host, stream=None):
        np.copyto(np.asarray(self), host)

    def get(self, stream=None, out=None):
        if out is None:
            return np.array(self, copy=True).view(np.ndarray)
        np.copyto(out, np.asarray(self))
        return out


ndarray.__module__ = "cupy_fake"


def device_arrays(value):
    """Arrays in a result made device arrays (numpy's functions return host ones)."""
    if type(value) is np.ndarray:
        return value.view(ndarray)
    if isinstance(value, tuple):
        return tuple(device_arrays(v) for v in value)
    if isinstance(value, list):
        return [device_arrays(v) for v in value]
    return value


def empty(shape, dtype=np.float32):
    return np.empty(shape, dtype).view(ndarray)


def stack(arrays, axis=0):
    return np.stack([np.asarray(a) for a in arrays], axis=axis).view(ndarray)


def asarray(a, dtype=None):
    """A device copy of a host array (a device array as it is, as cupy.asarray)."""
    if isinstance(a, ndarray) and (dtype is None or a.dtype == dtype):
        return a
    return np.array(np.asarray(a), dtype=dtype, copy=True, order="C").view(ndarray)


def asnumpy(a, stream=None, out=None):
    if out is None:
        return np.array(np.asarray(a), copy=True)
    np.copyto(out, np.asarray(a))
    return out


def on_device(fn):
    """A host function (numpy's, scipy's) as a device one: its array results are device arrays."""
    def device_fn(*args, **kwargs):
        return device_arrays(fn(*args, **kwargs))

    device_fn.__name__ = getattr(fn, "__name__", "device_fn")
    return device_fn


def __getattr__(name):  # cupy.<name>: numpy's, with device arrays in and out
    fn = getattr(np, name)
    return fn if not callable(fn) or isinstance(fn, type) else on_device(fn)


class RawModule:
    """``cupy.RawModule(code=, options=)``: the source compiled for the host by the emulator."""

    def __init__(self, code=None, options=(), **kwargs):
        from tests.cuda_emu.emulator import Module

        self.code, self.options = code, tuple(options)
        self._module = None
        self._build = Module

    def compile(self):
        if self._module is None:
            self._module = self._build(self.code)
        return self._module

    def get_function(self, name):
        return self.compile().kernel(name)


class RawKernel:
    """``cupy.RawKernel(code, name, options=)``."""

    def __init__(self, code, name, options=(), **kwargs):
        self._kernel = RawModule(code=code, options=options).get_function(name)

    def __call__(self, grid, block, args, **kwargs):
        return self._kernel(grid, block, args, **kwargs)


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


class _Device:
    def __init__(self, id=0):
        self.id = int(id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


cuda = types.SimpleNamespace(
    Stream=Stream,
    Device=_Device,
    alloc_pinned_memory=_alloc_pinned_memory,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
)
