// Drawing helpers (src/media/draw.h) and the demo's video plumbing (src/media/video.h).
//
// Also a tool for tests/cli_demo.sh:
//   test_demo write-weights CFG OUT [SEED]
// writes the seeded initial weights of CFG, so that the CLI test has a
// deterministic detection model without training one.
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media/avi.h"
#include "base/common.h"
#include "media/draw.h"
#include "engine/network.h"
#include "train/model.h"
#include "media/video.h"

static const unsigned char *px_at(const dt_image *im, int x, int y) {
    return im->data + (size_t)y * im->step + (size_t)x * 3;
}

static int same(const unsigned char *p, const unsigned char c[3]) {
    return p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
}

static void test_colours(void **state) {
    (void)state;
    unsigned char a[3], b[3], fg[3];
    for (int i = 0; i < 12; i++) {
        dt_draw_class_colour(i, a);
        for (int j = i + 1; j < 12; j++) {
            dt_draw_class_colour(j, b);
            int d = abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]);
            assert_true(d > 60); // tell classes apart
        }
        dt_draw_text_colour(a, fg);
        double ya = 0.114 * a[0] + 0.587 * a[1] + 0.299 * a[2];
        double yf = 0.114 * fg[0] + 0.587 * fg[1] + 0.299 * fg[2];
        assert_true(ya - yf > 60 || yf - ya > 60); // readable label text
    }
    dt_draw_class_colour(12, b);
    dt_draw_class_colour(0, a);
    assert_memory_equal(a, b, 3); // cycles
}

// A box in continuous pixels lands on floor(x1) .. ceil(x2) - 1 and its
// outline stays inside the box.
static void test_box_pixels(void **state) {
    (void)state;
    dt_image im;
    assert_int_equal(dt_image_new(100, 80, &im), 0);
    double px[4] = {10.3, 20.0, 50.0, 60.7}; // pixels 10..49 x 20..60
    dt_draw_box(&im, px, 1, NULL);
    unsigned char c[3], k[3] = {0, 0, 0};
    dt_draw_class_colour(1, c);
    int t = dt_draw_thickness(&im);
    assert_true(same(px_at(&im, 10, 40), c));         // left edge
    assert_true(same(px_at(&im, 10 + t - 1, 40), c)); // its thickness, inwards
    assert_true(same(px_at(&im, 10 + t, 40), k));
    assert_true(same(px_at(&im, 9, 40), k)); // nothing outside
    assert_true(same(px_at(&im, 49, 40), c)); // right edge
    assert_true(same(px_at(&im, 50, 40), k));
    assert_true(same(px_at(&im, 30, 20), c)); // top, bottom
    assert_true(same(px_at(&im, 30, 60), c));
    assert_true(same(px_at(&im, 30, 61), k));
    // clipped to the image, never written outside
    double out[4] = {-20, -20, 500, 500};
    dt_draw_box(&im, out, 2, NULL);
    dt_draw_class_colour(2, c);
    assert_true(same(px_at(&im, 0, 40), c));
    assert_true(same(px_at(&im, 99, 40), c));
    dt_image_free(&im);
}

// The outline is the band of the box's pixels less than t from its edge,
// for every size (down to one pixel) and position (clipped at the border).
static void test_box_band(void **state) {
    (void)state;
    dt_image im;
    assert_int_equal(dt_image_new(40, 30, &im), 0);
    unsigned char c[3], k[3] = {0, 0, 0};
    dt_draw_class_colour(4, c);
    const int t = dt_draw_thickness(&im);
    for (int x1 = -3; x1 < 42; x1 += 2)
        for (int w = 1; w < 12; w++)
            for (int y1 = -2; y1 < 31; y1 += 3)
                for (int h = 1; h < 9; h++) {
                    memset(im.data, 0, im.step * (size_t)im.h);
                    double px[4] = {x1, y1, x1 + w, y1 + h}; // pixels x1..x1+w-1
                    dt_draw_box(&im, px, 4, NULL);
                    // the box clipped to the image first (continuous coordinates)
                    int cx1 = x1 < 0 ? 0 : x1 > 40 ? 40 : x1, cy1 = y1 < 0 ? 0 : y1 > 30 ? 30 : y1;
                    int cx2 = x1 + w > 40 ? 40 : x1 + w < 0 ? 0 : x1 + w;
                    int cy2 = y1 + h > 30 ? 30 : y1 + h < 0 ? 0 : y1 + h;
                    int ix1 = cx1, iy1 = cy1, ix2 = cx2 - 1 < ix1 ? ix1 : cx2 - 1;
                    int iy2 = cy2 - 1 < iy1 ? iy1 : cy2 - 1;
                    for (int y = 0; y < 30; y++)
                        for (int x = 0; x < 40; x++) {
                            int in = x >= ix1 && x <= ix2 && y >= iy1 && y <= iy2;
                            int d = in ? x - ix1 : 0;
                            if (in && ix2 - x < d) d = ix2 - x;
                            if (in && y - iy1 < d) d = y - iy1;
                            if (in && iy2 - y < d) d = iy2 - y;
                            int want = in && d < t;
                            if (same(px_at(&im, x, y), want ? c : k) != 1)
                                fail_msg("box x %d w %d y %d h %d: pixel (%d, %d) should be %s",
                                         x1, w, y1, h, x, y, want ? "drawn" : "untouched");
                        }
                }
    dt_image_free(&im);
}

