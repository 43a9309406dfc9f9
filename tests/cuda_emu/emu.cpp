// The CUDA emulator (`make EMU=1`, tests/cuda_emu): CUDA's thread model and
// the runtime and cuBLAS calls our sources use, on the CPU, so that the GPU
// parity test runs our kernels, the GPU dispatch, transfers, mixed
// precision's GEMMs and loss scaling on machines without a GPU (CI). It is a
// test harness, not a GPU: cuDNN is absent (convolutions run on the host
// inside the GPU network) and its GEMM is a plain loop.
//
// Blocks run one after another. A kernel with __syncthreads (emu_dev.h's
// emu_launch_sync) runs one fiber (ucontext) per thread: each runs to the
// next barrier, then all are released together; __syncthreads_or ORs the
// predicates of the threads at the barrier. Others run thread by thread.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>

#include "engine/amp.h"
#include "cublas_v2.h"
#include "cuda_runtime.h"

dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {
enum { STACK = 256 * 1024 }; // per fiber: kernels keep small arrays on their stack

enum { RUNNING, AT_BARRIER, DONE };
struct fiber {
    ucontext_t ctx;
    int state, pred;
    dim3 tid;
};

ucontext_t sched;
fiber *fibers;
char *stacks;
int n_alloc, cur, barrier_or, in_fibers;
const std::function<void()> *kernel;

void fiber_main() {
    (*kernel)();
    fibers[cur].state = DONE;
    swapcontext(&fibers[cur].ctx, &sched);
}

dim3 thread_of(int t, dim3 b) { return dim3(t % b.x, (t / b.x) % b.y, t / (b.x * b.y)); }

// In a function of its own: getcontext returns twice, which would make the
// caller's loop variables unsafe.
__attribute__((noinline)) void fiber_init(int t, dim3 b) {
    fiber *f = &fibers[t];
    f->tid = thread_of(t, b);
    f->state = RUNNING;
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = stacks + (size_t)t * STACK;
    f->ctx.uc_stack.ss_size = STACK;
    f->ctx.uc_link = &sched;
    makecontext(&f->ctx, fiber_main, 0);
}

void run_block_fibers(int n, dim3 b) {
    if (n > n_alloc) {
        free(fibers);
        free(stacks);
        fibers = (fiber *)calloc((size_t)n, sizeof *fibers);
        stacks = (char *)malloc((size_t)n * STACK);
        if (!fibers || !stacks) abort();
        n_alloc = n;
    }
    for (int t = 0; t < n; t++) fiber_init(t, b);
    for (;;) {
        for (int t = 0; t < n; t++)
            if (fibers[t].state == RUNNING) {
                cur = t;
                threadIdx = fibers[t].tid;
                swapcontext(&sched, &fibers[t].ctx);
            }
        int done = 0, waiting = 0, any = 0;
        for (int t = 0; t < n; t++) {
            done += fibers[t].state == DONE;
            if (fibers[t].state == AT_BARRIER) waiting++, any |= fibers[t].pred;
        }
        if (done == n) return;
        if (done) {
            fprintf(stderr, "cuda_emu: %d thread(s) of a block left the kernel while %d wait at "
                            "__syncthreads (undefined in CUDA)\n", done, waiting);
            abort();
        }
        barrier_or = any;
        for (int t = 0; t < n; t++) fibers[t].state = RUNNING;
    }
}
} // namespace

int emu_barrier(int pred) {
    if (!in_fibers) {
        fprintf(stderr, "cuda_emu: __syncthreads in a kernel launched without fibers (the "
                        "emulator's nvcc did not see the barrier)\n");
        abort();
    }
    fibers[cur].state = AT_BARRIER;
    fibers[cur].pred = pred;
    swapcontext(&fibers[cur].ctx, &sched);
    return barrier_or;
}

void emu_run(dim3 g, dim3 b, int barriers, const std::function<void()> &k) {
    gridDim = g;
    blockDim = b;
    kernel = &k;
    const int n = (int)(b.x * b.y * b.z);
    for (unsigned bz = 0; bz < g.z; bz++)
        for (unsigned by = 0; by < g.y; by++)
            for (unsigned bx = 0; bx < g.x; bx++) {
                blockIdx = dim3(bx, by, bz);
                if (barriers) {
                    in_fibers = 1;
                    run_block_fibers(n, b);
                    in_fibers = 0;
                    continue;
                }
                for (int t = 0; t < n; t++) {
                    threadIdx = thread_of(t, b);
                    k();
                }
            }
}

extern "C" {

cudaError_t cudaMalloc(void **p, size_t n) {
    *p = malloc(n ? n : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xff, n);
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    memmove(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t) {
    return cudaMemcpy(d, s, n, k);
}
cudaError_t cudaMemset(void *d, int v, size_t n) {
    memset(d, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { return cudaMemset(d, v, n); }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { return e ? "out of memory" : "no error"; }
const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorMemoryAllocation" : "cudaSuccess"; }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
    *free_bytes = (size_t)8 << 30;
    *total = (size_t)16 << 30;
    return cudaSuccess;
}
cudaError_t cudaHostRegister(void *, size_t, unsigned) { return cudaSuccess; }
cudaError_t cudaHostUnregister(void *) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) {
    *s = (cudaStream_t)malloc(1);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    free(s);
    return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) {
    *e = (cudaEvent_t)malloc(1);
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t, cudaEvent_t) {
    *ms = 0;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    free(e);
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; } // work runs when queued
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    strcpy(p->name, "CUDA emulator (CPU)");
    p->major = 9;
    p->totalGlobalMem = (size_t)16 << 30;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = 0;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v) {
    *v = 0;
    return cudaSuccess;
}

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = (cublasHandle_t)malloc(1);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasGetVersion(cublasHandle_t, int *v) {
    *v = 0;
    return CUBLAS_STATUS_SUCCESS;
}

static float element(const void *p, cudaDataType_t t, size_t i) {
    if (t == CUDA_R_32F) return ((const float *)p)[i];
    return dt_lowp_to_float(((const uint16_t *)p)[i], t == CUDA_R_16BF ? DT_AMP_BF16 : DT_AMP_FP16);
}

// Column-major C (m x n) = alpha op(A) op(B) + beta C; C FP32 (all our calls).
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType_t at,
                            int lda, const void *B, cudaDataType_t bt, int ldb, const void *beta,
                            void *Cv, cudaDataType_t ct, int ldc, cublasComputeType_t,
                            cublasGemmAlgo_t) {
    if (ct != CUDA_R_32F) abort();
    const float al = *(const float *)alpha, be = *(const float *)beta;
    float *C = (float *)Cv;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                const float a = ta == CUBLAS_OP_N ? element(A, at, i + (size_t)p * lda)
                                                  : element(A, at, p + (size_t)i * lda);
                const float b = tb == CUBLAS_OP_N ? element(B, bt, p + (size_t)j * ldb)
                                                  : element(B, bt, j + (size_t)p * ldb);
                s += (double)a * b;
            }
            float *c = &C[i + (size_t)j * ldc];
            *c = (float)(al * s + (be != 0 ? (double)be * *c : 0.0)); // beta 0: C not read
        }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc) {
    return cublasGemmEx(h, ta, tb, m, n, k, alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, beta,
                        C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

} // extern "C"
