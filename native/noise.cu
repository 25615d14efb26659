// Per-frame noise sigma of a luma plane (Immerkaer's mask, Sobel edge exclusion, sigma clipping).
//
// Twin: vproc/kernels/noise.py (_maps_twin, _sums_twin); the method and its references are in
// that module's docstring. Two kernels:
//
//   noise_maps_{u8,u16,f32}: for every interior pixel (y + 1, x + 1) of an (h, w) plane with a row
//     pitch of `pitch` samples, writes to (h - 2, w - 2) float32 maps
//       g = |Gx| + |Gy|                       (Sobel, L1 magnitude)
//       r = |I * [[1,-2,1],[-2,4,-2],[1,-2,1]]|  (Immerkaer's mask, as (row0) - 2 (row1) + (row2))
//     in float32, operation for operation as the twin; exact for integer samples (|values| stay
//     far below 2**24).
//   noise_sums: one block per map row; sums r (in double) and counts the pixels with g <= t and
//     r <= rmax, into part[row] and part[rows + row]. The host adds the rows (CuPy, on the device).
//
// Compiled with --fmad=false (vproc.kernels._cuda.OPTIONS), so the maps equal the twin's to the
// bit; the row sums add in a different order than the twin (a tree here, left to right there),
// which is exact for integer samples and within a few ulp of double otherwise.

template <typename T>
__device__ __forceinline__ void noise_maps(
    const T* __restrict__ src, long long pitch, float* __restrict__ g, float* __restrict__ r,
    int h, int w)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;  // map coordinates: pixel (y + 1, x + 1)
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int wi = w - 2, hi = h - 2;
    if (x >= wi || y >= hi) return;
    const T* a = src + (long long)y * pitch + x;
    const T* b = a + pitch;
    const T* c = b + pitch;
    float p00 = (float)a[0], p01 = (float)a[1], p02 = (float)a[2];
    float p10 = (float)b[0], p11 = (float)b[1], p12 = (float)b[2];
    float p20 = (float)c[0], p21 = (float)c[1], p22 = (float)c[2];
    float gx = (p02 + 2.0f * p12 + p22) - (p00 + 2.0f * p10 + p20);
    float gy = (p20 + 2.0f * p21 + p22) - (p00 + 2.0f * p01 + p02);
    float m = (p00 - 2.0f * p01 + p02) - 2.0f * (p10 - 2.0f * p11 + p12) + (p20 - 2.0f * p21 + p22);
    long long i = (long long)y * wi + x;
    g[i] = fabsf(gx) + fabsf(gy);
    r[i] = fabsf(m);
}

extern "C" __global__ void noise_maps_u8(
    const unsigned char* __restrict__ src, long long pitch, float* __restrict__ g,
    float* __restrict__ r, int h, int w)
{
    noise_maps<unsigned char>(src, pitch, g, r, h, w);
}

extern "C" __global__ void noise_maps_u16(
    const unsigned short* __restrict__ src, long long pitch, float* __restrict__ g,
    float* __restrict__ r, int h, int w)
{
    noise_maps<unsigned short>(src, pitch, g, r, h, w);
}

extern "C" __global__ void noise_maps_f32(
    const float* __restrict__ src, long long pitch, float* __restrict__ g,
    float* __restrict__ r, int h, int w)
{
    noise_maps<float>(src, pitch, g, r, h, w);
}

// Threads per block of noise_sums (a power of two: the shared-memory tree halves it).
#define SUMS_THREADS 256

extern "C" __global__ void noise_sums(
    const float* __restrict__ g, const float* __restrict__ r, float t, double rmax,
    double* __restrict__ part, int rows, int cols)
{
    __shared__ double s_sum[SUMS_THREADS];
    __shared__ double s_cnt[SUMS_THREADS];
    int row = blockIdx.x;
    const float* gr = g + (long long)row * cols;
    const float* rr = r + (long long)row * cols;
    double sum = 0.0, cnt = 0.0;
    for (int x = threadIdx.x; x < cols; x += SUMS_THREADS) {
        float v = rr[x];
        if (gr[x] <= t && (double)v <= rmax) {
            sum += (double)v;
            cnt += 1.0;
        }
    }
    s_sum[threadIdx.x] = sum;
    s_cnt[threadIdx.x] = cnt;
    __syncthreads();
    for (int half = SUMS_THREADS / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            s_sum[threadIdx.x] += s_sum[threadIdx.x + half];
            s_cnt[threadIdx.x] += s_cnt[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        part[row] = s_sum[0];
        part[rows + row] = s_cnt[0];
    }
}
