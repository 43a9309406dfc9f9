// Box transforms against an independent reference: a filled rectangle is
// drawn on an image, the image goes through the transform, and the extent
// of the drawn pixels must match the transformed box within one pixel.
// Also: flip twice is the identity, the lighting formula of docs/SEMANTICS.md §2 (computed
// here on its own), HSV and the half-scale JPEG decode.
#include "data_testutil.h"

#include "base/common.h"
#include "data/loader.h"
#include "data/transform.h"
#include "media/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char WHITE[3] = {255, 255, 255};

// Source: black W x H with the pixels of box (x1,y1)-(x2,y2) white.
static void make_rect_image(int w, int h, int x1, int y1, int x2, int y2, dt_image *im) {
    assert_int_equal(dt_image_new(w, h, im), 0);
    dt_image_draw_rect(im, x1, y1, x2 - 1, y2 - 1, WHITE, -1); // inclusive corners
}

// Extent of output pixels whose red value (un-normalised) is above one half,
// as a continuous box.
static int extent_of(const float *img, int w, int h, dt_box *b) {
    int x1 = w, y1 = h, x2 = -1, y2 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = img[((size_t)y * w + x) * 3] * dt_imagenet_std[0] + dt_imagenet_mean[0];
            if (v > 0.5f) {
                if (x < x1) x1 = x;
                if (x > x2) x2 = x;
                if (y < y1) y1 = y;
                if (y > y2) y2 = y;
            }
        }
    if (x2 < 0) return -1;
    b->x1 = (float)x1, b->y1 = (float)y1, b->x2 = (float)x2 + 1, b->y2 = (float)y2 + 1;
    return 0;
}

static void check_geometry(const dt_geom *g, int sw, int sh, int ow, int oh, dt_box box,
                           float dec_scale, const char *what) {
    dt_image src;
    // The decoded image is the source at dec_scale (a half-scale decode).
    make_rect_image((int)(sw * dec_scale), (int)(sh * dec_scale), (int)(box.x1 * dec_scale),
                    (int)(box.y1 * dec_scale), (int)(box.x2 * dec_scale), (int)(box.y2 * dec_scale),
                    &src);
    dt_tfm t;
    dt_tfm_geometry(g, sw, sh, ow, oh, &t);
    dt_image_ctx *ctx = dt_image_ctx_new();
    dt_image warped;
    if (!dt_image_available()) { // OPENCV=0 build: the warp says why it cannot run
        assert_int_equal(dt_tfm_warp(ctx, &src, dec_scale, &t, &warped), -1);
        assert_non_null(strstr(dt_last_error(), "built without OpenCV (OPENCV=0)"));
        dt_image_ctx_free(ctx);
        dt_image_free(&src);
        return;
    }
    assert_int_equal(dt_tfm_warp(ctx, &src, dec_scale, &t, &warped), 0);
    float *out = dt_alloc_floats((size_t)ow * oh * 3); // (oh, ow, 3)
    dt_tfm_pixels(&warped, &t, out);
    dt_box want, got = {0, 0, 0, 0};
    assert_int_equal(dt_tfm_box(&t, box, &want), 0);
    assert_int_equal(extent_of(out, ow, oh, &got), 0);
    if (fabsf(got.x1 - want.x1) > 1 || fabsf(got.y1 - want.y1) > 1 || fabsf(got.x2 - want.x2) > 1 ||
        fabsf(got.y2 - want.y2) > 1)
        fail_msg("%s: drawn extent (%g %g %g %g) vs box (%g %g %g %g)", what, got.x1, got.y1,
                 got.x2, got.y2, want.x1, want.y1, want.x2, want.y2);
    free(out);
    dt_image_ctx_free(ctx);
    dt_image_free(&src);
}

static const dt_box BOX = {100, 60, 160, 140}; // in a 320x240 source

