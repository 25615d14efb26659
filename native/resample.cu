// Separable resampling of planar float32 images, (C, H, W) -> (C, OH, OW).
//
// Twin: vproc/kernels/resample.py (_resize_twin). The host builds the tables, so the two share
// OpenCV's coordinate mapping and weights bit for bit:
//   xidx, wx: (kx, OW) source column of each tap (already clamped: border replicate) and weight,
//             tap-major so that neighbouring threads read neighbouring table entries;
//   yidx, wy: (ky, OH) the same for rows.
// The twin resamples source rows first (kept in a small ring per task), then columns; here one
// thread computes one output pixel and repeats the horizontal sums of its ky rows, with the same
// operations in the same order, so the results are identical (with --fmad=false). Recomputing
// the row sums costs ky times the arithmetic but no temporary and no second launch, which is the
// better trade on a GPU for the small kernels used here (2 or 4 taps).

extern "C" __global__ void resize_sep(
    const float* __restrict__ src, float* __restrict__ dst,
    const int* __restrict__ xidx, const float* __restrict__ wx, int kx,
    const int* __restrict__ yidx, const float* __restrict__ wy, int ky,
    int h, int w, int oh, int ow)
{
    int dx = blockIdx.x * blockDim.x + threadIdx.x;
    int dy = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (dx >= ow || dy >= oh) return;
    const float* plane = src + (long long)c * h * w;
    float acc = 0.0f;
    for (int j = 0; j < ky; ++j) {
        const float* row = plane + (long long)yidx[j * oh + dy] * w;
        float hsum = 0.0f;
        for (int k = 0; k < kx; ++k)
            hsum += wx[k * ow + dx] * row[xidx[k * ow + dx]];
        acc += wy[j * oh + dy] * hsum;
    }
    dst[((long long)c * oh + dy) * ow + dx] = acc;
}
