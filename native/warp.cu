// Backward warping of planar float32 images (C, H, W) by a dense flow (H, W, 2) = (dx, dy):
// out(c, y, x) = bilinear sample of img(c) at (x + dx, y + dy), the point clamped to the image
// (which is what cv2.remap with INTER_LINEAR and BORDER_REPLICATE gives).
//
// Twin: vproc/kernels/warp.py (_warp_twin): same float32 operations in the same order. One
// thread per pixel computes the four weights once and applies them to every channel.

// Pixel (x, y) of every plane: the bilinear sample at (x + dx, y + dy), the point clamped to the
// image. Shared by both kernels (the twin's _warp_row and _weights).
__device__ __forceinline__ void warp_pixel(const float* __restrict__ src, float* __restrict__ dst,
                                           int planes, int h, int w, int x, int y, float dx, float dy)
{
    long long i = (long long)y * w + x;
    float sx = fminf(fmaxf((float)x + dx, 0.0f), (float)(w - 1));
    float sy = fminf(fmaxf((float)y + dy, 0.0f), (float)(h - 1));
    float fx0 = floorf(sx), fy0 = floorf(sy);
    int x0 = (int)fx0, y0 = (int)fy0;
    int x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1);
    float ax = sx - fx0, ay = sy - fy0;
    float bx = 1.0f - ax, by = 1.0f - ay;
    float w00 = bx * by, w01 = ax * by, w10 = bx * ay, w11 = ax * ay;
    long long plane = (long long)h * w;
    long long r0 = (long long)y0 * w, r1 = (long long)y1 * w;
    for (int c = 0; c < planes; ++c) {
        const float* p = src + c * plane;
        dst[c * plane + i] = w00 * p[r0 + x0] + w01 * p[r0 + x1] + w10 * p[r1 + x0] + w11 * p[r1 + x1];
    }
}

extern "C" __global__ void warp_bilinear(
    const float* __restrict__ src, const float* __restrict__ flow, float* __restrict__ dst,
    int planes, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long i = (long long)y * w + x;
    warp_pixel(src, dst, planes, h, w, x, y, flow[2 * i], flow[2 * i + 1]);
}

// The same with the flow given on a (gh, gw) grid of another size over the same picture: per pixel the
// flow is sampled bilinearly at the pixel's centre mapped onto that grid (clamped: a replicated
// border, as cv2.resize INTER_LINEAR), and its vectors scaled by (sx, sy) = (w / gw, h / gh).
// Twin: _warp_resampled_twin (its column table holds the same float32 x terms).
extern "C" __global__ void warp_bilinear_resampled(
    const float* __restrict__ src, const float* __restrict__ flow, float* __restrict__ dst,
    int planes, int h, int w, int gh, int gw, float rx, float ry, float sx, float sy)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    float gx = fmaxf(((float)x + 0.5f) * rx - 0.5f, 0.0f);
    float gy = fmaxf(((float)y + 0.5f) * ry - 0.5f, 0.0f);
    float fgx = floorf(gx), fgy = floorf(gy);
    int a = min((int)fgx, gw - 1), b = min(a + 1, gw - 1);
    int g0 = min((int)fgy, gh - 1), g1 = min(g0 + 1, gh - 1);
    float ax = gx - fgx, ay = gy - fgy, bx = 1.0f - ax, by = 1.0f - ay;
    const float* f0 = flow + 2LL * g0 * gw;
    const float* f1 = flow + 2LL * g1 * gw;
    // rows first (by f0 + ay f1 at columns a and b), then columns: the twin's order
    float cax = by * f0[2 * a] + ay * f1[2 * a], cbx = by * f0[2 * b] + ay * f1[2 * b];
    float cay = by * f0[2 * a + 1] + ay * f1[2 * a + 1], cby = by * f0[2 * b + 1] + ay * f1[2 * b + 1];
    float dx = (bx * cax + ax * cbx) * sx;
    float dy = (bx * cay + ax * cby) * sy;
    warp_pixel(src, dst, planes, h, w, x, y, dx, dy);
}
