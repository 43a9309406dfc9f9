// Training machinery: the cyclical schedule against docs/SEMANTICS.md §5 and
// fastai 0.7's CircularLR, per-group learning rates, freezing, the
// debiased EMA, the NaN stop, and checkpoints that resume bit-exactly.
// Batches come from memory (a dt_batch_source), no image files.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/train.h"

// --- a source of random batches, made in memory --------------------------------

typedef struct {
    int B, H, W, C;     // batch, image size, classes
    int n_train, n_valid; // images per split (a partial last batch is allowed)
    uint64_t seed;
    int nan_epoch, nan_batch; // put a NaN into this training batch (-1: never)
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
    // the data of a batch depend on (seed, split, epoch, index) only
    dt_rng r;
    dt_rng_seed3(&r, s->seed, (uint64_t)(s->epoch * 2 + s->split), (uint64_t)b->index);
    size_t img = (size_t)s->H * s->W * 3;
    for (int i = 0; i < b->n; i++) {
        int cls = (int)(dt_rng_u64(&r) % (uint64_t)s->C);
        b->largest_class[i] = cls;
        for (size_t k = 0; k < img; k++) // the class shows in the mean of channel cls % 3
            b->images[i * img + k] = dt_rng_normal(&r) + (k % 3 == (size_t)cls % 3 ? 1.0f : 0);
    }
    if (s->split == 0 && s->epoch == s->nan_epoch && b->index == s->nan_batch)
        b->images[5] = NAN;
    s->pos += b->n;
    return b;
}

static void mem_end(void *ctx) { (void)ctx; }

static void mem_init(mem_src *s, dt_batch_source *bs, int B, int H, int C, int n_train,
                     int n_valid) {
    memset(s, 0, sizeof *s);
    s->B = B, s->H = s->W = H, s->C = C, s->n_train = n_train, s->n_valid = n_valid;
    s->seed = 11, s->nan_epoch = s->nan_batch = -1;
    s->b.cap = B, s->b.w = s->b.h = H, s->b.n_classes = C;
    s->b.images = calloc((size_t)B * H * H * 3, sizeof(float));
    s->b.largest_class = calloc((size_t)B, sizeof(int));
    *bs = (dt_batch_source){s, n_train / B, mem_begin, mem_next, mem_end};
}

static void mem_free(mem_src *s) {
    free(s->b.images);
    free(s->b.largest_class);
}

// The models (train/model.h: network, recipe, augmentation) behind the
// networks of these tests: the trainer takes the model, the tests look at
// its network.
#define MAX_MODELS 8
static dt_model *models[MAX_MODELS];

static dt_network *net_from(const char *text) {
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
        return NULL;
    }
    for (int i = 0; i < MAX_MODELS; i++)
        if (!models[i]) {
            models[i] = m;
            return m->net;
        }
    fprintf(stderr, "more than %d models at once\n", MAX_MODELS);
    abort();
}

static dt_model *M(const dt_network *net) {
    for (int i = 0; i < MAX_MODELS; i++)
        if (models[i] && models[i]->net == net) return models[i];
    fprintf(stderr, "a network without a model\n");
    abort();
}

// Frees a network and, for one of net_from, its model.
static void net_free(dt_network *net) {
    for (int i = 0; i < MAX_MODELS; i++)
        if (models[i] && models[i]->net == net) {
            dt_model_free(models[i]);
            models[i] = NULL;
            return;
        }
    dt_net_free(net);
}

// A small classifier with BN (train/inference statistics), dropout (net->rng)
// and two layer groups.
static const char *classifier_cfg(const char *stages) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=3\noptimizer=adam\n"
             "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\n"
             "activation=relu\n"
             "[convolutional]\ngroup=1\nfilters=6\nsize=3\npad=1\nbatch_normalize=1\n"
             "activation=relu\n"
             "[avgpool]\n[dropout]\np=0.3\n[connected]\noutput=5\n[softmax]\n%s",
             stages);
    return buf;
}

// --- schedule ---------------------------------------------------------------------

