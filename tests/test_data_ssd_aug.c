// The SSD paper's augmentation (docs/DATA.md "SSD augmentation") against
// independent references: solid boxes painted on a real BCCD image go
// through expand/crop/flip/resize, and each output box must match the
// extent of its colour in the rendered input within one pixel; the expand
// canvas is the mean pixel exactly; the crop's IoU constraint and the
// centre rule are recomputed here; the photometric pixel maps are checked
// against tests/photometric_ref.py (numpy, colorsys, torchvision); the same
// (seed, epoch, index) gives the same batch whatever the thread count.
#include "data_testutil.h"
#include "testutil.h"

#include "base/cfg.h"
#include "base/common.h"
#include "data/loader.h"
#include "data/transform.h"
#include "media/image.h"
#include "train/checkpoint.h"
#include "train/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL_IMAGE "tests/data/real/bccd/BCCD/JPEGImages/BloodImage_00000.jpg" // 640x480

enum { NB = 3 };
// Boxes (source pixels) and their solid colours (B,G,R bytes): green, blue,
// yellow, none of which the blood smear holds (checked).
static const dt_box BOXES[NB] = {{100, 80, 220, 200}, {400, 250, 560, 420}, {300, 50, 360, 130}};
static const unsigned char COLOURS[NB][3] = {{0, 255, 0}, {255, 0, 0}, {0, 255, 255}};

// Output pixel (normalised RGB) close to colour k (B,G,R bytes).
static int is_colour(const float *o, int k) {
    for (int c = 0; c < 3; c++) {
        float v = o[c] * dt_imagenet_std[c] + dt_imagenet_mean[c];
        if (fabsf(v - COLOURS[k][2 - c] / 255.0f) > 0.2f) return 0;
    }
    return 1;
}

// The real image with the boxes painted; 0, or -1 without OpenCV.
static int painted(dt_image *im) {
    if (!dt_image_available()) return -1;
    assert_int_equal(dt_image_load(REAL_IMAGE, im), 0);
    assert_int_equal(im->w, 640);
    assert_int_equal(im->h, 480);
    // Precondition: no pixel of the image passes for one of the colours.
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            const unsigned char *p = im->data + (size_t)y * im->step + 3 * x;
            for (int k = 0; k < NB; k++) {
                int close = 1;
                for (int c = 0; c < 3; c++) close &= abs(p[c] - COLOURS[k][c]) <= 51;
                assert_false(close);
            }
        }
    for (int k = 0; k < NB; k++)
        dt_image_draw_rect(im, (int)BOXES[k].x1, (int)BOXES[k].y1, (int)BOXES[k].x2 - 1,
                           (int)BOXES[k].y2 - 1, COLOURS[k], -1);
    return 0;
}

// Extent of the pixels of colour k as a continuous box; -1 if none.
static int extent_of(const float *img, int w, int h, int k, dt_box *b) {
    int x1 = w, y1 = h, x2 = -1, y2 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (is_colour(img + ((size_t)y * w + x) * 3, k)) {
                if (x < x1) x1 = x;
                if (x > x2) x2 = x;
                if (y < y1) y1 = y;
                if (y > y2) y2 = y;
            }
    if (x2 < 0) return -1;
    b->x1 = (float)x1, b->y1 = (float)y1, b->x2 = (float)x2 + 1, b->y2 = (float)y2 + 1;
    return 0;
}

static void render(const dt_image *src, dt_tfm *t, float *out) {
    dt_image_ctx *ctx = dt_image_ctx_new();
    dt_image warped;
    assert_int_equal(dt_tfm_warp(ctx, src, 1.0f, t, &warped), 0);
    dt_tfm_pixels(&warped, t, out);
    dt_image_ctx_free(ctx);
}