static void test_resize_squash(void **state) {
    dt_geom g = {0, 0, 320, 240, 0, 0, 0};
    check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, "squash");
    // A box exactly on the scale: 100*0.7 = 70.
    dt_tfm t;
    dt_tfm_geometry(&g, 320, 240, 224, 224, &t);
    dt_box o;
    assert_int_equal(dt_tfm_box(&t, BOX, &o), 0);
    assert_float_equal(o.x1, 70.0, 1e-4);
    assert_float_equal(o.y2, 140 * 224 / 240.0, 1e-4);
    // Half-scale decode: boxes mapped through the real scale stay exact.
    check_geometry(&g, 320, 240, 112, 112, BOX, 0.5f, "squash from a half-scale decode");
}

static void test_flip(void **state) {
    dt_geom g = {0, 0, 320, 240, 1, 0, 0};
    check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, "flip");
    dt_tfm t;
    dt_tfm_geometry(&g, 320, 240, 320, 240, &t);
    dt_box o, back;
    assert_int_equal(dt_tfm_box(&t, BOX, &o), 0);
    assert_float_equal(o.x1, 320 - 160, 1e-4); // x -> W - x
    assert_float_equal(o.x2, 320 - 100, 1e-4);
    // Flip twice is the identity, for boxes ...
    assert_int_equal(dt_tfm_box(&t, o, &back), 0);
    assert_memory_equal(&back, &BOX, sizeof BOX);
    // ... and for images (an asymmetric random image, at its own size).
    if (!dt_image_available()) return; // the warp's OPENCV=0 error is checked in check_geometry
    dt_image src, w1, w2;
    assert_int_equal(dt_image_new(320, 240, &src), 0);
    dt_rng r;
    dt_rng_seed(&r, 7);
    for (size_t i = 0; i < src.step * 240; i++) src.data[i] = (unsigned char)(dt_rng_u64(&r) >> 56);
    dt_image_ctx *c1 = dt_image_ctx_new(), *c2 = dt_image_ctx_new();
    float *o1 = dt_alloc_floats(320 * 240 * 3), *o2 = dt_alloc_floats(320 * 240 * 3);
    assert_int_equal(dt_tfm_warp(c1, &src, 1.0f, &t, &w1), 0);
    dt_tfm_pixels(&w1, &t, o1);
    // Back to bytes, flip again, compare with the source.
    dt_image mid;
    assert_int_equal(dt_image_new(320, 240, &mid), 0);
    for (int i = 0; i < 320 * 240; i++)
        for (int c = 0; c < 3; c++) {
            float v = o1[3 * i + c] * dt_imagenet_std[c] + dt_imagenet_mean[c];
            mid.data[3 * i + (2 - c)] = (unsigned char)lrintf(v * 255);
        }
    dt_tfm t2 = t;
    assert_int_equal(dt_tfm_warp(c2, &mid, 1.0f, &t2, &w2), 0);
    dt_tfm_pixels(&w2, &t2, o2);
    for (int i = 0; i < 320 * 240; i++)
        for (int c = 0; c < 3; c++) {
            float v = o2[3 * i + c] * dt_imagenet_std[c] + dt_imagenet_mean[c];
            assert_int_equal(lrintf(v * 255), src.data[3 * i + (2 - c)]);
        }
    free(o1);
    free(o2);
    dt_image_free(&src);
    dt_image_free(&mid);
    dt_image_ctx_free(c1);
    dt_image_ctx_free(c2);
}

static void test_rotate(void **state) {
    for (int i = 0; i < 4; i++) {
        float angles[4] = {3, -3, 17, -30};
        dt_geom g = {0, 0, 320, 240, 0, angles[i], 0};
        char what[64];
        snprintf(what, sizeof what, "rotate %g", angles[i]);
        check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, what);
        g.flip = 1; // one warp for both
        check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, what);
    }
    // 90 degrees about the centre of a square picture: the box turns exactly.
    dt_geom g = {0, 0, 200, 200, 0, 90, 0};
    dt_tfm t;
    dt_tfm_geometry(&g, 200, 200, 200, 200, &t);
    dt_box o;
    assert_int_equal(dt_tfm_box(&t, (dt_box){10, 20, 50, 40}, &o), 0);
    // Counter-clockwise as displayed: (x, y) -> (y, W - x).
    assert_float_equal(o.x1, 20, 1e-3);
    assert_float_equal(o.x2, 40, 1e-3);
    assert_float_equal(o.y1, 150, 1e-3);
    assert_float_equal(o.y2, 190, 1e-3);
}

