// The model builder (model.h): the network through the engine, with a
// reader for the sections and keys that are not the network's.
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "engine/gpu.h"

// The schedule keys of a [stage] (model.h; docs/TRAIN.md, "Schedules"), after clr=.
static int sched_parse(dt_cfg_section *s, dt_stage *st) {
    static const char *const kinds[] = {"constant", "clr", "cosine", "onecycle", NULL};
    int k;
    if (dt_cfg_choice(s, "schedule", kinds, st->clr ? DT_SCHED_CLR : DT_SCHED_CONSTANT, &k))
        return -1;
    st->sched = k;
    if (k == DT_SCHED_CLR && !st->clr) {
        dt_cfg_error_key(s, dt_cfg_find(s, "schedule"), "schedule=clr needs clr=div,cut_div");
        return -1;
    }
    if (k != DT_SCHED_CLR && st->clr) {
        dt_cfg_error_key(s, dt_cfg_find(s, "clr"), "clr= belongs to schedule=clr, not %s",
                         kinds[k]);
        return -1;
    }
    const char *warm_keys[] = {"warmup", "warmup_start"};
    for (int i = 0; i < 2; i++)
        if ((k == DT_SCHED_CLR || k == DT_SCHED_ONECYCLE) && dt_cfg_has(s, warm_keys[i])) {
            dt_cfg_error_key(s, dt_cfg_find(s, warm_keys[i]),
                             "schedule=%s has its own warm-up: %s= applies to constant and "
                             "cosine",
                             kinds[k], warm_keys[i]);
            return -1;
        }
    if (k != DT_SCHED_COSINE && dt_cfg_has(s, "lr_min")) {
        dt_cfg_error_key(s, dt_cfg_find(s, "lr_min"), "lr_min= belongs to schedule=cosine");
        return -1;
    }
    const char *oc_keys[] = {"pct_start",     "div_factor",    "final_div_factor",
                             "cycle_momentum", "base_momentum", "max_momentum"};
    for (int i = 0; i < 6; i++)
        if (k != DT_SCHED_ONECYCLE && dt_cfg_has(s, oc_keys[i])) {
            dt_cfg_error_key(s, dt_cfg_find(s, oc_keys[i]),
                             "%s= belongs to schedule=onecycle", oc_keys[i]);
            return -1;
        }
    if (dt_cfg_int(s, "warmup", 0, 0, 1 << 30, &st->warmup) ||
        dt_cfg_float(s, "warmup_start", 0.1f, 0, 1, &st->warmup_start) ||
        dt_cfg_float(s, "lr_min", 0, 0, 1e6f, &st->lr_min) ||
        dt_cfg_float(s, "pct_start", 0.3f, 0, 1, &st->pct_start) ||
        dt_cfg_float(s, "div_factor", 25, 1, 1e9f, &st->div_factor) ||
        dt_cfg_float(s, "final_div_factor", 1e4f, 1, 1e12f, &st->final_div_factor) ||
        dt_cfg_int(s, "cycle_momentum", 1, 0, 1, &st->cycle_momentum) ||
        dt_cfg_float(s, "base_momentum", 0.85f, 0, 1, &st->base_momentum) ||
        dt_cfg_float(s, "max_momentum", 0.95f, 0, 1, &st->max_momentum))
        return -1;
    if (k == DT_SCHED_ONECYCLE && !(st->pct_start > 0 && st->pct_start < 1)) {
        dt_cfg_error_key(s, dt_cfg_find(s, "pct_start"), "%g: expected 0 < pct_start < 1",
                         st->pct_start);
        return -1;
    }
    if (k != DT_SCHED_ONECYCLE) st->cycle_momentum = 0;
    return 0;
}

// Reads one [stage] section (marking its keys used). base_lr: [net]'s
// learning_rate. 0 / -1 with a cfg error naming file, line and key.
static int stage_parse(dt_model *m, dt_cfg_section *s, float base_lr) {
    if (m->n_stages == DT_MAX_STAGES) {
        dt_cfg_error_sec(s, "more than %d [stage] sections", DT_MAX_STAGES);
        return -1;
    }
    dt_stage *st = &m->stages[m->n_stages];
    memset(st, 0, sizeof *st);
    st->sec = s;
    if (dt_cfg_int_req(s, "epochs", 1, 1 << 20, &st->epochs)) return -1;
    if (dt_cfg_has(s, "lr")) {
        if (dt_cfg_floats(s, "lr", st->lr, DT_MAX_GROUPS, &st->n_lr)) return -1;
        for (int i = 0; i < st->n_lr; i++)
            if (!(st->lr[i] >= 0 && st->lr[i] < 1e6f)) {
                dt_cfg_error_key(s, dt_cfg_find(s, "lr"), "learning rate %g out of [0, 1e6)",
                                 st->lr[i]);
                return -1;
            }
        if (st->n_lr < 1) {
            dt_cfg_error_key(s, dt_cfg_find(s, "lr"), "no value");
            return -1;
        }
    } else {
        st->n_lr = 1;
        st->lr[0] = base_lr; // [net] learning_rate
    }
    if (dt_cfg_has(s, "clr")) {
        float v[2];
        int n = 0;
        if (dt_cfg_floats(s, "clr", v, 2, &n)) return -1;
        // div < 1 would start above lr_max; cut_div <= 1 leaves no descent (docs/SEMANTICS.md §5's
        // formula divides by cut * (cut_div - 1))
        if (n != 2 || !(v[0] >= 1) || !(v[1] > 1) || v[0] > 1e6f || v[1] > 1e6f) {
            dt_cfg_error_key(s, dt_cfg_find(s, "clr"),
                             "expected div,cut_div with div >= 1 and cut_div > 1 (e.g. 32,5)");
            return -1;
        }
        st->clr = 1, st->clr_div = v[0], st->clr_cut_div = v[1];
    }
    if (sched_parse(s, st) != 0) return -1;
    if (dt_cfg_has(s, "freeze_to")) {
        st->has_freeze = 1;
        if (dt_cfg_int(s, "freeze_to", 0, -DT_MAX_GROUPS, DT_MAX_GROUPS, &st->freeze_to))
            return -1;
    }
    if (dt_cfg_has(s, "wd")) {
        st->has_wd = 1;
        if (dt_cfg_float(s, "wd", 0, 0, 1, &st->wd)) return -1;
    }
    m->n_stages++;
    return 0;
}

