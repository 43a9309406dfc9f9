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
#include "dist/dist.h"
#include "dist/grad_sync.h"
#include "media/chart.h"
#include "engine/gpu.h"
#include "eval/valid.h"

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

int dt_train_step(dt_network *net, const dt_batch *b, float *loss) {
    *loss = NAN;
    if (dt_net_feed(net, b, 1) != 0) return -1;
    dt_net_set_train(net, 1);
    dt_net_forward(net);
    *loss = net->loss;
    if (dt_dist_active()) { // the mean over ranks: NaN on one rank stops every rank
        double l = net->loss;
        dt_dist_allreduce_d(&l, 1);
        *loss = (float)(l / dt_dist_size());
    }
    if (!isfinite(*loss)) return 1;
    dt_net_backward(net);
    dt_net_step(net);
    // the images every rank's batch of this step held (the weights' count)
    net->images_seen += (uint64_t)net->batch * (uint64_t)(dt_dist_size() - 1);
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

// The loss panel, and the metric's panel when at least one epoch was
// validated (without a point it would be an empty panel on a made-up axis).
static int write_chart(const char *path, const dt_train_state *st, const char *metric) {
    int n = st->n_hist, validated = 0;
    for (int i = 0; i < n; i++) validated |= isfinite(st->hist[3 * i + 2]) != 0;
    if (!validated) metric = NULL;
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

// One run of dt_train: what its steps share.
typedef struct {
    dt_model *m;
    dt_network *net;
    dt_batch_source *src;
    const dt_train_opts *o;
    dt_train_state st;
    train_paths P;
    char *recipe;
    int total;         // epochs over all stages
    int ge;            // global epoch (0-based)
    float base_decay;  // [net] decay, before any stage changed it
    int header, n_names, run_epochs;
    double t_start;
    long skipped, unfilled; // images left out by drop_last / batch places left empty
    int rank0;              // this process writes (rank 0, or the only one)
    dt_grad_sync *sync;     // data-parallel gradient averaging; NULL in one process
    float *raw;             // with a weight EMA: the raw parameters while the EMA's are in
} train_run;

// Steps between two comparisons of the ranks' weights (docs/DISTRIBUTED.md).
#define DIST_CHECK_EVERY 100

// The epoch's validation outcome.
typedef struct {
    int validated, nm;
    double val; // in trn_loss's unit (see validate)
    dt_metric m[DT_MAX_METRICS];
} epoch_scores;

static void print_header(FILE *f, const dt_metric *m, int nm) {
    fprintf(f, "%5s %10s %10s", "epoch", "trn_loss", "val_loss");
    for (int i = 0; i < nm; i++) fprintf(f, " %10s", m[i].name);
    fprintf(f, "\n");
}

// --- weight EMA (docs/TRAIN.md, "Weight EMA") ----------------------------------------
// Validation and the .weights files use the EMA: it takes the parameters'
// place (host and device) between ema_in and ema_out; the optimizer never
// sees it.

// GPU: the device's EMA (dt_wema_net updates it there) into st.wema.
static void ema_fetch(train_run *R) {
    if (R->st.wema && R->net->gpu) dt_net_gpu_ema_fetch(R->net, R->st.wema);
}

static void ema_in(train_run *R) {
    dt_network *net = R->net;
    if (!R->st.wema) return;
    const size_t np = net->n_params;
    ema_fetch(R);
    dt_net_pull(net); // GPU: the newest parameters and moments on the host
    if (!R->raw) R->raw = dt_alloc_floats(np);
    memcpy(R->raw, net->params, sizeof(float) * np);
    memcpy(net->params, R->st.wema, sizeof(float) * np);
    dt_net_weights_changed(net);
    dt_net_gpu_put(net, net->params, np); // a pull (saving weights) must find the EMA there
}

static void ema_out(train_run *R) {
    dt_network *net = R->net;
    if (!R->st.wema) return;
    memcpy(net->params, R->raw, sizeof(float) * net->n_params);
    dt_net_weights_changed(net);
    dt_net_gpu_put(net, net->params, net->n_params);
}

// The EMA starts as the weights training starts from (rank 0's, resumed or
// not: every rank read the same state).
static void ema_begin(train_run *R, int resumed) {
    dt_network *net = R->net;
    if (!R->st.wema) return;
    if (!resumed) {
        dt_net_pull(net);
        memcpy(R->st.wema, net->params, sizeof(float) * net->n_params);
    }
    if (dt_dist_active()) dt_dist_bcast(R->st.wema, sizeof(float) * net->n_params, 0);
    dt_net_gpu_ema_put(net, R->st.wema); // GPU: updated on the device from now on
}

// Runs validation through the evaluator's loop (eval/valid.h), whose loss is
// the mean per image; the table shows it in trn_loss's unit, the loss
// layer's value for one full batch (fastai's tables): the mean itself for
// most heads, times the batch for a head whose loss sums a batch's rows
// ([ssd], the lesson's ssd_loss), so that a short last batch weighs by its
// images. -1 on a source error, NaN kept as such.
static int validate(train_run *R, epoch_scores *e) {
    dt_valid_opts vo;
    dt_valid_opts_default(&vo);
    vo.aug = &R->m->aug;
    vo.shard = dt_valid_sharded(R->net); // the source's valid loader is sharded then
    if (R->src->begin(R->src->ctx, 1, R->ge) != 0) return -1;
    dt_valid_result r;
    ema_in(R);
    int rc = dt_valid_pass(R->net, R->src->next, R->src->ctx, -1, &vo, &r);
    ema_out(R);
    R->src->end(R->src->ctx);
    if (rc != 0) return -1;
    e->val = r.n_images ? r.loss * (r.loss_sums_rows ? R->net->batch : 1) : NAN;
    e->nm = r.n_metrics;
    memcpy(e->m, r.metrics, sizeof(dt_metric) * (size_t)r.n_metrics);
    dt_valid_result_free(&r);
    return 0;
}

// Checks, the recipe text, the checkpoint paths, and the resume. 0 / -1.
static int run_begin(train_run *R) {
    dt_network *net = R->net;
    const dt_train_opts *o = R->o;
    if (dt_train_check(net) != 0) return -1;
    if (R->m->n_stages == 0) {
        dt_error("%s: no [stage] section: add e.g. [stage] epochs=10 lr=1e-3 to the cfg",
                 net->cfg_path);
        return -1;
    }
    if (R->src->train_batches < 1) {
        dt_error("the training split gives no full batch of %d images (lower batch= in "
                 "[net] of %s)",
                 net->batch, net->cfg_path);
        return -1;
    }
    for (int s = 0; s < R->m->n_stages; s++) R->total += R->m->stages[s].epochs;
    R->st.seed = net->seed;
    dt_ema_init(&R->st.ema, 0.98);
    // what this run is made of, before any stage changes the optimizer's decay
    R->recipe = dt_train_recipe(R->m, o->recipe_batches ? o->recipe_batches
                                                        : R->src->train_batches,
                                o->data);
    R->st.recipe = R->recipe;
    R->base_decay = net->opt.decay;
    R->t_start = dt_now();
    if (R->m->ema_decay > 0) R->st.wema = dt_alloc_floats(net->n_params);
    if (dt_grad_sync_attach(net, 0, &R->sync) != 0) return -1;
    if (!o->backup) {
        dt_dist_sync_net(net); // every rank starts from rank 0's weights
        ema_begin(R, 0);
        return 0;
    }
    const char *name = o->name ? o->name : "net";
    train_paths *P = &R->P;
    if (R->rank0) { // rank 0 alone writes (docs/DISTRIBUTED.md)
        if (dt_mkdirs(o->backup) != 0) return -1;
        dt_remove_stale_temps(o->backup, name); // a save cut by kill -9 left them
    }
    snprintf(P->last_w, sizeof P->last_w, "%s/%s_last.weights", o->backup, name);
    snprintf(P->last_s, sizeof P->last_s, "%s/%s_last.state", o->backup, name);
    snprintf(P->best_w, sizeof P->best_w, "%s/%s_best.weights", o->backup, name);
    snprintf(P->final_w, sizeof P->final_w, "%s/%s_final.weights", o->backup, name);
    snprintf(P->chart, sizeof P->chart, "%s/%s_chart.png", o->backup, name);
    int resumed = 0;
    if (!o->clear && access(P->last_s, F_OK) == 0) {
        const uint64_t asked = net->seed;
        resumed = 1;
        if (dt_state_load(R->m, &R->st, P->last_s) != 0) return -1;
        if (R->st.seed != asked)
            dt_warn("%s was made with seed %llu: resuming with it (not %llu)\n", P->last_s,
                    (unsigned long long)R->st.seed, (unsigned long long)asked);
        net->seed = R->st.seed; // the batch source reads it: same data as before the stop
        // The schedule's position is the epoch boundary in this run's steps:
        // with another number of ranks an epoch has another number of steps
        // (docs/DISTRIBUTED.md, resume); the stored one for the same number
        // (unless batches were left out for unreadable images).
        R->st.stage_iter = (long)R->st.epoch * R->src->train_batches;
        const dt_train_state *st = &R->st;
        int s = st->stage < R->m->n_stages ? st->stage : R->m->n_stages - 1;
        if (R->rank0)
            fprintf(stderr, "train: resuming from %s: stage %d, epoch %d of %d (iteration %ld)\n",
                    P->last_s, st->stage + 1, st->epoch + 1, R->m->stages[s].epochs, st->iter);
    } else if (o->clear && access(P->last_s, F_OK) == 0) {
        dt_log("train: -clear: starting again (%s will be overwritten)\n", P->last_s);
    }
    // Every rank read the same checkpoint (the backup folder is shared) or
    // none; then rank 0's parameters, moments, rng and seed are everyone's.
    const dt_train_state *st = &R->st;
    const uint64_t pos = ((uint64_t)(st->stage + 1) << 32) ^ (uint64_t)(st->epoch + 1) ^
                         ((uint64_t)st->iter << 40);
    if (dt_dist_agree_u64(pos, "the resume position (stage, epoch, iteration: is the backup "
                               "folder shared by every rank?)") != 0)
        return -1;
    dt_dist_sync_net(net);
    ema_begin(R, resumed);
    return 0;
}

// Trains one epoch of stage `stage`. *timeout: stopped by -minutes. 0 / -1.
static int train_epoch(train_run *R, const dt_stage *stage, int *timeout) {
    dt_network *net = R->net;
    dt_batch_source *src = R->src;
    dt_train_state *st = &R->st;
    const long n_it = (long)stage->epochs * src->train_batches;
    progress pr;
    progress_start(&pr, R->o->progress, src->train_batches, R->ge, R->total);
    if (src->begin(src->ctx, 0, R->ge) != 0) return -1;
    dt_batch *b;
    int done = 0;
    *timeout = 0;
    while ((b = src->next(src->ctx))) {
        int short_b = b->n < net->batch;
        if (dt_dist_active()) { // a batch is trained by every rank or by none
            double f = short_b;
            dt_dist_allreduce_d(&f, 1);
            if (f > 0 && !short_b) continue; // another rank's batch came short
        }
        if (short_b) { // drop_last: see dt_train
            if (b->n < b->want) R->unfilled += b->want - b->n; // unreadable images
            else R->skipped += b->n;
            continue;
        }
        dt_stage_set_lr(net, stage, n_it, st->stage_iter);
        float loss;
        int r = dt_train_step(net, b, &loss);
        if (r != 0) {
            if (pr.tty) fprintf(stderr, "\n");
            src->end(src->ctx);
            if (r > 0)
                dt_error("the loss is %g at iteration %ld (stage %d, epoch %d, batch "
                         "%d of the epoch): training stopped; the last checkpoint%s%s "
                         "is left as it was",
                         loss, st->iter + 1, st->stage + 1, R->ge + 1, done + 1,
                         R->o->backup ? " " : "", R->o->backup ? R->P.last_s : "");
            return -1;
        }
        dt_ema_add(&st->ema, loss);
        if (st->wema) // update st->iter (0-based) of the weights' EMA
            dt_wema_net(net, st->wema, dt_wema_decay(R->m->ema_decay, R->m->ema_warmup, st->iter));
        st->iter++, st->stage_iter++, done++;
        if (R->sync && st->iter % DIST_CHECK_EVERY == 0 && dt_dist_check_weights(net) != 0) {
            src->end(src->ctx);
            return -1;
        }
        progress_show(&pr, done, net->batch, dt_ema_value(&st->ema), dt_net_top_lr(net), 0);
        int out_of_time = R->o->minutes > 0 && dt_now() - R->t_start > 60 * R->o->minutes;
        if (dt_dist_active() && R->o->minutes > 0) // rank 0's clock decides for all
            dt_dist_bcast(&out_of_time, sizeof out_of_time, 0);
        if (out_of_time) {
            *timeout = 1;
            break;
        }
    }
    src->end(src->ctx);
    progress_show(&pr, done, net->batch, dt_ema_value(&st->ema), dt_net_top_lr(net), 1);
    if (R->sync) {
        // the weights agree, and rank 0's batch-norm running statistics (each
        // rank's own without sync_bn) become everyone's, as torch's DDP buffers
        if (dt_dist_check_weights(net) != 0) return -1;
        dt_dist_sync_params(net);
        // the same for the EMA: its running statistics averaged each rank's own
        if (st->wema) {
            ema_fetch(R);
            dt_dist_bcast(st->wema, sizeof(float) * net->n_params, 0);
            dt_net_gpu_ema_put(net, st->wema);
        }
    }
    if (done == 0 && !*timeout) {
        // Not one step: the loss would print as 0 and the weights
        // saved as trained. An error instead, before anything is written.
        dt_error("epoch %d trained no step: the training split gave no full batch "
                 "of %d images (each image that cannot be read is named in a warning "
                 "above); nothing was saved for this epoch",
                 R->ge + 1, net->batch);
        return -1;
    }
    return 0;
}

// The epoch table's row (and, the first time, its header).
static void print_row(train_run *R, const epoch_scores *e, int timeout) {
    FILE *f = R->o->table;
    if (!f) return;
    if (!R->header) { // the metric names; without a pass, from the head
        dt_metric names[DT_MAX_METRICS];
        R->n_names = e->validated ? e->nm : dt_valid_metric_names(R->net, names, DT_MAX_METRICS);
        if (R->st.wema)
            fprintf(f, "# val_loss and metrics: the weights' EMA (ema=%g%s)\n", R->m->ema_decay,
                    R->m->ema_warmup ? ", ema_warmup=1" : "");
        print_header(f, e->validated ? e->m : names, R->n_names);
        R->header = 1;
    }
    fprintf(f, "%5d %10.6f", R->ge, dt_ema_value(&R->st.ema));
    if (!e->validated) {
        for (int i = 0; i <= R->n_names; i++) fprintf(f, " %10s", "-");
    } else {
        fprintf(f, " %10.6f", e->val);
        for (int i = 0; i < e->nm; i++) fprintf(f, " %10.6f", e->m[i].value);
    }
    fprintf(f, "%s\n", timeout ? "  (stopped: -minutes)" : "");
    fflush(f);
}

// Records the epoch in the history; 1 when it is the best so far.
static int record_epoch(train_run *R, const epoch_scores *e) {
    dt_train_state *st = &R->st;
    double *h = st->hist + 3 * st->n_hist++;
    h[0] = dt_ema_value(&st->ema), h[1] = e->val, h[2] = e->nm ? e->m[0].value : NAN;
    double sel = e->nm ? (e->m[0].higher_is_better ? e->m[0].value : -e->m[0].value) : -e->val;
    int better = isfinite(sel) && (!st->has_best || sel > st->best);
    if (better) st->best = sel, st->has_best = 1;
    return better;
}

// The checkpoint after an epoch: weights, the state at the position after
// it, the best weights, the chart. 0 / -1.
static int save_epoch(train_run *R, const dt_stage *stage, const epoch_scores *e, int better) {
    dt_train_state next = R->st;
    next.epoch++;
    if (next.epoch == stage->epochs) next.stage++, next.epoch = 0, next.stage_iter = 0;
    // the .weights are the EMA's (when on); the state holds both
    ema_in(R);
    int bad = dt_net_save_weights(R->net, R->P.last_w) != 0 ||
              (better && dt_net_save_weights(R->net, R->P.best_w) != 0);
    ema_out(R);
    if (bad || dt_state_save(R->m, &next, R->P.last_s) != 0) return -1;
    if (write_chart(R->P.chart, &R->st, e->nm ? e->m[0].name : NULL) != 0)
        dt_warn("%s\n", dt_last_error()); // a chart is not worth stopping for
    return 0;
}

// One epoch: train, validate when due, report, checkpoint. 0: go on; 1: the
// run stops here (-minutes: *finish set; -max_epochs); -1: error.
static int run_epoch(train_run *R, const dt_stage *stage, int *finish) {
    int timeout;
    if (train_epoch(R, stage, &timeout) != 0) return -1;
    const dt_train_state *st = &R->st;
    const int last = timeout || (st->stage == R->m->n_stages - 1 && st->epoch == stage->epochs - 1);
    const int every = R->o->valid_every == 0 ? 1 : R->o->valid_every;
    epoch_scores e = {.val = NAN};
    // all ranks hold rank 0's weights now: a detection head is scored by
    // every rank on its shard and gathered to rank 0; another by rank 0 alone
    e.validated = (R->rank0 || dt_valid_sharded(R->net)) && every > 0 &&
                  ((R->ge + 1) % every == 0 || last);
    if (e.validated && validate(R, &e) != 0) return -1;
    print_row(R, &e, timeout);
    const int better = record_epoch(R, &e);
    if (timeout) {
        // the state stays at the last epoch boundary: a later run redoes this epoch
        dt_log("train: -minutes %.1f reached in epoch %d\n", R->o->minutes, R->ge + 1);
        *finish = 1;
        return 1;
    }
    if (R->o->backup && R->rank0 && save_epoch(R, stage, &e, better) != 0) return -1;
    if (R->o->max_epochs > 0 && ++R->run_epochs >= R->o->max_epochs) return 1;
    return 0;
}

// Every stage from the state's position. 0, 1 (stopped early), -1;
// *finish: the final weights and chart are due.
static int run_stages(train_run *R, int *finish) {
    dt_train_state *st = &R->st;
    st->hist = dt_realloc(st->hist, sizeof(double) * 3 * (R->total + 1));
    st->cap_hist = R->total + 1;
    for (int s = 0; s < st->stage; s++) R->ge += R->m->stages[s].epochs;
    R->ge += st->epoch;
    for (; st->stage < R->m->n_stages; st->stage++, st->epoch = 0, st->stage_iter = 0) {
        const dt_stage *stage = &R->m->stages[st->stage];
        dt_stage_enter(R->net, R->m, st->stage, R->base_decay);
        if (st->epoch == 0) { // a fresh stage: fastai's new fit()
            dt_net_reset_optim(R->net);
            dt_ema_init(&st->ema, 0.98);
            st->stage_iter = 0;
        }
        for (; st->epoch < stage->epochs; st->epoch++, R->ge++) {
            int rc = run_epoch(R, stage, finish);
            if (rc != 0) return rc;
        }
    }
    *finish = 1;
    return 0;
}

// The final weights and chart. 0 / -1.
static int run_finish(train_run *R) {
    if (!R->o->backup || !R->rank0) return 0;
    if (R->st.wema) { // the raw weights beside the EMA's
        char raw[4200];
        snprintf(raw, sizeof raw, "%.*s_final_raw.weights",
                 (int)(strlen(R->P.final_w) - strlen("_final.weights")), R->P.final_w);
        if (dt_net_save_weights(R->net, raw) != 0) return -1;
    }
    ema_in(R);
    int bad = dt_net_save_weights(R->net, R->P.final_w) != 0;
    ema_out(R);
    if (bad) return -1;
    dt_metric m[DT_MAX_METRICS];
    int nm = dt_valid_metric_names(R->net, m, DT_MAX_METRICS);
    if (write_chart(R->P.chart, &R->st, nm ? m[0].name : NULL) != 0)
        dt_warn("%s\n", dt_last_error());
    return 0;
}

int dt_train(dt_model *m, dt_batch_source *src, const dt_train_opts *o) {
    train_run R = {.m = m, .net = m->net, .src = src, .o = o, .rank0 = dt_dist_rank() == 0};
    int finish = 0;
    int rc = run_begin(&R);
    if (rc == 0) rc = run_stages(&R, &finish);
    if (rc != -1 && finish && run_finish(&R) != 0) rc = -1;
    if (rc != -1 && dt_dist_active()) { // the job's counts (a failed rank ends the job instead)
        double n[2] = {(double)R.skipped, (double)R.unfilled};
        dt_dist_allreduce_d(n, 2);
        R.skipped = (long)n[0], R.unfilled = (long)n[1];
    }
    if (R.skipped)
        dt_log("train: %ld images in incomplete batches left out (drop_last; with shuffling "
               "each epoch leaves out others)\n",
               R.skipped);
    if (R.unfilled && R.rank0)
        dt_warn("train: %ld batch places stayed empty because images could not be read and "
                "no readable replacement was found; those batches were not trained\n",
                R.unfilled);
    if (R.sync && dt_dist_opts_get()->stats) {
        double comm, wait;
        long steps;
        dt_grad_sync_times(R.sync, &comm, &wait, &steps);
        dt_log("train: gradient all-reduce %.2f ms per step, %.2f ms of it not hidden by "
               "backward (%ld steps, %d ranks)\n",
               steps ? 1e3 * comm / steps : 0.0, steps ? 1e3 * wait / steps : 0.0, steps,
               dt_dist_size());
    }
    dt_grad_sync_detach(R.sync);
    // the network leaves with the weights of _final.weights: the EMA's when on
    // (the C and Python API's handle then predicts with them)
    if (rc != -1) ema_in(&R);
    // a onecycle stage cycled them: the network leaves with its cfg's values
    m->net->opt.beta1 = m->net_beta1, m->net->opt.momentum = m->net_momentum;
    free(R.st.hist);
    free(R.st.wema);
    free(R.raw);
    free(R.recipe);
    return rc;
}

// --- lr_find ---------------------------------------------------------------------------

// Everything lr_find changes, to put back afterwards.
typedef struct {
    float *saved; // params, m, v
    dt_rng rng;
    long t;
    uint64_t seen;
    float group[DT_MAX_GROUPS];
    float decay;
    int freeze; // freeze_to that gives the frozen layers (groups 0..freeze-1)
    int train;
} net_snapshot;

static void snapshot_take(dt_network *net, net_snapshot *s) {
    const size_t np = net->n_params;
    dt_net_pull(net); // GPU: the device holds the newest parameters and moments
    s->saved = dt_alloc_floats(3 * np);
    memcpy(s->saved, net->params, sizeof(float) * np);
    memcpy(s->saved + np, net->opt_m, sizeof(float) * np);
    memcpy(s->saved + 2 * np, net->opt_v, sizeof(float) * np);
    s->rng = net->rng;
    s->t = net->opt.t;
    s->seen = net->images_seen;
    memcpy(s->group, net->group_lr, sizeof s->group);
    s->decay = net->opt.decay;
    s->train = net->train;
    s->freeze = 0; // freezing is by groups (dt_net_freeze_to): the frozen prefix
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].frozen && net->layers[i].group + 1 > s->freeze)
            s->freeze = net->layers[i].group + 1;
}

