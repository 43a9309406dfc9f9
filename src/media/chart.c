// Line charts drawn pixel by pixel (lines) and with OpenCV text (labels):
// image.h has no line primitive, and a chart needs nothing more.
#include "media/chart.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                           grid_col[3] = {225, 225, 225};
#define FONT 0.4
// HERSHEY_SIMPLEX advances about 20 units per glyph at scale 1; used to
// right-align and centre labels (image.h does not return text sizes).
#define CHAR_W(scale) (20.0 * (scale))

static void put_px(dt_image *im, int x, int y, const unsigned char c[3]) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    unsigned char *p = im->data + (size_t)y * im->step + (size_t)x * 3;
    p[0] = c[0], p[1] = c[1], p[2] = c[2];
}

// Bresenham, `thick` pixels wide (a square brush).
static void draw_line(dt_image *im, int x0, int y0, int x1, int y1, const unsigned char c[3],
                      int thick) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, r0 = -(thick - 1) / 2, r1 = thick / 2;
    for (;;) {
        for (int a = r0; a <= r1; a++)
            for (int b = r0; b <= r1; b++) put_px(im, x0 + a, y0 + b, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

static void text_at(dt_image *im, int x, int y, const char *s, double scale) {
    dt_image_draw_label(im, x, y, s, white, black, scale);
}

static int text_w(const char *s, double scale) { return (int)(CHAR_W(scale) * strlen(s)); }

// A "nice" tick step (1, 2 or 5 times a power of ten) for about `want` ticks.
static double nice_step(double range, int want) {
    double raw = range / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_num(char *buf, size_t n, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    if (step >= 1 && fabs(v) < 1e6) snprintf(buf, n, "%.0f", v);
    else if (step >= 0.01 && fabs(v) < 1e4) snprintf(buf, n, "%.*f", step >= 0.1 ? 1 : 2, v);
    else snprintf(buf, n, "%.0e", v);
}

void dt_chart_panel(dt_image *im, int x0, int y0, int w, int h, const dt_chart_axes *a,
                    const dt_chart_series *s, int ns) {
    dt_image_draw_rect(im, x0, y0, x0 + w - 1, y0 + h - 1, white, -1);
    // data range over finite points
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y) || (a->logx && x <= 0)) continue;
            if (a->logx) x = log10(x);
            xmin = fmin(xmin, x), xmax = fmax(xmax, x);
            ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (!(xmin <= xmax)) xmin = 0, xmax = 1, ymin = 0, ymax = 1; // nothing to plot yet
    if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
    if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
    double pad = 0.05 * (ymax - ymin);
    ymin -= pad, ymax += pad;
    // plot area inside the margins (tick labels left, axis label below)
    const int L = x0 + 64, R = x0 + w - 16, T = y0 + 30, B = y0 + h - 44;
    if (R - L < 20 || B - T < 20) return;
#define PX(v) (L + (int)lround(((v) - xmin) / (xmax - xmin) * (R - L)))
#define PY(v) (B - (int)lround(((v) - ymin) / (ymax - ymin) * (B - T)))
    // y ticks and grid
    double ys = nice_step(ymax - ymin, 5);
    for (double v = ceil(ymin / ys) * ys; v <= ymax + 1e-9 * ys; v += ys) {
        int py = PY(v);
        draw_line(im, L, py, R, py, grid_col, 1);
        draw_line(im, L - 4, py, L, py, black, 1);
        char buf[32];
        fmt_num(buf, sizeof buf, v, ys);
        text_at(im, L - 8 - text_w(buf, FONT), py - 8, buf, FONT);
    }
    // x ticks: decades on a log axis, nice steps otherwise
    double xs = a->logx ? 1 : nice_step(xmax - xmin, 6);
    if (a->xint && xs < 1) xs = 1;
    for (double v = ceil(xmin / xs) * xs; v <= xmax + 1e-9 * xs; v += xs) {
        int px = PX(v);
        draw_line(im, px, T, px, B, grid_col, 1);
        draw_line(im, px, B, px, B + 4, black, 1);
        char buf[32];
        if (a->logx) snprintf(buf, sizeof buf, "1e%d", (int)lround(v));
        else fmt_num(buf, sizeof buf, v, xs);
        text_at(im, px - text_w(buf, FONT) / 2, B + 6, buf, FONT);
    }
    draw_line(im, L, T, L, B, black, 1); // axes
    draw_line(im, L, B, R, B, black, 1);
    for (int k = 0; k < ns; k++) {
        int have = 0, px = 0, py = 0;
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y) || (a->logx && x <= 0)) {
                have = 0; // a gap, not a line across it
                continue;
            }
            int qx = PX(a->logx ? log10(x) : x), qy = PY(y);
            if (have) draw_line(im, px, py, qx, qy, s[k].bgr, 2);
            else draw_line(im, qx - 1, qy, qx + 1, qy, s[k].bgr, 3); // a lone point shows
            px = qx, py = qy, have = 1;
        }
    }
#undef PX
#undef PY
    if (a->title) text_at(im, x0 + w / 2 - text_w(a->title, 0.5) / 2, y0 + 4, a->title, 0.5);
    if (a->xlabel) text_at(im, (L + R) / 2 - text_w(a->xlabel, FONT) / 2, B + 24, a->xlabel, FONT);
    if (a->ylabel) text_at(im, x0 + 2, T - 18, a->ylabel, FONT);
    // legend: top right, one colour swatch and name per series
    for (int k = 0; k < ns; k++) {
        int ly = T + 6 + 18 * k, lx = R - 14 - text_w(s[k].name, FONT) - 24;
        dt_image_draw_rect(im, lx, ly + 5, lx + 16, ly + 8, s[k].bgr, -1);
        text_at(im, lx + 20, ly, s[k].name, FONT);
    }
}

int dt_chart_write(const char *path, int w, int h, const dt_chart_axes *a,
                   const dt_chart_series *s, int ns) {
    dt_image im;
    if (dt_image_new(w, h, &im) != 0) return -1;
    dt_chart_panel(&im, 0, 0, w, h, a, s, ns);
    int rc = dt_image_write(path, &im, 95, 0, 3);
    dt_image_free(&im);
    return rc;
}
