// Local mean and variance over a k x k window with a replicated border, for float32 (C, H, W).
//
// Twin: vproc/kernels/local_stats.py (_local_stats_twin). Two passes as in blur.cu: horizontal
// sums of x and x*x into two float32 temporaries, then vertical sums, mean = S1 / n and
// var = max(S2 / n - mean * mean, 0) with n = k * k. The clamp at 0 hides float rounding on flat
// areas, where E[x^2] - E[x]^2 can come out a few ulp below zero.

extern "C" __global__ void stats_rows(
    const float* __restrict__ src, float* __restrict__ s1, float* __restrict__ s2,
    int k, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (x >= w || y >= h) return;
    const float* row = src + ((long long)c * h + y) * w;
    int x0 = x - k / 2;
    float a = 0.0f, b = 0.0f;
    for (int t = 0; t < k; ++t) {
        float p = row[min(max(x0 + t, 0), w - 1)];
        a += p;
        b += p * p;
    }
    long long i = ((long long)c * h + y) * w + x;
    s1[i] = a;
    s2[i] = b;
}

extern "C" __global__ void stats_cols(
    const float* __restrict__ s1, const float* __restrict__ s2,
    float* __restrict__ mean, float* __restrict__ var, int k, float n, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (x >= w || y >= h) return;
    long long plane = (long long)c * h * w;
    int y0 = y - k / 2;
    float a = 0.0f, b = 0.0f;
    for (int t = 0; t < k; ++t) {
        long long j = plane + (long long)min(max(y0 + t, 0), h - 1) * w + x;
        a += s1[j];
        b += s2[j];
    }
    float m = a / n;
    long long i = plane + (long long)y * w + x;
    mean[i] = m;
    var[i] = fmaxf(b / n - m * m, 0.0f);
}
