// dist.h's GPU collectives over NCCL (docs/DISTRIBUTED.md, "GPUs"). Built
// only when make finds nccl.h and libnccl (GPU=1 with MPI; DT_NCCL).
//
// One communicator per process, on the rank's GPU. The CUDA backend queues
// its kernels on the legacy default stream (0); the gradient all-reduces go
// on a non-blocking stream of their own, each after an event recorded on
// stream 0 once backward has written the bucket, so they run while the
// backward of earlier layers goes on; dt_dist_nccl_join makes stream 0 wait
// for the last of them before the optimizer step is queued.
#include "dist/dist.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

#include "base/common.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "NCCL 2.10 or newer is needed (ncclAvg): set NCCL_PATH to a newer one, or build with NCCL=0"
#endif

const int dt_dist_nccl_built = 1;

static ncclComm_t g_comm;
static cudaStream_t g_stream;
static int g_timing;                      // DT_DIST_STATS: timing events
static cudaEvent_t *g_ready, *g_t0, *g_t1; // per slot: on stream 0; around the all-reduce
static int g_cap;
static cudaEvent_t g_bwd_end, g_comm_end;
static int g_pending = -1; // slots of a joined step whose times are not yet added
static double g_comm_ms, g_unhidden_ms;

static void nccl_check(ncclResult_t r, const char *call) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    const char *last = g_comm ? ncclGetLastError(g_comm) : NULL;
    dt_dist_abort("%s failed: %s%s%s (NCCL_DEBUG=INFO says more; docs/DISTRIBUTED.md)", call,
                  ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "");
}

static void cuda_check(cudaError_t e, const char *call) {
    if (e == cudaSuccess) return;
    dt_dist_abort("%s failed: %s", call, cudaGetErrorString(e));
}

static cudaEvent_t new_event(void) {
    cudaEvent_t e;
    cuda_check(cudaEventCreateWithFlags(&e, g_timing ? cudaEventDefault : cudaEventDisableTiming),
               "cudaEventCreate");
    return e;
}

void dt_dist_nccl_init(int device) {
    if (g_comm) return;
    ncclUniqueId id;
    if (dt_dist_rank() == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    dt_dist_bcast(&id, sizeof id, 0); // rank 0's id to every rank, over MPI
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
    nccl_check(ncclCommInitRank(&g_comm, dt_dist_size(), id, dt_dist_rank()), "ncclCommInitRank");
    cuda_check(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreate");
    g_timing = dt_dist_opts_get()->stats;
    g_bwd_end = new_event();
    g_comm_end = new_event();
}

void dt_dist_nccl_finalize(void) {
    if (!g_comm) return;
    cudaStreamSynchronize(g_stream);
    ncclCommDestroy(g_comm);
    g_comm = NULL;
    for (int i = 0; i < g_cap; i++) {
        cudaEventDestroy(g_ready[i]);
        if (g_timing) cudaEventDestroy(g_t0[i]), cudaEventDestroy(g_t1[i]);
    }
    free(g_ready), free(g_t0), free(g_t1);
    g_ready = g_t0 = g_t1 = NULL;
    g_cap = 0;
    cudaEventDestroy(g_bwd_end);
    cudaEventDestroy(g_comm_end);
    cudaStreamDestroy(g_stream);
}

// The last joined step's times into the totals (its events are complete
// once the host waits for g_comm_end: a forward synchronises anyway).
static void collect(void) {
    if (!g_timing || g_pending < 0) return;
    cuda_check(cudaEventSynchronize(g_comm_end), "cudaEventSynchronize");
    float ms;
    for (int s = 0; s < g_pending; s++)
        if (cudaEventElapsedTime(&ms, g_t0[s], g_t1[s]) == cudaSuccess) g_comm_ms += ms;
    if (cudaEventElapsedTime(&ms, g_bwd_end, g_comm_end) == cudaSuccess && ms > 0)
        g_unhidden_ms += ms;
    g_pending = -1;
}

void dt_dist_nccl_avg(float *dev, size_t n, int slot) {
    DT_ASSERT(g_comm && slot >= 0);
    if (slot == 0) collect(); // before this step re-records the events
    if (slot >= g_cap) {
        int cap = g_cap ? 2 * g_cap : 64;
        while (cap <= slot) cap *= 2;
        g_ready = dt_realloc(g_ready, sizeof *g_ready * cap);
        if (g_timing) {
            g_t0 = dt_realloc(g_t0, sizeof *g_t0 * cap);
            g_t1 = dt_realloc(g_t1, sizeof *g_t1 * cap);
        }
        for (int i = g_cap; i < cap; i++) {
            g_ready[i] = new_event();
            if (g_timing) g_t0[i] = new_event(), g_t1[i] = new_event();
        }
        g_cap = cap;
    }
    cuda_check(cudaEventRecord(g_ready[slot], 0), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(g_stream, g_ready[slot], 0), "cudaStreamWaitEvent");
    if (g_timing) cuda_check(cudaEventRecord(g_t0[slot], g_stream), "cudaEventRecord");
    nccl_check(ncclAllReduce(dev, dev, n, ncclFloat32, ncclAvg, g_comm, g_stream), "ncclAllReduce");
    if (g_timing) cuda_check(cudaEventRecord(g_t1[slot], g_stream), "cudaEventRecord");
}

void dt_dist_nccl_join(int slots) {
    DT_ASSERT(g_comm);
    if (slots == 0) collect();
    cuda_check(cudaEventRecord(g_bwd_end, 0), "cudaEventRecord");
    cuda_check(cudaEventRecord(g_comm_end, g_stream), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(0, g_comm_end, 0), "cudaStreamWaitEvent");
    g_pending = slots;
}

void dt_dist_nccl_times(double *comm, double *unhidden) {
    if (g_comm) collect();
    *comm = g_comm_ms / 1000, *unhidden = g_unhidden_ms / 1000;
}
