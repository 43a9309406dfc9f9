// Drawing helpers (draw.h). Everything goes through image.h's rectangles,
// labels and pastes, so the OPENCV=0 build keeps the geometry (labels then
// draw nothing).
#include "media/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

void dt_draw_class_colour(int cls, unsigned char bgr[3]) {
    // Sasha Trubetskoy's distinct colours, in B, G, R: far apart and none
    // close to black or white, so boxes read on most pictures.
    static const unsigned char pal[12][3] = {
        {75, 25, 230},  {75, 180, 60},   {25, 225, 255}, {200, 130, 0},
        {48, 130, 245}, {180, 30, 145},  {240, 240, 70}, {230, 50, 240},
        {60, 245, 210}, {212, 190, 250}, {128, 128, 0},  {40, 110, 170}};
    memcpy(bgr, pal[(cls < 0 ? 0 : cls) % 12], 3);
}

void dt_draw_text_colour(const unsigned char bg[3], unsigned char fg[3]) {
    double y = 0.114 * bg[0] + 0.587 * bg[1] + 0.299 * bg[2]; // BT.601 luma
    memset(fg, y > 140 ? 0 : 255, 3);
}

int dt_draw_thickness(const dt_image *im) { return im->w + im->h > 1200 ? 3 : 2; }

double dt_draw_font_scale(const dt_image *im) {
    if (im->w + im->h > 1200) return 0.7;
    return im->w + im->h > 600 ? 0.5 : 0.4;
}

// Pixels x1..x2 by y1..y2 (inclusive), clipped to the image, set to c.
static void fill_rect(dt_image *im, int x1, int y1, int x2, int y2, const unsigned char c[3]) {
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > im->w - 1) x2 = im->w - 1;
    if (y2 > im->h - 1) y2 = im->h - 1;
    for (int y = y1; y <= y2; y++) {
        unsigned char *p = im->data + (size_t)y * im->step + (size_t)x1 * 3;
        for (int x = x1; x <= x2; x++, p += 3) p[0] = c[0], p[1] = c[1], p[2] = c[2];
    }
}

// The band of the box's pixels less than t from its edge, as four strips:
// cv::rectangle centres a thick line on the edge, which would put half of it
// outside the box, and its line drawing costs ~4 us a box where these fills
// cost well under one.
static void outline_inside(dt_image *im, int x1, int y1, int x2, int y2,
                           const unsigned char c[3], int t) {
    int it = y1 + t - 1 < y2 ? y1 + t - 1 : y2, ib = y2 - t + 1 > y1 ? y2 - t + 1 : y1;
    int il = x1 + t - 1 < x2 ? x1 + t - 1 : x2, ir = x2 - t + 1 > x1 ? x2 - t + 1 : x1;
    fill_rect(im, x1, y1, x2, it, c); // top
    fill_rect(im, x1, ib, x2, y2, c); // bottom
    fill_rect(im, x1, y1, il, y2, c); // left
    fill_rect(im, ir, y1, x2, y2, c); // right
}

static void box_impl(dt_image *im, const double *px, int cls, const char *label, int thick,
                     double fs) {
    unsigned char bg[3], fg[3];
    dt_draw_class_colour(cls, bg);
    dt_draw_text_colour(bg, fg);
    double x1 = fmin(fmax(px[0], 0), im->w), x2 = fmin(fmax(px[2], 0), im->w);
    double y1 = fmin(fmax(px[1], 0), im->h), y2 = fmin(fmax(px[3], 0), im->h);
    int ix1 = (int)floor(x1), iy1 = (int)floor(y1);
    int ix2 = (int)ceil(x2) - 1, iy2 = (int)ceil(y2) - 1;
    if (ix2 < ix1) ix2 = ix1;
    if (iy2 < iy1) iy2 = iy1;
    outline_inside(im, ix1, iy1, ix2, iy2, bg, thick);
    if (!label || !label[0]) return;
    int lh = (int)(30 * fs) + 4; // label height at this scale (HERSHEY_SIMPLEX)
    dt_image_draw_label(im, ix1, iy1 >= lh ? iy1 - lh : iy1, label, bg, fg, fs);
}

void dt_draw_box(dt_image *im, const double *px, int cls, const char *label) {
    box_impl(im, px, cls, label, dt_draw_thickness(im), dt_draw_font_scale(im));
}

