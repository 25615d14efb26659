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

// Exposure in linear light (method "linear"): every pixel linearised with the stream's transfer
// function, multiplied by `gain`, passed through a highlight shoulder, and encoded back.
//
// Twin: vproc/kernels/lowlight.py (_linear_twin, _eotf, _oetf), the same float32 operations in
// the same order. Transfers (`tf`): 0 sRGB, 1 BT.709 (also BT.601 and BT.2020's; its exact
// constants alpha = 1.0992968, beta = 0.01805397, so that the two pieces meet), 2 PQ
// (SMPTE ST 2084, 1.0 = 10000 cd/m2), 3 HLG (ARIB STD-B67, scene light), 4 linear, 5 gamma 2.2,
// 6 gamma 2.8. The shoulder acts on the largest linear channel t = gain m of the brightened
// pixel: identity up to `knee`, above it knee + x / (1 + c x) with x = t - knee and
// c = (gain - 1) / ((gain - knee) (1 - knee)): slope 1 at the knee, concave, and t = gain (a
// full-scale input) lands on 1 exactly, so nothing clips; gain 1 is the identity everywhere (no
// step in the picture between gain 1 and a gain just above it). Every channel is scaled alike in
// linear light (channel ratios, so hue, kept).

__device__ __forceinline__ float ll_eotf(float v, int tf)
{
    v = fminf(fmaxf(v, 0.0f), 1.0f);
    if (tf == 0) return v <= 0.04045f ? v / 12.92f : powf((v + 0.055f) / 1.055f, 2.4f);
    if (tf == 1) return v < 0.08124286f ? v / 4.5f : powf((v + 0.09929683f) / 1.0992968f, 1.0f / 0.45f);
    if (tf == 2) {
        float p = powf(v, 1.0f / 78.84375f);
        float num = fmaxf(p - 0.8359375f, 0.0f);
        return powf(num / (18.8515625f - 18.6875f * p), 1.0f / 0.1593017578125f);
    }
    if (tf == 3) return v <= 0.5f ? v * v / 3.0f : (expf((v - 0.55991073f) / 0.17883277f) + 0.28466892f) / 12.0f;
    if (tf == 5) return powf(v, 2.2f);
    if (tf == 6) return powf(v, 2.8f);
    return v;
}

__device__ __forceinline__ float ll_oetf(float l, int tf)
{
    l = fminf(fmaxf(l, 0.0f), 1.0f);
    if (tf == 0) return l <= 0.0031308f ? 12.92f * l : 1.055f * powf(l, 1.0f / 2.4f) - 0.055f;
    if (tf == 1) return l < 0.01805397f ? 4.5f * l : 1.0992968f * powf(l, 0.45f) - 0.09929683f;
    if (tf == 2) {
        float p = powf(l, 0.1593017578125f);
        return powf((0.8359375f + 18.8515625f * p) / (1.0f + 18.6875f * p), 78.84375f);
    }
    if (tf == 3) return l <= 1.0f / 12.0f ? sqrtf(3.0f * l) : 0.17883277f * logf(12.0f * l - 0.28466892f) + 0.55991073f;
    if (tf == 5) return powf(l, 1.0f / 2.2f);
    if (tf == 6) return powf(l, 1.0f / 2.8f);
    return l;
}

extern "C" __global__ void lowlight_linear(
    const float* __restrict__ src, float* __restrict__ dst, float gain, float knee, int tf, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long n = (long long)h * w;
    long long i = (long long)y * w + x;
    float r = ll_eotf(src[i], tf), g = ll_eotf(src[n + i], tf), b = ll_eotf(src[2 * n + i], tf);
    float m = fmaxf(r, fmaxf(g, b));
    float scale = gain;
    float t = m * gain;
    if (t > knee && gain > 1.0f) {
        float x = t - knee;
        float c = (gain - 1.0f) / ((gain - knee) * (1.0f - knee));
        scale = (knee + x / (1.0f + c * x)) / m;
    }
    dst[i] = ll_oetf(r * scale, tf);
    dst[n + i] = ll_oetf(g * scale, tf);
    dst[2 * n + i] = ll_oetf(b * scale, tf);
}
