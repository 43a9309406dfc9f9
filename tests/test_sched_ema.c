// Schedules and the weights' EMA (docs/TRAIN.md, "Schedules", "Weight EMA"):
// the per-iteration lr (and OneCycleLR's momentum) of warm-up, cosine and
// onecycle stages against PyTorch's schedulers (tests/sched_ref.py through
// /usr/bin/python3); the EMA of a training run against a recomputation from
// the weights of each step; validation and the .weights files on the EMA; a
// resumed run with an EMA byte-identical to an uninterrupted one.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gpu.h"
#include "testutil.h"
#include "train/train.h"

// --- a source of random batches, made in memory (as tests/test_train.c's) ------

typedef struct {
    int B, H, W, C;
    int n_train, n_valid;
    uint64_t seed;
    int split, epoch, pos;
    dt_batch b;
} mem_src;

static int mem_begin(void *ctx, int split, int epoch) {
    mem_src *s = ctx;
    s->split = split, s->epoch = epoch, s->pos = 0;
    return 0;
}

static dt_batch *mem_next(void *ctx) {
    mem_src *s = ctx;
    int total = s->split == 0 ? s->n_train : s->n_valid;
    if (s->pos >= total) return NULL;
    dt_batch *b = &s->b;
    b->index = s->pos / s->B;
    b->n = total - s->pos < s->B ? total - s->pos : s->B;
    b->epoch = s->epoch;
    dt_rng r;
    dt_rng_seed3(&r, s->seed, (uint64_t)(s->epoch * 2 + s->split), (uint64_t)b->index);
    size_t img = (size_t)s->H * s->W * 3;
    for (int i = 0; i < b->n; i++) {
        int cls = (int)(dt_rng_u64(&r) % (uint64_t)s->C);
        b->largest_class[i] = cls;
        for (size_t k = 0; k < img; k++)
            b->images[i * img + k] = dt_rng_normal(&r) + (k % 3 == (size_t)cls % 3 ? 1.0f : 0);
    }
    s->pos += b->n;
    return b;
}

static void mem_end(void *ctx) { (void)ctx; }

static void mem_init(mem_src *s, dt_batch_source *bs, int B, int H, int C, int n_train,
                     int n_valid) {
    memset(s, 0, sizeof *s);
    s->B = B, s->H = s->W = H, s->C = C, s->n_train = n_train, s->n_valid = n_valid;
    s->seed = 11;
    s->b.cap = B, s->b.w = s->b.h = H, s->b.n_classes = C;
    s->b.images = calloc((size_t)B * H * H * 3, sizeof(float));
    s->b.largest_class = calloc((size_t)B, sizeof(int));
    *bs = (dt_batch_source){s, n_train / B, mem_begin, mem_next, mem_end};
}

static void mem_free(mem_src *s) {
    free(s->b.images);
    free(s->b.largest_class);
}

static dt_model *model_from(const char *text) {
    dt_cfg *cfg = dt_cfg_parse_string(text, "test.cfg");
    if (!cfg) {
        fprintf(stderr, "%s\n", dt_last_error());
        return NULL;
    }
    dt_net_opts o = {.with_grads = 1, .quiet = 1};
    dt_model *m = dt_model_from_cfg(cfg, "test.cfg", &o);
    if (!m) {
        fprintf(stderr, "%s\n", dt_last_error());
        dt_cfg_free(cfg);
    }
    return m;
}

// A small classifier with BN and two layer groups; `net_extra` goes into
// [net], `stages` after the layers. No dropout: a replica of the training
// loop in a test needs no rng.
static const char *cfg_text(const char *opt, const char *net_extra, const char *stages) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=3\noptimizer=%s\n"
             "momentum=0.9\n%s"
             "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\n"
             "activation=relu\n"
             "[convolutional]\ngroup=1\nfilters=6\nsize=3\npad=1\nbatch_normalize=1\n"
             "activation=relu\n"
             "[avgpool]\n[connected]\noutput=5\n[softmax]\n%s",
             opt, net_extra, stages);
    return buf;
}

// --- schedules against PyTorch ---------------------------------------------------

typedef struct {
    const char *opt, *stage;
    long n;
} sched_case;

static const char *kind_name(int k) {
    return k == DT_SCHED_COSINE ? "cosine" : k == DT_SCHED_ONECYCLE ? "onecycle" : "constant";
}