// docs/SEMANTICS.md §5, written out again: cut = n // cut_div; pct = j/cut if
// j <= cut else 1 - (j-cut)/(cut*(cut_div-1)); lr = lr_max*(1+pct*(div-1))/div.
static double spec_clr(long n, long j, double div, double cut_div) {
    long cut = (long)(n / cut_div);
    double pct = j <= cut ? (double)j / cut : 1 - (double)(j - cut) / (cut * (cut_div - 1));
    if (pct < 0) pct = 0; // only reachable when n % cut_div != 0 (see train.h)
    return (1 + pct * (div - 1)) / div;
}

// fastai 0.7 sgdr.py, CircularLR.calc_lr (cycle_iter = j, nb = n):
//   cut_pt = self.nb//self.cut_div
//   if self.cycle_iter>cut_pt: pct = 1 - (self.cycle_iter - cut_pt)/(self.nb - cut_pt)
//   else: pct = self.cycle_iter/cut_pt
//   res = init_lrs * (1 + pct*(self.div-1)) / self.div
static double fastai_clr(long nb, long j, double div, double cut_div) {
    long cut_pt = (long)floor(nb / cut_div);
    double pct = j > cut_pt ? 1 - (double)(j - cut_pt) / (nb - cut_pt) : (double)j / cut_pt;
    return (1 + pct * (div - 1)) / div;
}

static void test_clr_schedule(void **state) {
    (void)state;
    const struct {
        long n;
        double div, cut_div;
    } cases[] = {{100, 32, 5}, {240, 20, 8}, {60, 20, 10}, {37, 10, 4}, {9, 32, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long n = cases[c].n;
        double div = cases[c].div, cd = cases[c].cut_div;
        long cut = (long)(n / cd);
        for (long j = 0; j < n; j++) {
            double got = dt_clr_scale(n, j, div, cd);
            assert_true(fabs(got - spec_clr(n, j, div, cd)) < 1e-12);
            if (n % (long)cd == 0) assert_true(fabs(got - fastai_clr(n, j, div, cd)) < 1e-12);
            assert_true(got >= 1 / div - 1e-15 && got <= 1 + 1e-15);
        }
        assert_true(fabs(dt_clr_scale(n, 0, div, cd) - 1 / div) < 1e-15); // starts at lr/div
        assert_true(fabs(dt_clr_scale(n, cut, div, cd) - 1) < 1e-15);     // peaks at cut
    }
}

static void test_ema(void **state) {
    (void)state;
    dt_ema e;
    dt_ema_init(&e, 0.98);
    assert_true(dt_ema_value(&e) == 0);
    double avg = 0, xs[] = {3.0, 2.5, 2.75, 1.0, 4.0, 0.5};
    for (int i = 0; i < 6; i++) {
        avg = avg * 0.98 + xs[i] * 0.02;
        double want = avg / (1 - pow(0.98, i + 1));
        assert_true(fabs(dt_ema_add(&e, xs[i]) - want) < 1e-12);
    }
    // debiased: a constant sequence reads as the constant from the first value on
    dt_ema_init(&e, 0.98);
    for (int i = 0; i < 50; i++) assert_true(fabs(dt_ema_add(&e, 2.0) - 2.0) < 1e-12);
}

// --- per-group lr and freezing ----------------------------------------------------

static void test_group_lr(void **state) {
    (void)state;
    dt_network *net = net_from("[net]\nbatch=2\nwidth=1\nheight=1\nchannels=4\n"
                               "optimizer=sgd\nmomentum=0\n"
                               "[connected]\noutput=3\n"
                               "[connected]\ngroup=1\noutput=2\n"
                               "[cost]\ntype=l2\n"
                               "[stage]\nepochs=1\nlr=0.1,0.01\nclr=10,4\n");
    assert_non_null(net);
    assert_int_equal(net->n_groups, 2);
    tu_fill_uniform(net->input, 8, 5, -1, 1);
    tu_fill_uniform(net->truth, 2 * (size_t)net->truth_size, 6, -1, 1);
    dt_net_forward(net);
    dt_net_backward(net);
    float *w0 = malloc(net->n_params * sizeof(float)), *g = malloc(net->n_params * sizeof(float));
    memcpy(w0, net->params, net->n_params * sizeof(float));
    memcpy(g, net->grads, net->n_params * sizeof(float));
    const long n = 40, j = 3; // cut = 10: lr = lr_max * (1 + 0.3 * 9) / 10
    dt_stage_set_lr(net, &M(net)->stages[0], n, j);
    const double k = (1 + 0.3 * 9) / 10;
    assert_true(fabs(net->group_lr[0] - 0.1 * k) < 1e-7);
    assert_true(fabs(net->group_lr[1] - 0.01 * k) < 1e-8);
    dt_net_step(net);
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        for (int p = 0; p < l->n_params; p++) {
            dt_param *q = &l->params[p];
            double lr = l->group == 0 ? 0.1 * k : 0.01 * k;
            for (size_t e = 0; e < q->n; e++) {
                double want = -lr * g[q->offset + e];
                double got = (double)q->w[e] - w0[q->offset + e];
                // got is a float difference: allow the rounding of w itself
                double tol = 1e-6 * fabs(want) + 1.2e-7 * fabs((double)w0[q->offset + e]);
                assert_true(fabs(got - want) <= tol);
            }
        }
    }
    free(w0);
    free(g);
    net_free(net);
}