// Every box the transform keeps and that is at least 4 pixels each way
// matches the extent of its colour within one pixel. The number checked.
static int check_boxes(const float *out, const dt_tfm *t, const char *what) {
    int checked = 0;
    for (int k = 0; k < NB; k++) {
        dt_box want, got = {0, 0, 0, 0};
        if (dt_tfm_box(t, BOXES[k], &want) != 0) continue;
        if (want.x2 - want.x1 < 4 || want.y2 - want.y1 < 4) continue;
        if (extent_of(out, t->out_w, t->out_h, k, &got) != 0)
            fail_msg("%s: box %d (%g %g %g %g) not rendered", what, k, want.x1, want.y1, want.x2,
                     want.y2);
        if (fabsf(got.x1 - want.x1) > 1 || fabsf(got.y1 - want.y1) > 1 ||
            fabsf(got.x2 - want.x2) > 1 || fabsf(got.y2 - want.y2) > 1)
            fail_msg("%s: box %d drawn extent (%g %g %g %g) vs box (%g %g %g %g)", what, k, got.x1,
                     got.y1, got.x2, got.y2, want.x1, want.y1, want.x2, want.y2);
        checked++;
    }
    return checked;
}

// Expand with a fixed draw: canvas 2.5x, the image at (288, 504) on it.
static void test_expand(void **state) {
    dt_image src;
    if (painted(&src) != 0) return;
    const double R = 2.5, L = 0.3 * (R - 1) * 640, T = 0.7 * (R - 1) * 480; // 288, 504
    const int OW = 300, OH = 300;
    dt_geom g = {(float)-L, (float)-T, (float)(R * 640 - L), (float)(R * 480 - T), 0, 0, 0};
    dt_geom_ssd gs = {1, 0, 0, 0, 0, 0};
    for (int variant = 0; variant < 3; variant++) {
        g.flip = variant == 1;
        g.letterbox = variant == 2;
        dt_tfm t;
        dt_tfm_geometry_ssd(&g, &gs, 640, 480, OW, OH, &t);
        if (variant == 2) { // distortion on: the canvas must stay the mean
            t.photo = 1, t.p_bright = 0.1f, t.p_alpha = 1.4f, t.p_sat = 1.3f, t.p_hue = 0.05f;
        }
        float *out = dt_alloc_floats((size_t)OW * OH * 3);
        render(&src, &t, out);
        if (variant < 2) assert_int_equal(check_boxes(out, &t, "expand"), NB);
        // Independently: source x -> (x + L) * OW / (R 640), flipped: OW - that.
        double sx = OW / (R * 640), sy = OH / (R * 480);
        if (variant == 2) { // letterbox of a 4:3 canvas into 300x300: 300x225 at y = 37
            sy = sx;
            assert_int_equal(t.ry, 37);
        }
        double oy = t.ry;
        for (int k = 0; k < NB && variant < 2; k++) {
            dt_box o;
            assert_int_equal(dt_tfm_box(&t, BOXES[k], &o), 0);
            double x1 = (BOXES[k].x1 + L) * sx, x2 = (BOXES[k].x2 + L) * sx;
            if (g.flip) {
                double f = OW - x2;
                x2 = OW - x1, x1 = f;
            }
            assert_float_equal(o.x1, x1, 1e-3);
            assert_float_equal(o.x2, x2, 1e-3);
            assert_float_equal(o.y1, (BOXES[k].y1 + T) * sy + oy, 1e-3);
            assert_float_equal(o.y2, (BOXES[k].y2 + T) * sy + oy, 1e-3);
        }
        // The image covers [ix1, ix2) x [iy1, iy2) of the input; a pixel
        // wholly outside it (and inside the picture) is the mean: 0 exactly.
        double ix1 = L * sx, ix2 = (L + 640) * sx, iy1 = T * sy + oy, iy2 = (T + 480) * sy + oy;
        if (g.flip) {
            double f = OW - ix2;
            ix2 = OW - ix1, ix1 = f;
        }
        int canvas = 0, image = 0;
        for (int y = t.ry; y < t.ry + t.rh; y++)
            for (int x = 0; x < OW; x++) {
                const float *p = out + ((size_t)y * OW + x) * 3;
                if (x + 1 <= ix1 || x >= ix2 || y + 1 <= iy1 || y >= iy2) {
                    if (p[0] != 0 || p[1] != 0 || p[2] != 0)
                        fail_msg("canvas pixel (%d, %d) = (%g %g %g), not the mean", x, y, p[0],
                                 p[1], p[2]);
                    canvas++;
                } else if (x >= ix1 + 1 && x + 2 <= ix2 && y >= iy1 + 1 && y + 2 <= iy2) {
                    image += p[0] != 0 || p[1] != 0 || p[2] != 0;
                }
            }
        // All the picture but the image (and its edge pixels) is the canvas;
        // the image is not the mean.
        assert_true(canvas >= OW * t.rh - (ix2 - ix1 + 2) * (iy2 - iy1 + 2));
        assert_true(image > 100 * 80);
        free(out);
    }
    dt_image_free(&src);
}

