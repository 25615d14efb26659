// Device helpers shared by the patch-weighted kernels (denoise.cu, vsr.cu). The loader
// (vproc/kernels/_cuda.py) pastes this file where a .cu says #include "patch.cuh".
// Twins: vproc/kernels/_common.py (patch_columns, patch_mean, rational_weight), the same float32
// operations in the same order.

// Sum over rows r0, r1, r2 (in that order) of (a - c)^2 at column x.
__device__ __forceinline__ float column_sq(const float* c, const float* a, long long r0, long long r1,
                                           long long r2, int x)
{
    float e0 = a[r0 + x] - c[r0 + x];
    float e1 = a[r1 + x] - c[r1 + x];
    float e2 = a[r2 + x] - c[r2 + x];
    float v = e0 * e0;
    v += e1 * e1;
    v += e2 * e2;
    return v;
}

// Mean of (a - c)^2 over the 3 x 3 patch: rows r0, r1, r2 and columns xl, x, xr (the caller
// clamps them: a replicated border), column sums added left, middle, right.
__device__ __forceinline__ float patch_mean(const float* c, const float* a, long long r0, long long r1,
                                            long long r2, int xl, int x, int xr)
{
    float d = column_sq(c, a, r0, r1, r2, xl);
    d += column_sq(c, a, r0, r1, r2, x);
    d += column_sq(c, a, r0, r1, r2, xr);
    return d / 9.0f;
}

// 1 / (1 + e + e^2/2 + e^3/6): about exp(-e) for small e, falling as 6 / e^3 beyond.
__device__ __forceinline__ float rational_weight(float e)
{
    return 1.0f / (1.0f + e * (1.0f + e * (0.5f + e * (1.0f / 6.0f))));
}
