"""CUDA C on the host: the kernels vproc hands to CuPy, compiled with g++ and launched as CuPy would.

:func:`compile_module` takes the exact source text of a ``cupy.RawModule`` (after vproc's
``#line`` and include handling), puts ``prelude.h`` (CUDA's built-ins, the block scheduler) in
front, adds one launcher per ``extern "C" __global__`` kernel, and builds a shared library with
the system compiler, cached on disk by the hash of everything that goes into it. Floating-point
contraction is off (``-ffp-contract=off``), as the kernels are built with ``--fmad=false``, so
their results compare with the numba twins as they would on a GPU.

:meth:`Kernel.launch` checks every argument against the kernel's C signature as CuPy passes it
(CuPy sends a Python ``int`` as a 64-bit integer and a Python ``float`` as a double, so an
``int``/``float`` parameter needs ``numpy.int32``/``numpy.float32``; a pointer needs a device
array of the pointee's dtype), and the argument count. Each device array is copied for the
launch (the whole memory span its elements occupy: the kernel sees only the data pointer, and a
pitched view is read by its pitch) into memory between two ``PROT_NONE`` guard pages, the bytes
between the data and the farther guard filled with a canary. A launch runs twice: first with
every array right after its first guard page (its results dropped), then with every array
against its second one; so any read or write before the start or past the end touches a guard
page in one of the two and fails the launch, naming the kernel and the argument, and a write
into the canary fails it after the launch.

``extern __shared__`` arrays get the launch's ``shared_mem`` bytes (at most 48 KiB, CUDA's
default limit), one buffer per launch that its blocks use in turn.

Timing means nothing here: this proves indexing, launch geometry, arithmetic and the data path.
"""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRELUDE = Path(__file__).with_name("prelude.h")
FLAGS = ("-std=c++14", "-O1", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
         "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=0", "-fno-strict-aliasing", "-w")

# C parameter types -> (what CuPy needs from Python, numpy dtype of the value or pointee)
_SCALARS = {"int": np.int32, "unsigned int": np.uint32, "unsigned": np.uint32, "float": np.float32,
            "double": np.float64, "long long": np.int64, "unsigned long long": np.uint64,
            "short": np.int16, "unsigned short": np.uint16, "char": np.int8, "unsigned char": np.uint8,
            "bool": np.bool_, "int64_t": np.int64, "uint64_t": np.uint64, "int32_t": np.int32,
            "uint32_t": np.uint32, "uint16_t": np.uint16, "uint8_t": np.uint8, "size_t": np.uint64}
_KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_DYNAMIC_SHARED = re.compile(r"extern\s+__shared__\s+([A-Za-z_][\w ]*?)\s+(\w+)\s*\[\s*\]\s*;")
_PAGE = mmap.PAGESIZE
MAX_DYNAMIC_SHARED = 48 * 1024  # a launch's default limit; more needs cudaFuncSetAttribute
_CANARY = 0xA5

_lock = threading.Lock()
_launch_lock = threading.Lock()  # one launch at a time, as one stream would run them
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


class EmulatorError(RuntimeError):
    """A launch CuPy would refuse, or one that touched memory outside its arrays."""


@dataclass(frozen=True)
class Param:
    name: str
    ctype: str  # without const/__restrict__/'*'
    pointer: bool
    const: bool

    @property
    def dtype(self):
        return np.dtype(_SCALARS[self.ctype])


def parse_params(text: str) -> list[Param]:
    params = []
    for raw in (p.strip() for p in text.split(",") if p.strip()):
        pointer = "*" in raw
        words = raw.replace("*", " ").replace("__restrict__", " ").split()
        const = "const" in words
        words = [w for w in words if w != "const"]
        name, ctype = words[-1], " ".join(words[:-1])
        if ctype not in _SCALARS:
            raise EmulatorError(f"parameter type '{ctype}' ({raw}) is not known to the emulator")
        params.append(Param(name, ctype, pointer, const))
    return params


