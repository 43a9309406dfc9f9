// Predictions-only networks (dt_net_opts without with_grads / with_loss: what
// `test`, `demo`, `bench` and `valid` without -loss build): no targets, no
// training buffers, no loss, and the same predictions as a network with
// targets. The detections on real images (tests/data/real/voc2012_sample,
// loaded by the `test` command's loader) are checked against PyTorch
// (tests/infer_ref.py: the network in float64, the lesson's decoding and
// torchvision's NMS).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "media/image.h"
#include "layers/ssd.h"
#include "testutil.h"
#include "eval/valid.h"

// tests/infer_ref.py's network (its docstring lists the layers)
#define BODY_CONV(f)                                                                         \
    "[convolutional]\nfilters=" #f "\nsize=3\nstride=2\npad=1\nbias=0\nbatch_normalize=1\n" \
    "activation=relu\n"
#define STDCONV(s) "[stdconv]\nfilters=32\nstride=" #s "\ndropout=0.4\n"
#define OUTCONV "[outconv]\nclasses=3\nanchors_per_cell=9\nbias=-4\n"
#define CFG(batch)                                                                           \
    "[net]\nbatch=" #batch "\nheight=56\nwidth=56\nchannels=3\n" BODY_CONV(16) BODY_CONV(24) \
    BODY_CONV(32) STDCONV(1) STDCONV(2) OUTCONV "[route]\nlayers=-2\n" STDCONV(2) OUTCONV     \
    "[route]\nlayers=-2\n" STDCONV(2) OUTCONV                                               \
    "[ssd]\nlayers=-7,-4,-1\ngrids=4,2,1\nclasses=3\nzooms=0.75,1,1.3\n"                     \
    "ratios=1,1,1,0.5,0.5,1\nmax_boxes=64\n"
#define N_IMG 3
#define MAX_BOXES 64
#define A 189
#define F (3 + 1 + 4)

static const char *const images[N_IMG] = {"2007_000027.jpg", "2007_000032.jpg",
                                          "2007_000033.jpg"};

