// The training schedule (schedule.h).
#include "train/schedule.h"

#include <math.h>

double dt_clr_scale(long n, long j, double div, double cut_div) {
    long cut = (long)floor((double)n / cut_div); // fastai: nb // cut_div
    if (cut < 1) cut = 1;                         // a stage shorter than cut_div
    double pct = j <= cut ? (double)j / cut
                          : 1.0 - (double)(j - cut) / ((double)cut * (cut_div - 1.0));
    if (pct < 0) pct = 0;
    return (1.0 + pct * (div - 1.0)) / div;
}

void dt_stage_set_lr(dt_network *net, const dt_stage *st, long n, long j) {
    double scale = st->clr ? dt_clr_scale(n, j, st->clr_div, st->clr_cut_div) : 1.0;
    for (int g = 0; g < DT_MAX_GROUPS; g++) {
        // groups past the list (none after the model's check) take the last value
        int k = st->n_lr <= 1 ? 0 : g < st->n_lr ? g : st->n_lr - 1;
        net->group_lr[g] = (float)(st->lr[k] * scale);
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
