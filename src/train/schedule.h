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
// Sets net->group_lr for iteration j of n of the stage (constant without clr).
void dt_stage_set_lr(dt_network *net, const dt_stage *st, long n, long j);
// The lr shown in progress lines: the current lr of the last group (the head).
float dt_net_top_lr(const dt_network *net);
// Applies a stage's freeze_to (if it has one) and its weight decay.
void dt_stage_apply(dt_network *net, const dt_stage *st, float base_decay);
// Enters stage s of m: freezing is a function of the stage alone, so the
// freeze_to of stages 0..s is replayed (a stage without one keeps what the
// previous left); the decay is stage s's.
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

#ifdef __cplusplus
}
#endif
#endif
