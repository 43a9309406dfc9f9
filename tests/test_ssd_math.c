// SSD math against PyTorch: anchors, activations to boxes (and back),
// Jaccard, matching, BCE / focal terms, the loss of a padded batch with its
// gradients, and the detections of one image. The reference is the lesson's
// code transcribed in tests/ssd_ref.py, run by this test into its temp dir.
// Tolerances (max abs error / max |reference|): 1e-5 for geometry, 1e-4 for
// losses and gradients (float32 sums over ~4000 terms).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "detect/anchors.h"
#include "detect/box.h"
#include "detect/detect.h"
#include "detect/ssd.h"
#include "detect/ssd_elem.h"
#include "testutil.h"

#define TOL_GEOM 1e-5
#define TOL_LOSS 1e-4

static tu_archive *ref;
static dt_anchors *lesson;

static tu_tensor *need(const char *name) {
    tu_tensor *t = tu_get(ref, name);
    if (!t) fail_msg("reference tensor %s missing", name);
    return t;
}

static int setup(void **state) {
    (void)state;
    const char *py = getenv("PYTHON");
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/ssd_math.bin", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s tests/ssd_ref.py %s", py && *py ? py : "/usr/bin/python3",
             path);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    if (rc != 0) {
        fprintf(stderr, "reference failed (%d): %s\n%s\n", rc, cmd, out ? out : "");
        free(out);
        return -1;
    }
    free(out);
    ref = tu_load(path);
    lesson = dt_anchors_create_lesson();
    return ref && lesson ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_free(ref);
    dt_anchors_free(lesson);
    return 0;
}

static void test_anchors_lesson(void **state) {
    (void)state;
    assert_int_equal(lesson->n, 189);
    assert_int_equal(lesson->k, 9);
    // first: 4x4 cell (0, 0), zoom .75, ratio (1, 1); last: 1x1, zoom 1.3,
    // ratio (h .5, w 1)
    const float *f = lesson->ctr_size, *l = lesson->ctr_size + 188 * 4;
    assert_float_equal(f[0], 0.125f, 1e-7);
    assert_float_equal(f[1], 0.125f, 1e-7);
    assert_float_equal(f[2], 0.1875f, 1e-7);
    assert_float_equal(f[3], 0.1875f, 1e-7);
    assert_float_equal(l[0], 0.5f, 1e-7);
    assert_float_equal(l[1], 0.5f, 1e-7);
    assert_float_equal(l[2], 1.3f, 1e-6);
    assert_float_equal(l[3], 0.65f, 1e-6);
    // grid (A, 2): [1/W, 1/H], square grids here
    assert_float_equal(lesson->grid[0], 0.25f, 0);
    assert_float_equal(lesson->grid[1], 0.25f, 0);
    assert_float_equal(lesson->grid[2 * 144], 0.5f, 0);
    assert_float_equal(lesson->grid[2 * 188 + 1], 1.0f, 0);
    // anchor 9*5 + 1 = 4x4 cell (row 1, col 1), zoom .75, ratio (1, .5):
    // centre (.375, .375), w = .75*.5/4, h = .75/4
    const float *m = lesson->ctr_size + 46 * 4;
    assert_float_equal(m[0], 0.375f, 1e-7);
    assert_float_equal(m[2], 0.09375f, 1e-7);
    assert_float_equal(m[3], 0.1875f, 1e-7);
    assert_true(tu_check("anchors ctr_size", lesson->ctr_size, need("anchors.ctr_size")->data,
                         189 * 4, TOL_GEOM));
    assert_true(tu_check("anchors corners", lesson->corners, need("anchors.corners")->data,
                         189 * 4, TOL_GEOM));
    assert_true(tu_check("anchors grid", lesson->grid, need("anchors.grid")->data, 189 * 2,
                         TOL_GEOM));
}