static void test_freeze_to(void **state) {
    (void)state;
    dt_network *net = net_from(classifier_cfg("[stage]\nepochs=2\nlr=1e-2\nfreeze_to=-1\n"));
    assert_non_null(net);
    assert_int_equal(net->n_groups, 2);
    float *before = malloc(net->n_params * sizeof(float));
    memcpy(before, net->params, net->n_params * sizeof(float));
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 12, 6);
    dt_train_opts o = {0};
    assert_int_equal(dt_train(M(net), &bs, &o), 0);
    int changed1 = 0, stats1 = 0;
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        for (int p = 0; p < l->n_params; p++) {
            dt_param *q = &l->params[p];
            int same = memcmp(q->w, before + q->offset, q->n * sizeof(float)) == 0;
            if (l->group == 0) {
                if (!same) fprintf(stderr, "layer %d %s changed while frozen\n", i, q->name);
                assert_true(same); // weights and BN running statistics alike
            } else {
                changed1 += !same;
                if (!q->trainable && !same) stats1++;
            }
        }
    }
    assert_true(changed1 > 0);
    assert_int_equal(stats1, 2); // group 1's BN running mean and var did move
    mem_free(&ms);
    free(before);
    net_free(net);
}

// --- stage parsing errors ---------------------------------------------------------

static void test_stage_errors(void **state) {
    (void)state;
    const char *bad[] = {
        "[stage]\nepochs=1\nlr=1,2,3\n",       // 3 lrs, 2 groups
        "[stage]\nlr=1e-3\n",                  // epochs missing
        "[stage]\nepochs=1\nclr=32\n",         // one value
        "[stage]\nepochs=1\nfreeze_to=2\n",    // freezes everything
        "[stage]\nepochs=1\nmomentum=0.9\n",   // unknown key
    };
    const char *want[] = {"lr", "epochs", "clr", "freeze_to", "momentum"};
    for (int i = 0; i < 5; i++) {
        dt_cfg *cfg = dt_cfg_parse_string(classifier_cfg(bad[i]), "bad.cfg");
        assert_non_null(cfg);
        dt_net_opts o = {.with_grads = 1, .quiet = 1};
        dt_model *m = dt_model_from_cfg(cfg, "bad.cfg", &o);
        assert_null(m);
        assert_true(tu_error_has("bad.cfg:", "[stage]", want[i], NULL));
        dt_cfg_free(cfg);
    }
}

// --- NaN stop and checkpoints --------------------------------------------------------

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