// The drawn expand: ratio in [1, expand], the image inside the canvas,
// expanded about expand_p of the time.
static void test_expand_draw(void **state) {
    dt_augment a;
    dt_augment_defaults(&a);
    a.expand = 4;
    a.expand_p = 0.3f;
    int expanded = 0;
    for (int i = 0; i < 400; i++) {
        dt_rng r;
        dt_rng_seed3(&r, 3, 1, (uint64_t)i);
        dt_tfm t;
        dt_tfm_draw(&a, 1, 640, 480, 300, 300, &r, &t);
        dt_box whole = {0, 0, 640, 480}, o;
        assert_int_equal(dt_tfm_box(&t, whole, &o), 0);
        if (!t.fill_mean) {
            assert_float_equal(o.x1, 0, 1e-3);
            assert_float_equal(o.x2, 300, 1e-3);
            continue;
        }
        expanded++;
        double ratio_x = 300 / (o.x2 - o.x1), ratio_y = 300 / (o.y2 - o.y1);
        assert_float_equal(ratio_x, ratio_y, 1e-3); // the same ratio both ways
        assert_true(ratio_x >= 1 - 1e-4 && ratio_x <= 4 + 1e-4);
        assert_true(o.x1 >= -1e-3 && o.x2 <= 300 + 1e-3 && o.y1 >= -1e-3 && o.y2 <= 300 + 1e-3);
    }
    assert_true(expanded > 90 && expanded < 150); // 120 expected
}

// The centre rule and clipping on constructed cases: a crop (100,100)-(200,200)
// shown at scale 1.
static void test_centre_rule(void **state) {
    dt_geom g = {100, 100, 200, 200, 0, 0, 0};
    dt_geom_ssd gs = {0, 1, 100, 100, 200, 200};
    dt_tfm t, tc;
    dt_tfm_geometry_ssd(&g, &gs, 640, 480, 100, 100, &t);
    gs.box_crop = 2;
    dt_tfm_geometry_ssd(&g, &gs, 640, 480, 100, 100, &tc);
    struct {
        dt_box in;
        int centre_kept, clip_kept;
        dt_box out; // when kept (the same both ways)
    } cases[] = {
        {{120, 120, 180, 180}, 1, 1, {20, 20, 80, 80}},
        {{50, 120, 150, 180}, 0, 1, {0, 20, 50, 80}},    // centre x = 100: on the edge, out
        {{51, 120, 150, 180}, 1, 1, {0, 20, 50, 80}},    // centre 100.5: in, clipped
        {{150, 60, 190, 141}, 1, 1, {50, 0, 90, 41}},    // centre y = 100.5
        {{150, 150, 260, 260}, 0, 1, {50, 50, 100, 100}}, // centre (205, 205)
        {{0, 0, 90, 90}, 0, 0, {0, 0, 0, 0}},            // outside
        {{199.5f, 120, 260, 180}, 0, 0, {0, 0, 0, 0}},   // half a pixel inside: under one
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dt_box o;
        assert_int_equal(dt_tfm_box(&t, cases[i].in, &o) == 0, cases[i].centre_kept);
        if (cases[i].centre_kept) assert_memory_equal(&o, &cases[i].out, sizeof o);
        assert_int_equal(dt_tfm_box(&tc, cases[i].in, &o) == 0, cases[i].clip_kept);
        if (cases[i].clip_kept) assert_memory_equal(&o, &cases[i].out, sizeof o);
    }
}