static void snapshot_restore(dt_network *net, net_snapshot *s) {
    const size_t np = net->n_params;
    memcpy(net->params, s->saved, sizeof(float) * np);
    memcpy(net->opt_m, s->saved + np, sizeof(float) * np);
    memcpy(net->opt_v, s->saved + 2 * np, sizeof(float) * np);
    net->rng = s->rng;
    net->opt.t = s->t;
    net->images_seen = s->seen;
    memcpy(net->group_lr, s->group, sizeof s->group);
    net->opt.decay = s->decay;
    dt_net_freeze_to(net, s->freeze);
    dt_net_set_train(net, s->train);
    dt_net_weights_changed(net);
    dt_net_push(net); // GPU: the restored parameters and moments back on the device
    free(s->saved);
    s->saved = NULL;
}

// The next full training batch, opening passes as needed (*open, *epoch);
// NULL + dt_error when the source gives none.
static dt_batch *lr_find_batch(dt_network *net, dt_batch_source *src, int *open, int *epoch,
                               int iters) {
    dt_batch *b = NULL;
    while (!b) {
        if (!*open) {
            if (src->begin(src->ctx, 0, (*epoch)++) != 0) return NULL;
            *open = 1;
        }
        b = src->next(src->ctx);
        if (!b) {
            src->end(src->ctx), *open = 0;
            if (*epoch > iters + 1) break; // a source that gives nothing
        } else if (b->n < net->batch) {
            b = NULL;
        }
    }
    if (!b) dt_error("lr_find: the training split gives no full batch");
    return b;
}