static void test_nan_stop(void **state) {
    (void)state;
    char dir[4096], p_w[4200], p_s[4200], p_f[4200];
    snprintf(dir, sizeof dir, "%s/nan", tu_tmpdir());
    snprintf(p_w, sizeof p_w, "%s/n_last.weights", dir);
    snprintf(p_s, sizeof p_s, "%s/n_last.state", dir);
    snprintf(p_f, sizeof p_f, "%s/n_final.weights", dir);
    // no ReLU between the input and the loss: max(0, NaN) would hide the NaN
    const char *cfg = "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\nseed=3\n"
                      "[connected]\noutput=5\n[softmax]\n[stage]\nepochs=3\nlr=1e-3\n";
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 12, 5);
    ms.nan_epoch = 1, ms.nan_batch = 1; // 3 batches per epoch: iteration 5
    dt_network *net = net_from(cfg);
    dt_train_opts o = {.name = "n", .backup = dir, .max_epochs = 1};
    assert_int_equal(dt_train(M(net), &bs, &o), 1); // stopped after epoch 1 as asked
    size_t nw = 0, ns = 0;
    unsigned char *w = slurp(p_w, &nw), *s = slurp(p_s, &ns);
    assert_non_null(w);
    assert_non_null(s);
    net_free(net);
    net = net_from(cfg);
    o.max_epochs = 0;
    assert_int_equal(dt_train(M(net), &bs, &o), -1);
    assert_true(tu_error_has("iteration 5", "epoch 2", "stage 1", "nan", NULL));
    size_t nw2 = 0, ns2 = 0;
    unsigned char *w2 = slurp(p_w, &nw2), *s2 = slurp(p_s, &ns2);
    assert_true(nw2 == nw && memcmp(w, w2, nw) == 0); // last good checkpoint untouched
    assert_true(ns2 == ns && memcmp(s, s2, ns) == 0);
    FILE *f = fopen(p_f, "rb");
    assert_null(f); // no final weights from a failed run
    free(w), free(s), free(w2), free(s2);
    mem_free(&ms);
    net_free(net);
}

// Two stages (a fresh Adam per stage, clr, freezing), dropout and BN:
// stopped after 2 of 4 epochs, resumed in a new process-like net, the end
// is bit-identical to one uninterrupted run.
static void test_checkpoint_resume(void **state) {
    (void)state;
    const char *cfg = classifier_cfg("[stage]\nepochs=1\nlr=1e-2\nclr=10,3\nfreeze_to=-1\n"
                                     "[stage]\nepochs=3\nlr=1e-3,1e-2\nclr=10,3\nfreeze_to=0\n");
    char da[4096], db[4096];
    snprintf(da, sizeof da, "%s/ckpt_a", tu_tmpdir());
    snprintf(db, sizeof db, "%s/ckpt_b", tu_tmpdir());
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 14, 6); // 3 full batches + 2 dropped; valid 4 + 2
    dt_network *a = net_from(cfg);
    dt_train_opts o = {.name = "c", .backup = da};
    assert_int_equal(dt_train(M(a), &bs, &o), 0);
    // the same run, stopped at the epoch boundaries 2 then 3, each time in a new net
    o.backup = db;
    o.max_epochs = 2;
    dt_network *b = net_from(cfg);
    assert_int_equal(dt_train(M(b), &bs, &o), 1);
    net_free(b);
    o.max_epochs = 1;
    b = net_from(cfg);
    assert_int_equal(dt_train(M(b), &bs, &o), 1);
    net_free(b);
    o.max_epochs = 0;
    b = net_from(cfg);
    assert_int_equal(dt_train(M(b), &bs, &o), 0);
    assert_int_equal(a->n_params, b->n_params);
    assert_true(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
    assert_true(memcmp(a->opt_m, b->opt_m, a->n_params * sizeof(float)) == 0);
    assert_true(a->rng.s[0] == b->rng.s[0] && a->rng.s[1] == b->rng.s[1]);
    // and the final weights files agree byte for byte
    char fa[4200], fb[4200];
    snprintf(fa, sizeof fa, "%s/c_final.weights", da);
    snprintf(fb, sizeof fb, "%s/c_final.weights", db);
    size_t na = 0, nb = 0;
    unsigned char *wa = slurp(fa, &na), *wb = slurp(fb, &nb);
    assert_non_null(wa);
    assert_non_null(wb);
    assert_true(na == nb && memcmp(wa, wb, na) == 0);
    free(wa), free(wb);

    // state round trip, and a damaged state is refused with a message
    char ps[4200];
    snprintf(ps, sizeof ps, "%s/c_last.state", db);
    dt_train_state st = {0};
    assert_int_equal(dt_state_load(M(b), &st, ps), 0);
    assert_int_equal(st.stage, 2); // past the last stage: the run is complete
    assert_int_equal(st.n_hist, 4);
    size_t n = 0;
    unsigned char *bytes = slurp(ps, &n);
    bytes[n / 2] ^= 1;
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.state", db);
    FILE *f = fopen(bad, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    assert_int_equal(dt_state_load(M(b), &st, bad), -1);
    assert_true(tu_error_has("bad.state", "damaged", NULL));
    f = fopen(bad, "wb");
    fwrite(bytes, 1, n / 3, f);
    fclose(f);
    assert_int_equal(dt_state_load(M(b), &st, bad), -1);
    assert_true(tu_error_has("bad.state", "truncated", NULL));
    free(bytes);
    free(st.hist);
    mem_free(&ms);
    net_free(a);
    net_free(b);
}

// A partial validation batch: the loss is the mean over its real rows.
static void test_partial_valid(void **state) {
    (void)state;
    dt_network *net = net_from(classifier_cfg("[stage]\nepochs=1\n"));
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 4, 4);
    ms.split = 1;
    dt_batch *full = mem_next(&ms);
    dt_net_init_params(net, 1);
    float lfull;
    dt_metric m[1];
    assert_int_equal(dt_valid_step(net, full, &lfull), 0);
    // per-image losses from the softmax output of the full batch
    double li[4];
    for (int i = 0; i < 4; i++)
        li[i] = -log(dt_net_output(net)[i * 5 + full->largest_class[i]]);
    full->n = 3;
    for (size_t k = 3 * 8 * 8 * 3; k < 4 * 8 * 8 * 3; k++) full->images[k] = 1e30f;
    float l3;
    assert_int_equal(dt_valid_step(net, full, &l3), 0);
    assert_true(fabs(l3 - (li[0] + li[1] + li[2]) / 3) < 1e-5);
    assert_true(fabs(lfull - (li[0] + li[1] + li[2] + li[3]) / 4) < 1e-5);
    net->layers[net->n_layers - 1].ops->metrics_get(&net->layers[net->n_layers - 1], net, m, 1);
    assert_string_equal(m[0].name, "accuracy");
    mem_free(&ms);
    net_free(net);
}