static double iou_ref(dt_box a, dt_box b) {
    double w = fmin(a.x2, b.x2) - fmax(a.x1, b.x1), h = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    if (w <= 0 || h <= 0) return 0;
    double u = (a.x2 - a.x1) * (double)(a.y2 - a.y1) + (b.x2 - b.x1) * (double)(b.y2 - b.y1);
    return w * h / (u - w * h);
}

// The drawn crop: every constraint met, recomputed here; the options drawn
// evenly; rendered boxes where the transform puts them.
static void test_crop(void **state) {
    dt_augment a;
    dt_augment_defaults(&a);
    a.crop = 1;
    dt_object objs[NB];
    for (int k = 0; k < NB; k++) objs[k] = (dt_object){BOXES[k], k, 0};
    int choices[7] = {0}, cropped[7] = {0};
    for (int keep = 0; keep < 2; keep++) {
        a.crop_keep = keep;
        for (int i = 0; i < 700; i++) {
            dt_rng r;
            dt_rng_seed3(&r, 9, (uint64_t)keep, (uint64_t)i);
            dt_tfm t;
            dt_tfm_draw_objs(&a, 1, 640, 480, 300, 300, objs, NB, &r, &t);
            assert_true(t.crop_choice >= 0 && t.crop_choice < 7);
            choices[t.crop_choice]++;
            if (!t.box_crop) continue;
            cropped[t.crop_choice]++;
            assert_int_equal(t.box_crop, keep ? 2 : 1);
            assert_true(t.crop_choice >= 1);
            dt_box c = {t.bx1, t.by1, t.bx2, t.by2};
            double w = c.x2 - c.x1, h = c.y2 - c.y1;
            assert_true(w >= 0.3 * 640 - 1e-3 && w <= 640 + 1e-3);
            assert_true(h >= 0.3 * 480 - 1e-3 && h <= 480 + 1e-3);
            assert_true(w / h >= 0.5 - 1e-6 && w / h <= 2 + 1e-6);
            assert_true(c.x1 >= -1e-3 && c.y1 >= -1e-3 && c.x2 <= 640 + 1e-3 && c.y2 <= 480 + 1e-3);
            // Kept boxes, by the rule computed here; the best IoU meets the choice.
            double best = -1;
            int kept = 0;
            for (int k = 0; k < NB; k++) {
                dt_box b = BOXES[k], o;
                double cx = (b.x1 + b.x2) / 2.0, cy = (b.y1 + b.y2) / 2.0;
                int in = keep ? (fmin(b.x2, c.x2) > fmax(b.x1, c.x1) &&
                                 fmin(b.y2, c.y2) > fmax(b.y1, c.y1))
                              : (c.x1 < cx && cx < c.x2 && c.y1 < cy && cy < c.y2);
                int got = dt_tfm_box(&t, b, &o) == 0;
                if (!keep) assert_int_equal(got, in); // boxes here are large: never under 1 px
                if (!in) continue;
                kept++;
                best = fmax(best, iou_ref(b, c));
                if (got) { // clipped to the crop, scaled to the input
                    double sx = 300 / w, sy = 300 / h;
                    assert_float_equal(o.x1, (fmax(b.x1, c.x1) - c.x1) * sx, 2e-3);
                    assert_float_equal(o.x2, (fmin(b.x2, c.x2) - c.x1) * sx, 2e-3);
                    assert_float_equal(o.y1, (fmax(b.y1, c.y1) - c.y1) * sy, 2e-3);
                    assert_float_equal(o.y2, (fmin(b.y2, c.y2) - c.y1) * sy, 2e-3);
                }
            }
            assert_true(kept >= 1);
            if (t.crop_choice >= 2) assert_true(best >= a.crop_iou[t.crop_choice - 2] - 1e-6);
        }
    }
    printf("crop options (whole, none, 0.1 .. 0.9) drawn / cropped:");
    for (int k = 0; k < 7; k++) printf(" %d/%d", choices[k], cropped[k]);
    printf("\n");
    for (int k = 0; k < 7; k++) assert_true(choices[k] > 130 && choices[k] < 270); // 200 each
    // "whole image" never crops; no constraint and 0.1 nearly always find one.
    assert_int_equal(cropped[0], 0);
    assert_true(cropped[1] > 0.9 * choices[1] && cropped[2] > 0.8 * choices[2]);
    assert_true(cropped[4] > 0); // 0.5: met now and then in 50 trials
    // 0.9 cannot be met: a crop is at least 192x144 and the boxes are at most
    // 160x170, so the best IoU is 160*170 / (192*170) = 0.83; all trials
    // fail and the sample keeps the whole image.
    assert_int_equal(cropped[6], 0);

    // Rendered: crop (and expand, flip) on the painted image.
    dt_image src;
    if (painted(&src) != 0) return;
    a.expand = 3;
    a.flip = 1;
    a.crop_keep = DT_CROP_KEEP_CENTRE;
    float *out = dt_alloc_floats(300 * 300 * 3);
    int checked = 0, crops = 0;
    for (int i = 0; i < 24; i++) {
        dt_rng r;
        dt_rng_seed3(&r, 11, 0, (uint64_t)i);
        dt_tfm t;
        dt_tfm_draw_objs(&a, 1, 640, 480, 300, 300, objs, NB, &r, &t);
        crops += t.box_crop != 0;
        render(&src, &t, out);
        char what[64];
        snprintf(what, sizeof what, "crop draw %d", i);
        checked += check_boxes(out, &t, what);
    }
    assert_true(crops >= 10);
    assert_true(checked >= 24);
    free(out);
    dt_image_free(&src);
}

