// The training loop: stages, schedules, validation, the epoch table, the
// chart and the checkpoints. The loader-backed batch source and the CLI
// commands are in train_cmd.c.
//
// Resuming is exact: checkpoints are taken at epoch boundaries and hold
// every bit of state the rest of the run reads (parameters, Adam m/v/t,
// net->rng for dropout, the loss EMA, the schedule position); the data of
// an epoch is a function of (seed, epoch) alone (see the batch source), so
// a run restarted from its last checkpoint redoes the interrupted epoch
// exactly as the uninterrupted run did.
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "media/chart.h"
#include "engine/gpu.h"
#include "eval/valid.h"

// --- [stage] ----------------------------------------------------------------------

int dt_stage_parse(dt_network *net, dt_cfg_section *s) {
    if (net->n_stages == DT_MAX_STAGES) {
        dt_cfg_error_sec(s, "more than %d [stage] sections", DT_MAX_STAGES);
        return -1;
    }
    dt_stage *st = &net->stages[net->n_stages];
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
        st->lr[0] = net->opt.lr; // [net] learning_rate
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
    if (dt_cfg_has(s, "freeze_to")) {
        st->has_freeze = 1;
        if (dt_cfg_int(s, "freeze_to", 0, -DT_MAX_GROUPS, DT_MAX_GROUPS, &st->freeze_to))
            return -1;
    }
    if (dt_cfg_has(s, "wd")) {
        st->has_wd = 1;
        if (dt_cfg_float(s, "wd", 0, 0, 1, &st->wd)) return -1;
    }
    net->n_stages++;
    return 0;
}

int dt_stages_check(dt_network *net) {
    for (int i = 0; i < net->n_stages; i++) {
        dt_stage *st = &net->stages[i];
        dt_cfg_section *s = (dt_cfg_section *)st->sec;
        if (st->n_lr != 1 && st->n_lr != net->n_groups) {
            dt_cfg_error_key(s, dt_cfg_find(s, "lr"),
                             "%d values, but the network has %d layer group%s (give one lr, "
                             "or one per group, group 0 first)",
                             st->n_lr, net->n_groups, net->n_groups == 1 ? "" : "s");
            return -1;
        }
        int f = st->freeze_to < 0 ? st->freeze_to + net->n_groups : st->freeze_to;
        if (st->has_freeze && (f < 0 || f >= net->n_groups)) {
            dt_cfg_error_key(s, dt_cfg_find(s, "freeze_to"),
                             "%d with %d layer group%s: it must leave a group to train "
                             "(0..%d, or -1..-%d from the end)",
                             st->freeze_to, net->n_groups, net->n_groups == 1 ? "" : "s",
                             net->n_groups - 1, net->n_groups);
            return -1;
        }
    }
    return 0;
}

// --- schedules -------------------------------------------------------------------

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
        // groups past the list (none after dt_stages_check) take the last value
        int k = st->n_lr <= 1 ? 0 : g < st->n_lr ? g : st->n_lr - 1;
        net->group_lr[g] = (float)(st->lr[k] * scale);
    }
    net->opt.lr = net->group_lr[net->n_groups > 0 ? net->n_groups - 1 : 0];
}

void dt_stage_apply(dt_network *net, const dt_stage *st, float base_decay) {
    if (st->has_freeze) dt_net_freeze_to(net, st->freeze_to);
    net->opt.decay = st->has_wd ? st->wd : base_decay;
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

// --- steps -------------------------------------------------------------------------

int dt_train_check(const dt_network *net) {
    int n_loss = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        if (!l->is_loss) continue;
        n_loss++;
        if (!l->ops->set_truth) {
            dt_error("%s:%d: [%s] cannot be trained: its layer type has no set_truth (no "
                     "targets from the data)",
                     l->sec->file, l->sec->line, l->ops->name);
            return -1;
        }
    }
    if (!n_loss) {
        dt_error("%s: no loss layer (e.g. [softmax], [cost], [single], [ssd]): nothing to "
                 "train against",
                 net->cfg_path);
        return -1;
    }
    if (net->c != 3) {
        dt_error("%s: [net] channels=%d, but the data gives RGB images (3 channels)",
                 net->cfg_path, net->c);
        return -1;
    }
    if (!net->with_grads) {
        dt_error("%s: network built without gradients", net->cfg_path);
        return -1;
    }
    return 0;
}