// After every layer is known: lr counts and freeze_to against the layer groups.
static int stages_check(const dt_model *m) {
    const int G = m->net->n_groups;
    for (int i = 0; i < m->n_stages; i++) {
        const dt_stage *st = &m->stages[i];
        dt_cfg_section *s = (dt_cfg_section *)st->sec;
        if (st->n_lr != 1 && st->n_lr != G) {
            dt_cfg_error_key(s, dt_cfg_find(s, "lr"),
                             "%d values, but the network has %d layer group%s (give one lr, "
                             "or one per group, group 0 first)",
                             st->n_lr, G, G == 1 ? "" : "s");
            return -1;
        }
        int f = st->freeze_to < 0 ? st->freeze_to + G : st->freeze_to;
        if (st->has_freeze && (f < 0 || f >= G)) {
            dt_cfg_error_key(s, dt_cfg_find(s, "freeze_to"),
                             "%d with %d layer group%s: it must leave a group to train "
                             "(0..%d, or -1..-%d from the end)",
                             st->freeze_to, G, G == 1 ? "" : "s", G - 1, G);
            return -1;
        }
    }
    return 0;
}

static int net_keys(void *ctx, const dt_network *net, dt_cfg_section *s) {
    (void)net;
    dt_model *m = ctx;
    dt_augment_defaults(&m->aug);
    m->net_beta1 = net->opt.beta1, m->net_momentum = net->opt.momentum;
    // the decay in double: 1 - 0.9998f would be 1.99974e-4, not 2e-4
    const char *v = dt_cfg_str(s, "ema");
    if (v) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d >= 0 && d < 1)) {
            dt_cfg_error_key(s, dt_cfg_find(s, "ema"),
                             "'%s': expected a decay 0 <= ema < 1 (e.g. 0.9998; 0: off)", v);
            return -1;
        }
        m->ema_decay = d;
    }
    if (dt_cfg_int(s, "ema_warmup", 0, 0, 1, &m->ema_warmup)) return -1;
    return dt_augment_parse(s, &m->aug);
}

static int section(void *ctx, const dt_network *net, dt_cfg_section *s) {
    dt_model *m = ctx;
    if (strcmp(s->name, "augment") == 0) // data augmentation, not a layer
        return dt_augment_parse(s, &m->aug) != 0 ? -1 : 1;
    if (strcmp(s->name, "stage") == 0) // training recipe, not a layer
        return stage_parse(m, s, net->opt.base_lr) != 0 ? -1 : 1;
    return 0;
}

// keep_cfg: the caller owns the cfg when the build fails.
static dt_model *finish(dt_model *m, dt_network *net, int keep_cfg) {
    m->net = net;
    if (!net) {
        free(m);
        return NULL;
    }
    if (stages_check(m) != 0) {
        if (keep_cfg) net->cfg = NULL;
        dt_model_free(m);
        return NULL;
    }
    return m;
}

// Under mpirun each rank of a node takes the next GPU from -gpu N on:
// (N + local rank) mod the node's GPUs (docs/DISTRIBUTED.md, "GPUs").
int dt_net_place(dt_network *net) {
    if (!net->gpu_wanted) return 0;
    int dev = net->gpu_opts.device;
    const int n = dt_gpu_count(), local = dt_dist_local_rank();
    if (local > 0 && n > 0 && dev >= 0 && dev < n) dev = (dev + local) % n;
    return dt_net_gpu_enable(net, dev);
}

dt_model *dt_model_load(const char *cfg_path, const dt_net_opts *o) {
    dt_model *m = dt_calloc(1, sizeof *m);
    const dt_cfg_reader r = {m, "augment, stage", net_keys, section};
    m = finish(m, dt_net_load_with(cfg_path, o, &r), 0);
    if (m && dt_net_place(m->net) != 0) {
        dt_model_free(m);
        return NULL;
    }
    return m;
}

dt_model *dt_model_from_cfg(dt_cfg *cfg, const char *name, const dt_net_opts *o) {
    dt_model *m = dt_calloc(1, sizeof *m);
    const dt_cfg_reader r = {m, "augment, stage", net_keys, section};
    return finish(m, dt_net_build(cfg, name, o, &r), 1);
}

void dt_model_free(dt_model *m) {
    if (!m) return;
    dt_net_free(m->net);
    free(m);
}

dt_network *dt_model_net_only(dt_model *m) {
    if (!m) return NULL;
    dt_network *net = m->net;
    free(m);
    return net;
}

const char *dt_model_data(const dt_model *m) { return m->aug.data[0] ? m->aug.data : NULL; }