// Photometric pixel maps against tests/photometric_ref.py.
static void test_photometric(void **state) {
    enum { W = 29, H = 17, NC = 6 };
    static const float cases[NC][5] = {
        // bright, alpha, last, sat, hue (turns)
        {0.1f, 1.3f, 0, 1.4f, 0.05f},     {-0.12f, 0.6f, 1, 0.5f, -0.05f},
        {0, 1, 0, 1, 0.03f},              {0.125f, 1.5f, 1, 1, 0},
        {0, 1, 0, 0.7f, 0},               {-0.125f, 0.5f, 0, 1.5f, -0.04f},
    };
    dt_image im;
    assert_int_equal(dt_image_new(W, H, &im), 0);
    dt_rng r;
    dt_rng_seed(&r, 5);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++)
            im.data[(size_t)y * im.step + x] = (unsigned char)(dt_rng_u64(&r) >> 56);
    // A few exact cases: black, white, grey, pure primaries.
    static const unsigned char fixed[6][3] = {{0, 0, 0},   {255, 255, 255}, {128, 128, 128},
                                              {0, 0, 255}, {0, 255, 0},     {255, 0, 0}};
    memcpy(im.data, fixed, sizeof fixed);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "%d %d\n", W, H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const unsigned char *p = im.data + (size_t)y * im.step + 3 * x;
            fprintf(f, "%d %d %d\n", p[2], p[1], p[0]);
        }
    for (int c = 0; c < NC; c++)
        fprintf(f, "%.9g %.9g %d %.9g %.9g\n", cases[c][0], cases[c][1], (int)cases[c][2],
                cases[c][3], cases[c][4]);
    fclose(f);
    char *in = tu_write_file("photo_in.txt", text, len);
    free(text);
    char outp[4200], cmd[9000];
    snprintf(outp, sizeof outp, "%s/photo_out.txt", tu_tmpdir());
    const char *py = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "%s tests/photometric_ref.py %s %s", py && *py ? py : "/usr/bin/python3",
             in, outp);
    char *log = NULL;
    int rc = tu_run(cmd, &log);
    if (rc != 0) fail_msg("reference failed (%d): %s\n%s", rc, cmd, log ? log : "");
    free(log);
    free(in);
    FILE *ref = fopen(outp, "r");
    assert_non_null(ref);
    float *out = dt_alloc_floats(W * H * 3);
    double worst = 0;
    for (int c = 0; c < NC; c++) {
        dt_geom g = {0, 0, W, H, 0, 0, 0};
        dt_tfm t;
        dt_tfm_geometry(&g, W, H, W, H, &t);
        t.photo = 1;
        t.p_bright = cases[c][0], t.p_alpha = cases[c][1], t.p_contrast_last = (int)cases[c][2];
        t.p_sat = cases[c][3], t.p_hue = cases[c][4];
        dt_tfm_pixels(&im, &t, out);
        for (int i = 0; i < W * H * 3; i++) {
            double want;
            assert_int_equal(fscanf(ref, "%lf", &want), 1);
            double got = out[i] * (double)dt_imagenet_std[i % 3] + dt_imagenet_mean[i % 3];
            worst = fmax(worst, fabs(got - want));
            if (fabs(got - want) > 2e-5)
                fail_msg("case %d pixel %d channel %d: %.7f vs reference %.7f", c, i / 3, i % 3,
                         got, want);
        }
    }
    printf("photometric: worst |ours - reference| %.2e on [0,1] values\n", worst);
    fclose(ref);
    free(out);
    dt_image_free(&im);
}