// Input rows beyond b->n are zeroed: they must not hold NaNs from an
// earlier batch (they are computed, then ignored).
static int feed(dt_network *net, const dt_batch *b) {
    const size_t img = (size_t)net->h * net->w * net->c;
    if (b->w != net->w || b->h != net->h || b->n > net->batch || b->n < 0) {
        dt_error("batch of %d images %dx%d does not fit the network (batch %d, %dx%d)", b->n,
                 b->w, b->h, net->batch, net->w, net->h);
        return -1;
    }
    const int direct = net->gpu && b->pinned && b->cap == net->batch;
    if (!direct) {
        memcpy(net->input, b->images, sizeof(float) * img * b->n);
        if (b->n < net->batch)
            memset(net->input + img * b->n, 0, sizeof(float) * img * (net->batch - b->n));
    }
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->set_truth && l->ops->set_truth(l, net, b) != 0) return -1;
    }
    // on a GPU, the next forward uploads straight from the page-locked batch (the
    // loader zeroes a short batch's tail): no host copy (net->input is left as it was)
    if (direct) dt_net_gpu_input_from(net, b->images);
    return 0;
}

int dt_train_step(dt_network *net, const dt_batch *b, float *loss) {
    *loss = NAN;
    if (feed(net, b) != 0) return -1;
    dt_net_set_train(net, 1);
    dt_net_forward(net);
    *loss = net->loss;
    if (!isfinite(net->loss)) return 1;
    dt_net_backward(net);
    dt_net_step(net);
    return 0;
}

int dt_valid_step(dt_network *net, const dt_batch *b, float *loss) {
    *loss = NAN;
    if (feed(net, b) != 0) return -1;
    dt_net_set_train(net, 0);
    dt_net_forward(net);
    dt_net_set_train(net, 1);
    *loss = net->loss;
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->metrics_add) l->ops->metrics_add(l, net, b);
    }
    return 0;
}

// --- progress ----------------------------------------------------------------------

typedef struct {
    int on, tty, total, last_decile;
    double t0;
    int ge, n_epochs;
} progress;

static void progress_start(progress *p, int on, int total, int ge, int n_epochs) {
    p->on = on;
    p->tty = on && isatty(2);
    p->total = total;
    p->last_decile = 0;
    p->t0 = dt_now();
    p->ge = ge, p->n_epochs = n_epochs;
}

static void progress_show(progress *p, int done, int batch, double loss, float lr, int final) {
    if (!p->on) return;
    int decile = p->total ? 10 * done / p->total : 10;
    // not a tty (a log file): one line per 10% instead of a redrawn bar
    if (!p->tty && !final && (decile <= p->last_decile || done == p->total)) return;
    p->last_decile = decile;
    double dt = dt_now() - p->t0, ips = dt > 0 ? (double)done * batch / dt : 0;
    double eta = done ? dt / done * (p->total - done) : 0;
    char bar[21];
    int fill = p->total ? 20 * done / p->total : 20;
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[20] = 0;
    fprintf(stderr, "%sepoch %d/%d [%s] %d/%d %7.1f img/s loss %.4f lr %.2e %s %d:%02d%s",
            p->tty ? "\r" : "", p->ge + 1, p->n_epochs, bar, done, p->total, ips, loss, lr,
            final ? "took" : "ETA", (int)(final ? dt : eta) / 60, (int)(final ? dt : eta) % 60,
            p->tty && !final ? "" : "\n");
    fflush(stderr);
}

// --- metrics, table, chart -----------------------------------------------------------

static int collect_metrics(dt_network *net, dt_metric *m, int max) {
    int n = 0;
    for (int i = 0; i < net->n_layers && n < max; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->metrics_get) n += l->ops->metrics_get(l, net, m + n, max - n);
    }
    return n;
}

static void reset_metrics(dt_network *net) {
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->metrics_reset) l->ops->metrics_reset(l, net);
    }
}