int dt_lr_find(dt_model *m, dt_batch_source *src, dt_lr_find_result *r, int progress) {
    dt_network *net = m->net;
    if (dt_train_check(net) != 0) return -1;
    if (r->iters < 2 || !(r->start > 0) || !(r->end > r->start)) {
        dt_error("lr_find: need iterations >= 2 and 0 < start < end (got %d, %g, %g)",
                 r->iters, r->start, r->end);
        return -1;
    }
    dt_grad_sync *sync = NULL; // data-parallel: each rank's shard, gradients averaged
    if (dt_grad_sync_attach(net, 0, &sync) != 0) return -1;
    dt_dist_sync_net(net);
    net_snapshot snap;
    snapshot_take(net, &snap);
    r->lr = dt_malloc(sizeof(double) * r->iters);
    r->loss = dt_malloc(sizeof(double) * r->iters);
    r->n = 0;
    dt_net_reset_optim(net);
    if (m->n_stages > 0) dt_stage_enter(net, m, 0, net->opt.decay); // the first stage's
    dt_ema e;
    dt_ema_init(&e, 0.98);
    double best = 1e9;
    int rc = 0, epoch = 0, open = 0;
    for (int i = 0; i < r->iters; i++) {
        dt_batch *b = lr_find_batch(net, src, &open, &epoch, r->iters);
        if (!b) {
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
    snapshot_restore(net, &snap);
    dt_grad_sync_detach(sync);
    return rc;
}