// The drawn distortion: each part about half of the time, within its range;
// contrast first or last evenly; the geometry unchanged by turning it on.
static void test_photometric_draw(void **state) {
    dt_augment a, b;
    dt_augment_defaults(&a);
    a.flip = 1, a.rotate = 10, a.jitter = 0.1f, a.brightness = 0.1f;
    b = a;
    b.photometric = 1;
    int on[5] = {0};
    for (int i = 0; i < 400; i++) {
        dt_rng r1, r2;
        dt_rng_seed3(&r1, 2, 0, (uint64_t)i);
        r2 = r1;
        dt_tfm t1, t2;
        dt_tfm_draw(&a, 1, 640, 480, 300, 300, &r1, &t1);
        dt_tfm_draw(&b, 1, 640, 480, 300, 300, &r2, &t2);
        assert_memory_equal(t1.m, t2.m, sizeof t1.m);
        assert_true(t1.bright == t2.bright && !t1.photo && t2.photo);
        on[0] += t2.p_bright != 0, on[1] += t2.p_alpha != 1, on[2] += t2.p_sat != 1;
        on[3] += t2.p_hue != 0, on[4] += t2.p_contrast_last;
        assert_true(fabsf(t2.p_bright) <= 32 / 255.0f);
        assert_true(t2.p_alpha >= 0.5f && t2.p_alpha <= 1.5f);
        assert_true(t2.p_sat >= 0.5f && t2.p_sat <= 1.5f);
        assert_true(fabsf(t2.p_hue) <= 18 / 360.0f);
    }
    for (int k = 0; k < 5; k++) assert_true(on[k] > 160 && on[k] < 240);
}