static int write_chart(const char *path, const dt_train_state *st, const char *metric) {
    int n = st->n_hist;
    double *x = dt_malloc(sizeof(double) * 4 * (n + 1)), *t = x + n + 1, *v = t + n + 1,
           *m = v + n + 1;
    for (int i = 0; i < n; i++)
        x[i] = i + 1, t[i] = st->hist[3 * i], v[i] = st->hist[3 * i + 1],
        m[i] = st->hist[3 * i + 2];
    dt_chart_series loss[2] = {{"train loss", x, t, n, {200, 110, 30}},
                               {"valid loss", x, v, n, {40, 120, 240}}};
    dt_chart_series met[1] = {{metric ? metric : "", x, m, n, {60, 160, 60}}};
    dt_chart_axes la = {"loss", "epoch", "loss", 0, 1}, ma = {metric, "epoch", metric, 0, 1};
    dt_image im;
    int rc = -1, W = 480, H = 360;
    if (dt_image_new(metric ? 2 * W : W, H, &im) == 0) {
        dt_chart_panel(&im, 0, 0, W, H, &la, loss, 2);
        if (metric) dt_chart_panel(&im, W, 0, W, H, &ma, met, 1);
        rc = dt_image_write(path, &im, 95, 0, 3);
        dt_image_free(&im);
    }
    free(x);
    return rc;
}

// --- the loop ----------------------------------------------------------------------

typedef struct {
    char last_w[4096], last_s[4096], best_w[4096], final_w[4096], chart[4096];
} train_paths;

// Freezing is a function of the stage alone: replay the freeze_to of
// stages 0..s (a stage without one keeps what the previous left).
static void enter_stage(dt_network *net, int s, float base_decay) {
    dt_net_freeze_to(net, 0);
    for (int i = 0; i <= s; i++) dt_stage_apply(net, &net->stages[i], base_decay);
}

static void print_header(FILE *f, const dt_metric *m, int nm) {
    fprintf(f, "%5s %10s %10s", "epoch", "trn_loss", "val_loss");
    for (int i = 0; i < nm; i++) fprintf(f, " %10s", m[i].name);
    fprintf(f, "\n");
}

// Runs validation; *val_loss is in trn_loss's unit, the loss layer's value
// for one full batch (fastai's tables): a mean over the images for most heads,
// the sum over a batch of net->batch images for [ssd] (the lesson's ssd_loss),
// computed as the per-image mean times the batch so that a short last batch
// weighs by its images. -1 on a source error, NaN kept as such.
static int validate(dt_network *net, dt_batch_source *src, int ge, double *val_loss) {
    const dt_head_kind kind = dt_head_of(net, NULL);
    reset_metrics(net);
    if (src->begin(src->ctx, 1, ge) != 0) return -1;
    double sum = 0;
    long n = 0;
    dt_batch *b;
    while ((b = src->next(src->ctx))) {
        if (b->n <= 0) continue;
        float loss;
        if (dt_valid_step(net, b, &loss) != 0) {
            src->end(src->ctx);
            return -1;
        }
        sum += dt_loss_rows_total(kind, loss, b->n);
        n += b->n;
    }
    src->end(src->ctx);
    *val_loss = n ? sum / n * (kind == DT_HEAD_SSD ? net->batch : 1) : NAN;
    return 0;
}

