"""The CUDA emulator itself: barriers, shared memory, atomics, launch geometry, CuPy's argument
rules, out-of-bounds accesses, and that a broken kernel fails its twin comparison."""

from __future__ import annotations

import numpy as np
import pytest

from tests import fake_cupy as cp
from tests.cuda_emu.emulator import EmulatorError, Module

KERNELS = r"""
#define N 256
extern "C" __global__ void block_sum(const float* __restrict__ a, float* __restrict__ out, int n)
{
    __shared__ float s[N];
    int t = threadIdx.x, i = blockIdx.x * N + t;
    s[t] = i < n ? a[i] : 0.0f;
    __syncthreads();
    for (int k = N / 2; k > 0; k >>= 1) {  // every thread must see the others' partial sums
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

extern "C" __global__ void count_odd(const int* __restrict__ a, unsigned int* __restrict__ counter, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int odd = i < n && (a[i] & 1);
    int in_block = __syncthreads_count(odd);
    if (threadIdx.x == 0) atomicAdd(counter, (unsigned int)in_block);
}

extern "C" __global__ void mark_2d(int* __restrict__ out, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    atomicAdd(&out[y * w + x], y * 1000 + x + 1);
}

extern "C" __global__ void copy_unchecked(const float* __restrict__ a, float* __restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = a[i];  // no bounds check: the last block reads past the end
}

extern "C" __global__ void read_before(const float* __restrict__ a, float* __restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i - 1024];  // 4 KiB before the start for the first thread
}

extern "C" __global__ void reverse_in_block(const float* __restrict__ a, float* __restrict__ out, int n)
{
    extern __shared__ float tile[];  // blockDim.x floats: the launch's shared_mem
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    tile[t] = i < n ? a[i] : 0.0f;
    __syncthreads();
    if (i < n) out[i] = tile[blockDim.x - 1 - t];
}

extern "C" __global__ void left_neighbour(const float* __restrict__ a, float* __restrict__ out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i - 1];  // the first thread reads one element before the start
}

extern "C" __global__ void scale(const float* __restrict__ a, float* __restrict__ out, float k, long long n, double unused)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] * k;
}
"""


@pytest.fixture(scope="module")
def mod():
    return Module(KERNELS)


def dev(a):
    return cp.asarray(a)


def test_shared_memory_reduction_with_barriers(mod):
    a = np.random.default_rng(1).random(1000, dtype=np.float32)
    out = cp.empty((4,), np.float32)
    mod.kernel("block_sum")((4,), (256,), (dev(a), out, np.int32(1000)))
    want = [np.float64(a[i * 256:(i + 1) * 256]).sum() for i in range(4)]
    np.testing.assert_allclose(cp.asnumpy(out), want, rtol=1e-5)


def test_atomic_counter_and_syncthreads_count(mod):
    a = np.arange(1000, dtype=np.int32)
    counter = dev(np.zeros(1, np.uint32))
    mod.kernel("count_odd")((8,), (128,), (dev(a), counter, np.int32(1000)))
    assert int(cp.asnumpy(counter)[0]) == 500


def test_2d_launch_with_partial_last_blocks(mod):
    h, w = 37, 53  # neither a multiple of the 32 x 8 block
    out = dev(np.zeros((h, w), np.int32))
    mod.kernel("mark_2d")((2, 5), (32, 8, 1), (out, np.int32(h), np.int32(w)))
    y, x = np.mgrid[0:h, 0:w]
    np.testing.assert_array_equal(cp.asnumpy(out), y * 1000 + x + 1)  # each pixel once, none twice


def test_reading_past_the_end_fails_the_launch(mod):
    a = dev(np.ones(1000, np.float32))
    with pytest.raises(EmulatorError, match="past the end of argument a"):
        mod.kernel("copy_unchecked")((4,), (256,), (a, cp.empty((1024,), np.float32), np.int32(1000)))


def test_reading_before_the_start_fails_the_launch(mod):
    a = dev(np.ones(1000, np.float32))
    with pytest.raises(EmulatorError, match="before the start of argument a|access outside"):
        mod.kernel("read_before")((4,), (256,), (a, cp.empty((1000,), np.float32), np.int32(1000)))


def test_one_element_either_side_is_caught(mod):
    a, out = dev(np.ones(1000, np.float32)), cp.empty((1000,), np.float32)
    with pytest.raises(EmulatorError, match="before the start of argument a"):
        mod.kernel("left_neighbour")((4,), (256,), (a, out, np.int32(1000)))
    with pytest.raises(EmulatorError, match="past the end of argument a"):
        mod.kernel("copy_unchecked")((1,), (1001,), (a, cp.empty((1001,), np.float32), np.int32(1000)))


