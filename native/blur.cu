// Separable filtering of planar float32 images (C, H, W) with a replicated border: a horizontal
// pass into a float32 temporary, then a vertical pass (as cv2.sepFilter2D, cv2.GaussianBlur and
// cv2.blur do).
//
// Twin: vproc/kernels/blur.py (_sep_filter_twin): same taps, same order of the sums. Tap k of an
// n-tap kernel reads offset k - n/2 (OpenCV's default anchor, also for even box sizes). The
// vertical pass divides by `norm` (1 for Gaussian weights; kx*ky for a box with unit weights, so
// integer inputs give exact means as OpenCV's double-precision box sums do).

extern "C" __global__ void sep_rows(
    const float* __restrict__ src, float* __restrict__ dst,
    const float* __restrict__ k, int n, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (x >= w || y >= h) return;
    const float* row = src + ((long long)c * h + y) * w;
    int x0 = x - n / 2;
    float acc = 0.0f;
    for (int t = 0; t < n; ++t) {
        int xi = min(max(x0 + t, 0), w - 1);
        acc += k[t] * row[xi];
    }
    dst[((long long)c * h + y) * w + x] = acc;
}

extern "C" __global__ void sep_cols(
    const float* __restrict__ src, float* __restrict__ dst,
    const float* __restrict__ k, int n, float norm, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (x >= w || y >= h) return;
    const float* plane = src + (long long)c * h * w;
    int y0 = y - n / 2;
    float acc = 0.0f;
    for (int t = 0; t < n; ++t) {
        int yi = min(max(y0 + t, 0), h - 1);
        acc += k[t] * plane[(long long)yi * w + x];
    }
    dst[((long long)c * h + y) * w + x] = acc / norm;
}