// The cfg keys, and their errors naming file and line.
static void test_cfg_keys(void **state) {
    dt_cfg *c = dt_cfg_parse_string("[augment]\nphotometric=1\nexpand=4\nexpand_p=0.6\ncrop=1\n"
                                    "crop_iou=0.5,0.9\ncrop_scale=0.2,0.8\ncrop_ratio=0.25,4\n"
                                    "crop_trials=20\ncrop_keep=clip\n",
                                    "aug.cfg");
    assert_non_null(c);
    dt_augment a;
    dt_augment_defaults(&a);
    assert_false(dt_augment_ssd(&a));
    assert_int_equal(dt_augment_parse(&c->sec[0], &a), 0);
    assert_int_equal(dt_cfg_check_unused(&c->sec[0]), 0);
    assert_true(dt_augment_ssd(&a));
    assert_int_equal(a.photometric, 1);
    assert_float_equal(a.expand, 4, 0);
    assert_float_equal(a.expand_p, 0.6, 1e-6);
    assert_int_equal(a.n_crop_iou, 2);
    assert_float_equal(a.crop_iou[1], 0.9, 1e-6);
    assert_float_equal(a.crop_scale[0], 0.2, 1e-6);
    assert_float_equal(a.crop_ratio[1], 4, 1e-6);
    assert_int_equal(a.crop_trials, 20);
    assert_int_equal(a.crop_keep, DT_CROP_KEEP_CLIP);
    dt_cfg_free(c);
    static const char *bad[][2] = {
        {"[augment]\nexpand=0.5\n", "aug.cfg:2"},
        {"[augment]\ncrop_scale=0.5\n", "expected 2 numbers"},
        {"[augment]\ncrop_scale=0.8,0.5\n", "lo <= hi"},
        {"[augment]\ncrop_iou=0.5,1.5\n", "out of range"},
        {"[augment]\ncrop_keep=middle\n", "centre, clip"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = dt_cfg_parse_string(bad[i][0], "aug.cfg");
        assert_non_null(c);
        dt_augment_defaults(&a);
        assert_int_equal(dt_augment_parse(&c->sec[0], &a), -1);
        if (!strstr(dt_last_error(), bad[i][1]) || !strstr(dt_last_error(), "aug.cfg:2"))
            fail_msg("%s: error '%s' lacks '%s'", bad[i][0], dt_last_error(), bad[i][1]);
        dt_cfg_free(c);
    }
}

// The checkpoint's recipe names the SSD keys when on, and only then (so a
// checkpoint of an older cfg still matches).
static void test_recipe(void **state) {
    static const char *net = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n"
                             "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
                             "[avgpool]\n[connected]\noutput=3\n[softmax]\n";
    char text[1024];
    snprintf(text, sizeof text, "%s[augment]\nflip=1\n", net);
    dt_model *m = tu_model_from_text(text, 0);
    assert_non_null(m);
    char *r = dt_train_recipe(m, 3, NULL);
    assert_null(strstr(r, "augment_ssd"));
    free(r);
    dt_model_free(m);
    snprintf(text, sizeof text,
             "%s[augment]\nphotometric=1\nexpand=4\ncrop=1\ncrop_keep=clip\ncrop_iou=0.5,0.7\n", net);
    m = tu_model_from_text(text, 0);
    assert_non_null(m);
    r = dt_train_recipe(m, 3, NULL);
    const char *want = "augment_ssd photometric=1 expand=4 expand_p=0.5 crop=1 crop_keep=clip "
                       "crop_iou=0.5,0.7 crop_scale=0.3,1 crop_ratio=0.5,2 crop_trials=50\n";
    if (!strstr(r, want)) fail_msg("recipe lacks '%s':\n%s", want, r);
    free(r);
    dt_model_free(m);
}

// Through the loader on the real BCCD subset: the same seed gives the same
// batches (images and boxes, byte for byte) with 1 and 3 threads; boxes in
// [0,1] and the expand canvas present.
static void test_loader_threads(void **state) {
    dt_datacfg cfg;
    dt_dataset d;
    assert_int_equal(dt_datacfg_load("tests/data/real/bccd.data", &cfg), 0);
    assert_int_equal(dt_dataset_load(&cfg, "train", NULL, &d), 0);
    if (!dt_image_available()) {
        dt_dataset_free(&d);
        dt_datacfg_free(&cfg);
        return;
    }
    dt_dataset sub = d; // the first 24 (d keeps all 40 to free)
    sub.n = 24;
    float *img[2] = {NULL, NULL}, *box[2] = {NULL, NULL};
    int nbox[2][24], maxb[2];
    for (int run = 0; run < 2; run++) {
        dt_loader_opts o;
        dt_loader_opts_defaults(&o);
        o.batch = 24, o.width = 96, o.height = 96, o.seed = 77, o.epochs = 1;
        o.threads = run ? 3 : 1;
        o.aug.photometric = 1, o.aug.expand = 4, o.aug.crop = 1, o.aug.flip = 1;
        dt_loader *L = dt_loader_new(&sub, &o, NULL);
        assert_non_null(L);
        dt_batch *b = dt_loader_next(L);
        assert_non_null(b);
        assert_int_equal(b->n, 24);
        maxb[run] = b->max_boxes;
        img[run] = malloc(24 * 96 * 96 * 3 * sizeof(float));
        memcpy(img[run], b->images, 24 * 96 * 96 * 3 * sizeof(float));
        box[run] = malloc((size_t)24 * b->max_boxes * 4 * sizeof(float) + 1);
        memcpy(box[run], b->boxes, (size_t)24 * b->max_boxes * 4 * sizeof(float));
        memcpy(nbox[run], b->n_boxes, sizeof nbox[run]);
        assert_null(dt_loader_next(L));
        dt_loader_free(L);
    }
    assert_int_equal(maxb[0], maxb[1]);
    assert_memory_equal(img[0], img[1], 24 * 96 * 96 * 3 * sizeof(float));
    assert_memory_equal(nbox[0], nbox[1], sizeof nbox[0]);
    assert_memory_equal(box[0], box[1], (size_t)24 * maxb[0] * 4 * sizeof(float));
    int zero_rows = 0;
    for (int i = 0; i < 24; i++) {
        assert_true(nbox[0][i] >= 0);
        for (int j = 0; j < nbox[0][i]; j++)
            for (int k = 0; k < 4; k++) {
                float v = box[0][((size_t)i * maxb[0] + j) * 4 + k];
                assert_true(v >= 0 && v <= 1);
            }
        // An expanded sample shows the canvas: a row of exact zeros.
        for (int y = 0; y < 96; y++) {
            int all = 1;
            for (int x = 0; x < 96 * 3 && all; x++) all = img[0][((size_t)i * 96 + y) * 96 * 3 + x] == 0;
            zero_rows += all;
        }
    }
    assert_true(zero_rows > 0);
    for (int r = 0; r < 2; r++) free(img[r]), free(box[r]);
    dt_dataset_free(&d);
    dt_datacfg_free(&cfg);
}

// End to end through dt_sample_load on the painted image (PNG): boxes where
// their colours are drawn, for draws with everything but the distortion.
static void test_sample_load(void **state) {
    dt_image src;
    if (painted(&src) != 0) return;
    char *path = tu_write_file("painted.png", "", 0);
    assert_int_equal(dt_image_write(path, &src, 95, 0, 3), 0);
    dt_object obj[NB], out_obj[NB];
    for (int k = 0; k < NB; k++) obj[k] = (dt_object){BOXES[k], k, 0};
    dt_sample s = {path, NULL, 0, 640, 480, 0, NB, obj};
    dt_augment a;
    dt_augment_defaults(&a);
    a.expand = 3, a.crop = 1, a.flip = 1;
    dt_image_ctx *ctx = dt_image_ctx_new();
    float *img = dt_alloc_floats(200 * 200 * 3);
    int checked = 0;
    for (int i = 0; i < 12; i++) {
        dt_rng r;
        dt_rng_seed3(&r, 21, 0, (uint64_t)i);
        int n, largest, ow, oh;
        assert_int_equal(dt_sample_load(ctx, &s, &a, 1, 200, 200, &r, img, out_obj, &n, &largest,
                                        &ow, &oh, NULL, 0), 0);
        assert_true(n >= 0 && n <= NB);
        for (int j = 0; j < n; j++) {
            dt_box want = out_obj[j].box, got = {0, 0, 0, 0};
            if (want.x2 - want.x1 < 4 || want.y2 - want.y1 < 4) continue;
            assert_int_equal(extent_of(img, 200, 200, out_obj[j].cls, &got), 0);
            if (fabsf(got.x1 - want.x1) > 1 || fabsf(got.y1 - want.y1) > 1 ||
                fabsf(got.x2 - want.x2) > 1 || fabsf(got.y2 - want.y2) > 1)
                fail_msg("draw %d class %d: extent (%g %g %g %g) vs box (%g %g %g %g)", i,
                         out_obj[j].cls, got.x1, got.y1, got.x2, got.y2, want.x1, want.y1,
                         want.x2, want.y2);
            checked++;
        }
    }
    assert_true(checked >= 12);
    free(img);
    free(path);
    dt_image_ctx_free(ctx);
    dt_image_free(&src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),          cmocka_unit_test(test_expand_draw),
        cmocka_unit_test(test_centre_rule),     cmocka_unit_test(test_crop),
        cmocka_unit_test(test_photometric),     cmocka_unit_test(test_photometric_draw),
        cmocka_unit_test(test_cfg_keys),        cmocka_unit_test(test_recipe),
        cmocka_unit_test(test_loader_threads),
        cmocka_unit_test(test_sample_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