def _cache_dir() -> Path:
    from vproc.io.ffmpeg import cache_dir

    return Path(cache_dir()) / "cuda-emu"


def _launchers(kernels: dict[str, list[Param]]) -> str:
    out = []
    for name, params in kernels.items():
        fields = "".join(f"    {'const ' if p.const else ''}{p.ctype}{'*' if p.pointer else ''} a{i};\n"
                         for i, p in enumerate(params))
        unpack = ", ".join(f"*({'const ' if p.const else ''}{p.ctype}{'*' if p.pointer else ''}*)v[{i}]"
                           for i, p in enumerate(params))
        call = ", ".join(f"a->a{i}" for i in range(len(params)))
        out.append(f"""
struct emu_args_{name} {{
{fields}    char none;
}};
static void emu_body_{name}(void* p) {{ emu_args_{name}* a = (emu_args_{name}*)p; (void)a; {name}({call}); }}
extern "C" int emu_launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, void** v, int fibered, size_t shared, char* message, void** fault) {{
    emu_args_{name} a = {{{unpack}{', ' if params else ''}0}};
    dim3 g = {{gx, gy, gz}}, b = {{bx, by, bz}};
    return emu_run(g, b, emu_body_{name}, &a, fibered, shared, message, fault);
}}
""")
    return "".join(out)


class Module:
    """A compiled source: its kernels by name."""

    def __init__(self, code: str):
        self.code = code
        self.kernels = {m.group(1): parse_params(m.group(2)) for m in _KERNEL.finditer(code)}
        self.fibered = "__syncthreads" in code
        # extern __shared__ T name[]: the launch's dynamic shared memory
        body = _DYNAMIC_SHARED.sub(r"\1* \2 = (\1*)emu_dynamic_shared;", code)
        text = f'#include "{PRELUDE}"\n#line 1\n{body}\n{_launchers(self.kernels)}'
        key = hashlib.sha256("\0".join((PRELUDE.read_text(), text, *FLAGS)).encode()).hexdigest()[:24]
        lib = _cache_dir() / f"{key}.so"
        with _lock:
            if not lib.exists():
                lib.parent.mkdir(parents=True, exist_ok=True)
                src = lib.with_suffix(".cpp")
                src.write_text(text)
                tmp = lib.with_suffix(f".{os.getpid()}.tmp")
                proc = subprocess.run(["g++", *FLAGS, "-o", str(tmp), str(src)], capture_output=True, text=True)
                if proc.returncode != 0:
                    raise EmulatorError(f"g++ could not compile the module:\n{proc.stderr[-4000:]}")
                os.replace(tmp, lib)
            self.lib = ctypes.CDLL(str(lib))

    def kernel(self, name: str) -> "Kernel":
        if name not in self.kernels:
            raise EmulatorError(f"no extern \"C\" __global__ kernel named '{name}' in the module")
        return Kernel(self, name, self.kernels[name])


