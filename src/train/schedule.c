// The training schedule (schedule.h).
#include "train/schedule.h"

#include <math.h>

#include "engine/gpu.h"

double dt_clr_scale(long n, long j, double div, double cut_div) {
    long cut = (long)floor((double)n / cut_div); // fastai: nb // cut_div
    if (cut < 1) cut = 1;                         // a stage shorter than cut_div
    double pct = j <= cut ? (double)j / cut
                          : 1.0 - (double)(j - cut) / ((double)cut * (cut_div - 1.0));
    if (pct < 0) pct = 0;
    return (1.0 + pct * (div - 1.0)) / div;
}

static double anneal_cos(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1); // torch's _annealing_cos
}

// OneCycleLR's phase at step j: *pct in the phase, returns 0 (rising) or 1.
// A phase shorter than one step is taken as one (torch divides by zero there).
static int onecycle_phase(const dt_stage *st, long n, long j, double *pct) {
    const double end1 = (double)st->pct_start * (double)n - 1, end2 = (double)n - 1;
    if ((double)j <= end1) {
        *pct = (double)j / (end1 > 0 ? end1 : 1);
        return 0;
    }
    const double len = end2 - end1;
    *pct = ((double)j - end1) / (len > 0 ? len : 1);
    return 1;
}

double dt_sched_lr(const dt_stage *st, long n, long j, double lr) {
    switch (st->sched) {
    case DT_SCHED_CLR: return lr * dt_clr_scale(n, j, st->clr_div, st->clr_cut_div);
    case DT_SCHED_ONECYCLE: {
        const double initial = lr / st->div_factor, min = initial / st->final_div_factor;
        double pct;
        return onecycle_phase(st, n, j, &pct) == 0 ? anneal_cos(initial, lr, pct)
                                                    : anneal_cos(lr, min, pct);
    }
    default: break;
    }
    const long K = st->warmup;
    if (j < K) return lr * (st->warmup_start + (1.0 - st->warmup_start) * (double)j / (double)K);
    if (st->sched == DT_SCHED_COSINE) {
        const long T = n - K > 1 ? n - K : 1;
        return st->lr_min + (lr - st->lr_min) * (1 + cos(M_PI * (double)(j - K) / (double)T)) / 2;
    }
    return lr;
}

double dt_sched_momentum(const dt_stage *st, long n, long j) {
    if (st->sched != DT_SCHED_ONECYCLE || !st->cycle_momentum) return -1;
    double pct;
    return onecycle_phase(st, n, j, &pct) == 0
               ? anneal_cos(st->max_momentum, st->base_momentum, pct)
               : anneal_cos(st->base_momentum, st->max_momentum, pct);
}

void dt_stage_set_lr(dt_network *net, const dt_stage *st, long n, long j) {
    for (int g = 0; g < DT_MAX_GROUPS; g++) {
        // groups past the list (none after the model's check) take the last value
        int k = st->n_lr <= 1 ? 0 : g < st->n_lr ? g : st->n_lr - 1;
        net->group_lr[g] = (float)dt_sched_lr(st, n, j, st->lr[k]);
    }
    double mom = dt_sched_momentum(st, n, j);
    if (mom >= 0) { // torch's OneCycleLR: betas[0] for Adam(W), momentum for SGD
        if (net->opt.kind == DT_OPT_SGD) net->opt.momentum = (float)mom;
        else net->opt.beta1 = (float)mom;
    }
}

float dt_net_top_lr(const dt_network *net) {
    return net->group_lr[net->n_groups > 0 ? net->n_groups - 1 : 0];
}

void dt_stage_apply(dt_network *net, const dt_stage *st, float base_decay) {
    if (st->has_freeze) dt_net_freeze_to(net, st->freeze_to);
    net->opt.decay = st->has_wd ? st->wd : base_decay;
}

void dt_stage_enter(dt_network *net, const dt_model *m, int s, float base_decay) {
    net->opt.beta1 = m->net_beta1, net->opt.momentum = m->net_momentum;
    dt_net_freeze_to(net, 0);
    for (int i = 0; i <= s; i++) dt_stage_apply(net, &m->stages[i], base_decay);
}

void dt_ema_init(dt_ema *e, double beta) {
    e->beta = beta;
    e->avg = 0;
    e->count = 0;
}

double dt_ema_add(dt_ema *e, double x) {
    e->avg = e->avg * e->beta + x * (1 - e->beta);
    e->count++;
    return dt_ema_value(e);
}

double dt_ema_value(const dt_ema *e) {
    return e->count ? e->avg / (1 - pow(e->beta, (double)e->count)) : 0;
}

// --- weight EMA -----------------------------------------------------------------------

double dt_wema_decay(double decay, int warmup, long t) {
    if (!warmup) return decay;
    double w = (1.0 + (double)t) / (10.0 + (double)t);
    return w < decay ? w : decay;
}

void dt_wema_update(float *ema, const float *w, size_t n, double d) {
    const float a = (float)(1.0 - d); // torch's lerp weight, a float32 scalar
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) ema[i] = ema[i] + a * (w[i] - ema[i]);
}

void dt_wema_net(dt_network *net, float *ema, double d) {
    if (net->gpu) { // the parameters live on the device: so does the EMA
        dt_net_gpu_ema_step(net, d);
        return;
    }
    dt_wema_update(ema, net->params, net->n_params, d);
}
