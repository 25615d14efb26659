// Zhang-Suen thinning (the morphological skeleton of a binary mask), as scikit-image's
// skeletonize(method="zhang") runs it.
//
// Twin: vproc/kernels/thin.py (_thin_step_twin); the algorithm and the lookup table are described
// in that module's docstring. The mask is 0/1 uint8 with a one-pixel zero frame: (h + 2) x (w + 2)
// samples, so pixels outside the image count as 0 and no thread needs a bounds check on its
// neighbours.
//
// thin_step: one sub-iteration. One thread per image pixel (flat index over h x w) reads `cur`
// and writes `nxt` (ping-pong: every interior sample of nxt is written, the frames of both
// buffers stay 0), so every decision sees the mask as it was at the start of the sub-iteration.
// A foreground pixel's code is NW 1 + N 2 + NE 4 + E 8 + SE 16 + S 32 + SW 64 + W 128; it is
// deleted when lut[code] & bit (bit 1: first sub-iteration, 2: second). Deletions are counted
// into *removed, one atomicAdd per block (__syncthreads_count).
//
// Convergence is found with few host syncs: the host queues iterations in batches (1, 2, 4, 8,
// then 16 at a time; thin.py's MAX_BATCH), each iteration's two launches counting into their own
// slot of a counter array (`removed` points at the slot), and reads the batch's last slot once per
// batch. A full iteration that deletes nothing ends the loop; the iterations queued after it in
// the same batch see a mask that no longer changes, delete nothing and leave the result as it is.

extern "C" __global__ void thin_step(
    const unsigned char* __restrict__ cur, unsigned char* __restrict__ nxt,
    const unsigned char* __restrict__ lut, int bit, int h, int w, unsigned int* __restrict__ removed)
{
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    int del = 0;
    if (t < (long long)h * w) {
        int y = (int)(t / w) + 1, x = (int)(t % w) + 1;  // frame coordinates
        long long pitch = (long long)w + 2;
        long long i = (long long)y * pitch + x;
        unsigned char v = cur[i];
        if (v) {
            const unsigned char* a = cur + i - pitch;
            const unsigned char* c = cur + i + pitch;
            int code = a[-1] | (a[0] << 1) | (a[1] << 2) | (cur[i + 1] << 3)
                       | (c[1] << 4) | (c[0] << 5) | (c[-1] << 6) | (cur[i - 1] << 7);
            del = (lut[code] & bit) != 0;
        }
        nxt[i] = del ? 0 : v;
    }
    int n = __syncthreads_count(del);
    if (threadIdx.x == 0 && n > 0) atomicAdd(removed, (unsigned int)n);
}