static void test_crop(void **state) {
    // Zoom in on part of the image, and a crop that grows past the border.
    dt_geom g1 = {40, 30, 280, 200, 0, 0, 0};
    check_geometry(&g1, 320, 240, 224, 224, BOX, 1.0f, "crop");
    dt_geom g2 = {-30, 10, 330, 250, 1, 5, 0};
    check_geometry(&g2, 320, 240, 224, 224, BOX, 1.0f, "crop + flip + rotate");
    // A box cut by the crop is clipped; one left outside it is dropped.
    dt_tfm t;
    dt_geom g3 = {120, 0, 320, 240, 0, 0, 0};
    dt_tfm_geometry(&g3, 320, 240, 200, 240, &t);
    dt_box o;
    assert_int_equal(dt_tfm_box(&t, BOX, &o), 0);
    assert_float_equal(o.x1, 0, 1e-4);
    assert_float_equal(o.x2, 40, 1e-4);
    assert_int_equal(dt_tfm_box(&t, (dt_box){10, 10, 119.5f, 50}, &o), -1);
    // Under one pixel wide after the transform: dropped.
    assert_int_equal(dt_tfm_box(&t, (dt_box){200, 10, 200.9f, 50}, &o), -1);
}

static void test_letterbox(void **state) {
    dt_geom g = {0, 0, 320, 240, 0, 0, 1};
    check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, "letterbox");
    dt_tfm t;
    dt_tfm_geometry(&g, 320, 240, 224, 224, &t);
    // 320x240 -> 224x168, bars of 28 rows above and below.
    assert_int_equal(t.rw, 224);
    assert_int_equal(t.rh, 168);
    assert_int_equal(t.ry, 28);
    dt_box o;
    assert_int_equal(dt_tfm_box(&t, BOX, &o), 0);
    assert_float_equal(o.y1, 28 + 60 * 0.7, 1e-4);
    g.flip = 1;
    g.angle = 10;
    check_geometry(&g, 320, 240, 224, 224, BOX, 1.0f, "letterbox + flip + rotate");
    // The bars are grey 0.5 and stay so under rotation.
    if (!dt_image_available()) return; // the warp's OPENCV=0 error is checked in check_geometry
    dt_image src;
    make_rect_image(320, 240, 100, 60, 160, 140, &src);
    dt_image_ctx *ctx = dt_image_ctx_new();
    dt_image warped;
    dt_tfm_geometry(&g, 320, 240, 224, 224, &t);
    assert_int_equal(dt_tfm_warp(ctx, &src, 1.0f, &t, &warped), 0);
    float *out = dt_alloc_floats(224 * 224 * 3);
    dt_tfm_pixels(&warped, &t, out);
    for (int c = 0; c < 3; c++) {
        assert_float_equal(out[c] * dt_imagenet_std[c] + dt_imagenet_mean[c], 0.5, 1e-6);
        assert_float_equal(out[(223 * 224 + 223) * 3 + c] * dt_imagenet_std[c] + dt_imagenet_mean[c],
                           0.5, 1e-6);
    }
    free(out);
    dt_image_free(&src);
    dt_image_ctx_free(ctx);
}

