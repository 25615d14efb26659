// YUV 4:2:0 (planar I420, or semi-planar NV12/P010) <-> planar float RGB in [0, 1].
//
// Twin: vproc/kernels/yuvrgb.py (_yuv_to_rgb_twin, _rgb_to_yuv_twin) does the same float32
// operations in the same order, so with --fmad=false (see vproc/kernels/_cuda.py) both give the
// same bits. The host computes every coefficient (matrix, range, bit depth) in float64 and passes
// it as float32, so this file knows nothing about BT.601/709/2020.
//
// Chroma is upsampled by nearest neighbour: the 2x2 luma block (2cy..2cy+1, 2cx..2cx+1) uses
// chroma sample (cy, cx). That is what OpenCV's COLOR_YUV2RGB_I420 does, and it is the exact
// counterpart of the 2x2 box average used by rgb_to_yuv.
//
// Chroma addressing covers both layouts: sample (cy, cx) of U is u[cy * cpitch + cx * cstep],
// of V is v[cy * cpitch + cx * cstep + voff]. Planar: cpitch = cw, cstep = 1, voff = 0.
// NV12/P010: u = v = the interleaved plane, cpitch = 2 * cw, cstep = 2, voff = 1.

template <typename T>
__device__ __forceinline__ void yuv_to_rgb_px(
    const T* __restrict__ y, const T* __restrict__ u, const T* __restrict__ v,
    int cpitch, int cstep, int voff, float* __restrict__ rgb, int h, int w, int shift,
    float yoff, float yscale, float coff, float cscale,
    float rv, float gu, float gv, float bu)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || row >= h) return;
    int ci = (row >> 1) * cpitch + (x >> 1) * cstep;
    // shift drops P010's 6 padding bits (0 for right-aligned samples).
    float uf = ((float)(u[ci] >> shift) - coff) * cscale;
    float vf = ((float)(v[ci + voff] >> shift) - coff) * cscale;
    long long i = (long long)row * w + x;
    long long plane = (long long)h * w;
    float yf = ((float)(y[i] >> shift) - yoff) * yscale;
    float r = yf + rv * vf;
    float g = yf - gu * uf - gv * vf;
    float b = yf + bu * uf;
    // Limited-range input can leave the RGB cube (blacker than black, super-white): clip.
    rgb[i] = fminf(fmaxf(r, 0.0f), 1.0f);
    rgb[plane + i] = fminf(fmaxf(g, 0.0f), 1.0f);
    rgb[2 * plane + i] = fminf(fmaxf(b, 0.0f), 1.0f);
}

extern "C" __global__ void yuv420_to_rgb_u8(
    const unsigned char* __restrict__ y, const unsigned char* __restrict__ u,
    const unsigned char* __restrict__ v, int cpitch, int cstep, int voff,
    float* __restrict__ rgb, int h, int w, int shift, float yoff, float yscale, float coff,
    float cscale, float rv, float gu, float gv, float bu)
{
    yuv_to_rgb_px<unsigned char>(y, u, v, cpitch, cstep, voff, rgb, h, w, shift,
                                 yoff, yscale, coff, cscale, rv, gu, gv, bu);
}

extern "C" __global__ void yuv420_to_rgb_u16(
    const unsigned short* __restrict__ y, const unsigned short* __restrict__ u,
    const unsigned short* __restrict__ v, int cpitch, int cstep, int voff,
    float* __restrict__ rgb, int h, int w, int shift, float yoff, float yscale, float coff,
    float cscale, float rv, float gu, float gv, float bu)
{
    yuv_to_rgb_px<unsigned short>(y, u, v, cpitch, cstep, voff, rgb, h, w, shift,
                                  yoff, yscale, coff, cscale, rv, gu, gv, bu);
}

// Round half up and clip to the code range, then move the bits where the format keeps them.
__device__ __forceinline__ int quantize(float q, float maxv, int shift)
{
    q = fminf(fmaxf(q + 0.5f, 0.0f), maxv);
    return ((int)floorf(q)) << shift;
}

// One thread per chroma sample: it writes the (up to) four luma samples of its 2x2 block and the
// chroma of their average colour (a 2x2 box filter; fewer pixels on odd right/bottom edges).
template <typename T>
__device__ __forceinline__ void rgb_to_yuv_block(
    const float* __restrict__ rgb, T* __restrict__ y, T* u, T* v,  // u == v for NV12
    int cpitch, int cstep, int voff, int h, int w, int shift,
    float yr, float yg, float yb, float ur, float ug, float ub, float vr, float vg, float vb,
    float yoff, float yscale, float coff, float cscale, float maxv)
{
    int cx = blockIdx.x * blockDim.x + threadIdx.x;
    int cy = blockIdx.y * blockDim.y + threadIdx.y;
    int cw = (w + 1) >> 1, ch = (h + 1) >> 1;
    if (cx >= cw || cy >= ch) return;
    long long plane = (long long)h * w;
    float sr = 0.0f, sg = 0.0f, sb = 0.0f, n = 0.0f;
    for (int dy = 0; dy < 2; ++dy) {
        int row = 2 * cy + dy;
        if (row >= h) break;
        for (int dx = 0; dx < 2; ++dx) {
            int x = 2 * cx + dx;
            if (x >= w) break;
            long long i = (long long)row * w + x;
            float r = rgb[i], g = rgb[plane + i], b = rgb[2 * plane + i];
            float luma = yr * r + yg * g + yb * b;
            y[i] = (T)quantize(luma * yscale + yoff, maxv, shift);
            sr += r; sg += g; sb += b; n += 1.0f;
        }
    }
    float r = sr / n, g = sg / n, b = sb / n;
    int ci = cy * cpitch + cx * cstep;
    u[ci] = (T)quantize((ur * r + ug * g + ub * b) * cscale + coff, maxv, shift);
    v[ci + voff] = (T)quantize((vr * r + vg * g + vb * b) * cscale + coff, maxv, shift);
}

extern "C" __global__ void rgb_to_yuv420_u8(
    const float* __restrict__ rgb, unsigned char* __restrict__ y, unsigned char* u,
    unsigned char* v, int cpitch, int cstep, int voff, int h, int w, int shift,
    float yr, float yg, float yb, float ur, float ug, float ub, float vr, float vg, float vb,
    float yoff, float yscale, float coff, float cscale, float maxv)
{
    rgb_to_yuv_block<unsigned char>(rgb, y, u, v, cpitch, cstep, voff, h, w, shift,
                                    yr, yg, yb, ur, ug, ub, vr, vg, vb,
                                    yoff, yscale, coff, cscale, maxv);
}

extern "C" __global__ void rgb_to_yuv420_u16(
    const float* __restrict__ rgb, unsigned short* __restrict__ y, unsigned short* u,
    unsigned short* v, int cpitch, int cstep, int voff, int h, int w, int shift,
    float yr, float yg, float yb, float ur, float ug, float ub, float vr, float vg, float vb,
    float yoff, float yscale, float coff, float cscale, float maxv)
{
    rgb_to_yuv_block<unsigned short>(rgb, y, u, v, cpitch, cstep, voff, h, w, shift,
                                     yr, yg, yb, ur, ug, ub, vr, vg, vb,
                                     yoff, yscale, coff, cscale, maxv);
}