static dt_network *build(int with_grads, int with_loss) {
    dt_cfg *cfg = dt_cfg_parse_string(CFG(3), "infer.cfg");
    assert_non_null(cfg);
    // one forced conv route: a network that measures the routes (auto, no
    // cache yet) keeps the workspace of both, one built from the cache only
    // its own, and the arenas are compared exactly
    dt_net_opts o = {.with_grads = with_grads, .with_loss = with_loss, .quiet = 1,
                     .conv_route = DT_CONV_ONEDNN};
    dt_network *net = dt_net_from_cfg(cfg, "infer.cfg", &o);
    if (!net) fail_msg("%s", tu_error());
    return net;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

// The predictions-only network holds no targets, deltas or loss state: its
// arena is the evaluation network's (targets, no gradients) less exactly the
// targets (B x (1 + 5 max_boxes)) and the [ssd] layer's unpacked boxes
// (B x max_boxes x 4); a training network's is larger still. Its forward
// computes no loss, it refuses targets, and its outputs equal the others'.
static void test_no_training_buffers(void **state) {
    dt_network *p = build(0, 0), *e = build(0, 1), *t = build(1, 0);
    assert_false(p->with_loss);
    assert_true(e->with_loss && !e->with_grads);
    assert_true(t->with_loss && t->with_grads); // training implies targets
    assert_null(p->truth);
    assert_int_equal(p->truth_size, 0);
    assert_int_equal(e->truth_size, 1 + 5 * MAX_BOXES);
    assert_null(p->grads);
    for (int i = 0; i < p->n_layers; i++) assert_null(p->layers[i].delta);
    const size_t B = 3;
    assert_int_equal(e->n_act - p->n_act,
                     align16(B * (1 + 5 * MAX_BOXES)) + align16(B * MAX_BOXES * 4));
    assert_true(t->n_act > e->n_act + B * 56 * 56 * 16); // deltas, masks: at least a layer's
    printf("arena floats: predictions %zu, targets %zu, training %zu\n", p->n_act, e->n_act,
           t->n_act);

    // same parameters, same input: identical outputs; the loss only with targets
    memcpy(p->params, e->params, sizeof(float) * e->n_params);
    dt_net_weights_changed(p);
    tu_fill_uniform(p->input, B * 56 * 56 * 3, 5, -2, 2);
    memcpy(e->input, p->input, sizeof(float) * B * 56 * 56 * 3);
    memset(e->truth, 0, sizeof(float) * B * e->truth_size); // no objects
    dt_net_set_train(e, 0);
    dt_net_forward(p);
    dt_net_forward(e);
    assert_true(isnan(p->loss)); // no loss computed
    assert_true(isfinite(e->loss) && e->loss > 0);
    for (int i = 0; i < p->n_layers; i++)
        assert_memory_equal(p->layers[i].output, e->layers[i].output,
                            sizeof(float) * p->layers[i].outputs * B);
    dt_layer *ssd = dt_net_last(p);
    double loc, clas;
    int npos;
    assert_int_equal(dt_ssd_layer_terms(ssd, &loc, &clas, &npos), -1); // no loss state
    assert_int_equal(dt_ssd_layer_terms(dt_net_last(e), &loc, &clas, &npos), 0);
    // and refuses targets, with a message
    dt_batch b = {0};
    b.n = 1;
    assert_int_equal(ssd->ops->set_truth(ssd, p, &b), -1);
    assert_non_null(strstr(tu_error(), "predictions only"));
    assert_int_equal(dt_valid_set_truth(p, ssd, &b), -1);
    dt_net_free(p);
    dt_net_free(e);
    dt_net_free(t);
}

// The lesson's SSD itself (cfg/ssd.cfg, ResNet34 body): the predictions-only
// network is the evaluation network less the targets and unpacked boxes.
static void test_lesson_ssd_arena(void **state) {
    dt_net_opts o = {.batch = 2, .quiet = 1, .conv_route = DT_CONV_ONEDNN}; // as build()
    dt_network *p = dt_model_net_only(dt_model_load("cfg/ssd.cfg", &o));
    o.with_loss = 1;
    dt_network *e = dt_model_net_only(dt_model_load("cfg/ssd.cfg", &o));
    assert_non_null(p);
    assert_non_null(e);
    const size_t M = 256; // [ssd] max_boxes default
    assert_null(p->truth);
    assert_int_equal(e->n_act - p->n_act, align16(2 * (1 + 5 * M)) + align16(2 * M * 4));
    dt_net_free(p);
    dt_net_free(e);
}

// The repository's own subset of voc2012_sample (tests/data/real), so the test
// needs nothing beside the checkout.
static const char *data_dir(void) { return "tests/data/real/voc2012_sample/images"; }

static int by_class_anchor(const void *pa, const void *pb) {
    const dt_detection *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls - b->cls;
    return a->anchor - b->anchor;
}

// Real images through the `test` path (its loader, a predictions-only
// network, dt_ssd_layer_detect) against PyTorch: the [ssd] output within
// 1e-4 of the float64 reference, the same detections (class, anchor) with
// scores and boxes within 1e-5; a network with targets detects the same.
static void test_detections_vs_torch(void **state) {
    dt_network *p = build(0, 0), *e = build(0, 1);
    const size_t in = (size_t)56 * 56 * 3;
    dt_image_ctx *ictx = dt_image_ctx_new();
    for (int i = 0; i < N_IMG; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", data_dir(), images[i]);
        dt_sample s = {0};
        s.image = path;
        dt_object none;
        int n_obj = 0, largest = -1, ow = 0, oh = 0;
        dt_rng r;
        dt_rng_seed(&r, 0);
        dt_augment aug; // the cfg's: no augmentation keys
        dt_augment_defaults(&aug);
        if (dt_sample_load(ictx, &s, &aug, 0, 56, 56, &r, p->input + i * in, &none, &n_obj,
                           &largest, &ow, &oh, NULL, 0) != 0)
            fail_msg("%s: %s", path, tu_error());
    }
    dt_image_ctx_free(ictx);
    char *xp = tu_write_file("infer_x.f32", (const char *)p->input, sizeof(float) * N_IMG * in);
    char out[1200], cmd[4096];
    snprintf(out, sizeof out, "%s/infer_ref.bin", tu_tmpdir());
    const char *py = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "%s tests/infer_ref.py %s %d %s", py && *py ? py : "/usr/bin/python3",
             xp, N_IMG, out);
    free(xp);
    char *log = NULL;
    int rc = tu_run(cmd, &log);
    if (rc != 0) fail_msg("reference failed (%d): %s\n%s", rc, cmd, log ? log : "");
    free(log);
    tu_archive *ref = tu_load(out);
    assert_non_null(ref);
    for (int n = 0; n < 2; n++) { // parameters into both networks
        dt_network *net = n ? e : p;
        for (int i = 0; i < net->n_layers; i++)
            for (int k = 0; k < net->layers[i].n_params; k++) {
                dt_param *q = &net->layers[i].params[k];
                char name[64];
                snprintf(name, sizeof name, "L%d.%s", i, q->name);
                tu_tensor *t = tu_get(ref, name);
                if (!t) fail_msg("reference tensor %s missing", name);
                assert_int_equal(t->n, q->n);
                memcpy(q->w, t->data, sizeof(float) * q->n);
            }
        dt_net_weights_changed(net);
        dt_net_set_train(net, 0);
    }
    memcpy(e->input, p->input, sizeof(float) * N_IMG * in);
    memset(e->truth, 0, sizeof(float) * N_IMG * e->truth_size);
    dt_net_forward(p);
    dt_net_forward(e);
    tu_tensor *y = tu_get(ref, "y");
    assert_non_null(y);
    assert_int_equal(y->n, (size_t)N_IMG * A * F);
    assert_true(tu_check("ssd output", dt_net_output(p), y->data, y->n, 1e-4));
    assert_memory_equal(dt_net_output(p), dt_net_output(e), sizeof(float) * y->n);

    dt_detect_cfg dc;
    dt_detect_cfg_default(&dc);
    dc.score_thresh = 0.6f; // infer_ref.py's: sparse enough that no scores tie within rounding
    dc.nms_iou = 0.4f;
    dc.max_per_class = 50;
    dc.max_total = 1000; // no image-level cut: the set depends on NMS alone
    dt_detection *dp = dt_calloc(1000, sizeof *dp), *de = dt_calloc(1000, sizeof *de);
    int total = 0;
    for (int b = 0; b < N_IMG; b++) {
        char name[16];
        snprintf(name, sizeof name, "det.%d", b);
        tu_tensor *want = tu_get(ref, name);
        assert_non_null(want);
        const int nw = want->ndims == 2 ? want->dims[0] : 0;
        int np = dt_ssd_layer_detect(dt_net_last(p), b, &dc, dp);
        int ne = dt_ssd_layer_detect(dt_net_last(e), b, &dc, de);
        printf("image %s: %d detections (reference %d)\n", images[b], np, nw);
        assert_int_equal(np, nw);
        assert_int_equal(ne, np);
        assert_memory_equal(dp, de, sizeof *dp * (size_t)np);
        qsort(dp, (size_t)np, sizeof *dp, by_class_anchor);
        for (int j = 0; j < np; j++) {
            const float *w = want->data + (size_t)j * 7;
            assert_int_equal(dp[j].cls, (int)w[0]);
            assert_int_equal(dp[j].anchor, (int)w[1]);
            assert_true(fabsf(dp[j].score - w[2]) < 1e-5f);
            for (int c = 0; c < 4; c++) assert_true(fabsf(dp[j].box[c] - w[3 + c]) < 1e-5f);
        }
        total += np;
    }
    assert_true(total > 3 * N_IMG); // the comparison is not empty
    free(dp);
    free(de);
    tu_free(ref);
    dt_net_free(p);
    dt_net_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_training_buffers),
        cmocka_unit_test(test_lesson_ssd_arena),
        cmocka_unit_test(test_detections_vs_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
