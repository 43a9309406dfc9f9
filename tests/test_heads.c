// The detection-lesson heads ([stdconv], [outconv], [ssd], [single],
// [multilabel]) beyond PyTorch parity (scripts/refs/heads.py): the checks
// made at load (anchors vs [outconv] outputs, references, keys) with their
// error texts, [outconv]'s bias init, [stdconv]'s dropout in training, bad
// SSD targets at run time, detections and the metrics helpers.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/heads.h"
#include "layers/ssd.h"
#include "testutil.h"

#define HEAD "[net]\nbatch=2\nheight=4\nwidth=4\nchannels=3\n\n" // 6 lines

typedef struct {
    const char *what;
    const char *layers;  // sections after HEAD (line 7 on)
    const char *want[4]; // substrings of the error, NULL-terminated
} bad_cfg;

// The lesson's anchors for one 4x4 head: zooms x ratios = 9 per cell.
#define K9 "zooms=0.75,1,1.3\nratios=1,1,1,0.5,0.5,1\n"

static const bad_cfg cases[] = {
    {"outconv channels vs anchors",
     "[outconv]\nclasses=20\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=20\ngrids=4\n" K9,
     {"bad.cfg:11", "[ssd] key 'layers'",
      "outconv at layer 0 has 25 channels, the anchors need k=9 per cell: 9*(20+1+4)=225",
      NULL}},
    {"outconv classes vs ssd classes",
     "[outconv]\nclasses=4\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=20\ngrids=4\n",
     {"[ssd] key 'layers'", "outconv at layer 0 has 9 channels", "1*(20+1+4)=25", NULL}},
    // same channel count (2*(3+5) = 16 = 1*(11+5)), another split
    {"outconv split",
     "[outconv]\nclasses=11\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=3\ngrids=4\n"
     "zooms=1,2\n",
     {"[ssd] key 'layers'", "classes=11 anchors_per_cell=1", "classes=3 and k=2", NULL}},
    {"ssd on a non-outconv",
     "[convolutional]\nfilters=25\nsize=3\npad=1\n[ssd]\nlayers=0\nclasses=20\ngrids=4\n",
     {"bad.cfg:12", "[ssd] key 'layers'", "layer 0 is a [convolutional], not an [outconv]",
      NULL}},
    {"ssd grid vs outconv size",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\ngrids=2\n",
     {"[ssd] key 'layers'", "outconv at layer 0 is 4x4", "2x2 grid", NULL}},
    {"ssd WxH grid vs outconv size",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\ngrids=4x2\n",
     {"bad.cfg:11", "[ssd] key 'layers'", "outconv at layer 0 is 4x4, but grids= gives it the 4x2 grid",
      NULL}},
    {"ssd bad WxH text",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\ngrids=4x\n",
     {"bad.cfg:13", "[ssd] key 'grids'", "bad grid '4x' (expected g or WxH", NULL}},
    {"ssd grids count",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\ngrids=4,2\n",
     {"bad.cfg:13", "[ssd] key 'grids'", "2 grids for 1 layers", NULL}},
    {"ssd odd ratios",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\ngrids=4\n"
     "ratios=1,1,0.5\n",
     {"[ssd] key 'ratios'", "pairs", NULL}},
    {"ssd bad ref",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=3\nclasses=2\ngrids=4\n",
     {"[ssd] key 'layers'", "does not exist", NULL}},
    {"ssd no layers", "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nclasses=2\ngrids=4\n",
     {"[ssd]", "'layers'", NULL}},
    {"ssd no classes",
     "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\ngrids=4\n",
     {"[ssd]", "'classes'", NULL}},
    {"ssd loss", "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\n"
                 "grids=4\nloss=l2\n",
     {"[ssd] key 'loss'", NULL}},
    {"ssd zoom", "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\n"
                 "grids=4\nzooms=0\n",
     {"[ssd] key 'grids'", "zoom 0 must be > 0", NULL}},
    {"ssd unknown key", "[outconv]\nclasses=2\nanchors_per_cell=1\n[ssd]\nlayers=0\nclasses=2\n"
                        "grids=4\nanchors=3\n",
     {"[ssd] key 'anchors'", "unknown", NULL}},
    {"outconv no classes", "[outconv]\nanchors_per_cell=1\n", {"[outconv]", "'classes'", NULL}},
    {"outconv no k", "[outconv]\nclasses=3\n", {"[outconv]", "'anchors_per_cell'", NULL}},
    {"stdconv no filters", "[stdconv]\nstride=2\n", {"bad.cfg:7", "[stdconv]", "'filters'",
                                                     NULL}},
    {"stdconv dropout 1", "[stdconv]\nfilters=4\ndropout=1\n",
     {"bad.cfg:9", "[stdconv] key 'dropout'", "[0, 1)", NULL}},
    {"stdconv stride 0", "[stdconv]\nfilters=4\nstride=0\n", {"[stdconv] key 'stride'", NULL}},
    {"single size", "[avgpool]\n[single]\nclasses=4\n",
     {"[single]", "3 values per image", "4 box values + 4 classes = 8", NULL}},
    {"single too small", "[avgpool]\n[single]\n",
     {"[single]", "3 values per image", "4 box values + at least 1 class", NULL}},
    {"multilabel size", "[avgpool]\n[multilabel]\nclasses=4\n",
     {"[multilabel]", "3 values per image", "classes=4", NULL}},
};

