// Low-light curve on planar float RGB (3, H, W), values in [0, 1].
//
// Twin: vproc/kernels/lowlight.py (_curve_twin). The reciprocal curve f(x, a) = (a + 1) x / (x + a)
// is applied to the intensity I = max(R, G, B) and every channel is scaled by f(I) / I, which is
// (a + 1) / (I + a) = (1 + s) / (1 + s * I) with s = 1 / a. Written with s, the identity (a = inf)
// is s = 0 exactly and needs no special case, and I = 0 needs no division by I (the channels are
// 0 there anyway). The clamp at 1 only catches a rounding ulp: f(I) <= 1 for I <= 1.

extern "C" __global__ void lowlight_curve(
    const float* __restrict__ src, float* __restrict__ dst, float s, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long n = (long long)h * w;
    long long i = (long long)y * w + x;
    float r = src[i], g = src[n + i], b = src[2 * n + i];
    float v = fmaxf(r, fmaxf(g, b));
    float gain = (1.0f + s) / (1.0f + s * v);
    dst[i] = fminf(r * gain, 1.0f);
    dst[n + i] = fminf(g * gain, 1.0f);
    dst[2 * n + i] = fminf(b * gain, 1.0f);
}
