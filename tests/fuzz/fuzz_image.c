// libFuzzer harness: the image decode path. The header probe and the JPEG
// structure check (src/media/imgprobe.c) on the raw bytes, then
// dt_image_ctx_decode (src/media/image_opencv.cpp: read, probe, check, imdecode,
// half-scale JPEG decode) on them as a file, asking for an 8x8 result so
// that JPEGs of 16x16 or more take the reduced decode. A decoded image must
// have the size the decoder reports and every pixel readable, and the
// shared context (reused across inputs, as a loader thread does) must give
// what a fresh context gives: same success, same pixels.
//
// OpenCV itself is Debian's (not instrumented): this exercises our code
// around it. Its pixel limit is lowered (OPENCV_IO_MAX_IMAGE_PIXELS) so that
// a header claiming a huge image is refused by OpenCV instead of allocating
// gigabytes within the fuzzer's memory limit.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "media/image.h"
#include "media/imgprobe.h"
#include "util.h"

static dt_image_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "16777216", 0);
    fz_init();
    ctx = dt_image_ctx_new();
    // Seed generator: DT_FUZZ_WRITE_SEED=DIR DT_FUZZ_SEED_FROM=photo.jpg
    // writes the photo shrunk to 32x24 as a baseline JPEG, a progressive
    // grey JPEG and a PNG with alpha (tests/fuzz/corpus/image was made so).
    const char *dir = getenv("DT_FUZZ_WRITE_SEED"), *from = getenv("DT_FUZZ_SEED_FROM");
    if (dir && from) {
        dt_image full, small;
        char p[3][512];
        snprintf(p[0], sizeof p[0], "%s/small.jpg", dir);
        snprintf(p[1], sizeof p[1], "%s/grey-progressive.jpg", dir);
        snprintf(p[2], sizeof p[2], "%s/alpha.png", dir);
        if (dt_image_load(from, &full) != 0 || dt_image_resize(&full, 32, 24, &small) != 0 ||
            dt_image_write(p[0], &small, 60, 0, 3) != 0 ||
            dt_image_write(p[1], &small, 50, 1, 1) != 0 ||
            dt_image_write(p[2], &small, 0, 0, 4) != 0) {
            fprintf(stderr, "%s\n", dt_last_error());
            exit(1);
        }
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int w = 0, h = 0, is_jpeg = -1;
    int probed = dt_image_probe_size(data, size, &w, &h, &is_jpeg) == 0;
    if (is_jpeg != 0 && is_jpeg != 1) abort();
    if (probed && (w <= 0 || h <= 0)) abort();
    char why[256];
    why[0] = 0;
    if (dt_image_check_jpeg(data, size, why, sizeof why) != 0 && !why[0]) abort();

    const char *path = fz_file(0, data, size);
    dt_image im;
    float scale = 0;
    int ow = 0, oh = 0;
    dt_clear_error();
    int rc = dt_image_ctx_decode(ctx, path, 8, 8, &im, &scale, &ow, &oh);
    if (rc != 0 && !dt_last_error()[0]) abort();
    dt_image_ctx *fresh = dt_image_ctx_new();
    dt_image im2;
    float scale2 = 0;
    int ow2 = 0, oh2 = 0;
    int rc2 = dt_image_ctx_decode(fresh, path, 8, 8, &im2, &scale2, &ow2, &oh2);
    if (rc != rc2) {
        fprintf(stderr, "fuzz: a reused context %s what a fresh one %s\n",
                rc ? "refused" : "decoded", rc2 ? "refuses" : "decodes");
        abort();
    }
    if (rc == 0) {
        int same = im.w == im2.w && im.h == im2.h && scale == scale2 && ow == ow2 && oh == oh2;
        for (int y = 0; same && y < im.h; y++)
            same = memcmp(im.data + (size_t)y * im.step, im2.data + (size_t)y * im2.step,
                          (size_t)im.w * 3) == 0;
        if (!same) {
            fprintf(stderr, "fuzz: a reused context decoded %dx%d, a fresh one %dx%d (or other "
                    "pixels)\n", im.w, im.h, im2.w, im2.h);
            abort();
        }
    }
    dt_image_ctx_free(fresh);
    if (rc != 0) return 0;
    if (im.w <= 0 || im.h <= 0 || im.step < (size_t)im.w * 3 || !im.data) abort();
    if (scale != 1.0f && scale != 0.5f) abort();
    if (ow <= 0 || oh <= 0) abort();
    if (scale == 1.0f && (ow != im.w || oh != im.h)) abort();
    // Half scale: libjpeg's reduced size is ceil(n / 2); the loader maps the
    // boxes with orig * scale, so the probe's size must be the frame's.
    if (scale == 0.5f && (im.w != (ow + 1) / 2 || im.h != (oh + 1) / 2)) {
        fprintf(stderr, "fuzz: probed %dx%d, half-scale decode gave %dx%d\n", ow, oh, im.w, im.h);
        abort();
    }
    volatile unsigned sum = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < 3 * im.w; x++) sum += im.data[(size_t)y * im.step + x];
    (void)sum;
    return 0;
}