static void detections_impl(dt_image *im, int x0, int y0, int w, int h, const dt_detection *d,
                            int n, char **names, int n_names, int thick, double fs) {
    char label[96];
    for (int j = n - 1; j >= 0; j--) {
        const dt_detection *e = &d[j];
        double px[4] = {x0 + e->box[0] * w, y0 + e->box[1] * h, x0 + e->box[2] * w,
                        y0 + e->box[3] * h};
        if (names && e->cls >= 0 && e->cls < n_names)
            snprintf(label, sizeof label, "%s %.2f", names[e->cls], (double)e->score);
        else snprintf(label, sizeof label, "class%d %.2f", e->cls, (double)e->score);
        box_impl(im, px, e->cls, label, thick, fs);
    }
}

void dt_draw_detections(dt_image *im, int x0, int y0, int w, int h, const dt_detection *d,
                        int n, char **names, int n_names) {
    detections_impl(im, x0, y0, w, h, d, n, names, n_names, dt_draw_thickness(im),
                    dt_draw_font_scale(im));
}

void dt_draw_grid(dt_image *im, int x0, int y0, int w, int h, int gw, int gh,
                  const unsigned char bgr[3]) {
    for (int i = 0; i <= gw; i++) {
        int x = x0 + (int)lround((double)i * w / gw);
        if (x >= x0 + w) x = x0 + w - 1;
        dt_image_draw_rect(im, x, y0, x, y0 + h - 1, bgr, -1);
    }
    for (int i = 0; i <= gh; i++) {
        int y = y0 + (int)lround((double)i * h / gh);
        if (y >= y0 + h) y = y0 + h - 1;
        dt_image_draw_rect(im, x0, y, x0 + w - 1, y, bgr, -1);
    }
}

static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                           grey[3] = {90, 90, 90}, light[3] = {235, 235, 235};

int dt_draw_anchors(const dt_anchors *a, int panel, dt_image *out) {
    // Grids follow one another in the anchor order; a grid is a run of
    // anchors with the same 1/W and 1/H. A W x H grid's panel is the image
    // squeezed into a square (anchors are fractions of its width and height).
    int starts[64], gs[64], ghs[64], ng = 0;
    for (int i = 0; i < a->n; i++) {
        if (i > 0 && a->grid[2 * i] == a->grid[2 * i - 2] &&
            a->grid[2 * i + 1] == a->grid[2 * i - 1])
            continue;
        if (ng == 64) {
            dt_error("dt_draw_anchors: more than 64 grids");
            return -1;
        }
        starts[ng] = i;
        gs[ng] = (int)lround(1.0 / a->grid[2 * i]);
        ghs[ng++] = (int)lround(1.0 / a->grid[2 * i + 1]);
    }
    if (ng == 0 || panel < 64) {
        dt_error("dt_draw_anchors: %d anchors, panel %d px", a->n, panel);
        return -1;
    }
    // Anchors may reach past the image (zoom 1.3 on a 1x1 grid): a margin
    // of a quarter panel shows them whole.
    const int m = panel / 4, cell = panel + 2 * m, title = 28;
    // legend: one label per scale of a cell, its size in cells (w x h)
    const int lw = 110, lh = 22, per_row = (ng * cell - 8) / lw > 0 ? (ng * cell - 8) / lw : 1;
    const int legend = ((a->k + per_row - 1) / per_row) * lh + 8;
    if (dt_image_new(ng * cell, cell + title + legend, out) != 0) return -1;
    dt_image_draw_rect(out, 0, 0, out->w - 1, out->h - 1, white, -1);
    for (int k = 0; k < ng; k++) {
        const int g = gs[k], gh = ghs[k], n = (k + 1 < ng ? starts[k + 1] : a->n) - starts[k];
        const int x0 = k * cell + m, y0 = title + m;
        dt_image_draw_rect(out, x0, y0, x0 + panel - 1, y0 + panel - 1, light, -1);
        dt_draw_grid(out, x0, y0, panel, panel, g, gh, grey);
        // the cell nearest the middle gets its anchors drawn thick
        const int mid = (gh / 2) * g + (g / 2);
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                const int cellno = i / a->k, s = i % a->k;
                if ((cellno == mid) != pass) continue;
                const float *c = a->corners + (size_t)(starts[k] + i) * 4;
                unsigned char col[3];
                dt_draw_class_colour(s, col);
                int t = cellno == mid ? 3 : 1;
                outline_inside(out, x0 + (int)floor(c[0] * panel), y0 + (int)floor(c[1] * panel),
                               x0 + (int)ceil(c[2] * panel) - 1, y0 + (int)ceil(c[3] * panel) - 1,
                               col, t);
            }
        char txt[96];
        snprintf(txt, sizeof txt, "grid %dx%d: %d anchors (k=%d)", g, gh, n, a->k);
        dt_image_draw_label(out, k * cell + 4, 4, txt, white, black, 0.5);
    }
    for (int s = 0; s < a->k; s++) {
        const float *cs = a->ctr_size + (size_t)s * 4; // the first cell's anchors
        unsigned char col[3], fg[3];
        dt_draw_class_colour(s, col);
        dt_draw_text_colour(col, fg);
        char txt[48];
        snprintf(txt, sizeof txt, "%d: %.2fx%.2f", s, cs[2] / a->grid[0], cs[3] / a->grid[1]);
        dt_image_draw_label(out, 4 + (s % per_row) * lw, cell + title + 4 + (s / per_row) * lh,
                            txt, col, fg, 0.45);
    }
    return 0;
}