static void test_sched_vs_torch(void **state) {
    (void)state;
    // n not a multiple of anything; warm-up into cosine, into constant; onecycle
    // on Adam (beta1 cycled) and on SGD (momentum cycled), short and long
    const sched_case cases[] = {
        {"adam", "schedule=cosine\n", 37},
        {"adam", "schedule=cosine\nwarmup=7\nlr_min=1e-4\n", 50},
        {"sgd", "schedule=cosine\nwarmup=3\nwarmup_start=0.25\n", 11},
        {"adam", "warmup=5\nwarmup_start=0.3\n", 23},
        {"adam", "schedule=onecycle\n", 37},
        {"sgd",
         "schedule=onecycle\npct_start=0.25\ndiv_factor=10\nfinal_div_factor=100\n"
         "base_momentum=0.8\nmax_momentum=0.9\n",
         101},
        {"adam", "schedule=onecycle\npct_start=0.45\ncycle_momentum=0\n", 13},
    };
    const int nc = (int)(sizeof cases / sizeof cases[0]);
    char in[4200], out[4200], cmd[9000];
    snprintf(in, sizeof in, "%s/sched_in.txt", tu_tmpdir());
    snprintf(out, sizeof out, "%s/sched_out.txt", tu_tmpdir());
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    dt_model *m[16];
    for (int c = 0; c < nc; c++) {
        char st[1024];
        snprintf(st, sizeof st, "[stage]\nepochs=1\nlr=0.1,0.01\n%s", cases[c].stage);
        m[c] = model_from(cfg_text(cases[c].opt, "", st));
        assert_non_null(m[c]);
        const dt_stage *s = &m[c]->stages[0];
        // the float32 values the cfg gave, in full
        fprintf(f, "%s %ld %s %.17g %.17g %d %.17g %.17g %.17g %.17g %.17g %d %.17g %.17g\n",
                kind_name(s->sched), cases[c].n, cases[c].opt, (double)s->lr[0],
                (double)s->lr[1], s->warmup, (double)s->warmup_start, (double)s->lr_min,
                (double)s->pct_start, (double)s->div_factor, (double)s->final_div_factor,
                s->cycle_momentum, (double)s->base_momentum, (double)s->max_momentum);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/sched_ref.py %s %s", in, out);
    assert_int_equal(system(cmd), 0);
    f = fopen(out, "r");
    assert_non_null(f);
    double worst = 0;
    for (int c = 0; c < nc; c++) {
        dt_network *net = m[c]->net;
        const dt_stage *s = &m[c]->stages[0];
        dt_stage_enter(net, m[c], 0, net->opt.decay);
        for (long j = 0; j < cases[c].n; j++) {
            double want[3];
            assert_int_equal(fscanf(f, "%lf %lf %lf", &want[0], &want[1], &want[2]), 3);
            dt_stage_set_lr(net, s, cases[c].n, j);
            double got[3] = {net->group_lr[0], net->group_lr[1],
                             net->opt.kind == DT_OPT_SGD ? net->opt.momentum : net->opt.beta1};
            // the exact values in double, before the optimizer's float32
            double exact[2] = {dt_sched_lr(s, cases[c].n, j, s->lr[0]),
                               dt_sched_lr(s, cases[c].n, j, s->lr[1])};
            for (int k = 0; k < 3; k++) {
                double e = fabs(got[k] - want[k]) / (fabs(want[k]) + 1e-12);
                if (k < 2) {
                    double ed = fabs(exact[k] - want[k]) / (fabs(want[k]) + 1e-12);
                    if (ed > 1e-9)
                        fprintf(stderr, "case %d (%s) j %ld group %d: %.17g, torch %.17g\n", c,
                                cases[c].stage, j, k, exact[k], want[k]);
                    assert_true(ed <= 1e-9);
                }
                if (e > worst) worst = e;
                if (e > 1e-6)
                    fprintf(stderr, "case %d (%s) j %ld value %d: %.9g, torch %.9g\n", c,
                            cases[c].stage, j, k, got[k], want[k]);
                assert_true(e <= 1e-6); // float32 of the same number
            }
        }
        dt_model_free(m[c]);
    }
    fclose(f);
    printf("schedules: %d cases, worst relative difference to torch %.3g (float32 lr)\n", nc,
           worst);
}

// The values around the phase boundaries, written out: onecycle at n = 10,
// pct_start 0.3 (phase 1 ends at step 2), div 25, final_div 1e4.
static void test_onecycle_points(void **state) {
    (void)state;
    dt_model *m = model_from(cfg_text("adam", "", "[stage]\nepochs=1\nlr=1\nschedule=onecycle\n"));
    assert_non_null(m);
    const dt_stage *s = &m->stages[0];
    const double a = 1.0 / 25, lo = a / 1e4, end1 = 0.3f * 10.0 - 1;
    assert_true(fabs(dt_sched_lr(s, 10, 0, 1) - a) < 1e-15);   // starts at max/div
    assert_true(fabs(dt_sched_lr(s, 10, 9, 1) - lo) < 1e-15);  // ends at initial/final_div
    double pct = 1.0 / end1; // step 1 of phase 1
    assert_true(fabs(dt_sched_lr(s, 10, 1, 1) - (1 + (a - 1) / 2 * (cos(M_PI * pct) + 1))) <
                1e-15);
    assert_true(fabs(dt_sched_momentum(s, 10, 0) - 0.95f) < 1e-7); // max_momentum first
    // a stage after it gets [net]'s beta1 back
    dt_stage_set_lr(m->net, s, 10, 3);
    assert_true(m->net->opt.beta1 != 0.9f);
    dt_stage_enter(m->net, m, 0, 0);
    assert_true(m->net->opt.beta1 == 0.9f);
    dt_model_free(m);
}

static void test_sched_errors(void **state) {
    (void)state;
    const char *bad[][3] = {
        {"", "[stage]\nepochs=1\nschedule=linear\n", "schedule"},
        {"", "[stage]\nepochs=1\nschedule=clr\n", "clr"},
        {"", "[stage]\nepochs=1\nclr=10,3\nschedule=cosine\n", "clr"},
        {"", "[stage]\nepochs=1\nschedule=onecycle\nwarmup=5\n", "warmup"},
        {"", "[stage]\nepochs=1\nlr_min=1e-5\n", "lr_min"},
        {"", "[stage]\nepochs=1\nschedule=cosine\npct_start=0.2\n", "pct_start"},
        {"", "[stage]\nepochs=1\nschedule=onecycle\npct_start=1\n", "pct_start"},
        {"", "[stage]\nepochs=1\nwarmup_start=1.5\n", "warmup_start"},
        {"ema=1\n", "[stage]\nepochs=1\n", "ema"},
        {"ema=0.99x\n", "[stage]\nepochs=1\n", "ema"},
        {"ema_warmup=2\n", "[stage]\nepochs=1\n", "ema_warmup"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dt_cfg *cfg = dt_cfg_parse_string(cfg_text("adam", bad[i][0], bad[i][1]), "bad.cfg");
        assert_non_null(cfg);
        dt_net_opts o = {.with_grads = 1, .quiet = 1};
        dt_model *mm = dt_model_from_cfg(cfg, "bad.cfg", &o);
        assert_null(mm);
        assert_true(tu_error_has("bad.cfg:", bad[i][2], NULL));
        dt_cfg_free(cfg);
    }
}

// --- weight EMA ----------------------------------------------------------------------

static void test_wema_decay(void **state) {
    (void)state;
    assert_true(dt_wema_decay(0.9998, 0, 0) == 0.9998);
    assert_true(dt_wema_decay(0.9998, 1, 0) == 0.1);        // (1 + 0) / (10 + 0)
    assert_true(dt_wema_decay(0.9998, 1, 5) == 6.0 / 15.0); // (1 + 5) / (10 + 5)
    assert_true(dt_wema_decay(0.9998, 1, 100000) == 0.9998);
    float e[3] = {1, -2, 0.5f}, w[3] = {3, -2, 0.25f};
    dt_wema_update(e, w, 3, 0.75); // 0.75 * e + 0.25 * w
    assert_true(e[0] == 1.5f && e[1] == -2.0f && e[2] == 0.4375f);
}

static int load_into(dt_model *m, const char *path) {
    int rc = dt_net_load_weights(m->net, path);
    if (rc) fprintf(stderr, "%s\n", dt_last_error());
    return rc;
}

// The trainer's EMA after 2 epochs x 3 steps (onecycle, ema warm-up on)
// against d * ema + (1 - d) * w recomputed in double from the weights of a
// replica of the loop, step by step; the raw final weights are the replica's
// bit for bit; the table's val_loss is the EMA's (and not the raw weights').
static void test_wema_train(void **state) {
    (void)state;
    const char *cfg = cfg_text("adam", "ema=0.9\nema_warmup=1\n",
                               "[stage]\nepochs=2\nlr=1e-2\nschedule=onecycle\n");
    char dir[4096], fin[4200], raw[4200], tab[4200];
    snprintf(dir, sizeof dir, "%s/wema", tu_tmpdir());
    snprintf(fin, sizeof fin, "%s/e_final.weights", dir);
    snprintf(raw, sizeof raw, "%s/e_final_raw.weights", dir);
    snprintf(tab, sizeof tab, "%s/table.txt", tu_tmpdir());
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 14, 6); // 3 full batches (2 images dropped); valid 4 + 2
    dt_model *a = model_from(cfg);
    assert_non_null(a);
    assert_true(a->ema_decay == 0.9 && a->ema_warmup == 1);
    FILE *tf = fopen(tab, "w+");
    dt_train_opts o = {.name = "e", .backup = dir, .table = tf, .clear = 1};
    assert_int_equal(dt_train(a, &bs, &o), 0);

    // the replica: run_stages / train_epoch's steps, the EMA in double
    dt_model *b = model_from(cfg);
    dt_network *net = b->net;
    const size_t np = net->n_params;
    double *ema = malloc(sizeof(double) * np);
    for (size_t i = 0; i < np; i++) ema[i] = net->params[i];
    dt_stage_enter(net, b, 0, net->opt.decay);
    dt_net_reset_optim(net);
    const long n_it = 2L * bs.train_batches;
    long t = 0;
    for (int e = 0; e < 2; e++) {
        bs.begin(bs.ctx, 0, e);
        dt_batch *bt;
        while ((bt = bs.next(bs.ctx))) {
            if (bt->n < net->batch) continue;
            dt_stage_set_lr(net, &b->stages[0], n_it, t);
            float loss;
            assert_int_equal(dt_train_step(net, bt, &loss), 0);
            double d = fmin(0.9, (1.0 + (double)t) / (10.0 + (double)t));
            for (size_t i = 0; i < np; i++) ema[i] = d * ema[i] + (1 - d) * net->params[i];
            t++;
        }
    }
    assert_int_equal(t, 6);
    float *w_last = malloc(sizeof(float) * np);
    memcpy(w_last, net->params, sizeof(float) * np);

    dt_model *c = model_from(cfg);
    assert_int_equal(load_into(c, raw), 0);
    assert_true(memcmp(c->net->params, w_last, sizeof(float) * np) == 0);
    assert_int_equal(load_into(c, fin), 0);
    // the trained network in memory holds _final.weights' EMA too
    assert_true(memcmp(a->net->params, c->net->params, sizeof(float) * np) == 0);
    double worst = 0, moved = 0;
    for (size_t i = 0; i < np; i++) {
        double e = fabs(c->net->params[i] - ema[i]);
        if (e > worst) worst = e;
        double dm = fabs(ema[i] - w_last[i]);
        if (dm > moved) moved = dm;
    }
    printf("weight EMA: max |trainer - recomputed| %.3g; max |EMA - raw| %.3g\n", worst, moved);
    assert_true(worst < 2e-6);
    assert_true(moved > 1e-3); // the EMA is not the raw weights

    // the table: a line says what val_loss is; its last row's is the EMA's
    rewind(tf);
    char line[1024];
    int noted = 0;
    double val = NAN;
    while (fgets(line, sizeof line, tf)) {
        if (strstr(line, "# val_loss and metrics: the weights' EMA (ema=0.9, ema_warmup=1)"))
            noted = 1;
        int ep;
        double tl, vl;
        if (sscanf(line, "%d %lf %lf", &ep, &tl, &vl) == 3) val = vl;
    }
    fclose(tf);
    assert_true(noted);
    dt_valid_opts vo;
    dt_valid_opts_default(&vo);
    vo.aug = &c->aug;
    double loss[2];
    for (int k = 0; k < 2; k++) { // 0: EMA, 1: raw
        if (k == 1) {
            memcpy(c->net->params, w_last, sizeof(float) * np);
            dt_net_weights_changed(c->net);
        }
        bs.begin(bs.ctx, 1, 1);
        dt_valid_result r;
        assert_int_equal(dt_valid_pass(c->net, bs.next, bs.ctx, -1, &vo, &r), 0);
        bs.end(bs.ctx);
        loss[k] = r.loss * (r.loss_sums_rows ? c->net->batch : 1);
        dt_valid_result_free(&r);
    }
    printf("val_loss: table %.6f, EMA weights %.6f, raw weights %.6f\n", val, loss[0], loss[1]);
    assert_true(fabs(val - loss[0]) < 1.5e-6);
    assert_true(fabs(val - loss[1]) > 1e-4);
    free(ema);
    free(w_last);
    dt_model_free(a);
    dt_model_free(b);
    dt_model_free(c);
    mem_free(&ms);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static int same_file(const char *da, const char *db, const char *name) {
    char fa[4200], fb[4200];
    snprintf(fa, sizeof fa, "%s/%s", da, name);
    snprintf(fb, sizeof fb, "%s/%s", db, name);
    size_t na = 0, nb = 0;
    unsigned char *a = slurp(fa, &na), *b = slurp(fb, &nb);
    int same = a && b && na == nb && memcmp(a, b, na) == 0;
    if (!same) fprintf(stderr, "%s differs between %s and %s\n", name, da, db);
    free(a), free(b);
    return same;
}

// Two stages (warm-up + cosine, then onecycle on SGD), EMA on: stopped after
// epochs 1 and 3 of 4 and resumed each time in a new model, every file at the
// end is byte-identical to an uninterrupted run's.
static void test_wema_resume(void **state) {
    (void)state;
    const char *cfg =
        cfg_text("sgd", "ema=0.8\n",
                 "[stage]\nepochs=2\nlr=1e-2\nschedule=cosine\nwarmup=2\nlr_min=1e-4\n"
                 "[stage]\nepochs=2\nlr=1e-2,2e-2\nschedule=onecycle\npct_start=0.4\n");
    char da[4096], db[4096];
    snprintf(da, sizeof da, "%s/wema_a", tu_tmpdir());
    snprintf(db, sizeof db, "%s/wema_b", tu_tmpdir());
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 14, 6);
    dt_model *a = model_from(cfg);
    dt_train_opts o = {.name = "r", .backup = da};
    assert_int_equal(dt_train(a, &bs, &o), 0);
    o.backup = db;
    const int stops[] = {1, 2, 0};
    for (int k = 0; k < 3; k++) {
        o.max_epochs = stops[k];
        dt_model *b = model_from(cfg);
        assert_int_equal(dt_train(b, &bs, &o), stops[k] ? 1 : 0);
        dt_model_free(b);
    }
    assert_true(same_file(da, db, "r_final.weights"));
    assert_true(same_file(da, db, "r_final_raw.weights"));
    assert_true(same_file(da, db, "r_last.weights"));
    assert_true(same_file(da, db, "r_last.state"));
    // the state's EMA comes back, and a cfg without ema= is refused (recipe)
    char ps[4200];
    snprintf(ps, sizeof ps, "%s/r_last.state", db);
    dt_model *b = model_from(cfg);
    dt_train_state st = {0};
    st.recipe = dt_train_recipe(b, bs.train_batches, NULL);
    st.wema = calloc(b->net->n_params, sizeof(float));
    assert_int_equal(dt_state_load(b, &st, ps), 0);
    dt_model *fw = model_from(cfg);
    char pf[4200];
    snprintf(pf, sizeof pf, "%s/r_final.weights", db);
    assert_int_equal(load_into(fw, pf), 0);
    assert_true(memcmp(st.wema, fw->net->params, sizeof(float) * b->net->n_params) == 0);
    free((char *)st.recipe);
    free(st.hist);
    st.hist = NULL;
    dt_model *noema = model_from(cfg_text(
        "sgd", "", "[stage]\nepochs=2\nlr=1e-2\nschedule=cosine\nwarmup=2\nlr_min=1e-4\n"
                   "[stage]\nepochs=2\nlr=1e-2,2e-2\nschedule=onecycle\npct_start=0.4\n"));
    st.recipe = dt_train_recipe(noema, bs.train_batches, NULL);
    assert_int_equal(dt_state_load(noema, &st, ps), -1);
    assert_true(tu_error_has("r_last.state", "recipe", "ema", NULL));
    free((char *)st.recipe);
    free(st.wema);
    free(st.hist);
    dt_model_free(noema);
    dt_model_free(fw);
    dt_model_free(b);
    dt_model_free(a);
    mem_free(&ms);
}

// The trainer with the EMA on a GPU network (the device's buffer and kernel:
// engine/gpu.h dt_net_gpu_ema_*): its EMA against d * ema + (1 - d) * w
// recomputed in double from the weights of each step of a replica of the
// loop on the GPU, and a GPU run stopped after epoch 1 and resumed
// byte-identical to an uninterrupted one. Skipped without a GPU (run
// build-emu/tests/test_sched_ema for the CUDA emulator's).
static void test_wema_gpu(void **state) {
    (void)state;
    if (dt_gpu_count() == 0) {
        printf("SKIP wema_gpu: no GPU (dt_gpu_count() == 0)\n");
        return;
    }
    const char *cfg = cfg_text("adam", "ema=0.7\nema_warmup=1\n",
                               "[stage]\nepochs=3\nlr=1e-2\nschedule=cosine\nwarmup=2\n");
    char d[2][4096];
    snprintf(d[0], sizeof d[0], "%s/wg_full", tu_tmpdir());
    snprintf(d[1], sizeof d[1], "%s/wg_res", tu_tmpdir());
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 14, 6);
    for (int k = 0; k < 2; k++) {
        const int stops[] = {1, 0};
        for (int r = 0; r < k + 1; r++) {
            dt_model *m = model_from(cfg);
            if (dt_net_gpu_enable(m->net, 0) != 0) fail_msg("gpu: %s", tu_error());
            dt_train_opts o = {.name = "g", .backup = d[k], .max_epochs = k ? stops[r] : 0};
            assert_int_equal(dt_train(m, &bs, &o), k == 1 && r == 0 ? 1 : 0);
            dt_model_free(m);
        }
    }
    assert_true(same_file(d[0], d[1], "g_final.weights"));
    assert_true(same_file(d[0], d[1], "g_final_raw.weights"));
    assert_true(same_file(d[0], d[1], "g_last.state"));

    // the replica on the GPU, the EMA recomputed on the host from pulled weights
    dt_model *b = model_from(cfg);
    dt_network *net = b->net;
    if (dt_net_gpu_enable(net, 0) != 0) fail_msg("gpu: %s", tu_error());
    const size_t np = net->n_params;
    double *ema = malloc(sizeof(double) * np);
    float *want = malloc(sizeof(float) * np);
    for (size_t i = 0; i < np; i++) ema[i] = net->params[i];
    dt_stage_enter(net, b, 0, net->opt.decay);
    dt_net_reset_optim(net);
    const long n_it = 3L * bs.train_batches;
    long t = 0;
    for (int e = 0; e < 3; e++) {
        bs.begin(bs.ctx, 0, e);
        dt_batch *bt;
        while ((bt = bs.next(bs.ctx))) {
            if (bt->n < net->batch) continue;
            dt_stage_set_lr(net, &b->stages[0], n_it, t);
            float loss;
            assert_int_equal(dt_train_step(net, bt, &loss), 0);
            dt_net_pull(net);
            double dd = fmin(0.7, (1.0 + (double)t) / (10.0 + (double)t));
            for (size_t i = 0; i < np; i++) ema[i] = dd * ema[i] + (1 - dd) * net->params[i];
            t++;
        }
    }
    dt_model *c = model_from(cfg);
    char p[4200];
    snprintf(p, sizeof p, "%s/g_final_raw.weights", d[0]);
    assert_int_equal(load_into(c, p), 0);
    int ok = tu_check("wema_gpu: raw weights, trainer vs replica", c->net->params, net->params,
                      np, 1e-5);
    snprintf(p, sizeof p, "%s/g_final.weights", d[0]);
    assert_int_equal(load_into(c, p), 0);
    for (size_t i = 0; i < np; i++) want[i] = (float)ema[i];
    ok &= tu_check("wema_gpu: EMA, trainer vs recomputed", c->net->params, want, np, 1e-5);
    assert_true(ok);
    free(ema);
    free(want);
    dt_model_free(b);
    dt_model_free(c);
    mem_free(&ms);
}

int main(void) {
    omp_set_num_threads(1);
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_vs_torch), cmocka_unit_test(test_onecycle_points),
        cmocka_unit_test(test_sched_errors),   cmocka_unit_test(test_wema_decay),
        cmocka_unit_test(test_wema_train),     cmocka_unit_test(test_wema_resume),
        cmocka_unit_test(test_wema_gpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