static void test_bad_cfgs(void **state) {
    int fails = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_cfg *b = &cases[i];
        char text[1024];
        snprintf(text, sizeof text, HEAD "%s", b->layers);
        dt_cfg *c = dt_cfg_parse_string(text, "bad.cfg");
        assert_non_null(c);
        dt_net_opts o = {.with_grads = 1, .quiet = 1};
        dt_clear_error();
        dt_network *net = dt_net_from_cfg(c, "bad.cfg", &o);
        if (net) {
            printf("  FAIL %s: the network built\n", b->what);
            dt_net_free(net);
            fails++;
            continue;
        }
        dt_cfg_free(c);
        printf("  %s: ", b->what);
        if (!tu_error_has(b->want[0], b->want[1], b->want[2], b->want[3], NULL)) fails++;
    }
    assert_int_equal(fails, 0);
}

// The lesson's multi-head layout (4x4, 2x2, 1x1; k = 9) builds, with the
// anchors and the output shape the header promises.
#define SSD3                                                                                \
    "[net]\nbatch=2\nheight=7\nwidth=7\nchannels=8\n"                                        \
    "[stdconv]\nfilters=8\nstride=2\ndropout=0.4\n"                   /* 0: 4x4 */          \
    "[outconv]\nclasses=20\nanchors_per_cell=9\nbias=-4\n"            /* 1 */               \
    "[route]\nlayers=0\n"                                             /* 2 */               \
    "[stdconv]\nfilters=8\nstride=2\n"                                /* 3: 2x2 */          \
    "[outconv]\nclasses=20\nanchors_per_cell=9\nbias=-4\n"            /* 4 */               \
    "[route]\nlayers=3\n"                                             /* 5 */               \
    "[stdconv]\nfilters=8\nstride=2\n"                                /* 6: 1x1 */          \
    "[outconv]\nclasses=20\nanchors_per_cell=9\nbias=-4\n"            /* 7 */               \
    "[ssd]\nlayers=1,4,7\nclasses=20\ngrids=4,2,1\n" K9 "max_boxes=3\nscore_thresh=0.01\n"

