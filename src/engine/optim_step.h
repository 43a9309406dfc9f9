// The optimizer's update of one parameter, once for both devices: the CPU
// step (network.c) loops over it, the GPU step's kernel
// (cuda/kernels_gpu.cu) runs it per thread. SGD with momentum and Adam /
// AdamW are written as torch.optim does them, in the same rounding order
// (docs/SEMANTICS.md); the per-step coefficients (Adam's bias corrections
// in double) are computed once per tensor on the host by dt_opt_coef_of.
#ifndef DT_ENGINE_OPTIM_STEP_H
#define DT_ENGINE_OPTIM_STEP_H

#include <math.h>

#include "base/hd.h"
#include "engine/network.h"

typedef struct {
    int sgd;       // 1: SGD with momentum, 0: Adam / AdamW
    float lr, wd, mom;           // SGD
    float b1, b2, eps, step, sbc2; // Adam: lr / (1 - b1^t), sqrt(1 - b2^t)
    float l2, shrink;            // Adam: L2 into the gradient, AdamW: decoupled decay
} dt_opt_coef;

static inline dt_opt_coef dt_opt_coef_of(const dt_optim *o, float lr) {
    dt_opt_coef c;
    c.sgd = o->kind == DT_OPT_SGD;
    c.lr = lr;
    c.wd = o->decay;
    c.mom = o->momentum;
    c.b1 = o->beta1;
    c.b2 = o->beta2;
    c.eps = o->eps;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    c.step = c.sgd ? 0 : (float)(lr / bc1);
    c.sbc2 = c.sgd ? 0 : (float)sqrt(bc2);
    const int adamw = o->kind == DT_OPT_ADAMW;
    c.l2 = adamw ? 0.0f : c.wd;
    c.shrink = adamw ? 1.0f - lr * c.wd : 1.0f;
    return c;
}

static inline DT_HD void dt_sgd_elem(const dt_opt_coef *c, float *w, float g, float *m) {
    float gi = g + c->wd * *w;
    *m = c->mom * *m + gi;
    *w -= c->lr * *m;
}

static inline DT_HD void dt_adam_elem(const dt_opt_coef *c, float *w, float g, float *m,
                                      float *v) {
    float wi = *w * c->shrink;
    float gi = g + c->l2 * *w;
    *m = c->b1 * *m + (1 - c->b1) * gi;
    *v = c->b2 * *v + (1 - c->b2) * gi * gi;
    float denom = sqrtf(*v) / c->sbc2 + c->eps;
    *w = wi - c->step * *m / denom;
}

#endif