static void test_anchors_other(void **state) {
    (void)state;
    const int g4[] = {4};
    const float z1[] = {1.0f}, r11[] = {1.0f, 1.0f};
    dt_anchors *a = dt_anchors_create(g4, 1, z1, 1, r11, 1);
    assert_non_null(a);
    assert_int_equal(a->n, 16);
    assert_int_equal(a->k, 1);
    assert_true(tu_check("anchors4 ctr_size", a->ctr_size, need("anchors4.ctr_size")->data, 64,
                         TOL_GEOM));
    assert_true(tu_check("anchors4 corners", a->corners, need("anchors4.corners")->data, 64,
                         TOL_GEOM));
    assert_true(tu_check("anchors4 grid", a->grid, need("anchors4.grid")->data, 16 * 2,
                         TOL_GEOM));
    dt_anchors_free(a);

    const int g7[] = {7, 4, 2, 1};
    const float zooms[] = {0.75f, 1.0f, 1.3f}, ratios[] = {1, 1, 1, 0.5f, 0.5f, 1};
    a = dt_anchors_create(g7, 4, zooms, 3, ratios, 3);
    assert_non_null(a);
    assert_int_equal(a->n, (49 + 16 + 4 + 1) * 9);
    // the 7x7 cell (6, 6) centre
    assert_float_equal(a->ctr_size[(48 * 9) * 4], 13.0f / 14.0f, 1e-7);
    dt_anchors_free(a);

    const int bad[] = {0};
    assert_null(dt_anchors_create(bad, 1, z1, 1, r11, 1));
    assert_true(tu_error_has("grid size 0", NULL));
}

// Non-square grids (W x H = 10x8, 5x4: a 320x256 input's heads) against the
// reference's make_anchors over (W, H) grids: centres, sizes, 1/W and 1/H,
// the decode and its gradient; then anchor_sizes= on the same grids.
static void test_anchors_nonsquare(void **state) {
    (void)state;
    dt_anchors *a = tu_anchors_10x8_5x4();
    const int A = (80 + 20) * 9;
    assert_int_equal(a->n, A);
    assert_int_equal(a->k, 9);
    // 10x8 cell (row 2, column 7), zoom 1, ratio (h 1, w .5): anchor (2*10+7)*9+4
    const float *m = a->ctr_size + (size_t)((2 * 10 + 7) * 9 + 4) * 4;
    assert_float_equal(m[0], 7.5f / 10, 1e-7);
    assert_float_equal(m[1], 2.5f / 8, 1e-7);
    assert_float_equal(m[2], 0.5f / 10, 1e-7);
    assert_float_equal(m[3], 1.0f / 8, 1e-7);
    assert_float_equal(a->grid[2 * 719], 0.1f, 0);
    assert_float_equal(a->grid[2 * 719 + 1], 0.125f, 0);
    assert_float_equal(a->grid[2 * 720], 0.2f, 0);
    assert_float_equal(a->grid[2 * 720 + 1], 0.25f, 0);
    assert_true(tu_check("anchorsNS ctr_size", a->ctr_size, need("anchorsNS.ctr_size")->data,
                         (size_t)A * 4, TOL_GEOM));
    assert_true(tu_check("anchorsNS corners", a->corners, need("anchorsNS.corners")->data,
                         (size_t)A * 4, TOL_GEOM));
    assert_true(tu_check("anchorsNS grid", a->grid, need("anchorsNS.grid")->data, (size_t)A * 2,
                         TOL_GEOM));
    const float *act = need("decodeNS.act")->data, *up = need("decodeNS.up")->data;
    float *cnr = malloc((size_t)A * 4 * sizeof(float)), *grad = malloc((size_t)A * 4 * sizeof(float));
    for (int j = 0; j < A; j++) {
        dt_box_decode(act + j * 4, a->ctr_size + j * 4, a->grid + j * 2, cnr + j * 4);
        dt_box_decode_backward(act + j * 4, a->ctr_size + j * 4, a->grid + j * 2, up + j * 4,
                               grad + j * 4);
    }
    assert_true(tu_check("decodeNS corners", cnr, need("decodeNS.corners")->data, (size_t)A * 4,
                         TOL_GEOM));
    assert_true(tu_check("decodeNS grad", grad, need("decodeNS.grad")->data, (size_t)A * 4,
                         TOL_GEOM));
    free(cnr);
    free(grad);
    dt_anchors_free(a);

    const int gw[] = {10, 5}, gh[] = {8, 4};
    const float wh[] = {0.3f, 0.1f, 0.05f, 0.4f};
    a = dt_anchors_create_sizes_wh(gw, gh, 2, wh, 2);
    assert_non_null(a);
    assert_int_equal(a->n, 200);
    assert_true(tu_check("anchorsNSsz ctr_size", a->ctr_size,
                         need("anchorsNSsz.ctr_size")->data, 200 * 4, TOL_GEOM));
    assert_true(tu_check("anchorsNSsz corners", a->corners, need("anchorsNSsz.corners")->data,
                         200 * 4, TOL_GEOM));
    dt_anchors_free(a);

    const int bad_w[] = {10}, bad_h[] = {0};
    const float z1[] = {1}, r11[] = {1, 1};
    assert_null(dt_anchors_create_wh(bad_w, bad_h, 1, z1, 1, r11, 1));
    assert_true(tu_error_has("grid size 10x0", NULL));
}

