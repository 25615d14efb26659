// Pixel work of the temporal denoiser (vproc/nodes/denoise.py), on float32 planes in [0, 1].
//
// Twins: vproc/kernels/denoise.py (_fuse_twin, _shrink_twin), the same float32 operations in the
// same order. One thread per pixel; the Wiener statistics come from local_stats.cu.

#include "patch.cuh"

// Weighted temporal mean of the centre and its k_n neighbours (already warped onto it).
// Patch distance d_k: the mean over the 3 x 3 patch (rows clamped, columns clamped: a replicated
// border) of (nbr_k - centre)^2, summed as three column sums (rows y-1, y, y+1 in that order)
// added left, middle, right. For Gaussian noise of variance s2 a well-aligned neighbour has
// E[d] = 2 s2, so only the excess counts: e = max(d_k - 2 s2, 0) * inv_h with inv_h = 1 / (h s2),
// w_k = 1 / (1 + e + e^2/2 + e^3/6) (about exp(-e), see the twin's docstring); the centre weighs 1.
// resid: the variance of what is left, s2 * sum(w^2) / sum(w)^2 (independent noise assumed).
extern "C" __global__ void dn_fuse(
    const float* __restrict__ center, const float* __restrict__ nbrs,
    float* __restrict__ fused, float* __restrict__ resid, int k_n, int h, int w, float s2, float inv_h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long n = (long long)h * w;
    long long i = (long long)y * w + x;
    long long r0 = (long long)max(y - 1, 0) * w, r1 = (long long)y * w, r2 = (long long)min(y + 1, h - 1) * w;
    int xl = max(x - 1, 0), xr = min(x + 1, w - 1);
    float two_s2 = 2.0f * s2;
    float acc = center[i], sw = 1.0f, sw2 = 1.0f;
    for (int k = 0; k < k_n; ++k) {
        const float* a = nbrs + k * n;
        float d = patch_mean(center, a, r0, r1, r2, xl, x, xr);
        float e = fmaxf(d - two_s2, 0.0f) * inv_h;
        float wk = rational_weight(e);
        acc += wk * a[i];
        sw += wk;
        sw2 += wk * wk;
    }
    fused[i] = acc / sw;
    resid[i] = s2 * sw2 / (sw * sw);
}

// Local Wiener shrinkage towards the local mean, then a clamp to [0, 1]:
// out = mean + max(var - resid, 0) / max(var, tiny) * (img - mean).
extern "C" __global__ void dn_shrink(
    const float* __restrict__ img, const float* __restrict__ mean, const float* __restrict__ var,
    const float* __restrict__ resid, float* __restrict__ out, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long i = (long long)y * w + x;
    float m = mean[i], v = var[i];
    float g = fmaxf(v - resid[i], 0.0f) / fmaxf(v, 1e-12f);
    out[i] = fminf(fmaxf(m + g * (img[i] - m), 0.0f), 1.0f);
}