// Initial conv weights against the definitions they follow (torch.nn.init):
// init=kaiming_fan_out is kaiming_normal_(mode="fan_out", nonlinearity="relu"),
// N(0, 2 / (O K K)), bias 0; the default is Conv2d's reset_parameters,
// U(+-1/sqrt(fan_in)) for weights and bias. Sample moments over 36,864
// weights: the standard deviation is within 2% (its standard error is 0.4%).
// Every conv of cfg/resnet34.cfg must start as torchvision's resnet34.
static void check_moments(const dt_param *w, double want_sd, double tol) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < w->n; i++) s += w->w[i], s2 += (double)w->w[i] * w->w[i];
    double mean = s / w->n, sd = sqrt(s2 / w->n - mean * mean);
    if (fabs(sd / want_sd - 1) > tol || fabs(mean) > 5 * want_sd / sqrt((double)w->n))
        fail_msg("weights (%zu): mean %g, sd %g, want 0 and %g (tol %g)", w->n, mean, sd, want_sd,
                 tol);
}

static void test_conv_init(void **state) {
    (void)state;
    dt_network *net = tu_net_from_text("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=64\n"
                                       "[convolutional]\nfilters=64\nsize=3\npad=1\n"
                                       "init=kaiming_fan_out\n"
                                       "[convolutional]\nfilters=64\nsize=3\npad=1\n",
                                       0);
    assert_non_null(net);
    dt_net_init_params(net, 3);
    check_moments(tu_param(&net->layers[0], "weights"), sqrt(2.0 / (64 * 9)), 0.02);
    const dt_param *b0 = tu_param(&net->layers[0], "bias");
    for (size_t i = 0; i < b0->n; i++) assert_true(b0->w[i] == 0.0f);
    const double bound = 1 / sqrt(64.0 * 9);
    const dt_param *w1 = tu_param(&net->layers[1], "weights"), *b1 = tu_param(&net->layers[1], "bias");
    check_moments(w1, bound / sqrt(3.0), 0.02);
    for (size_t i = 0; i < w1->n; i++) assert_true(fabs(w1->w[i]) <= bound);
    for (size_t i = 0; i < b1->n; i++) assert_true(fabs(b1->w[i]) <= bound);
    net_free(net);
    assert_null(tu_net_from_text("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n"
                                 "[convolutional]\nfilters=4\nsize=3\ninit=xavier\n", 0));
    assert_true(tu_error_has("init", "xavier", "kaiming_fan_out", NULL));

    net = dt_net_load("cfg/resnet34.cfg", &(dt_net_opts){.batch = 1, .quiet = 1});
    assert_non_null(net);
    dt_net_init_params(net, 4);
    int convs = 0;
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (strcmp(l->ops->name, "convolutional")) continue;
        const dt_param *w = tu_param(l, "weights");
        int k = w->dims[2]; // (O, I, K, K)
        check_moments(w, sqrt(2.0 / ((double)l->out_c * k * k)), w->n < 20000 ? 0.05 : 0.02);
        convs++;
    }
    assert_int_equal(convs, 36);
    net_free(net);
}