static void test_detections_in_panel(void **state) {
    (void)state;
    dt_image im;
    assert_int_equal(dt_image_new(200, 100, &im), 0);
    dt_detection d = {{0.25f, 0.2f, 0.75f, 0.8f}, 0.9f, 3, 0};
    dt_draw_detections(&im, 100, 0, 100, 100, &d, 1, NULL, 0); // right half
    unsigned char c[3];
    dt_draw_class_colour(3, c);
    assert_true(same(px_at(&im, 125, 50), c));
    assert_true(same(px_at(&im, 174, 50), c));
    assert_false(same(px_at(&im, 25, 50), c)); // left half untouched
    dt_image_free(&im);
}

static void test_anchors_picture(void **state) {
    (void)state;
    dt_anchors *a = dt_anchors_create_lesson(); // grids 4, 2, 1
    assert_non_null(a);
    dt_image im;
    const int panel = 200, m = panel / 4, cell = panel + 2 * m, title = 28;
    assert_int_equal(dt_draw_anchors(a, panel, &im), 0);
    assert_int_equal(im.w, 3 * cell);
    assert_true(im.h > cell + title); // and a legend below
    // the 4x4 panel has a grid line at 1/4 of the panel (grey, or covered by
    // the zoom-1 square anchors, which coincide with the cells), and the
    // panel's background between lines
    const unsigned char light[3] = {235, 235, 235};
    int line = 0;
    for (int y = title + m; y < title + m + panel; y++)
        line += !same(px_at(&im, m + panel / 4, y), light);
    assert_int_equal(line, panel);
    const unsigned char *bgpx = px_at(&im, 2, im.h - 2); // the margin stays white
    assert_true(bgpx[0] == 255 && bgpx[1] == 255 && bgpx[2] == 255);
    dt_image_free(&im);
    dt_anchors_free(a);
}

static void test_pred_grid(void **state) {
    (void)state;
    enum { N = 12, W = 32, H = 24 };
    unsigned char *pics = calloc((size_t)N * W * H * 3, 1);
    float gt[N * 2 * 4] = {0};
    int cls[N * 2] = {0}, ngt[N] = {0}, ndet[N] = {0};
    dt_detection det[N * 1];
    for (int i = 0; i < N; i++) {
        ngt[i] = 1;
        float *b = gt + i * 8;
        b[0] = 0.1f, b[1] = 0.1f, b[2] = 0.5f, b[3] = 0.5f;
        cls[i * 2] = i % 3;
        det[i] = (dt_detection){{0.2f, 0.2f, 0.9f, 0.9f}, 0.5f, 1, 0};
        ndet[i] = i % 2;
    }
    dt_image im;
    assert_int_equal(dt_draw_pred_grid(pics, N, W, H, gt, cls, ngt, 2, det, ndet, 1, NULL, 0, 4,
                                       &im),
                     0);
    assert_true(im.w >= 4 * 2 * W && im.h >= 3 * H);
    dt_image_free(&im);
    assert_int_equal(dt_draw_pred_grid(pics, 0, W, H, gt, cls, ngt, 2, det, ndet, 1, NULL, 0, 4,
                                       &im),
                     -1);
    free(pics);
}

