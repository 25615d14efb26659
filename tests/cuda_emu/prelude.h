// CUDA's built-ins for host C++ (tests/cuda_emu): the text vproc hands to CuPy compiles after this.
//
// A launch runs the grid's blocks one after another. Within a block, every thread is a fiber
// when the kernel synchronises: __syncthreads() parks the fiber, and the block goes on
// only once every thread that has not returned has arrived, so shared-memory reductions see what
// they would on a GPU. Kernels that never synchronise run their threads one by one. __shared__
// variables are static locals: one copy, used by one block at a time.
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;
static const int warpSize = 32;

#define __global__
#define __device__ static
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __constant__ static

// -- the block's threads as fibers ----------------------------------------------------------------
// A fiber switch saves the callee-saved registers on the running stack and loads another stack
// (x86-64 System V). ucontext's swapcontext would do the same plus two signal-mask system calls
// per switch, which made a 500 x 500 thinning take minutes.
extern "C" void emu_switch(void** save_sp, void* load_sp);
__asm__(
    ".text\n"
    ".p2align 4\n"
    "emu_switch:\n"
    "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n    pushq %r13\n    pushq %r14\n    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n    popq %r14\n    popq %r13\n    popq %r12\n    popq %rbx\n    popq %rbp\n"
    "    ret\n");

enum { EMU_READY = 0, EMU_AT_BARRIER = 1, EMU_DONE = 2 };
static void* emu_main_sp;
static void** emu_sp;
static unsigned char* emu_state;
static int* emu_pred;
static long emu_current;
static int emu_fibered;
static int emu_barrier_result;
static void (*emu_body)(void*);
static void* emu_args;
static char emu_message[256];
static char* emu_dynamic_shared;  // extern __shared__ arrays point here (the launch's shared_mem bytes)
static sigjmp_buf emu_jump;
static volatile void* emu_fault_addr;

static void emu_fail(const char* what) {
    strncpy(emu_message, what, sizeof emu_message - 1);
    siglongjmp(emu_jump, 2);
}

static int emu_barrier(int pred) {
    if (!emu_fibered) emu_fail("__syncthreads reached in a kernel the emulator runs without fibers");
    emu_pred[emu_current] = pred != 0;
    emu_state[emu_current] = EMU_AT_BARRIER;
    emu_switch(&emu_sp[emu_current], emu_main_sp);
    return emu_barrier_result;
}
static inline void __syncthreads() { emu_barrier(0); }
static inline int __syncthreads_count(int pred) { return emu_barrier(pred); }
static inline void __threadfence() {}

// -- atomics (one host thread runs the grid: plain read-modify-write is atomic) ---------------------
template <typename T> static inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> static inline T atomicMax(T* p, T v) { T old = *p; if (v > old) *p = v; return old; }
template <typename T> static inline T atomicMin(T* p, T v) { T old = *p; if (v < old) *p = v; return old; }
template <typename T> static inline T atomicExch(T* p, T v) { T old = *p; *p = v; return old; }
template <typename T> static inline T atomicCAS(T* p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }

// -- math intrinsics --------------------------------------------------------------------------------
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float a) { return a < 0.0f ? 0.0f : a > 1.0f ? 1.0f : a; }
static inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
static inline int __float2int_rn(float a) { return (int)nearbyintf(a); }
static inline int __float2int_rz(float a) { return (int)a; }
static inline float __int2float_rn(int a) { return (float)a; }
template <typename T> static inline T min(T a, T b) { return a < b ? a : b; }
template <typename T> static inline T max(T a, T b) { return a > b ? a : b; }

// -- the launch -------------------------------------------------------------------------------------
static void emu_on_fault(int sig, siginfo_t* info, void*) {
    emu_fault_addr = info->si_addr;
    siglongjmp(emu_jump, 1);
}