static void test_decode(void **state) {
    (void)state;
    const float *act = need("decode.act")->data, *up = need("decode.up")->data;
    float *cnr = malloc(189 * 4 * sizeof(float)), *grad = malloc(189 * 4 * sizeof(float));
    for (int j = 0; j < 189; j++) {
        dt_box_decode(act + j * 4, lesson->ctr_size + j * 4, lesson->grid + j * 2, cnr + j * 4);
        dt_box_decode_backward(act + j * 4, lesson->ctr_size + j * 4, lesson->grid + j * 2,
                               up + j * 4, grad + j * 4);
    }
    assert_true(tu_check("decode corners", cnr, need("decode.corners")->data, 189 * 4,
                         TOL_GEOM));
    assert_true(tu_check("decode grad", grad, need("decode.grad")->data, 189 * 4, TOL_GEOM));
    free(cnr);
    free(grad);
}

static void test_jaccard(void **state) {
    (void)state;
    tu_tensor *b = need("jaccard.boxes");
    int n = b->dims[0];
    float *iou = malloc((size_t)n * 189 * sizeof(float));
    dt_box_jaccard(b->data, n, lesson->corners, 189, iou);
    assert_true(tu_check("jaccard", iou, need("jaccard.iou")->data, (size_t)n * 189, TOL_GEOM));
    // hand case: unit square vs its right half = 0.5; disjoint = 0
    float u[4] = {0, 0, 1, 1}, h[4] = {0.5f, 0, 1, 1}, d[4] = {2, 2, 3, 3};
    assert_float_equal(dt_box_iou(u, h), 0.5f, 1e-7);
    assert_float_equal(dt_box_iou(u, d), 0.0f, 0);
    double pu[4] = {1, 1, 10, 10}, ph[4] = {6, 1, 10, 10};
    assert_float_equal(dt_box_iou_d(pu, ph, 1), 0.5, 1e-15);        // 50 / 100 pixels
    assert_float_equal(dt_box_iou_d(pu, ph, 0), 36.0 / 81.0, 1e-15); // continuous
    free(iou);
}

static void test_match(void **state) {
    (void)state;
    tu_tensor *objs = need("match.objects");
    int n = objs->dims[0];
    float *ov = malloc((size_t)n * 189 * sizeof(float)), gov[189];
    int gidx[189];
    dt_box_jaccard(objs->data, n, lesson->corners, 189, ov);
    assert_true(tu_check("match overlaps", ov, need("match.overlaps")->data, (size_t)n * 189,
                         TOL_GEOM));
    dt_ssd_match(need("match.overlaps")->data, n, 189, gov, gidx);
    assert_true(tu_check("match gt_overlap", gov, need("match.gt_overlap")->data, 189,
                         TOL_GEOM));
    const float *want = need("match.gt_idx")->data;
    int shared = (int)need("match.shared_anchor")->data[0], bad = 0;
    for (int j = 0; j < 189; j++)
        // the reference's index is arbitrary among equal zero overlaps
        if (gov[j] > 0 && gidx[j] != (int)want[j]) {
            printf("anchor %d: object %d, reference %d\n", j, gidx[j], (int)want[j]);
            bad++;
        }
    assert_int_equal(bad, 0);
    assert_int_equal(gidx[shared], 2); // the later of objects 1 and 2
    assert_float_equal(gov[shared], 1.99f, 0);
    int n_pos = 0;
    for (int j = 0; j < 189; j++) n_pos += gov[j] > 0.4f;
    assert_true(n_pos > 4); // the large object takes several anchors
    free(ov);
}