// docs/SEMANTICS.md §2: b' ~ U(-b,b), c' ~ U(-c,c), k = 1+c' if c' >= 0 else 1/(1-c'),
// x -> clip((x - mean(x))*k + mean(x) + b', 0, 1) on [0,1] pixels, mean
// over the whole image; then (x - mean_c) / std_c.
static void check_lighting(float bp, float cp) {
    const int W = 37, H = 23;
    dt_image im;
    assert_int_equal(dt_image_new(W, H, &im), 0);
    dt_rng r;
    dt_rng_seed(&r, 99);
    for (size_t i = 0; i < im.step * H; i++) im.data[i] = (unsigned char)(dt_rng_u64(&r) >> 56);
    double mean = 0;
    for (size_t i = 0; i < im.step * H; i++) mean += im.data[i] / 255.0;
    mean /= W * H * 3;
    double k = cp >= 0 ? 1 + cp : 1 / (1 - cp);
    dt_geom g = {0, 0, W, H, 0, 0, 0};
    dt_tfm t;
    dt_tfm_geometry(&g, W, H, W, H, &t);
    t.lighting = 1;
    t.bright = bp;
    t.contrast_k = cp >= 0 ? 1 + cp : 1 / (1 - cp);
    float *out = dt_alloc_floats(W * H * 3);
    dt_tfm_pixels(&im, &t, out);
    static const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) {
            double x = im.data[3 * i + (2 - c)] / 255.0; // stored B,G,R; output R,G,B
            double y = (x - mean) * k + mean + bp;
            y = y < 0 ? 0 : (y > 1 ? 1 : y);
            assert_float_equal(out[3 * i + c], (y - m[c]) / s[c], 2e-5);
        }
    free(out);
    dt_image_free(&im);
}

static void test_lighting(void **state) {
    check_lighting(0.07f, 0.3f);
    check_lighting(-0.1f, -0.3f);
    check_lighting(0.0f, 0.0f);
    check_lighting(0.45f, 2.0f); // saturates: exercises the clip
    // Drawn values: b' in [-b, b] and k in [1/(1+c), 1+c].
    dt_augment a;
    dt_augment_defaults(&a);
    a.brightness = 0.1f;
    a.contrast = 0.2f;
    int below = 0, above = 0;
    for (int i = 0; i < 200; i++) {
        dt_rng r;
        dt_rng_seed3(&r, 1, 0, (uint64_t)i);
        dt_tfm t;
        dt_tfm_draw(&a, 1, 100, 100, 50, 50, &r, &t);
        assert_true(t.lighting);
        assert_true(fabsf(t.bright) <= 0.1f);
        assert_true(t.contrast_k >= 1 / 1.2f - 1e-6f && t.contrast_k <= 1.2f + 1e-6f);
        below += t.contrast_k < 1;
        above += t.contrast_k > 1;
    }
    assert_true(below > 50 && above > 50);
}

static void test_hsv(void **state) {
    dt_image im;
    assert_int_equal(dt_image_new(2, 1, &im), 0);
    im.data[2] = 255;             // pixel 0: pure red (B,G,R order)
    im.data[3] = 51, im.data[4] = 102, im.data[5] = 204; // pixel 1: R=204 G=102 B=51
    dt_geom g = {0, 0, 2, 1, 0, 0, 0};
    dt_tfm t;
    dt_tfm_geometry(&g, 2, 1, 2, 1, &t);
    t.hsv = 1;
    t.hue = 1.0f / 3; // red -> green
    t.sat = 1;
    t.expo = 0.5f;
    float out[6], rgb[6];
    dt_tfm_pixels(&im, &t, out);
    for (int i = 0; i < 6; i++) rgb[i] = out[i] * dt_imagenet_std[i % 3] + dt_imagenet_mean[i % 3];
    assert_float_equal(rgb[0], 0, 1e-5);
    assert_float_equal(rgb[1], 0.5, 1e-5);
    assert_float_equal(rgb[2], 0, 1e-5);
    // Pixel 1 (0.8, 0.4, 0.2): a third of a turn of hue permutes the
    // channels (R,G,B) -> (B,R,G) = (0.2, 0.8, 0.4), then half the value.
    assert_float_equal(rgb[3], 0.1, 1e-5);
    assert_float_equal(rgb[4], 0.4, 1e-5);
    assert_float_equal(rgb[5], 0.2, 1e-5);
    // No saturation: grey at the value.
    t.hue = 0, t.sat = 0, t.expo = 1;
    dt_tfm_pixels(&im, &t, out);
    for (int i = 3; i < 6; i++)
        assert_float_equal(out[i] * dt_imagenet_std[i % 3] + dt_imagenet_mean[i % 3], 0.8, 1e-5);
    dt_image_free(&im);
}

