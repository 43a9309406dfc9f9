// The image API of image.h for builds without OpenCV (OPENCV=0): the library
// still links, and every image operation fails with an error that says why.
#ifndef DT_OPENCV

#include "media/image.h"

#include "base/common.h"

#include <stdlib.h>
#include <string.h>

#define NO_OPENCV "detector was built without OpenCV (OPENCV=0)"

struct dt_image_ctx {
    int unused;
};

dt_image_ctx *dt_image_ctx_new(void) { return dt_calloc(1, sizeof(dt_image_ctx)); }
void dt_image_ctx_free(dt_image_ctx *c) { free(c); }
int dt_image_available(void) { return 0; }
void dt_image_set_threads(int n) { (void)n; }
void dt_image_ctx_set_max_pixels(dt_image_ctx *c, long long n) { (void)c, (void)n; }

int dt_image_ctx_decode(dt_image_ctx *c, const char *path, int want_w, int want_h,
                        dt_image *out, float *scale, int *orig_w, int *orig_h) {
    dt_error(NO_OPENCV ": cannot read image %s", path);
    return -1;
}

int dt_image_ctx_warp(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                      int out_h, int affine_only_scale, dt_image *out) {
    dt_error(NO_OPENCV ": cannot warp images");
    return -1;
}

int dt_image_ctx_warp_fill(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                           int out_h, const unsigned char fill[3], dt_image *out) {
    dt_error(NO_OPENCV ": cannot warp images");
    return -1;
}

int dt_image_load(const char *path, dt_image *out) {
    dt_error(NO_OPENCV ": cannot read image %s", path);
    return -1;
}

int dt_image_resize(const dt_image *src, int w, int h, dt_image *out) {
    dt_error(NO_OPENCV ": cannot resize images");
    return -1;
}

int dt_image_warp(const dt_image *src, const double m[6], int out_w, int out_h,
                  dt_image *out) {
    dt_error(NO_OPENCV ": cannot warp images");
    return -1;
}

int dt_image_flip(const dt_image *src, dt_image *out) {
    dt_error(NO_OPENCV ": cannot flip images");
    return -1;
}

// Rectangles need no codec: kept working so that tests of drawing geometry
// can run anywhere (as are dt_image_new and dt_image_free, in image.c).
void dt_image_draw_rect(dt_image *im, int x1, int y1, int x2, int y2, const unsigned char bgr[3],
                        int thickness) {
    int t = thickness < 0 ? 1 << 30 : thickness;
    for (int y = y1 < 0 ? 0 : y1; y <= y2 && y < im->h; y++)
        for (int x = x1 < 0 ? 0 : x1; x <= x2 && x < im->w; x++) {
            int inside = x - x1 >= t && x2 - x >= t && y - y1 >= t && y2 - y >= t;
            if (inside) continue;
            for (int k = 0; k < 3; k++) im->data[y * im->step + x * 3 + k] = bgr[k];
        }
}

// Even-odd rule at pixel centres, no antialiasing.
void dt_image_fill_polygon(dt_image *im, const double *xy, int n, const unsigned char bgr[3],
                           int antialias) {
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            double px = x + 0.5, py = y + 0.5;
            int in = 0;
            for (int i = 0, j = n - 1; i < n; j = i++) {
                double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
                if ((yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi) in = !in;
            }
            if (in) memcpy(im->data + (size_t)y * im->step + (size_t)x * 3, bgr, 3);
        }
}

void dt_image_draw_label(dt_image *im, int x, int y, const char *text,
                         const unsigned char bg[3], const unsigned char fg[3], double font_scale) {
    // No font renderer without OpenCV; labels are left out.
}

int dt_image_write(const char *path, const dt_image *im, int quality, int progressive,
                   int channels) {
    dt_error(NO_OPENCV ": cannot write image %s", path);
    return -1;
}

#endif // DT_OPENCV
