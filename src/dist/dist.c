// dist.h over Open MPI (DT_MPI), or a single process. See dist.h for when
// MPI is initialised; docs/DISTRIBUTED.md for the user's side.
#include "dist/dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

#ifdef DT_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_mpi = 0, g_threaded = 0, g_local = 0;
static dt_dist_opts g_opts;

const dt_dist_opts *dt_dist_opts_get(void) { return &g_opts; }

int dt_dist_rank(void) { return g_rank; }
int dt_dist_size(void) { return g_size; }
int dt_dist_active(void) { return g_size > 1; }
int dt_dist_threaded(void) { return g_threaded; }
int dt_dist_local_rank(void) { return g_local; }
#ifndef DT_NCCL // src/dist/nccl.c defines these in NCCL builds
const int dt_dist_nccl_built = 0;
// Callers test dt_dist_nccl_built first (dt_grad_sync_attach refuses a GPU
// network): reaching these is a broken invariant.
static void no_nccl(void) { dt_dist_abort("GPU collective called in a build without NCCL"); }
void dt_dist_nccl_init(int device) { (void)device, no_nccl(); }
void dt_dist_nccl_finalize(void) {}
void dt_dist_nccl_avg(float *dev, size_t n, int slot) { (void)dev, (void)n, (void)slot, no_nccl(); }
void dt_dist_nccl_join(int slots) { (void)slots, no_nccl(); }
void dt_dist_nccl_times(double *comm, double *unhidden) { *comm = *unhidden = 0; }
#endif


#ifdef DT_MPI

// MPI's message for a failed call, then the job ends: errors are returned
// (MPI_ERRORS_RETURN) so that the message names this rank and the call.
static void check(int rc, const char *call) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    dt_dist_abort("%s failed: %s (a peer rank probably died; see its messages above)", call,
                  msg);
}

int dt_dist_init(int *argc, char ***argv, const dt_dist_opts *o) {
    if (o) g_opts = *o;
    if (!o || !o->launched) return 0;
    int provided = MPI_THREAD_SINGLE;
    // SERIALIZED: during backward only the communication thread calls MPI;
    // outside it only the main thread (train.c waits for the thread first).
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        dt_error("MPI_Init_thread failed");
        return -1;
    }
    g_mpi = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_threaded = provided >= MPI_THREAD_SERIALIZED && !o->no_overlap;
    MPI_Comm node; // the ranks sharing this node's memory (and GPUs)
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL,
                            &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local);
        MPI_Comm_free(&node);
    }
    return 0;
}

void dt_dist_finalize(void) {
    dt_dist_nccl_finalize(); // before MPI: NCCL's ranks may still talk
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
}

void dt_dist_barrier(void) {
    if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

// MPI counts are int: big buffers go in pieces.
#define CHUNK ((size_t)1 << 30)

void dt_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size < 2) return;
    for (size_t o = 0; o < bytes; o += CHUNK) {
        size_t n = bytes - o < CHUNK ? bytes - o : CHUNK;
        check(MPI_Bcast((char *)buf + o, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
}

void dt_dist_allreduce_f(float *buf, size_t n) {
    if (g_size < 2) return;
    for (size_t o = 0; o < n; o += CHUNK / 4) {
        size_t k = n - o < CHUNK / 4 ? n - o : CHUNK / 4;
        check(MPI_Allreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
}

void dt_dist_allreduce_d(double *buf, size_t n) {
    if (g_size < 2) return;
    for (size_t o = 0; o < n; o += CHUNK / 8) {
        size_t k = n - o < CHUNK / 8 ? n - o : CHUNK / 8;
        check(MPI_Allreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
}

void dt_dist_gather_bytes(const void *buf, size_t n, void **out, size_t *n_out,
                          size_t **sizes) {
    *out = NULL;
    if (n_out) *n_out = 0;
    if (sizes) *sizes = NULL;
    if (g_size < 2) {
        *out = dt_malloc(n ? n : 1);
        memcpy(*out, buf, n);
        if (n_out) *n_out = n;
        if (sizes) *sizes = dt_malloc(sizeof(size_t)), (*sizes)[0] = n;
        return;
    }
    if (n > (size_t)1 << 31) dt_dist_abort("gather of %zu bytes: over 2 GiB per rank", n);
    int mine = (int)n, *cnt = NULL, *disp = NULL;
    if (g_rank == 0) cnt = dt_malloc(sizeof(int) * g_size), disp = dt_malloc(sizeof(int) * g_size);
    check(MPI_Gather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    size_t total = 0;
    if (g_rank == 0) {
        for (int r = 0; r < g_size; r++) {
            if (total + (size_t)cnt[r] > (size_t)1 << 31)
                dt_dist_abort("gather: over 2 GiB at rank 0");
            disp[r] = (int)total, total += (size_t)cnt[r];
        }
        *out = dt_malloc(total ? total : 1);
    }
    check(MPI_Gatherv(buf, mine, MPI_BYTE, *out, cnt, disp, MPI_BYTE, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    if (g_rank == 0) {
        if (n_out) *n_out = total;
        if (sizes) {
            *sizes = dt_malloc(sizeof(size_t) * g_size);
            for (int r = 0; r < g_size; r++) (*sizes)[r] = (size_t)cnt[r];
        }
    }
    free(cnt);
    free(disp);
}

void dt_dist_abort(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "detector: rank %d of %d: ", g_rank, g_size);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

#else // one process: every collective is the identity

int dt_dist_init(int *argc, char ***argv, const dt_dist_opts *o) {
    (void)argc, (void)argv;
    if (o) g_opts = *o;
    if (o && o->launched && o->world > 1) {
        dt_error("started by a launcher with %d ranks, but this detector was built without "
                 "MPI (make MPI=0, or MPI not found): rebuild with libopenmpi-dev installed",
                 o->world);
        return -1;
    }
    return 0;
}
void dt_dist_finalize(void) { (void)g_mpi; }
void dt_dist_barrier(void) {}
void dt_dist_bcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; }
void dt_dist_allreduce_f(float *buf, size_t n) { (void)buf, (void)n; }
void dt_dist_allreduce_d(double *buf, size_t n) { (void)buf, (void)n; }
void dt_dist_gather_bytes(const void *buf, size_t n, void **out, size_t *n_out,
                          size_t **sizes) {
    *out = dt_malloc(n ? n : 1);
    memcpy(*out, buf, n);
    if (n_out) *n_out = n;
    if (sizes) *sizes = dt_malloc(sizeof(size_t)), (*sizes)[0] = n;
}
void dt_dist_abort(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "detector: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

#endif

int dt_dist_agree_u64(uint64_t v, const char *what) {
    if (g_size < 2) return 0;
    uint64_t v0 = v;
    dt_dist_bcast(&v0, sizeof v0, 0);
    // each rank's verdict; the lowest disagreeing rank is reported by all
    double bad[1] = {v0 != v ? 1.0 : 0.0}, first = v0 != v ? (double)g_rank : 1e9;
    dt_dist_allreduce_d(bad, 1);
    if (bad[0] == 0) return 0;
    double *all = dt_calloc((size_t)g_size, sizeof(double));
    all[g_rank] = first;
    dt_dist_allreduce_d(all, (size_t)g_size);
    int r = 0;
    for (int i = 0; i < g_size; i++)
        if (all[i] < 1e9) { r = i; break; }
    free(all);
    dt_error("%s differs between ranks: rank %d does not hold rank 0's (%d of %d ranks differ)",
             what, r, (int)bad[0], g_size);
    return -1;
}