int dt_draw_pred_grid(const unsigned char *pictures, int n, int w, int h, const float *gt_boxes,
                      const int *gt_cls, const int *n_gt, int max_gt, const dt_detection *dets,
                      const int *n_det, int max_det, char **names, int n_names, int cols,
                      dt_image *out) {
    if (n <= 0 || w <= 0 || h <= 0 || cols <= 0) {
        dt_error("dt_draw_pred_grid: %d images of %dx%d, %d columns", n, w, h, cols);
        return -1;
    }
    if (cols > n) cols = n;
    // small network inputs (112 px) are enlarged so that labels stay legible
    const int f = w < 224 ? (224 + w - 1) / w : 1, pw1 = w * f, ph1 = h * f;
    const int rows = (n + cols - 1) / cols, gap = 6, head = 22;
    const int pw = 2 * pw1 + gap, ph = ph1 + head;
    if (dt_image_new(cols * pw + (cols - 1) * 3 * gap, rows * ph + (rows - 1) * gap, out) != 0)
        return -1;
    dt_image_draw_rect(out, 0, 0, out->w - 1, out->h - 1, white, -1);
    const double fs = 0.4;
    for (int i = 0; i < n; i++) {
        const int x0 = (i % cols) * (pw + 3 * gap), y0 = (i / cols) * (ph + gap) + head;
        // integer nearest-neighbour enlargement: crisp, and no codec needed
        const unsigned char *pic = pictures + (size_t)i * w * h * 3; // (h, w, 3)
        for (int y = 0; y < ph1; y++) {
            unsigned char *row = out->data + (size_t)(y0 + y) * out->step;
            const unsigned char *src = pic + (size_t)(y / f) * w * 3;
            for (int x = 0; x < pw1; x++) {
                const unsigned char *p = src + (size_t)(x / f) * 3;
                unsigned char *a = row + (size_t)(x0 + x) * 3, *b = a + (size_t)(pw1 + gap) * 3;
                a[0] = b[0] = p[0], a[1] = b[1] = p[1], a[2] = b[2] = p[2];
            }
        }
        // ground truth: class names only
        char label[64];
        for (int j = 0; j < n_gt[i]; j++) {
            const float *b = gt_boxes + ((size_t)i * max_gt + j) * 4;
            int c = gt_cls[(size_t)i * max_gt + j];
            double px[4] = {x0 + b[0] * pw1, y0 + b[1] * ph1, x0 + b[2] * pw1, y0 + b[3] * ph1};
            if (names && c >= 0 && c < n_names) snprintf(label, sizeof label, "%s", names[c]);
            else snprintf(label, sizeof label, "class%d", c);
            box_impl(out, px, c, label, 2, fs);
        }
        detections_impl(out, x0 + pw1 + gap, y0, pw1, ph1, dets + (size_t)i * max_det, n_det[i],
                        names, n_names, 2, fs);
        char txt[64];
        snprintf(txt, sizeof txt, "ground truth (%d)", n_gt[i]);
        dt_image_draw_label(out, x0, y0 - head + 2, txt, white, black, 0.45);
        snprintf(txt, sizeof txt, "predicted (%d)", n_det[i]);
        dt_image_draw_label(out, x0 + pw1 + gap, y0 - head + 2, txt, white, black, 0.45);
    }
    return 0;
}
