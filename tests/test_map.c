// The mAP evaluator against outside implementations on the same detections:
// tests/map_ref.py builds deterministic detections from the voc2012_sample
// objects (tests/data/voc2012_sample_gt.txt: 100 images, 273 objects, 38
// difficult) with jitter, duplicates, wrong classes, misses and false boxes,
// then scores them with (a) a transcription of the VOC devkit's evaluation
// (py-faster-rcnn's voc_eval.py, 11-point and all-point, inclusive-pixel and
// continuous IoU) and (b) pycocotools' COCOeval (AP@[.5:.95], AP50, AP75).
// Per-class AP and the means must agree to 1e-9 (absolute). The writers are
// checked by scoring the files they write with the same references. A tiny
// case has AP values worked out by hand.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "detect/eval.h"
#include "testutil.h"

#define NC 20
#define TOL 1e-9
#define MAX_IMG 256
#define MAX_REC 4096

typedef struct {
    int n_img;
    char names[MAX_IMG][32];
    int n_gt, n_det;
    int g_img[MAX_REC], g_cls[MAX_REC], g_diff[MAX_REC];
    double g_box[MAX_REC][4];
    int d_img[MAX_REC], d_cls[MAX_REC];
    double d_score[MAX_REC], d_box[MAX_REC][4];
} map_case;

static map_case cs;
static char dir[512];

static const char *python(void) {
    const char *py = getenv("PYTHON");
    return py && *py ? py : "/usr/bin/python3";
}

static int load_case(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == 'I') {
            int w, h;
            if (cs.n_img >= MAX_IMG || sscanf(line, "I %31s %d %d", cs.names[cs.n_img], &w, &h) != 3)
                break;
            cs.n_img++;
        } else if (line[0] == 'G' && cs.n_gt < MAX_REC) {
            int k = cs.n_gt++;
            double *b = cs.g_box[k];
            sscanf(line, "G %d %d %d %lf %lf %lf %lf", &cs.g_img[k], &cs.g_cls[k], &cs.g_diff[k],
                   &b[0], &b[1], &b[2], &b[3]);
        } else if (line[0] == 'D' && cs.n_det < MAX_REC) {
            int k = cs.n_det++;
            double *b = cs.d_box[k];
            sscanf(line, "D %d %d %lf %lf %lf %lf %lf", &cs.d_img[k], &cs.d_cls[k], &cs.d_score[k],
                   &b[0], &b[1], &b[2], &b[3]);
        }
    }
    fclose(f);
    return cs.n_img > 0 && cs.n_gt > 0 && cs.n_det > 0 ? 0 : -1;
}

// The reference value of metric for class c (-1: the mean), NaN if absent.
static double ref_value(const char *file, const char *metric, int c) {
    char path[600], line[256], m[64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot read %s", path);
    double v = NAN;
    int k;
    double x;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %d %lf", m, &k, &x) == 3 && !strcmp(m, metric) && k == c) v = x;
    fclose(f);
    return v;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s tests/map_ref.py gen tests/data/voc2012_sample_gt.txt %s",
             python(), dir);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    if (rc != 0) fprintf(stderr, "reference failed (%d): %s\n%s\n", rc, cmd, out ? out : "");
    free(out);
    if (rc != 0) return -1;
    char path[600];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    return load_case(path);
}

// Adds the case image by image (records are grouped by image in the file).
static dt_eval *eval_of_case(dt_iou_mode mode) {
    dt_eval *e = dt_eval_create(NC, mode);
    int g = 0, d = 0;
    for (int im = 0; im < cs.n_img; im++) {
        int g0 = g, d0 = d;
        while (g < cs.n_gt && cs.g_img[g] == im) g++;
        while (d < cs.n_det && cs.d_img[d] == im) d++;
        int r = dt_eval_add_image(e, cs.g_box[g0], cs.g_cls + g0, cs.g_diff + g0, g - g0,
                                  cs.d_box[d0], cs.d_cls + d0, cs.d_score + d0, d - d0);
        assert_int_equal(r, im);
    }
    assert_int_equal(g, cs.n_gt);
    assert_int_equal(d, cs.n_det);
    return e;
}

// Per-class values (C) and the mean against the reference, NaN = NaN.
static int check_metric(const char *file, const char *metric, const double *got, double mean) {
    double worst = 0;
    int bad = 0;
    for (int c = -1; c < NC; c++) {
        double w = ref_value(file, metric, c), v = c < 0 ? mean : got[c];
        if (isnan(w) || isnan(v)) {
            if (isnan(w) != isnan(v)) bad++;
            continue;
        }
        double e = fabs(v - w);
        if (e > worst) worst = e;
        if (e > TOL) {
            printf("  %s class %d: %.12f, reference %.12f\n", metric, c, v, w);
            bad++;
        }
    }
    printf("  %-12s mean %.6f (reference %.6f) max err %.1e tol %.0e %s\n", metric, mean,
           ref_value(file, metric, -1), worst, TOL, bad ? "FAIL" : "PASS");
    return bad == 0;
}