// End to end through a real JPEG decoded at half scale (640x480 -> 224).
static void test_sample_load_jpeg(void **state) {
    char *dir = dt_test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/r.jpg", dir);
    dt_image src;
    make_rect_image(640, 480, 201, 121, 421, 341, &src);
    if (!dt_image_available()) { // OPENCV=0: image I/O reports why it cannot run
        assert_int_equal(dt_image_write(path, &src, 95, 1, 3), -1);
        assert_non_null(strstr(dt_last_error(), "built without OpenCV (OPENCV=0): cannot write image"));
        dt_image_free(&src);
        dt_test_rmtree(dir);
        free(dir);
        return;
    }
    assert_int_equal(dt_image_write(path, &src, 95, 1, 3), 0); // progressive
    dt_object obj = {{201, 121, 421, 341}, 0, 0}, out_obj[1];
    dt_sample s = {path, NULL, 0, 640, 480, 0, 1, &obj};
    dt_augment a;
    dt_augment_defaults(&a);
    dt_image_ctx *ctx = dt_image_ctx_new();
    float *img = dt_alloc_floats(224 * 224 * 3);
    int n, largest, ow, oh;
    dt_rng r;
    dt_rng_seed(&r, 1);
    assert_int_equal(dt_sample_load(ctx, &s, &a, 0, 224, 224, &r, img, out_obj, &n, &largest, &ow,
                                    &oh, NULL, 1), 0);
    assert_int_equal(ow, 640);
    assert_int_equal(n, 1);
    assert_int_equal(largest, 0);
    dt_box got = {0, 0, 0, 0};
    assert_int_equal(extent_of(img, 224, 224, &got), 0);
    assert_true(fabsf(got.x1 - out_obj[0].box.x1) <= 1 && fabsf(got.x2 - out_obj[0].box.x2) <= 1);
    assert_true(fabsf(got.y1 - out_obj[0].box.y1) <= 1 && fabsf(got.y2 - out_obj[0].box.y2) <= 1);
    assert_float_equal(out_obj[0].box.x1, 201 * 224 / 640.0, 1e-4);
    // Augmented (flip + rotate + jitter) the same way.
    a.flip = 1, a.rotate = 10, a.jitter = 0.1f;
    for (int i = 0; i < 6; i++) {
        dt_rng_seed3(&r, 5, 0, (uint64_t)i);
        assert_int_equal(dt_sample_load(ctx, &s, &a, 1, 224, 224, &r, img, out_obj, &n, &largest,
                                        &ow, &oh, NULL, 0), 0);
        assert_int_equal(n, 1);
        assert_int_equal(extent_of(img, 224, 224, &got), 0);
        assert_true(fabsf(got.x1 - out_obj[0].box.x1) <= 1 && fabsf(got.x2 - out_obj[0].box.x2) <= 1);
        assert_true(fabsf(got.y1 - out_obj[0].box.y1) <= 1 && fabsf(got.y2 - out_obj[0].box.y2) <= 1);
    }
    free(img);
    dt_image_free(&src);
    dt_image_ctx_free(ctx);
    dt_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_squash), cmocka_unit_test(test_flip),
        cmocka_unit_test(test_rotate),        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_letterbox),     cmocka_unit_test(test_lighting),
        cmocka_unit_test(test_hsv),           cmocka_unit_test(test_sample_load_jpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
