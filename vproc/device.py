"""Compute devices: selection, lazy CuPy, transfers, buffer pools and DLPack hand-offs.

``auto`` picks CUDA only when CuPy is installed and sees a GPU; asking for ``cuda`` without one is
a :class:`~vproc.errors.DeviceError`, never a silent CPU run. CuPy is imported lazily, so the CPU
path never imports it.

Transfers (:func:`to_device`) go through pinned host staging buffers from a pool, asynchronously
on the calling thread's own CUDA stream; the resulting frame carries a CUDA event that consumers
wait on (on the GPU, not the CPU), so the upload of one frame overlaps the compute of the one
before. Every transfer and every buffer allocation is counted in :data:`STATS`, which the runtime
reports with ``--stats``.

Pooled buffers (:func:`empty`) return to their pool when the Frame holding them is released, so
a node that keeps pixels beyond ``process()`` must keep the Frame (or copy the arrays).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import defaultdict, deque
from dataclasses import dataclass, fields

import numpy as np

from .errors import DeviceError

# -- CuPy, lazily ------------------------------------------------------------------------------


def is_cupy(array) -> bool:
    """Whether ``array`` is a CuPy array, decided without importing CuPy."""
    return type(array).__module__.startswith("cupy")


def cupy():
    """The ``cupy`` module; a :class:`DeviceError` when it cannot be imported."""
    try:
        import cupy as cp  # optional dependency: the `cuda` extra
    except Exception as exc:  # ImportError, or a CuPy build that finds no CUDA libraries
        raise DeviceError(f"CuPy is not usable ({type(exc).__name__}: {exc}); install vproc[cuda]") from exc
    return cp


@functools.lru_cache(maxsize=1)
def cuda_status() -> str | None:
    """None when a CUDA GPU is usable through CuPy, else the reason why not (one line)."""
    try:
        cp = cupy()
    except DeviceError as exc:
        return str(exc)
    try:
        # is_available() itself may warn or raise on machines without a driver: guard it.
        count = cp.cuda.runtime.getDeviceCount()
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


def device_of(array) -> str:
    return "cuda" if is_cupy(array) else "cpu"


# -- counters ------------------------------------------------------------------------------------


@dataclass
class TransferStats:
    """Copies between host and device, and buffer allocations (pool misses), since the last reset."""

    h2d_copies: int = 0
    h2d_bytes: int = 0
    d2h_copies: int = 0
    d2h_bytes: int = 0
    allocations: int = 0
    allocated_bytes: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def reset(self) -> None:
        with self._lock:
            for f in fields(self):
                setattr(self, f.name, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self)}


STATS = TransferStats()


# -- pools ---------------------------------------------------------------------------------------


class BufferPool:
    """Recycles equal-sized arrays, so steady-state processing allocates nothing per frame.

    ``empty`` hands out an array; it comes back to the pool when :meth:`bind` ties it to a Frame
    and that Frame is released (or directly with :meth:`give_back`). Device arrays come back only
    once the CUDA events in the Frame's ``_uses`` have completed: a frame the CPU has let go of
    may still be read by kernels queued on some stream. The pool keeps at most ``keep`` idle
    arrays per shape, so a change of size does not hoard memory.
    """

    def __init__(self, allocate, keep: int = 16):
        self._allocate = allocate
        self._keep = keep
        self._free: dict[tuple, list] = defaultdict(list)
        # id(array) -> (weak reference, key) for arrays handed out and not yet bound; an array
        # that dies unbound (a node used it as scratch) drops out through the callback.
        self._out: dict[int, tuple] = {}
        self._pending: deque = deque()  # (events, arrays) waiting for the GPU to finish
        self._lock = threading.Lock()

    def empty(self, shape, dtype):
        key = (tuple(int(s) for s in shape), np.dtype(dtype).str)
        with self._lock:
            self._reclaim()
            free = self._free[key]
            array = free.pop() if free else None
        if array is None:
            array = self._allocate(key[0], np.dtype(dtype))
            STATS.add(allocations=1, allocated_bytes=int(array.nbytes))
        ident = id(array)
        try:
            ref = weakref.ref(array, lambda _, ident=ident: self._out.pop(ident, None))
        except TypeError:  # an array type without weak references: hand it out untracked
            return array
        with self._lock:
            self._out[ident] = (ref, key)
        return array

    def _take_out(self, array):
        """The pool key of ``array`` if it is one of ours handed out (and forget it), else None."""
        entry = self._out.get(id(array))
        if entry is None or entry[0]() is not array:
            return None
        del self._out[id(array)]
        return entry[1]

    def give_back(self, array) -> None:
        """Return an array that was never bound to a frame."""
        with self._lock:
            key = self._take_out(array)
            if key is not None:
                self._keep_idle(array, key)

    def _keep_idle(self, array, key) -> None:
        if len(self._free[key]) < self._keep:
            self._free[key].append(array)

    def bind(self, owner, arrays, uses: list | None = None) -> None:
        """Return those of ``arrays`` that came from this pool once ``owner`` is garbage and
        the events that will be in ``uses`` by then have completed. An array is bound once:
        binding moves it from "handed out" to "owned by ``owner``"."""
        with self._lock:
            mine = [(a, key) for a in arrays if (key := self._take_out(a)) is not None]
        if mine:
            weakref.finalize(owner, self._release, mine, uses)

    def _release(self, owned, uses) -> None:
        with self._lock:
            if uses:
                self._pending.append((list(uses), owned))
            else:
                for array, key in owned:
                    self._keep_idle(array, key)

    def _reclaim(self) -> None:
        while self._pending and all(e.done for e in self._pending[0][0]):
            for array, key in self._pending.popleft()[1]:
                self._keep_idle(array, key)


host_pool = BufferPool(lambda shape, dtype: np.empty(shape, dtype))


@functools.lru_cache(maxsize=1)
def _device_pool() -> BufferPool:
    cp = cupy()
    return BufferPool(lambda shape, dtype: cp.empty(shape, dtype))


def empty(shape, dtype, device: str = "cpu"):
    """An uninitialised array from the pool of ``device`` (see :class:`BufferPool`)."""
    return host_pool.empty(shape, dtype) if device == "cpu" else _device_pool().empty(shape, dtype)


def bind(frame, arrays) -> None:
    """Tie pooled ``arrays`` to ``frame``: they return to their pool when it goes (and, on the
    GPU, when the work recorded in its ``_uses`` is done)."""
    if not arrays:
        return
    if is_cupy(arrays[0]):
        _device_pool().bind(frame, arrays, frame._uses)
    else:
        host_pool.bind(frame, arrays)


class _StagingPool:
    """Pinned host buffers for transfers, reused only after the GPU is done with them."""

    def __init__(self):
        self._free: dict[int, list] = defaultdict(list)
        self._pending: deque = deque()  # (event, [buffers])
        self._lock = threading.Lock()

    def take(self, nbytes: int):
        with self._lock:
            while self._pending and self._pending[0][0].done:
                for buf in self._pending.popleft()[1]:
                    self._free[buf.nbytes].append(buf)
            free = self._free[nbytes]
            if free:
                return free.pop()
        cp = cupy()
        mem = cp.cuda.alloc_pinned_memory(nbytes)
        STATS.add(allocations=1, allocated_bytes=nbytes)
        return np.frombuffer(mem, np.uint8, nbytes)

    def release_after(self, event, buffers) -> None:
        with self._lock:
            self._pending.append((event, list(buffers)))


_staging = _StagingPool()
_local = threading.local()


def stream():
    """This thread's own non-blocking CUDA stream (made current for the thread's kernels)."""
    s = getattr(_local, "stream", None)
    if s is None:
        cp = cupy()
        s = _local.stream = cp.cuda.Stream(non_blocking=True)
        s.use()
    return s


# -- transfers ------------------------------------------------------------------------------------


def wait_ready(frame) -> None:
    """Make this thread's stream wait (on the GPU) until ``frame``'s pixels are written."""
    event = getattr(frame, "_ready", None)
    if event is not None:
        stream().wait_event(event)


def upload(planes: tuple[np.ndarray, ...]):
    """Host planes -> device planes: pinned staging, async copy; returns (planes, ready event).
    Counted as one host->device copy per frame, whatever its number of planes."""
    s = stream()
    out, staged = [], []
    for plane in planes:
        buf = _staging.take(plane.nbytes)
        host = buf.view(plane.dtype).reshape(plane.shape)
        np.copyto(host, plane)
        dev = empty(plane.shape, plane.dtype, "cuda")
        dev.set(host, stream=s)
        out.append(dev)
        staged.append(buf)
    STATS.add(h2d_copies=1, h2d_bytes=sum(int(p.nbytes) for p in planes))
    event = s.record()
    _staging.release_after(event, staged)
    return tuple(out), event


def download(planes, ready=None) -> tuple[np.ndarray, ...]:
    """Device planes -> host arrays from the host pool (waits for ``ready``, then for the copy)."""
    s = stream()
    if ready is not None:
        s.wait_event(ready)
    staged, out = [], []
    for plane in planes:
        buf = _staging.take(plane.nbytes)
        host = buf.view(plane.dtype).reshape(plane.shape)
        plane.get(stream=s, out=host)
        staged.append((buf, host))
    STATS.add(d2h_copies=1, d2h_bytes=sum(int(p.nbytes) for p in planes))
    s.synchronize()
    for buf, host in staged:
        arr = host_pool.empty(host.shape, host.dtype)
        np.copyto(arr, host)  # out of pinned memory, which stays a small, reused staging area
        out.append(arr)
    event = s.record()
    _staging.release_after(event, [b for b, _ in staged])
    return tuple(out)


# -- DLPack hand-offs -----------------------------------------------------------------------------


def as_torch(array):
    """A torch tensor sharing ``array``'s memory (numpy or CuPy), via DLPack: no copy.

    torch has no read-only tensors: one made from a frame's (read-only) input planes must be
    treated as read-only all the same.
    """
    import torch

    return torch.from_dlpack(array)


def from_torch(tensor):
    """A numpy (CPU) or CuPy (CUDA) array sharing a torch tensor's memory: no copy."""
    if tensor.device.type == "cuda":
        return cupy().from_dlpack(tensor)
    return tensor.numpy()