static void test_lesson_ssd_builds(void **state) {
    dt_network *net = tu_net_from_text(SSD3, 1);
    assert_non_null(net);
    dt_layer *l = dt_net_last(net);
    assert_true(l->is_loss);
    assert_int_equal(l->out_w, 189);
    assert_int_equal(l->out_c, 25);
    assert_int_equal(net->truth_size, 1 + 5 * 3);
    const dt_anchors *a = dt_ssd_layer_anchors(l);
    assert_non_null(a);
    assert_int_equal(a->n, 189);
    assert_int_equal(dt_ssd_layer_classes(l), 20);
    dt_detect_cfg dc;
    assert_int_equal(dt_ssd_layer_detect_cfg(l, &dc), 0);
    assert_true(fabsf(dc.score_thresh - 0.01f) < 1e-7f);
    assert_int_equal(dc.max_total, 100);
    assert_int_equal(dt_ssd_layer_detect_cfg(&net->layers[1], &dc), -1);

    // every class bias of each [outconv] starts at bias=-4, the box biases not
    for (int li = 1; li <= 7; li += 3) {
        dt_param *cb = tu_param(&net->layers[li], "clas_bias");
        dt_param *bb = tu_param(&net->layers[li], "box_bias");
        assert_non_null(cb);
        assert_non_null(bb);
        assert_int_equal(cb->n, 21 * 9);
        assert_int_equal(bb->n, 4 * 9);
        for (size_t i = 0; i < cb->n; i++) assert_true(cb->w[i] == -4.0f);
        int distinct = 0;
        for (size_t i = 0; i < bb->n; i++) distinct += bb->w[i] != -4.0f && fabsf(bb->w[i]) < 1;
        assert_int_equal(distinct, (int)bb->n);
    }
    // a forward and backward with targets: finite loss, detections of image 1
    tu_fill_uniform(net->input, (size_t)2 * 7 * 7 * 8, 3, -1, 1);
    float *t = net->truth;
    float img0[] = {2, 0.1f, 0.1f, 0.5f, 0.6f, 3, 0.4f, 0.3f, 0.9f, 0.95f, 19};
    memcpy(t, img0, sizeof img0);
    t[net->truth_size] = 0; // image 1: no objects
    dt_net_forward(net);
    assert_true(isfinite(net->loss) && net->loss > 0);
    double loc, clas;
    int npos;
    assert_int_equal(dt_ssd_layer_terms(l, &loc, &clas, &npos), 0);
    assert_true(npos >= 2);
    assert_true(fabs(loc + clas - net->loss) < 1e-4 * net->loss);
    dt_net_backward(net);
    dt_detection det[100];
    int n = dt_ssd_layer_detect(l, 1, NULL, det);
    assert_true(n > 0 && n <= 100);
    for (int i = 1; i < n; i++) assert_true(det[i - 1].score >= det[i].score);
    assert_int_equal(dt_ssd_layer_detect(l, 2, NULL, det), -1);
    dt_net_free(net);
}

// A bad target is reported (image, object) and makes the loss NaN, never a crash.
static void test_ssd_bad_targets(void **state) {
    dt_network *net = tu_net_from_text(HEAD "[outconv]\nclasses=2\nanchors_per_cell=1\n"
                                            "[ssd]\nlayers=0\nclasses=2\ngrids=4\nmax_boxes=2\n",
                                       1);
    assert_non_null(net);
    assert_int_equal(net->truth_size, 11);
    tu_fill_uniform(net->input, (size_t)2 * 4 * 4 * 3, 5, -1, 1);
    float good[] = {1, 0.1f, 0.1f, 0.6f, 0.7f, 1};
    memcpy(net->truth, good, sizeof good);
    net->truth[11] = 3; // image 1 claims 3 objects, the padding holds 2
    dt_clear_error();
    dt_net_forward(net);
    assert_true(isnan(net->loss));
    assert_true(tu_error_has("[ssd] layer 1", "image 1", "target count 3", NULL));
    dt_net_backward(net); // zero gradient, no crash
    net->truth[11] = 1;
    memcpy(net->truth + 12, good + 1, 4 * sizeof(float));
    net->truth[16] = 2; // class 2 of C = 2
    dt_net_forward(net);
    assert_true(isnan(net->loss));
    assert_true(tu_error_has("image 1", "object 0", "class 2", "[0, 2)", NULL));
    net->truth[16] = 0;
    dt_net_forward(net);
    assert_true(isfinite(net->loss));
    dt_net_free(net);
}