static void test_voc_pixel(void **state) {
    (void)state;
    dt_eval *e = eval_of_case(DT_IOU_VOC_PIXEL);
    dt_eval_result r;
    assert_int_equal(dt_eval_compute(e, &r), 0);
    assert_int_equal(r.iou_mode, DT_IOU_VOC_PIXEL);
    assert_true(check_metric("ref.txt", "voc11_px", r.ap11, r.map11));
    assert_true(check_metric("ref.txt", "vocall_px", r.ap_all, r.map_all));
    // the case is not degenerate: far from 0 and 1
    assert_true(r.map11 > 0.3 && r.map11 < 0.95);
    dt_eval_result_free(&r);
    dt_eval_free(e);
}

static void test_voc_continuous(void **state) {
    (void)state;
    dt_eval *e = eval_of_case(DT_IOU_CONTINUOUS);
    dt_eval_result r;
    assert_int_equal(dt_eval_compute(e, &r), 0);
    assert_true(check_metric("ref.txt", "voc11_cont", r.ap11, r.map11));
    assert_true(check_metric("ref.txt", "vocall_cont", r.ap_all, r.map_all));
    dt_eval_result_free(&r);
    dt_eval_free(e);
}

static void test_coco(void **state) {
    (void)state;
    dt_eval *e = eval_of_case(DT_IOU_VOC_PIXEL);
    dt_eval_result r;
    assert_int_equal(dt_eval_compute(e, &r), 0);
    assert_true(check_metric("ref.txt", "coco", r.ap_coco, r.map_coco));
    assert_true(check_metric("ref.txt", "coco50", r.ap_coco50, r.map_coco50));
    assert_true(check_metric("ref.txt", "coco75", r.ap_coco75, r.map_coco75));
    dt_eval_result_free(&r);
    dt_eval_free(e);
}

static void test_writers(void **state) {
    (void)state;
    dt_eval *e = eval_of_case(DT_IOU_VOC_PIXEL);
    char out[700], path[800];
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(out, 0755);
    char cnames[NC][8];
    const char *names[NC], *ids[MAX_IMG];
    int cat_ids[NC], img_ids[MAX_IMG];
    for (int c = 0; c < NC; c++) {
        snprintf(cnames[c], sizeof cnames[c], "c%d", c);
        names[c] = cnames[c];
        cat_ids[c] = c + 1;
    }
    for (int i = 0; i < cs.n_img; i++) {
        ids[i] = cs.names[i];
        img_ids[i] = i + 1;
    }
    assert_int_equal(dt_eval_write_voc(e, out, names, ids), 0);
    snprintf(path, sizeof path, "%s/results.json", out);
    assert_int_equal(dt_eval_write_coco(e, path, cat_ids, img_ids), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s tests/map_ref.py files tests/data/voc2012_sample_gt.txt %s",
             python(), dir);
    char *log = NULL;
    int rc = tu_run(cmd, &log);
    if (rc != 0) printf("%s\n", log ? log : "");
    free(log);
    assert_int_equal(rc, 0);
    dt_eval_result r;
    assert_int_equal(dt_eval_compute(e, &r), 0);
    assert_true(check_metric("files_ref.txt", "voc11_px", r.ap11, r.map11));
    assert_true(check_metric("files_ref.txt", "vocall_px", r.ap_all, r.map_all));
    assert_true(check_metric("files_ref.txt", "coco", r.ap_coco, r.map_coco));
    assert_true(check_metric("files_ref.txt", "coco50", r.ap_coco50, r.map_coco50));
    dt_eval_result_free(&r);
    // an unwritable place is an error with the path
    assert_int_equal(dt_eval_write_voc(e, "/nonexistent/dir", names, ids), -1);
    assert_true(tu_error_has("/nonexistent/dir/comp4_det_test_c0.txt", NULL));
    dt_eval_free(e);
}