// lr_find puts back everything it changes: parameters, optimizer state, the
// group lrs, the weight decay (its first stage has wd=), the freezing (its
// first stage has freeze_to=), the mode, the RNG and images seen. It used to
// leave the stage's decay in the network.
static void test_lr_find_restores(void **state) {
    (void)state;
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s", classifier_cfg("[stage]\nepochs=1\nlr=1e-2\nwd=0.25\n"
                                                   "freeze_to=-1\n"));
    char *net_end = strstr(cfg, "optimizer=adam\n");
    assert_non_null(net_end);
    memcpy(net_end, "optimizer=sgd\n\n", 15); // same length, no NUL: [net] decay stays 0
    dt_network *net = net_from(cfg);
    assert_non_null(net);
    net->opt.decay = 0.125f;
    dt_net_set_lr(net, 0.5f);
    net->group_lr[1] = 0.75f;
    dt_net_set_train(net, 0);
    const size_t np = net->n_params;
    float *w0 = malloc(np * sizeof(float));
    memcpy(w0, net->params, np * sizeof(float));
    const dt_rng rng = net->rng;
    mem_src ms;
    dt_batch_source bs;
    mem_init(&ms, &bs, 4, 8, 5, 16, 4);
    dt_lr_find_result r = {.start = 1e-5, .end = 1, .iters = 6};
    assert_int_equal(dt_lr_find(M(net), &bs, &r, 0), 0);
    assert_int_equal(r.n, 6);
    assert_true(r.lr[5] > r.lr[0]);
    assert_true(net->opt.decay == 0.125f);
    assert_true(net->group_lr[0] == 0.5f && net->group_lr[1] == 0.75f);
    assert_int_equal(net->train, 0);
    for (int i = 0; i < net->n_layers; i++) assert_int_equal(net->layers[i].frozen, 0);
    assert_memory_equal(net->params, w0, np * sizeof(float));
    assert_true(net->rng.s[0] == rng.s[0] && net->rng.s[1] == rng.s[1]);
    assert_int_equal(net->opt.t, 0);
    // a frozen network stays frozen as it was
    free(r.lr);
    free(r.loss);
    dt_net_freeze_to(net, 1);
    assert_int_equal(dt_lr_find(M(net), &bs, &r, 0), 0);
    assert_int_equal(net->layers[0].frozen, 1);
    assert_int_equal(net->layers[net->n_layers - 1].frozen, 0);
    free(r.lr);
    free(r.loss);
    free(w0);
    mem_free(&ms);
    net_free(net);
}

int main(void) {
    omp_set_num_threads(1);
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clr_schedule),  cmocka_unit_test(test_ema),
        cmocka_unit_test(test_group_lr),      cmocka_unit_test(test_freeze_to),
        cmocka_unit_test(test_stage_errors),  cmocka_unit_test(test_nan_stop),
        cmocka_unit_test(test_checkpoint_resume), cmocka_unit_test(test_partial_valid),
        cmocka_unit_test(test_conv_init),     cmocka_unit_test(test_lr_find_restores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