// Training with dropout=0.5: every output is 0 or twice the p=0 output, about
// half of them dropped; the same seed gives the same mask.
static void test_stdconv_dropout(void **state) {
    const char *cfg[2] = {"[net]\nbatch=4\nheight=8\nwidth=8\nchannels=3\nseed=7\n"
                          "[stdconv]\nfilters=16\ndropout=0\n",
                          "[net]\nbatch=4\nheight=8\nwidth=8\nchannels=3\nseed=7\n"
                          "[stdconv]\nfilters=16\ndropout=0.5\n"};
    dt_network *net[2];
    for (int i = 0; i < 2; i++) {
        net[i] = tu_net_from_text(cfg[i], 1);
        assert_non_null(net[i]);
        tu_fill_uniform(net[i]->input, (size_t)4 * 8 * 8 * 3, 9, -1, 1);
        dt_net_forward(net[i]);
    }
    const size_t n = (size_t)4 * 8 * 8 * 16;
    const float *y0 = net[0]->layers[0].output, *y1 = net[1]->layers[0].output;
    size_t zeros = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (y1[i] == 0 && y0[i] != 0) zeros++;
        else if (fabsf(y1[i] - 2 * y0[i]) > 1e-5f * (1 + fabsf(y0[i]))) bad++;
    }
    assert_int_equal(bad, 0);
    assert_true(zeros > n * 0.45 && zeros < n * 0.55);
    // rebuilt from the same seed, the mask repeats
    float *keep = malloc(n * sizeof(float));
    memcpy(keep, y1, n * sizeof(float));
    dt_net_free(net[1]);
    net[1] = tu_net_from_text(cfg[1], 1);
    tu_fill_uniform(net[1]->input, (size_t)4 * 8 * 8 * 3, 9, -1, 1);
    dt_net_forward(net[1]);
    assert_memory_equal(keep, net[1]->layers[0].output, n * sizeof(float));
    free(keep);
    dt_net_free(net[0]);
    dt_net_free(net[1]);
}

static void test_metrics(void **state) {
    // [single] on a 1x1x6 input (2 classes), square 1x1 "image": l1 in pixels = normalised
    dt_network *net = tu_net_from_text("[net]\nbatch=2\nheight=1\nwidth=1\nchannels=6\n"
                                       "[single]\nclasses=2\n",
                                       1);
    assert_non_null(net);
    float x[12] = {0, 0, 0, 0, 2, 1, /**/ 0, 0, 0, 0, 1, 3};
    float t[10] = {0.5f, 0.5f, 0.5f, 0.25f, 0, /**/ 0.5f, 0.5f, 0.5f, 0.5f, 0};
    memcpy(net->input, x, sizeof x);
    memcpy(net->truth, t, sizeof t);
    dt_net_forward(net);
    double acc, l1, f1;
    assert_int_equal(dt_single_metrics(dt_net_last(net), net, &acc, &l1), 0);
    assert_true(fabs(acc - 0.5) < 1e-12);
    assert_true(fabs(l1 - 0.25 / 8) < 1e-7);
    assert_int_equal(dt_multilabel_metrics(dt_net_last(net), net, 0.5f, &acc, &f1), -1);
    dt_net_free(net);

    net = tu_net_from_text("[net]\nbatch=2\nheight=1\nwidth=1\nchannels=3\n[multilabel]\n", 1);
    assert_non_null(net);
    float xm[6] = {2, -1, 0.5f, /**/ -3, -2, 1};
    float tm[6] = {1, 1, 0, /**/ 0, 0, 1};
    memcpy(net->input, xm, sizeof xm);
    memcpy(net->truth, tm, sizeof tm);
    dt_net_forward(net);
    // predictions at 0.5: 1 0 1 / 0 0 1 -> right 4 of 6; tp 2, fp 1, fn 1
    assert_int_equal(dt_multilabel_metrics(dt_net_last(net), net, 0.5f, &acc, &f1), 0);
    assert_true(fabs(acc - 4.0 / 6) < 1e-12);
    assert_true(fabs(f1 - 4.0 / 6) < 1e-12);
    dt_net_free(net);
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_cfgs),
        cmocka_unit_test(test_lesson_ssd_builds),
        cmocka_unit_test(test_ssd_bad_targets),
        cmocka_unit_test(test_stdconv_dropout),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests_name("heads", tests, NULL, NULL);
}