int dt_train(dt_network *net, dt_batch_source *src, const dt_train_opts *o) {
    if (dt_train_check(net) != 0) return -1;
    if (net->n_stages == 0) {
        dt_error("%s: no [stage] section: add e.g. [stage] epochs=10 lr=1e-3 to the cfg",
                 net->cfg_path);
        return -1;
    }
    if (src->train_batches < 1) {
        dt_error("the training split gives no full batch of %d images (lower batch= in "
                 "[net] of %s)",
                 net->batch, net->cfg_path);
        return -1;
    }
    int total = 0;
    for (int s = 0; s < net->n_stages; s++) total += net->stages[s].epochs;
    dt_train_state st = {0};
    st.seed = net->seed;
    dt_ema_init(&st.ema, 0.98);
    train_paths P;
    const char *name = o->name ? o->name : "net";
    // what this run is made of, before any stage changes the optimizer's decay
    char *recipe = dt_train_recipe(net, src->train_batches, o->data);
    st.recipe = recipe;
    if (o->backup) {
        if (dt_mkdirs(o->backup) != 0) {
            free(recipe);
            return -1;
        }
        dt_remove_stale_temps(o->backup, name); // a save cut by kill -9 left them
        snprintf(P.last_w, sizeof P.last_w, "%s/%s_last.weights", o->backup, name);
        snprintf(P.last_s, sizeof P.last_s, "%s/%s_last.state", o->backup, name);
        snprintf(P.best_w, sizeof P.best_w, "%s/%s_best.weights", o->backup, name);
        snprintf(P.final_w, sizeof P.final_w, "%s/%s_final.weights", o->backup, name);
        snprintf(P.chart, sizeof P.chart, "%s/%s_chart.png", o->backup, name);
        if (!o->clear && access(P.last_s, F_OK) == 0) {
            const uint64_t asked = net->seed;
            if (dt_state_load(net, &st, P.last_s) != 0) {
                free(recipe);
                return -1;
            }
            if (st.seed != asked)
                dt_warn("%s was made with seed %llu: resuming with it (not %llu)\n", P.last_s,
                        (unsigned long long)st.seed, (unsigned long long)asked);
            net->seed = st.seed; // the batch source reads it: same data as before the stop
            int s = st.stage < net->n_stages ? st.stage : net->n_stages - 1;
            fprintf(stderr, "train: resuming from %s: stage %d, epoch %d of %d (iteration %ld)\n",
                   P.last_s, st.stage + 1, st.epoch + 1, net->stages[s].epochs, st.iter);
        } else if (o->clear && access(P.last_s, F_OK) == 0) {
            dt_log("train: -clear: starting again (%s will be overwritten)\n", P.last_s);
        }
    }
    st.hist = dt_realloc(st.hist, sizeof(double) * 3 * (total + 1));
    st.cap_hist = total + 1;
    const float base_decay = net->opt.decay;
    int ge = 0; // global epoch
    for (int s = 0; s < st.stage; s++) ge += net->stages[s].epochs;
    ge += st.epoch;
    dt_metric m[DT_MAX_METRICS];
    int header = 0, n_names = 0, run_epochs = 0, rc = 0;
    const double t_start = dt_now();
    long skipped = 0, unfilled = 0;
    for (; st.stage < net->n_stages; st.stage++, st.epoch = 0, st.stage_iter = 0) {
        const dt_stage *stage = &net->stages[st.stage];
        enter_stage(net, st.stage, base_decay);
        if (st.epoch == 0) { // a fresh stage: fastai's new fit()
            dt_net_reset_optim(net);
            dt_ema_init(&st.ema, 0.98);
            st.stage_iter = 0;
        }
        const long n_it = (long)stage->epochs * src->train_batches;
        for (; st.epoch < stage->epochs; st.epoch++, ge++) {
            progress pr;
            progress_start(&pr, o->progress, src->train_batches, ge, total);
            if (src->begin(src->ctx, 0, ge) != 0) {
                rc = -1;
                goto out;
            }
            dt_batch *b;
            int done = 0, timeout = 0;
            while ((b = src->next(src->ctx))) {
                if (b->n < net->batch) { // drop_last: see dt_train
                    if (b->n < b->want) unfilled += b->want - b->n; // unreadable images
                    else skipped += b->n;
                    continue;
                }
                dt_stage_set_lr(net, stage, n_it, st.stage_iter);
                float loss;
                int r = dt_train_step(net, b, &loss);
                if (r != 0) {
                    if (pr.tty) fprintf(stderr, "\n");
                    src->end(src->ctx);
                    if (r > 0)
                        dt_error("the loss is %g at iteration %ld (stage %d, epoch %d, batch "
                                 "%d of the epoch): training stopped; the last checkpoint%s%s "
                                 "is left as it was",
                                 loss, st.iter + 1, st.stage + 1, ge + 1, done + 1,
                                 o->backup ? " " : "", o->backup ? P.last_s : "");
                    rc = -1;
                    goto out;
                }
                dt_ema_add(&st.ema, loss);
                st.iter++, st.stage_iter++, done++;
                progress_show(&pr, done, net->batch, dt_ema_value(&st.ema), net->opt.lr,
                              0);
                if (o->minutes > 0 && dt_now() - t_start > 60 * o->minutes) {
                    timeout = 1;
                    break;
                }
            }
            src->end(src->ctx);
            progress_show(&pr, done, net->batch, dt_ema_value(&st.ema), net->opt.lr, 1);
            if (done == 0 && !timeout) {
                // Not one step: the loss would print as 0 and the weights
                // saved as trained. An error instead, before anything is written.
                dt_error("epoch %d trained no step: the training split gave no full batch "
                         "of %d images (each image that cannot be read is named in a warning "
                         "above); nothing was saved for this epoch",
                         ge + 1, net->batch);
                rc = -1;
                goto out;
            }
            const int last = timeout || (st.stage == net->n_stages - 1 &&
                                         st.epoch == stage->epochs - 1);
            const int every = o->valid_every == 0 ? 1 : o->valid_every;
            double val = NAN;
            int nm = 0;
            const int validated = every > 0 && ((ge + 1) % every == 0 || last);
            if (validated) {
                if (validate(net, src, ge, &val) != 0) {
                    rc = -1;
                    goto out;
                }
                nm = collect_metrics(net, m, DT_MAX_METRICS);
            }
            if (o->table) {
                if (!header) { // the metric names; from an empty pass when not validated
                    dt_metric names[DT_MAX_METRICS];
                    const dt_metric *hm = m;
                    n_names = nm;
                    if (!validated) {
                        reset_metrics(net);
                        n_names = collect_metrics(net, names, DT_MAX_METRICS);
                        hm = names;
                    }
                    print_header(o->table, hm, n_names);
                    header = 1;
                }
                fprintf(o->table, "%5d %10.6f", ge, dt_ema_value(&st.ema));
                if (!validated) {
                    for (int i = 0; i <= n_names; i++) fprintf(o->table, " %10s", "-");
                } else {
                    fprintf(o->table, " %10.6f", val);
                    for (int i = 0; i < nm; i++) fprintf(o->table, " %10.6f", m[i].value);
                }
                fprintf(o->table, "%s\n", timeout ? "  (stopped: -minutes)" : "");
                fflush(o->table);
            }
            double *h = st.hist + 3 * st.n_hist++;
            h[0] = dt_ema_value(&st.ema), h[1] = val, h[2] = nm ? m[0].value : NAN;
            double sel = nm ? (m[0].higher_is_better ? m[0].value : -m[0].value) : -val;
            int better = isfinite(sel) && (!st.has_best || sel > st.best);
            if (better) st.best = sel, st.has_best = 1;
            if (timeout) {
                // the state stays at the last epoch boundary: a later run redoes this epoch
                dt_log("train: -minutes %.1f reached in epoch %d\n", o->minutes, ge + 1);
                rc = 1;
                goto finish;
            }
            if (o->backup) {
                // the state records the position after this epoch
                dt_train_state next = st;
                next.epoch++;
                if (next.epoch == stage->epochs)
                    next.stage++, next.epoch = 0, next.stage_iter = 0;
                if (dt_net_save_weights(net, P.last_w) != 0 ||
                    dt_state_save(net, &next, P.last_s) != 0 ||
                    (better && dt_net_save_weights(net, P.best_w) != 0)) {
                    rc = -1;
                    goto out;
                }
                if (write_chart(P.chart, &st, nm ? m[0].name : NULL) != 0)
                    dt_warn("%s\n", dt_last_error()); // a chart is not worth stopping for
            }
            if (o->max_epochs > 0 && ++run_epochs >= o->max_epochs) {
                rc = 1;
                goto out;
            }
        }
    }
finish:
    if (o->backup && dt_net_save_weights(net, P.final_w) != 0) rc = -1;
    if (o->backup && rc != -1) {
        int nm = collect_metrics(net, m, DT_MAX_METRICS);
        if (write_chart(P.chart, &st, nm ? m[0].name : NULL) != 0)
            dt_warn("%s\n", dt_last_error());
    }
out:
    if (skipped)
        dt_log("train: %ld images in incomplete batches left out (drop_last; with shuffling "
               "each epoch leaves out others)\n",
               skipped);
    if (unfilled)
        dt_warn("train: %ld batch places stayed empty because images could not be read and "
                "no readable replacement was found; those batches were not trained\n",
                unfilled);
    free(st.hist);
    free(recipe);
    return rc;
}