// The tie rules by hand (the reference's random overlaps have no exact ties):
// an anchor equally overlapped by two objects takes the first; an object
// equally overlapping two anchors is forced onto the first; two objects with
// the same best anchor: the later one takes it. dt_rank_before is the rule
// the GPU twin's reductions apply pairwise, so it must agree with the scans.
static void test_match_ties(void **state) {
    (void)state;
    // objects (3) x anchors (4)
    const float ov[3][4] = {{0.5f, 0.7f, 0.7f, 0.1f},  // best anchors 1 and 2: 1
                            {0.5f, 0.2f, 0.3f, 0.45f}, // best anchor 0 (ties obj 0 there)
                            {0.6f, 0.1f, 0.1f, 0.45f}};
    float gov[4];
    int gidx[4];
    dt_ssd_match(&ov[0][0], 3, 4, gov, gidx);
    // anchor 0: best object 2 (.6) but the forced best anchor of objects 1 and 2: 2
    assert_int_equal(gidx[0], 2);
    assert_float_equal(gov[0], 1.99f, 0);
    assert_int_equal(gidx[1], 0); // object 0's forced first best anchor
    assert_float_equal(gov[1], 1.99f, 0);
    assert_int_equal(gidx[2], 0); // .7 from object 0 only
    assert_float_equal(gov[2], 0.7f, 0);
    assert_int_equal(gidx[3], 1); // .45 from objects 1 and 2: the first
    assert_float_equal(gov[3], 0.45f, 0);
    for (int j = 0; j < 4; j++) {
        float v;
        int i;
        dt_ssd_best_object(&ov[0][0], 3, 4, j, &v, &i);
        for (int q = 0; q < 3; q++) assert_false(dt_rank_before(ov[q][j], q, v, i));
    }
    assert_true(dt_rank_before(0.5f, 1, 0.5f, 2));
    assert_false(dt_rank_before(0.5f, 2, 0.5f, 1));
    assert_true(dt_rank_before(0.6f, 9, 0.5f, 0));
    float none;
    int none_i;
    dt_ssd_best_object(&ov[0][0], 0, 4, 2, &none, &none_i);
    assert_int_equal(none_i, -1);
    assert_float_equal(none, 0.0f, 0);
}

// Each classification term on its own: the DT_HD functions over a whole
// (A, C+1) logit matrix against targets with background = C.
static void check_clas(const char *name, int focal) {
    tu_tensor *x = need("clas.logits");
    const float *tgt = need("clas.target")->data;
    int A = x->dims[0], C1 = x->dims[1], C = C1 - 1;
    float *g = calloc((size_t)A * C1, sizeof(float));
    double loss = 0;
    for (int j = 0; j < A; j++)
        for (int c = 0; c < C; c++) {
            float t = (int)tgt[j] == c ? 1.0f : 0.0f, v = x->data[j * C1 + c];
            loss += focal ? dt_focal_term(v, t, 0.25f, 2.0f) : dt_bce_logit(v, t);
            g[j * C1 + c] = (focal ? dt_focal_grad(v, t, 0.25f, 2.0f) : dt_bce_logit_grad(v, t)) / C;
        }
    float l = (float)(loss / C);
    char what[64];
    snprintf(what, sizeof what, "clas.%s.loss", name);
    assert_true(tu_check(what, &l, need(what)->data, 1, TOL_LOSS));
    snprintf(what, sizeof what, "clas.%s.grad", name);
    assert_true(tu_check(what, g, need(what)->data, (size_t)A * C1, TOL_LOSS));
    free(g);
}

static void test_bce(void **state) {
    (void)state;
    check_clas("bce", 0);
    // large logits stay finite (the stable form)
    assert_float_equal(dt_bce_logit(100.0f, 0.0f), 100.0f, 1e-4);
    assert_float_equal(dt_bce_logit(-100.0f, 1.0f), 100.0f, 1e-4);
}

static void test_focal(void **state) {
    (void)state;
    check_clas("focal", 1);
    // gamma 0, alpha .5: half the BCE
    assert_float_equal(dt_focal_term(0.3f, 1.0f, 0.5f, 0.0f), 0.5f * dt_bce_logit(0.3f, 1.0f),
                       1e-7);
}