// By hand. One image, VOC pixels. Class 0: objects A [1,1,10,10],
// B [21,1,30,10], C [41,1,50,10] and D [61,1,70,10] (difficult);
// detections by score:
//   d6 .95 = D        matches a difficult object: ignored
//   d1 .90 = A        TP   rec 1/3 prec 1
//   d2 .80 = A        FP (A taken)  1/3, 1/2
//   d3 .70 far away   FP   1/3, 1/3
//   d4 .60 = B        TP   2/3, 1/2
//   d5 .50 [43,1,52,10] vs C: 80 / (100+100-80) = 2/3 >= .5: TP  1, 3/5
// 11-point: t = 0..0.3: 1 (4 points); t = .4..0.6: max prec at rec >= t = .6
// (3 points); t = .7..1: .6 (4 points) -> (4 + 1.8 + 2.4) / 11 = 8.2/11.
// All-point: envelope 1 to rec 1/3, .6 to 1 -> 1/3 + 2/3 * .6 = 11/15.
// Class 1: no object, one detection -> no AP, not in the mean.
// Class 2: one object, no detection -> AP 0.  mAP = AP0 / 2.
// COCO (continuous [x1-1, y1-1, x2, y2]; D is a crowd region): IoU .5-.65
// as VOC: recall thresholds 0..1/3 -> 1 (34 of 101), above -> .6 (67):
// 74.2/101; IoU .7-.95 (6 thresholds): d5 misses, envelope 1 up to rec 1/3,
// .5 to 2/3, 0 above: (34 + 33 * .5)/101 = 50.5/101 = .5.
// AP@[.5:.95] = (4 * 74.2/101 + 6 * .5) / 10.
static void test_hand(void **state) {
    (void)state;
    const double gt[] = {1, 1, 10, 10, 21, 1, 30, 10, 41, 1, 50, 10, 61, 1, 70, 10, 5, 5, 9, 9};
    const int gcls[] = {0, 0, 0, 0, 2}, gdiff[] = {0, 0, 0, 1, 0};
    const double det[] = {61, 1,  70,  10,  1,  1, 10, 10, 1,  1, 10, 10, 100, 100,
                          110, 110, 21, 1, 30, 10, 43, 1, 52, 10, 1, 1, 5, 5};
    const int dcls[] = {0, 0, 0, 0, 0, 0, 1};
    const double sc[] = {.95, .9, .8, .7, .6, .5, .4};
    dt_eval *e = dt_eval_create(3, DT_IOU_VOC_PIXEL);
    assert_int_equal(dt_eval_add_image(e, gt, gcls, gdiff, 5, det, dcls, sc, 7), 0);
    dt_eval_result r;
    assert_int_equal(dt_eval_compute(e, &r), 0);
    assert_int_equal(r.n_pos[0], 3);
    assert_int_equal(r.n_pos[1], 0);
    assert_int_equal(r.n_classes_with_gt, 2);
    assert_float_equal(r.ap11[0], 8.2 / 11, 1e-12);
    assert_float_equal(r.ap_all[0], 11.0 / 15, 1e-12);
    assert_true(isnan(r.ap11[1]) && isnan(r.ap_all[1]) && isnan(r.ap_coco[1]));
    assert_float_equal(r.ap11[2], 0.0, 0);
    assert_float_equal(r.map11, 8.2 / 22, 1e-12);
    assert_float_equal(r.map_all, 11.0 / 30, 1e-12);
    assert_float_equal(r.ap_coco50[0], 74.2 / 101, 1e-12);
    assert_float_equal(r.ap_coco75[0], 0.5, 1e-12);
    assert_float_equal(r.ap_coco[0], (4 * 74.2 / 101 + 3.0) / 10, 1e-12);
    assert_float_equal(r.map_coco, (4 * 74.2 / 101 + 3.0) / 20, 1e-12);
    dt_eval_result_free(&r);

    // bad input is reported
    int bad = 3;
    assert_int_equal(dt_eval_add_image(e, gt, &bad, NULL, 1, NULL, NULL, NULL, 0), -1);
    assert_true(tu_error_has("class 3", NULL));
    dt_eval_free(e);

    // normalised <-> VOC pixels: pixel i covers [i - 1, i]
    float box[4] = {0.0f, 0.5f, 0.5f, 1.0f}, back[4];
    double px[4];
    dt_box_to_voc_pixels(box, 100, 50, px);
    assert_float_equal(px[0], 1, 0);
    assert_float_equal(px[1], 26, 0);
    assert_float_equal(px[2], 50, 0);
    assert_float_equal(px[3], 50, 0);
    dt_box_from_voc_pixels(px, 100, 50, back);
    assert_memory_equal(back, box, sizeof box);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voc_pixel), cmocka_unit_test(test_voc_continuous),
        cmocka_unit_test(test_coco),      cmocka_unit_test(test_writers),
        cmocka_unit_test(test_hand),
    };
    return cmocka_run_group_tests_name("map", tests, setup, NULL);
}