class _Guarded:
    """A device array's memory for one launch, between two PROT_NONE pages (see the docstring).

    The memory is the whole span the array's elements occupy, row padding included, as the
    kernel sees it through the data pointer (a pitched view of a plane is read by pitch)."""

    def __init__(self, array: np.ndarray, at_end: bool = True):
        self.array = array
        data = array.__array_interface__["data"][0]
        low = data + sum(min(0, (n - 1) * st) for n, st in zip(array.shape, array.strides))
        high = data + sum(max(0, (n - 1) * st) for n, st in zip(array.shape, array.strides)) + array.itemsize
        self.low, self.n = low, (high - low) if array.size else 0
        n = self.n
        body = -(-max(n, 1) // _PAGE) * _PAGE
        self.map = mmap.mmap(-1, body + 2 * _PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        # at_end: the data ends where the second guard page begins, else starts after the first;
        # the slack between the data and the other guard page holds the canary
        self.start = _PAGE + body - n if at_end else _PAGE
        self.slack = (_PAGE, self.start) if at_end else (_PAGE + n, _PAGE + body)
        self.map[self.slack[0]:self.slack[1]] = bytes([_CANARY]) * (self.slack[1] - self.slack[0])
        ctypes.memmove(base + self.start, low, n)
        for page in (0, _PAGE + body):
            if _libc.mprotect(base + page, _PAGE, 0) != 0:
                raise OSError(ctypes.get_errno(), "mprotect")
        self.base = base
        self.guards = (base, base + _PAGE + body)
        self.pointer = ctypes.c_void_p(base + self.start + (data - low))

    def canary_intact(self) -> bool:
        a, b = self.slack
        return self.map[a:b] == bytes([_CANARY]) * (b - a)

    def copy_back(self) -> None:
        ctypes.memmove(self.low, self.base + self.start, self.n)

    def close(self) -> None:
        for page in self.guards:
            _libc.mprotect(page, _PAGE, mmap.PROT_READ | mmap.PROT_WRITE)
        self.map.close()


class Kernel:
    """One kernel; calling it is a ``cupy.RawKernel`` call: ``kernel(grid, block, args, shared_mem=0)``."""

    def __init__(self, module: Module, name: str, params: list[Param]):
        self.module, self.name, self.params = module, name, params
        fn = getattr(module.lib, f"emu_launch_{name}")
        fn.argtypes = [ctypes.c_uint] * 6 + [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_size_t,
                                             ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        fn.restype = ctypes.c_int
        self._fn = fn

    def __call__(self, grid, block, args, *, shared_mem: int = 0, stream=None):
        self.launch(grid, block, args, shared_mem=shared_mem)

    def _value(self, p: Param, arg, where: str):
        if p.pointer:
            if not is_device_array(arg):
                raise EmulatorError(f"{where}: a pointer parameter ({p.ctype}*) needs a device array; got {type(arg).__name__}")
            if arg.dtype != p.dtype:
                raise EmulatorError(f"{where}: {p.ctype}* needs a {p.dtype} array; got {arg.dtype}")
            if not p.const and not arg.flags.writeable:
                raise EmulatorError(f"{where}: the kernel writes through {p.ctype}* into a read-only array")
            return np.asarray(arg)
        if isinstance(arg, (bool, np.bool_)) and p.ctype != "bool":
            raise EmulatorError(f"{where}: {p.ctype} given a bool")
        if isinstance(arg, int) and not isinstance(arg, np.integer):
            if p.dtype != np.int64:
                raise EmulatorError(f"{where}: {p.ctype} given a Python int, which CuPy passes as a 64-bit integer "
                                    f"(use numpy.{p.dtype.name})")
        elif isinstance(arg, float) and not isinstance(arg, np.floating):
            if p.dtype != np.float64:
                raise EmulatorError(f"{where}: {p.ctype} given a Python float, which CuPy passes as a double "
                                    f"(use numpy.{p.dtype.name})")
        elif not isinstance(arg, np.generic) or np.asarray(arg).dtype != p.dtype:
            got = np.asarray(arg).dtype if isinstance(arg, np.generic) else type(arg).__name__
            raise EmulatorError(f"{where}: {p.ctype} needs numpy.{p.dtype.name}; got {got}")
        return np.array(arg, dtype=p.dtype)

    def launch(self, grid, block, args, *, shared_mem: int = 0) -> None:
        grid, block = _dims(grid, "grid"), _dims(block, "block")
        if not 0 <= int(shared_mem) <= MAX_DYNAMIC_SHARED:
            raise EmulatorError(f"{self.name}: shared_mem={shared_mem} bytes; a launch takes 0 to {MAX_DYNAMIC_SHARED}")
        if block[0] * block[1] * block[2] > 1024 or block[2] > 64:
            raise EmulatorError(f"{self.name}: block {block} is more than CUDA allows (1024 threads, z <= 64)")
        if grid[1] > 65535 or grid[2] > 65535 or grid[0] > 2**31 - 1:
            raise EmulatorError(f"{self.name}: grid {grid} is more than CUDA allows")
        args = tuple(args)
        if len(args) != len(self.params):
            raise EmulatorError(f"{self.name} takes {len(self.params)} arguments; the launch gives {len(args)}")
        values = [self._value(p, arg, f"{self.name} argument {i} ({p.name})") for i, (p, arg) in enumerate(zip(self.params, args))]
        if any(p.pointer and v.size and _span(v) % _PAGE for p, v in zip(self.params, values)):
            # Once with every array right after its first guard page (a read before the start
            # faults), its results dropped; then for real, every array against its second one.
            self._launch_once(grid, block, values, shared_mem, at_end=False, keep=False)
        self._launch_once(grid, block, values, shared_mem, at_end=True, keep=True)

    def _launch_once(self, grid, block, values, shared_mem: int, *, at_end: bool, keep: bool) -> None:
        guarded: list[tuple[Param, _Guarded]] = []
        try:
            boxes = []
            by_memory: dict[tuple[int, int], _Guarded] = {}  # one copy per array, however many pointers
            for p, value in zip(self.params, values):
                if p.pointer:
                    key = (value.__array_interface__["data"][0], value.shape, value.strides)
                    g = by_memory.get(key)
                    if g is None:
                        for q, other in guarded:
                            if np.shares_memory(other.array, value):
                                raise EmulatorError(f"{self.name}: arguments {q.name} and {p.name} overlap without "
                                                    "being the same array (not emulated)")
                        g = by_memory[key] = _Guarded(value, at_end)
                    guarded.append((p, g))
                    boxes.append(ctypes.c_void_p(g.pointer.value))  # the slot holds the pointer
                else:
                    boxes.append(ctypes.create_string_buffer(value.tobytes(), max(value.nbytes, 8)))
            slots = (ctypes.c_void_p * max(len(boxes), 1))(*[ctypes.addressof(b) for b in boxes])
            message = ctypes.create_string_buffer(256)
            fault = ctypes.c_void_p()
            with _launch_lock:  # the prelude's state (thread indices, fibers, the fault handler) is global
                code = self._fn(*grid, *block, slots, int(self.module.fibered), int(shared_mem), message,
                                ctypes.byref(fault))
            if code == 1:
                raise EmulatorError(f"{self.name}: access outside the device arrays ({self._whose(fault.value, guarded)}) "
                                    f"with grid {grid}, block {block}")
            if code:
                raise EmulatorError(f"{self.name}: {message.value.decode()}")
            for p, g in guarded:
                if not g.canary_intact():
                    raise EmulatorError(f"{self.name}: wrote {'before the start' if at_end else 'past the end'} "
                                        f"of argument {p.name}")
            written = {id(g): g for p, g in guarded if not p.const}
            for g in written.values() if keep else ():
                g.copy_back()
        finally:
            for g in {id(g): g for _, g in guarded}.values():
                g.close()

    def _whose(self, address, guarded) -> str:
        if address:
            for p, g in guarded:
                lo, hi = g.guards
                if lo <= address < lo + _PAGE:
                    return f"before the start of argument {p.name}, {g.array.size} x {g.array.dtype}"
                if hi <= address < hi + _PAGE:
                    return f"past the end of argument {p.name}, {g.array.size} x {g.array.dtype}"
        return f"address {address:#x}" if address else "unknown address"


def _span(array: np.ndarray) -> int:
    """Bytes from an array's lowest element to the end of its highest."""
    return sum(abs((n - 1) * st) for n, st in zip(array.shape, array.strides)) + array.itemsize


def _dims(value, what: str) -> tuple[int, int, int]:
    if isinstance(value, (int, np.integer)):
        value = (int(value),)
    dims = tuple(int(v) for v in value) + (1,) * (3 - len(tuple(value)))
    if len(dims) != 3 or min(dims) < 1:
        raise EmulatorError(f"{what} {value} is not 1 to 3 positive sizes")
    return dims


def is_device_array(arg) -> bool:
    return type(arg).__module__.startswith("cupy") and isinstance(arg, np.ndarray)