// --- lr_find ---------------------------------------------------------------------------

int dt_lr_find(dt_network *net, dt_batch_source *src, dt_lr_find_result *r, int progress) {
    if (dt_train_check(net) != 0) return -1;
    if (r->iters < 2 || !(r->start > 0) || !(r->end > r->start)) {
        dt_error("lr_find: need iterations >= 2 and 0 < start < end (got %d, %g, %g)",
                 r->iters, r->start, r->end);
        return -1;
    }
    const size_t np = net->n_params;
    dt_net_pull(net); // GPU: the device holds the newest parameters and moments
    float *saved = dt_alloc_floats(3 * np); // params, m, v: restored afterwards
    memcpy(saved, net->params, sizeof(float) * np);
    memcpy(saved + np, net->opt_m, sizeof(float) * np);
    memcpy(saved + 2 * np, net->opt_v, sizeof(float) * np);
    const dt_rng rng = net->rng;
    const long t = net->opt.t;
    const float lr0 = net->opt.lr;
    const uint64_t seen = net->images_seen;
    float group[DT_MAX_GROUPS];
    memcpy(group, net->group_lr, sizeof group);
    r->lr = dt_malloc(sizeof(double) * r->iters);
    r->loss = dt_malloc(sizeof(double) * r->iters);
    r->n = 0;
    dt_net_reset_optim(net);
    if (net->n_stages > 0) enter_stage(net, 0, net->opt.decay); // the first stage's freezing
    dt_ema e;
    dt_ema_init(&e, 0.98);
    double best = 1e9;
    int rc = 0, epoch = 0, open = 0;
    for (int i = 0; i < r->iters; i++) {
        dt_batch *b = NULL;
        while (!b) {
            if (!open) {
                if (src->begin(src->ctx, 0, epoch++) != 0) {
                    rc = -1;
                    break;
                }
                open = 1;
            }
            b = src->next(src->ctx);
            if (!b) {
                src->end(src->ctx), open = 0;
                if (epoch > r->iters + 1) break; // a source that gives nothing
            } else if (b->n < net->batch) {
                b = NULL;
            }
        }
        if (!b) {
            if (rc == 0) dt_error("lr_find: the training split gives no full batch");
            rc = -1;
            break;
        }
        double lr = r->start * pow(r->end / r->start, (double)i / r->iters);
        dt_net_set_lr(net, (float)lr);
        float loss;
        int s = dt_train_step(net, b, &loss);
        if (s < 0) {
            rc = -1;
            break;
        }
        double sm = s > 0 ? NAN : dt_ema_add(&e, loss);
        r->lr[r->n] = lr, r->loss[r->n] = sm, r->n++;
        if (progress)
            fprintf(stderr, "%slr_find %d/%d lr %.2e loss %.4f", isatty(2) ? "\r" : "", i + 1,
                    r->iters, lr, sm);
        if (progress && !isatty(2)) fprintf(stderr, "\n");
        if (isnan(sm) || sm > 4 * best) break;
        if (sm < best && i > 10) best = sm;
    }
    if (open) src->end(src->ctx);
    if (progress && isatty(2)) fprintf(stderr, "\n");
    memcpy(net->params, saved, sizeof(float) * np);
    memcpy(net->opt_m, saved + np, sizeof(float) * np);
    memcpy(net->opt_v, saved + 2 * np, sizeof(float) * np);
    net->rng = rng;
    net->opt.t = t;
    net->opt.lr = lr0;
    net->images_seen = seen;
    memcpy(net->group_lr, group, sizeof group);
    dt_net_weights_changed(net);
    dt_net_push(net); // GPU: the restored parameters and moments back on the device
    dt_net_freeze_to(net, 0);
    free(saved);
    return rc;
}