static void emu_fiber_entry() {
    emu_body(emu_args);
    emu_state[emu_current] = EMU_DONE;
    void* dead;
    emu_switch(&dead, emu_main_sp);  // never resumed
}

// A fresh fiber's stack, as emu_switch leaves one: six saved registers, then the address it
// "returns" to (emu_fiber_entry), placed so that the entry sees the stack as after a call.
static void* emu_fresh_stack(char* base, size_t size) {
    uintptr_t top = ((uintptr_t)(base + size) & ~(uintptr_t)15) - 16;  // 16-aligned, one spare slot
    void** sp = (void**)top;
    *--sp = (void*)0;  // (alignment: the entry's rsp + 8 is 16-aligned)
    *--sp = (void*)emu_fiber_entry;
    for (int i = 0; i < 6; ++i) *--sp = (void*)0;
    return sp;
}

static void emu_set_thread(long t) {
    threadIdx.x = (unsigned)(t % blockDim.x);
    threadIdx.y = (unsigned)((t / blockDim.x) % blockDim.y);
    threadIdx.z = (unsigned)(t / ((long)blockDim.x * blockDim.y));
}

// Runs body(args) for every thread of the grid. 0: done; 1: an access outside the device arrays
// (a guard page; message holds the address); 2: another error (message says it).
static int emu_run(dim3 grid, dim3 block, void (*body)(void*), void* args, int fibered,
                   size_t shared_bytes, char* message, void** fault_addr) {
    const long n = (long)block.x * block.y * block.z;
    const size_t stack_size = 64 * 1024;
    char* stacks = NULL;
    struct sigaction on_fault, old_segv, old_bus;
    memset(&on_fault, 0, sizeof on_fault);
    on_fault.sa_sigaction = emu_on_fault;
    on_fault.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &on_fault, &old_segv);
    sigaction(SIGBUS, &on_fault, &old_bus);
    emu_message[0] = 0;
    emu_dynamic_shared = (char*)aligned_alloc(16, (shared_bytes + 15) / 16 * 16 + 16);
    emu_body = body;
    emu_args = args;
    emu_fibered = fibered;
    gridDim = grid;
    blockDim = block;
    if (fibered) {
        stacks = (char*)malloc(stack_size * n);
        emu_sp = (void**)malloc(sizeof(void*) * n);
        emu_state = (unsigned char*)malloc(n);
        emu_pred = (int*)malloc(sizeof(int) * n);
    }
    int code = sigsetjmp(emu_jump, 1);
    if (code == 0) {
        for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
            blockIdx.x = bx; blockIdx.y = by; blockIdx.z = bz;
            if (!fibered) {
                for (long t = 0; t < n; ++t) { emu_set_thread(t); body(args); }
                continue;
            }
            for (long t = 0; t < n; ++t) {
                emu_sp[t] = emu_fresh_stack(stacks + t * stack_size, stack_size);
                emu_state[t] = EMU_READY;
            }
            for (;;) {  // one phase: every ready thread runs to its next barrier or its end
                for (long t = 0; t < n; ++t) {
                    if (emu_state[t] != EMU_READY) continue;
                    emu_current = t;
                    emu_set_thread(t);
                    emu_switch(&emu_main_sp, emu_sp[t]);
                }
                int waiting = 0, count = 0;
                for (long t = 0; t < n; ++t)
                    if (emu_state[t] == EMU_AT_BARRIER) { ++waiting; count += emu_pred[t]; }
                if (!waiting) break;
                emu_barrier_result = count;  // threads that returned count as arrived, as on sm_70+
                for (long t = 0; t < n; ++t)
                    if (emu_state[t] == EMU_AT_BARRIER) emu_state[t] = EMU_READY;
            }
        }
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    if (fibered) { free(stacks); free(emu_sp); free(emu_state); free(emu_pred); }
    free(emu_dynamic_shared);
    strncpy(message, emu_message, 255);
    *fault_addr = (void*)emu_fault_addr;
    return code;
}
