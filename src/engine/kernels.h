// CPU kernels shared by several layers: activations and batch normalisation
// on NHWC data seen as (M, C) rows with C contiguous (M = B*H*W), vectorised
// over channels and split over rows with OpenMP.
#ifndef DT_KERNELS_H
#define DT_KERNELS_H

#include <stddef.h>

#include "base/cfg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DT_ACT_LINEAR = 0,
    DT_ACT_RELU,
    DT_ACT_LEAKY, // slope 0.1, as Darknet
    DT_ACT_TANH,
    DT_ACT_SIGMOID,
} dt_act;
#define DT_LEAKY_SLOPE 0.1f

// Elementwise loops over fewer values than this run on one thread: an OpenMP
// fork/join costs more than the work (and far more when the cores are
// shared and a team member is descheduled). PyTorch's grain for its
// elementwise kernels (at::internal::GRAIN_SIZE). Results do not depend on
// it (no reductions). Use as `#pragma omp parallel for if (n > DT_PAR_MIN)`.
#define DT_PAR_MIN 32768
extern const char *const dt_act_names[]; // NULL-terminated, in enum order

// Reads `activation=` (default `def`).
int dt_act_parse(dt_cfg_section *s, dt_act def, dt_act *out);
void dt_act_forward(dt_act a, float *x, size_t n); // in place
// dz = dy * f'(.) computed from the activation's output y (all five
// activations allow it). dz may alias dy.
void dt_act_backward(dt_act a, const float *y, const float *dy, float *dz, size_t n);

// --- batch normalisation ------------------------------------------------
// Training: batch mean and biased variance normalise x; the running
// statistics move by `momentum` with the unbiased variance (as PyTorch).
// y = act(scale * (x - mean) * invstd + shift); y may alias x.
// save_mean, save_invstd: (C) kept for the backward pass.
void dt_bn_forward_train(const float *x, float *y, size_t M, int C, const float *scale,
                         const float *shift, float *run_mean, float *run_var, float momentum,
                         float eps, float *save_mean, float *save_invstd, dt_act act);
// Synchronised batch norm (torch's SyncBatchNorm; [net] sync_bn=1 in a
// data-parallel run, docs/DISTRIBUTED.md): fn sums n doubles over every
// rank in place. Forward: the batch moments are those of every rank's rows
// together (counts, sums and sums of squares reduced); backward: the two
// sums of dx's batch-statistics terms over every rank's rows (dscale and
// dshift stay this rank's own: the gradient average combines them). NULL:
// this process's rows alone.
typedef struct {
    void (*fn)(void *ctx, double *buf, size_t n);
    void *ctx;
} dt_bn_sync;
void dt_bn_forward_train_sync(const float *x, float *y, size_t M, int C, const float *scale,
                              const float *shift, float *run_mean, float *run_var,
                              float momentum, float eps, float *save_mean, float *save_invstd,
                              dt_act act, const dt_bn_sync *sync);
// Inference: running statistics. save_mean/save_invstd receive them (for a
// backward pass through a frozen BN) when non-NULL.
void dt_bn_forward_infer(const float *x, float *y, size_t M, int C, const float *scale,
                         const float *shift, const float *run_mean, const float *run_var,
                         float eps, float *save_mean, float *save_invstd, dt_act act);
// Backward through act(BN(x)). y is the forward output (for the activation
// gradient); dy is modified in place into dz. With `training`, gradients
// flow through the batch statistics; otherwise BN is a fixed affine map.
// dscale/dshift (C) are assigned (may be NULL: frozen). dx (M, C) may alias
// x; `accum` adds into dx instead of assigning. dx may be NULL.
void dt_bn_backward(const float *x, const float *y, float *dy, float *dx, size_t M, int C,
                    const float *scale, const float *save_mean, const float *save_invstd,
                    float *dscale, float *dshift, dt_act act, int training, int accum);
void dt_bn_backward_sync(const float *x, const float *y, float *dy, float *dx, size_t M, int C,
                         const float *scale, const float *save_mean, const float *save_invstd,
                         float *dscale, float *dshift, dt_act act, int training, int accum,
                         const dt_bn_sync *sync);

// y (+)= x
void dt_add(const float *x, float *y, size_t n, int accum);
// y (M, C) += b (C) on every row.
void dt_add_bias(float *y, const float *b, size_t M, size_t C);
// sum (C) = the sum of x (M, C) over its rows, each channel in row order
// (the same floats whatever the thread count).
void dt_channel_sum(const float *x, size_t M, size_t C, float *sum);
void dt_copy(const float *x, float *y, size_t n);
void dt_fill(float *y, size_t n, float v);

#ifdef __cplusplus
}
#endif
#endif
