// The communicator of data-parallel training (docs/DISTRIBUTED.md). Every
// caller outside src/dist/ sees only this header: no MPI type leaks out.
//
// Two implementations behind it, chosen at build time: Open MPI (make with
// MPI found, DT_MPI) and a single process (MPI=0, or MPI built in but the
// program not started by mpirun). dt_dist_init decides at run time: MPI is
// initialised only when a launcher's environment says so (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_SIZE); a plain `./detector ...` never calls MPI_Init and
// behaves as a build without MPI (rank 0 of 1).
//
// Collectives are called in the same order by every rank. All-reduces sum
// in place. Errors of the transport end the whole job (dt_dist_abort): a
// rank alone cannot recover from a lost peer.
#ifndef DT_DIST_H
#define DT_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// What the caller found in the environment (the CLI: cli/env.c, docs/ENV.md).
typedef struct {
    int launched;     // started by a launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE)
    int world;        // the launcher's size when it says (0: unknown)
    int no_overlap;   // DT_DIST_NO_OVERLAP=1: gradients reduced after backward
    double bucket_mb; // DT_DIST_BUCKET_MB (0: 16)
    int stats;        // DT_DIST_STATS=1: all-reduce timings at the end of train
} dt_dist_opts;

// 0 / -1 + dt_error. Not launched (o NULL or o->launched 0): one rank, MPI
// untouched.
int dt_dist_init(int *argc, char ***argv, const dt_dist_opts *o);
const dt_dist_opts *dt_dist_opts_get(void); // what init was given (zeros: none)
void dt_dist_finalize(void);
int dt_dist_rank(void);
int dt_dist_size(void);
int dt_dist_active(void); // 1 when size > 1
// 1 when another thread may call MPI while the caller works (the gradient
// all-reduce overlaps backward then); 0: reductions run on the caller.
int dt_dist_threaded(void);
void dt_dist_barrier(void);
void dt_dist_bcast(void *buf, size_t bytes, int root);
void dt_dist_allreduce_f(float *buf, size_t n);  // sum over ranks, in place
void dt_dist_allreduce_d(double *buf, size_t n); // sum over ranks, in place
// Rank 0 receives every rank's bytes, concatenated in rank order (*out, *n_out,
// malloc'ed; sizes[r] per rank when sizes is not NULL, malloc'ed); other ranks
// get *out NULL.
void dt_dist_gather_bytes(const void *buf, size_t n, void **out, size_t *n_out, size_t **sizes);
// Prints "detector: rank R of N: <message>" and ends every rank (exit code 1).
void dt_dist_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
// An integer that every rank must hold the same: -1 + dt_error naming the
// first disagreeing rank otherwise (what: what the value is). Collective.
int dt_dist_agree_u64(uint64_t v, const char *what);
// This rank's place among the ranks of its node (MPI_COMM_TYPE_SHARED), 0 in
// one process: a rank's GPU is (-gpu N + local rank) mod the node's GPUs.
int dt_dist_local_rank(void);

// --- GPU collectives over NCCL (src/dist/nccl.c; builds with DT_NCCL) ------------------
// The communicator of every rank's GPU: rank 0 makes the ncclUniqueId and
// broadcasts it over MPI, then ncclCommInitRank on `device`; failures end
// the job (dt_dist_abort). The compute stream is CUDA's legacy default stream
// (0), where the CUDA backend runs; the all-reduces run on a non-blocking
// communication stream of their own. No CUDA or NCCL type leaks out.
// dt_dist_nccl_built is 0 in a build without NCCL: callers test it first
// (there the others end the job, but dt_dist_nccl_finalize and _times).
extern const int dt_dist_nccl_built;
void dt_dist_nccl_init(int device); // collective; once per process
void dt_dist_nccl_finalize(void);   // nothing when not initialised
// Averages dev[0, n) (device floats) over the ranks (ncclAvg) on the
// communication stream, once the work queued so far on the compute stream
// is done (an event recorded there): it overlaps what the host queues next.
// slot: the index of this all-reduce within the step (0, 1, ...).
void dt_dist_nccl_avg(float *dev, size_t n, int slot);
// The compute stream waits for the `slots` all-reduces of this step (the
// host does not wait). Every rank queues the same sequence.
void dt_dist_nccl_join(int slots);
// Of the steps joined so far, with DT_DIST_STATS=1 (zeros otherwise):
// seconds the communication stream spent in all-reduces, and from
// backward's end to the last all-reduce's end (what the overlap did not
// hide). Synchronises with the device.
void dt_dist_nccl_times(double *comm, double *unhidden);

#ifdef __cplusplus
}
#endif

#endif