static void check_batch(const char *name, dt_ssd_clas_kind kind) {
    tu_tensor *bc = need("batch.clas"), *bb = need("batch.bact");
    tu_tensor *boxes = need("batch.boxes");
    int B = bc->dims[0], A = bc->dims[1], C1 = bc->dims[2], M = boxes->dims[1];
    int cls[64], nb[8];
    for (int i = 0; i < B * M; i++) cls[i] = (int)need("batch.classes")->data[i];
    for (int b = 0; b < B; b++) nb[b] = (int)need("batch.n_boxes")->data[b];
    dt_ssd_loss_cfg cfg;
    dt_ssd_loss_cfg_default(&cfg, kind);
    dt_ssd_loss *l = dt_ssd_loss_create(lesson, C1 - 1, M, &cfg);
    float *dc = malloc(bc->n * sizeof(float)), *db = malloc(bb->n * sizeof(float));
    double loss;
    dt_ssd_terms terms[8];
    assert_int_equal(dt_ssd_loss_batch(l, B, bc->data, bb->data, boxes->data, cls, nb, M, dc, db,
                                       &loss, terms),
                     0);
    char what[64];
    float lf = (float)loss, tf[16];
    for (int b = 0; b < B; b++) {
        tf[2 * b] = (float)terms[b].loc;
        tf[2 * b + 1] = (float)terms[b].clas;
        assert_true(terms[b].n_pos >= nb[b]);
    }
    snprintf(what, sizeof what, "batch.%s.loss", name);
    assert_true(tu_check(what, &lf, need(what)->data, 1, TOL_LOSS));
    snprintf(what, sizeof what, "batch.%s.terms", name);
    assert_true(tu_check(what, tf, need(what)->data, (size_t)2 * B, TOL_LOSS));
    snprintf(what, sizeof what, "batch.%s.dclas", name);
    assert_true(tu_check(what, dc, need(what)->data, bc->n, TOL_LOSS));
    snprintf(what, sizeof what, "batch.%s.dbact", name);
    assert_true(tu_check(what, db, need(what)->data, bb->n, TOL_LOSS));
    for (int j = 0; j < B * A; j++) assert_float_equal(dc[j * C1 + C1 - 1], 0.0f, 0);
    dt_ssd_loss_free(l);
    free(dc);
    free(db);
}

static void test_batch_bce(void **state) {
    (void)state;
    check_batch("bce", DT_SSD_BCE);
}

static void test_batch_focal(void **state) {
    (void)state;
    check_batch("focal", DT_SSD_FOCAL);
}

// No objects: no positive anchor, loc 0, every anchor background.
static void test_empty_image(void **state) {
    (void)state;
    tu_tensor *bc = need("batch.clas"), *bb = need("batch.bact");
    int A = bc->dims[1], C1 = bc->dims[2], C = C1 - 1;
    dt_ssd_loss *l = dt_ssd_loss_create(lesson, C, 4, NULL);
    float *dc = malloc((size_t)A * C1 * sizeof(float)), *db = malloc((size_t)A * 4 * sizeof(float));
    dt_ssd_terms t;
    assert_int_equal(dt_ssd_loss_image(l, bc->data, bb->data, NULL, NULL, 0, dc, db, &t), 0);
    double want = 0;
    for (int j = 0; j < A; j++)
        for (int c = 0; c < C; c++) want += dt_bce_logit(bc->data[j * C1 + c], 0.0f);
    assert_int_equal(t.n_pos, 0);
    assert_float_equal(t.loc, 0.0, 0);
    assert_float_equal(t.clas, want / C, 1e-9 * want);
    for (int j = 0; j < A * 4; j++) assert_float_equal(db[j], 0.0f, 0);
    // wrong inputs are reported, not crashed on
    float box[4] = {0.1f, 0.1f, 0.5f, 0.5f};
    int cls = C;
    assert_int_equal(dt_ssd_loss_image(l, bc->data, bb->data, box, &cls, 1, dc, db, &t), -1);
    assert_true(tu_error_has("class 20", NULL));
    assert_int_equal(dt_ssd_loss_image(l, bc->data, bb->data, box, &cls, 5, dc, db, &t), -1);
    assert_true(tu_error_has("at most 4", NULL));
    dt_ssd_loss_free(l);
    free(dc);
    free(db);
}

