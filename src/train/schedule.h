// The training schedule (docs/SEMANTICS.md §5): the cyclical learning rate
// of a [stage] (train/model.h), its freezing and weight decay, and the
// debiased loss EMA.
#ifndef DT_TRAIN_SCHEDULE_H
#define DT_TRAIN_SCHEDULE_H

#include "train/model.h"

#ifdef __cplusplus
extern "C" {
#endif

// --- schedules ------------------------------------------------------------------
// docs/SEMANTICS.md §5: iteration j (0-based) of a stage of n iterations,
// cut = n / cut_div (at least 1);
//   pct = j / cut                        if j <= cut
//       = 1 - (j - cut) / (cut * (cut_div - 1))  otherwise (clamped at 0),
// returns the multiplier (1 + pct * (div - 1)) / div of lr_max. Equals
// fastai 0.7's CircularLR whenever n is a multiple of cut_div (its descent is
// over n - cut iterations; the two differ only when n % cut_div != 0, where
// the formula of docs/SEMANTICS.md §5 would go negative without the clamp).
double dt_clr_scale(long n, long j, double div, double cut_div);
// The lr of a group whose stage lr is `lr` at iteration j (0-based) of the
// stage's n (docs/TRAIN.md, "Schedules"); K = warmup, T = max(1, n - K):
//   j < K (constant, cosine):  lr * (s + (1 - s) * j / K), s = warmup_start
//                              (torch's LinearLR(start_factor=s, total_iters=K))
//   constant:  lr
//   clr:       lr * dt_clr_scale(n, j, div, cut_div)
//   cosine:    lr_min + (lr - lr_min) * (1 + cos(pi * (j - K) / T)) / 2
//              (torch's CosineAnnealingLR(T_max=T, eta_min=lr_min))
//   onecycle:  torch's OneCycleLR(max_lr=lr, total_steps=n, pct_start,
//              div_factor, final_div_factor, anneal_strategy='cos',
//              three_phase=False) at step j.
// A pure function of (n, j): a resumed stage gets the same sequence.
double dt_sched_lr(const dt_stage *st, long n, long j, double lr);
// onecycle with cycle_momentum: the momentum (Adam's beta1, SGD's momentum)
// at iteration j, OneCycleLR's (max_momentum -> base_momentum -> max_momentum
// with the lr's phases); -1 otherwise.
double dt_sched_momentum(const dt_stage *st, long n, long j);
// Sets net->group_lr (and the cycled momentum, if any) for iteration j of n
// of the stage.
void dt_stage_set_lr(dt_network *net, const dt_stage *st, long n, long j);
// The lr shown in progress lines: the current lr of the last group (the head).
float dt_net_top_lr(const dt_network *net);
// Applies a stage's freeze_to (if it has one) and its weight decay.
void dt_stage_apply(dt_network *net, const dt_stage *st, float base_decay);
// Enters stage s of m: freezing is a function of the stage alone, so the
// freeze_to of stages 0..s is replayed (a stage without one keeps what the
// previous left); the decay is stage s's; beta1 / momentum are [net]'s
// (a onecycle stage cycles them from its first step on).
void dt_stage_enter(dt_network *net, const dt_model *m, int s, float base_decay);

// Debiased exponential moving average of the loss (fastai's
// avg_loss * beta + loss * (1 - beta), divided by 1 - beta^count).
typedef struct {
    double beta, avg;
    long count;
} dt_ema;
void dt_ema_init(dt_ema *e, double beta);
double dt_ema_add(dt_ema *e, double x); // returns the debiased value
double dt_ema_value(const dt_ema *e);   // 0 before the first value

// --- weight EMA (docs/TRAIN.md, "Weight EMA") -------------------------------------
// The decay of update t (0-based count of updates before it):
// warmup ? min(decay, (1 + t) / (10 + t)) : decay.
double dt_wema_decay(double decay, int warmup, long t);
// ema <- ema + (1 - d) * (w - ema) over n floats (torch's lerp_(w, 1 - d), as
// AveragedModel's EMA and timm's ModelEmaV3; equal to d*ema + (1-d)*w).
void dt_wema_update(float *ema, const float *w, size_t n, double d);
// One update from the network's parameters (every tensor, BN running
// statistics included). On a GPU network it runs on the device's copy
// (engine/gpu.h: dt_net_gpu_ema_put first; ema is left as it was until
// dt_net_gpu_ema_fetch).
void dt_wema_net(dt_network *net, float *ema, double d);

#ifdef __cplusplus
}
#endif
#endif