def test_a_fault_inside_a_synchronising_kernel_fails_the_launch_too(mod):
    with pytest.raises(EmulatorError, match="past the end"):
        mod.kernel("block_sum")((4,), (256,), (dev(np.ones(1000, np.float32)), cp.empty((3,), np.float32),
                                               np.int32(1000)))


@pytest.mark.parametrize("args, message", [
    ((2.0, 100, 0.0), "Python float, which CuPy passes as a double"),
    ((np.float32(2), np.int32(100), 0.0), "long long needs numpy.int64"),
    ((np.float64(2), 100, 0.0), "float needs numpy.float32"),
    ((np.float32(2), 100), "takes 5 arguments"),
])
def test_arguments_are_checked_as_cupy_passes_them(mod, args, message):
    a, out = dev(np.ones(100, np.float32)), cp.empty((100,), np.float32)
    with pytest.raises(EmulatorError, match=message):
        mod.kernel("scale")((1,), (128,), (a, out, *args))


def test_pointers_need_device_arrays_of_their_type(mod):
    out = cp.empty((100,), np.float32)
    ok = (np.float32(2), 100, 0.0)  # (a Python int is a long long, a Python float a double: right here)
    mod.kernel("scale")((1,), (128,), (dev(np.ones(100, np.float32)), out, *ok))
    assert float(cp.asnumpy(out)[99]) == 2.0
    with pytest.raises(EmulatorError, match="needs a device array"):
        mod.kernel("scale")((1,), (128,), (np.ones(100, np.float32), out, *ok))
    with pytest.raises(EmulatorError, match="needs a float32 array; got float64"):
        mod.kernel("scale")((1,), (128,), (dev(np.ones(100)), out, *ok))
    # a strided view: the kernel reads memory from its data pointer on, as a GPU would
    strided = dev(np.arange(200, dtype=np.float32))[::2]
    mod.kernel("scale")((1,), (128,), (strided, out, *ok))
    np.testing.assert_array_equal(cp.asnumpy(out), 2 * np.arange(100, dtype=np.float32))


def test_dynamic_shared_memory(mod):
    a = np.arange(512, dtype=np.float32)
    out = cp.empty((512,), np.float32)
    mod.kernel("reverse_in_block")((4,), (128,), (dev(a), out, np.int32(512)), shared_mem=128 * 4)
    np.testing.assert_array_equal(cp.asnumpy(out), a.reshape(4, 128)[:, ::-1].reshape(-1))
    with pytest.raises(EmulatorError, match="shared_mem"):
        mod.kernel("reverse_in_block")((4,), (128,), (dev(a), out, np.int32(512)), shared_mem=1 << 20)


def test_launch_geometry_cuda_refuses(mod):
    a, out = dev(np.ones(100, np.float32)), cp.empty((100,), np.float32)
    with pytest.raises(EmulatorError, match="more than CUDA allows"):
        mod.kernel("scale")((1,), (2048,), (a, out, np.float32(1), 100, 0.0))


def test_a_broken_copy_of_a_vproc_kernel_fails_its_twin_comparison(monkeypatch):
    # local_stats.cu with its window moved one pixel right: the emulator must show the bug.
    from vproc.kernels import _cuda, local_mean_var

    text = _cuda.source("local_stats")
    assert "int x0 = x - k / 2;" in text
    broken = cp.RawModule(code=text.replace("int x0 = x - k / 2;", "int x0 = x - k / 2 + 1;"))
    monkeypatch.setitem(__import__("sys").modules, "cupy", cp)
    monkeypatch.setattr(_cuda, "_modules", {"local_stats": broken})
    monkeypatch.setattr(_cuda, "_kernels", {})
    img = np.random.default_rng(0).random((3, 37, 53), dtype=np.float32)
    want_mean, _ = local_mean_var(img, 3)
    got_mean, _ = local_mean_var(cp.asarray(img), 3)
    assert np.abs(cp.asnumpy(got_mean) - want_mean).max() > 1e-3
    monkeypatch.setattr(_cuda, "_modules", {"local_stats": cp.RawModule(code=text)})
    monkeypatch.setattr(_cuda, "_kernels", {})
    fixed_mean, _ = local_mean_var(cp.asarray(img), 3)
    np.testing.assert_allclose(cp.asnumpy(fixed_mean), want_mean, rtol=0, atol=1e-6)