// Missing sources fail with a message naming them, never crash.
static void test_video_errors(void **state) {
    (void)state;
    dt_video_cap *v = dt_video_open("/nonexistent/clip.mp4", -1);
    assert_null(v);
    assert_non_null(strstr(dt_last_error(), "/nonexistent/clip.mp4"));
    v = dt_video_open(NULL, 97);
    assert_null(v);
    assert_non_null(strstr(dt_last_error(), "camera 97"));
    char tmp[] = "/tmp/dt_demo_XXXXXX.avi";
    int fd = mkstemps(tmp, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a video at all", 18), 18);
    close(fd);
    v = dt_video_open(tmp, -1);
    assert_null(v);
    assert_non_null(strstr(dt_last_error(), tmp));
    unlink(tmp);
    assert_null(dt_video_writer_open("/tmp/x.unknownext", 64, 48, 25));
}

// The OpenDML path of our AVI writer (avi.h): with a 4 KiB part size, 40
// frames fill several RIFFs ('AVI ' then 'AVIX'), and OpenCV's FFmpeg reads
// every frame back, in order, with the header's size, rate and count.
static void test_avi_opendml(void **state) {
    (void)state;
    if (!dt_video_available()) skip();
    char jpg[] = "/tmp/dt_avi_XXXXXX.jpg", path[] = "/tmp/dt_avi_XXXXXX.avi";
    int fd = mkstemps(jpg, 4), fd2 = mkstemps(path, 4);
    assert_true(fd >= 0 && fd2 >= 0);
    close(fd), close(fd2);
    assert_null(dt_avi_open("/nonexistent-dir/x.avi", 96, 64, 10));
    assert_non_null(strstr(dt_last_error(), "/nonexistent-dir/x.avi"));
    dt_avi *a = dt_avi_open(path, 96, 64, 12.5);
    assert_non_null(a);
    dt_avi_set_riff_limit(a, 4096);
    dt_image im;
    assert_int_equal(dt_image_new(96, 64, &im), 0);
    const int n = 40;
    for (int i = 0; i < n; i++) {
        unsigned char c[3] = {(unsigned char)(6 * i), 128, (unsigned char)(250 - 6 * i)};
        dt_image_draw_rect(&im, 0, 0, 95, 63, c, -1);
        assert_int_equal(dt_image_write(jpg, &im, 90, 0, 3), 0);
        FILE *f = fopen(jpg, "rb");
        assert_non_null(f);
        unsigned char buf[8192];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        assert_true(len > 100 && len < sizeof buf);
        assert_int_equal(dt_avi_write_frame(a, buf, len), 0);
    }
    assert_int_equal(dt_avi_close(a), 0);
    // more than one RIFF was written
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char file[1 << 16];
    size_t fl = fread(file, 1, sizeof file, f);
    fclose(f);
    int parts = 0;
    for (size_t i = 0; i + 12 <= fl; i++)
        if (memcmp(file + i, "RIFF", 4) == 0 && memcmp(file + i + 8, "AVIX", 4) == 0) parts++;
    assert_true(parts >= 2);

    dt_video_cap *v = dt_video_open(path, -1);
    assert_non_null(v);
    int vw, vh;
    double fps;
    long frames;
    dt_video_info(v, &vw, &vh, &fps, &frames);
    assert_int_equal(vw, 96);
    assert_int_equal(vh, 64);
    assert_true(fabs(fps - 12.5) < 1e-6);
    assert_int_equal(frames, n);
    int k = 0, r;
    while ((r = dt_video_read(v, &im)) == 1) {
        const unsigned char *p = px_at(&im, 48, 32);
        if (abs(p[0] - 6 * k) > 4 || abs(p[2] - (250 - 6 * k)) > 4)
            fail_msg("frame %d read back as (%d, %d, %d)", k, p[0], p[1], p[2]);
        k++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(k, n);
    dt_video_close(v);
    dt_image_free(&im);
    unlink(jpg);
    unlink(path);
}

// A written video reads back with the same size and frame count.
static void test_video_roundtrip(void **state) {
    (void)state;
    if (!dt_video_available()) skip();
    char path[] = "/tmp/dt_demo_rt_XXXXXX.avi";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    dt_video_writer *w = dt_video_writer_open(path, 96, 64, 10);
    assert_non_null(w);
    dt_image im;
    assert_int_equal(dt_image_new(96, 64, &im), 0);
    for (int i = 0; i < 7; i++) {
        unsigned char c[3] = {(unsigned char)(30 * i), 128, 200};
        dt_image_draw_rect(&im, 0, 0, 95, 63, c, -1);
        assert_int_equal(dt_video_writer_write(w, &im), 0);
    }
    dt_image bad;
    assert_int_equal(dt_image_new(10, 10, &bad), 0);
    assert_int_equal(dt_video_writer_write(w, &bad), -1);
    dt_image_free(&bad);
    assert_int_equal(dt_video_writer_close(w), 0);
    dt_video_cap *v = dt_video_open(path, -1);
    assert_non_null(v);
    int vw, vh;
    dt_video_info(v, &vw, &vh, NULL, NULL);
    assert_int_equal(vw, 96);
    assert_int_equal(vh, 64);
    int n = 0, r;
    while ((r = dt_video_read(v, &im)) == 1) n++;
    assert_int_equal(r, 0);
    assert_int_equal(n, 7);
    // MJPG is lossy: the last frame's colour within a few levels
    const unsigned char *p = px_at(&im, 48, 32);
    assert_true(abs(p[0] - 180) < 8 && abs(p[1] - 128) < 8 && abs(p[2] - 200) < 8);
    dt_video_close(v);
    dt_image_free(&im);
    unlink(path);
}

static int write_weights(const char *cfg, const char *out, int seed) {
    dt_net_opts o = {.batch = 1, .with_grads = 0, .quiet = 1};
    dt_network *net = dt_model_net_only(dt_model_load(cfg, &o)); // cfgs with [stage], data=
    if (!net) {
        fprintf(stderr, "write-weights: %s\n", dt_last_error());
        return 1;
    }
    dt_net_init_params(net, (uint64_t)seed);
    int rc = dt_net_save_weights(net, out);
    if (rc) fprintf(stderr, "write-weights: %s\n", dt_last_error());
    dt_net_free(net);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "write-weights") == 0)
        return write_weights(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colours),          cmocka_unit_test(test_box_pixels),
        cmocka_unit_test(test_box_band),
        cmocka_unit_test(test_detections_in_panel), cmocka_unit_test(test_anchors_picture),
        cmocka_unit_test(test_pred_grid),        cmocka_unit_test(test_video_errors),
        cmocka_unit_test(test_video_roundtrip),
        cmocka_unit_test(test_avi_opendml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
