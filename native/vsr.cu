// Pixel work of the flow-based video super-resolution (vproc/nodes/vsr.py), on float32 planes in
// [0, 1]: a low-res (LR) grid of h x w pixels, a high-res (HR) grid of H x W = s h x s w.
//
// Twins: vproc/kernels/vsr.py (_weights_twin, _residual_twin, _backproject_twin), the same float32
// operations in the same order. One thread per pixel. Bilinear samples clamp the point into the
// image first (a replicated border), as warp.cu does.

__device__ __forceinline__ float bilinear(const float* p, int h, int w, float sx, float sy)
{
    sx = fminf(fmaxf(sx, 0.0f), (float)(w - 1));
    sy = fminf(fmaxf(sy, 0.0f), (float)(h - 1));
    float fx0 = floorf(sx), fy0 = floorf(sy);
    int x0 = (int)fx0, y0 = (int)fy0;
    int x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float ax = sx - fx0, ay = sy - fy0;
    float bx = 1.0f - ax, by = 1.0f - ay;
    long long r0 = (long long)y0 * w, r1 = (long long)y1 * w;
    return (bx * p[r0 + x0] + ax * p[r0 + x1]) * by + (bx * p[r1 + x0] + ax * p[r1 + x1]) * ay;
}

// Robust weight of each of k_n neighbours (already warped onto the centre's LR grid), per pixel:
// d = mean over the 3 x 3 patch (replicated border) of (nbr - centre)^2, as three column sums
// (rows y-1, y, y+1 in that order) added left, middle, right; e = d * inv_t2;
// weight = 1 / (1 + e + e^2/2 + e^3/6), about exp(-e).
#include "patch.cuh"

extern "C" __global__ void vsr_weights(
    const float* __restrict__ center, const float* __restrict__ nbrs, float* __restrict__ weights,
    int k_n, int h, int w, float inv_t2)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (x >= w || y >= h || k >= k_n) return;
    long long n = (long long)h * w;
    long long r0 = (long long)max(y - 1, 0) * w, r1 = (long long)y * w, r2 = (long long)min(y + 1, h - 1) * w;
    int xl = max(x - 1, 0), xr = min(x + 1, w - 1);
    const float* a = nbrs + k * n;
    float d = patch_mean(center, a, r0, r1, r2, xl, x, xr);
    float e = d * inv_t2;
    weights[k * n + r1 + x] = rational_weight(e);
}

// Residual of every observed LR frame against the HR estimate, on that frame's own grid:
// resid[k](y, x) = obs[k](y, x) - bilinear(z, s (x + gx) + off, s (y + gy) + off)
// where z is the HR estimate already blurred by the degradation filter (its pixel m holding the
// filtered value at m - off + (s - 1) / 2), g = flows[k - 1](y, x) the flow from frame k to the
// centre in LR pixels, and frame 0 the centre itself (g = 0).
extern "C" __global__ void vsr_residual(
    const float* __restrict__ z, const float* __restrict__ obs, const float* __restrict__ flows,
    float* __restrict__ resid, int k_n, int h, int w, int hh, int ww, float s, float off)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (x >= w || y >= h || k >= k_n) return;
    long long n = (long long)h * w;
    long long i = (long long)y * w + x;
    float gx = 0.0f, gy = 0.0f;
    if (k > 0) {
        const float* f = flows + 2 * ((k - 1) * n + i);
        gx = f[0];
        gy = f[1];
    }
    float px = s * ((float)x + gx) + off;
    float py = s * ((float)y + gy) + off;
    resid[k * n + i] = obs[k * n + i] - bilinear(z, hh, ww, px, py);
}

// One back-projection step on the HR estimate, in place:
// x(Y, X) += step * (r0(u) + sum_k wk(u) rk(u + fk(u))) / (1 + sum_k wk(u))
// with u = ((X, Y) + 0.5) * inv_s - 0.5 the HR pixel's position on the centre's LR grid, r0 the
// centre's residual, and for each of the k_n neighbours rk its residual (on its own grid), fk the
// flow from the centre to it and wk its robust weight (both on the centre's grid). The maps at u
// (clamped into the grid) are blended rows first (by m0 + ay m1 at columns a and b), then
// columns (bx c_a + ax c_b): the twin's order; the residuals at u + fk(u) by bilinear().
__device__ __forceinline__ float at_u(const float* m, long long r0, long long r1, int a, int b,
                                      float ax, float bx, float ay, float by, int stride, int c)
{
    float ca = by * m[stride * (r0 + a) + c] + ay * m[stride * (r1 + a) + c];
    float cb = by * m[stride * (r0 + b) + c] + ay * m[stride * (r1 + b) + c];
    return bx * ca + ax * cb;
}

extern "C" __global__ void vsr_backproject(
    float* __restrict__ hr, const float* __restrict__ resid, const float* __restrict__ flows,
    const float* __restrict__ weights, int k_n, int h, int w, int hh, int ww, float inv_s, float step)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ww || y >= hh) return;
    long long n = (long long)h * w;
    float ux = ((float)x + 0.5f) * inv_s - 0.5f;
    float uy = ((float)y + 0.5f) * inv_s - 0.5f;
    float cx = fminf(fmaxf(ux, 0.0f), (float)(w - 1));
    float cy = fminf(fmaxf(uy, 0.0f), (float)(h - 1));
    float fx0 = floorf(cx), fy0 = floorf(cy);
    int a = (int)fx0, y0 = (int)fy0;
    int b = min(a + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float ax = cx - fx0, ay = cy - fy0;
    float bx = 1.0f - ax, by = 1.0f - ay;
    long long r0 = (long long)y0 * w, r1 = (long long)y1 * w;
    float acc = at_u(resid, r0, r1, a, b, ax, bx, ay, by, 1, 0);
    float sw = 1.0f;
    for (int k = 0; k < k_n; ++k) {
        float wt = at_u(weights + k * n, r0, r1, a, b, ax, bx, ay, by, 1, 0);
        const float* f = flows + 2 * k * n;
        float dx = at_u(f, r0, r1, a, b, ax, bx, ay, by, 2, 0);
        float dy = at_u(f, r0, r1, a, b, ax, bx, ay, by, 2, 1);
        float r = bilinear(resid + (k + 1) * n, h, w, ux + dx, uy + dy);
        acc += wt * r;
        sw += wt;
    }
    long long j = (long long)y * ww + x;
    hr[j] = hr[j] + step * (acc / sw);
}