// Loss gradient against central differences in double on a few logits and
// box activations: checks the analytic backward independently of PyTorch.
static void test_loss_fd(void **state) {
    (void)state;
    tu_tensor *bc = need("batch.clas"), *bb = need("batch.bact");
    int A = bc->dims[1], C1 = bc->dims[2];
    float box[8] = {0.1f, 0.2f, 0.45f, 0.6f, 0.5f, 0.5f, 0.9f, 0.8f};
    int cls[2] = {3, 7};
    for (int kind = 0; kind < 2; kind++) {
        dt_ssd_loss_cfg cfg;
        dt_ssd_loss_cfg_default(&cfg, kind ? DT_SSD_FOCAL : DT_SSD_BCE);
        dt_ssd_loss *l = dt_ssd_loss_create(lesson, C1 - 1, 2, &cfg);
        float *c = malloc((size_t)A * C1 * sizeof(float)), *b = malloc((size_t)A * 4 * sizeof(float));
        float *dc = malloc((size_t)A * C1 * sizeof(float)), *db = malloc((size_t)A * 4 * sizeof(float));
        memcpy(c, bc->data, (size_t)A * C1 * sizeof(float));
        memcpy(b, bb->data, (size_t)A * 4 * sizeof(float));
        dt_ssd_terms t;
        dt_ssd_loss_image(l, c, b, box, cls, 2, dc, db, &t);
        int n_chk = 0;
        double got[32], want[32];
        for (int j = 0; j < A && n_chk < 24; j++) {
            if (db[j * 4] == 0.0f && db[j * 4 + 1] == 0.0f) continue; // not positive
            for (int q = 0; q < 2; q++) {
                float *p = q ? &c[j * C1 + 3] : &b[j * 4 + 2];
                float save = *p, h = 1e-2f;
                dt_ssd_terms tp, tm;
                *p = save + h;
                dt_ssd_loss_image(l, c, b, box, cls, 2, NULL, NULL, &tp);
                *p = save - h;
                dt_ssd_loss_image(l, c, b, box, cls, 2, NULL, NULL, &tm);
                *p = save;
                want[n_chk] = ((tp.loc + tp.clas) - (tm.loc + tm.clas)) / (2.0 * h);
                got[n_chk++] = q ? dc[j * C1 + 3] : db[j * 4 + 2];
            }
        }
        assert_true(n_chk >= 4);
        assert_true(tu_check_d(kind ? "focal finite differences" : "bce finite differences", got,
                               want, (size_t)n_chk, 1e-3));
        dt_ssd_loss_free(l);
        free(c);
        free(b);
        free(dc);
        free(db);
    }
}

static void test_detect(void **state) {
    (void)state;
    tu_tensor *dc = need("detect.clas"), *db = need("detect.bact"), *want = need("detect.out");
    int C = dc->dims[1] - 1, n_want = want->dims[0];
    dt_detect_cfg cfg;
    dt_detect_cfg_default(&cfg);
    dt_detect_ws *ws = dt_detect_ws_create(lesson->n, C);
    dt_detection out[100];
    int n = dt_detect_image(lesson, C, dc->data, db->data, &cfg, ws, out);
    printf("detections: %d (reference %d)\n", n, n_want);
    assert_int_equal(n, n_want);
    assert_true(n > 20 && n <= 100); // the case exercises several classes
    float *boxes = malloc((size_t)n * 4 * sizeof(float));
    int mism = 0;
    for (int i = 0; i < n; i++) {
        const float *w = want->data + i * 3;
        if (out[i].cls != (int)w[0] || out[i].anchor != (int)w[1] ||
            fabsf(out[i].score - w[2]) > 1e-6f)
            mism++;
        memcpy(boxes + i * 4, out[i].box, sizeof(out[i].box));
    }
    assert_int_equal(mism, 0);
    assert_true(tu_check("detect boxes", boxes, need("detect.boxes")->data, (size_t)n * 4,
                         TOL_GEOM));
    // settable limits
    cfg.max_total = 5;
    assert_int_equal(dt_detect_image(lesson, C, dc->data, db->data, &cfg, ws, out), 5);
    cfg.max_total = 100;
    cfg.score_thresh = 0.999f;
    assert_int_equal(dt_detect_image(lesson, C, dc->data, db->data, &cfg, ws, out), 0);
    free(boxes);
    dt_detect_ws_free(ws);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anchors_lesson), cmocka_unit_test(test_anchors_other),
        cmocka_unit_test(test_anchors_nonsquare),
        cmocka_unit_test(test_decode),         cmocka_unit_test(test_jaccard),
        cmocka_unit_test(test_match),          cmocka_unit_test(test_bce),
        cmocka_unit_test(test_focal),          cmocka_unit_test(test_batch_bce),
        cmocka_unit_test(test_batch_focal),    cmocka_unit_test(test_empty_image),
        cmocka_unit_test(test_loss_fd),        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_match_ties),
    };
    return cmocka_run_group_tests_name("ssd_math", tests, setup, teardown);
}
