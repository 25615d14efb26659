// Backward warping of planar float32 images (C, H, W) by a dense flow (H, W, 2) = (dx, dy):
// out(c, y, x) = bilinear sample of img(c) at (x + dx, y + dy), the point clamped to the image
// (which is what cv2.remap with INTER_LINEAR and BORDER_REPLICATE gives).
//
// Twin: vproc/kernels/warp.py (_warp_twin): same float32 operations in the same order. One
// thread per pixel computes the four weights once and applies them to every channel.

extern "C" __global__ void warp_bilinear(
    const float* __restrict__ src, const float* __restrict__ flow, float* __restrict__ dst,
    int planes, int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    long long i = (long long)y * w + x;
    float sx = fminf(fmaxf((float)x + flow[2 * i], 0.0f), (float)(w - 1));
    float sy = fminf(fmaxf((float)y + flow[2 * i + 1], 0.0f), (float)(h - 1));
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
