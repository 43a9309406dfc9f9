// Data-parallel gradient averaging with backward overlap, the weight
// checksum, and the start from rank 0's state (docs/DISTRIBUTED.md). Built
// on dist.h; the network reaches it only through its hooks (engine/network.h:
// grad_ready, grads_wait, bn_reduce).
#ifndef DT_GRAD_SYNC_H
#define DT_GRAD_SYNC_H

#include "engine/network.h"

typedef struct dt_grad_sync dt_grad_sync;

// Hooks net up for the ranks of dist.h (with one rank: nothing is hooked and
// NULL is returned). bucket_mb: gradients all-reduced at once (0: the
// dt_dist_opts' bucket_mb, DT_DIST_BUCKET_MB, else 16). A GPU network averages
// its device gradients over NCCL (dist.h; collective: the communicator is made
// here); refused (-1 + dt_error, *out NULL) in a build without NCCL and with
// sync_bn=1.
int dt_grad_sync_attach(dt_network *net, double bucket_mb, dt_grad_sync **out);
void dt_grad_sync_detach(dt_grad_sync *s); // NULL: nothing
// Seconds the communication thread spent in all-reduces and the main thread
// spent waiting for them (what the overlap did not hide), steps; since attach.
void dt_grad_sync_times(const dt_grad_sync *s, double *comm, double *wait, long *steps);

// Rank 0's parameters, optimizer moments and step, rng and seed to every
// rank (a fresh start and a resume begin the same everywhere). Collective.
void dt_dist_sync_net(dt_network *net);
// Rank 0's parameters only (the running statistics of batch norm, which each
// rank keeps from its own batches without sync_bn). Collective.
void dt_dist_sync_params(dt_network *net);
// A hash of the trainable parameters' bits, compared across ranks: -1 +
// dt_error naming a rank whose weights drifted from rank 0's. Collective.
int dt_dist_check_weights(dt_network *net);

#endif
