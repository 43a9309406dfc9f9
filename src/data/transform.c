// Geometry, box mapping and the fused pixel pass of transform.h.
#include "data/transform.h"

#include <math.h>
#include <string.h>

const float dt_imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
const float dt_imagenet_std[3] = {0.229f, 0.224f, 0.225f};

void dt_tfm_geometry(const dt_geom *g, int src_w, int src_h, int out_w, int out_h, dt_tfm *t) {
    memset(t, 0, sizeof *t);
    t->out_w = out_w;
    t->out_h = out_h;
    t->src_w = src_w;
    t->src_h = src_h;
    double cw = g->crop_x2 - g->crop_x1, ch = g->crop_y2 - g->crop_y1;
    if (cw < 1) cw = 1;
    if (ch < 1) ch = 1;
    if (g->letterbox) {
        double s = fmin(out_w / cw, out_h / ch);
        t->rw = (int)lround(cw * s);
        t->rh = (int)lround(ch * s);
        if (t->rw < 1) t->rw = 1;
        if (t->rh < 1) t->rh = 1;
        if (t->rw > out_w) t->rw = out_w;
        if (t->rh > out_h) t->rh = out_h;
        t->rx = (out_w - t->rw) / 2;
        t->ry = (out_h - t->rh) / 2;
    } else {
        t->rw = out_w;
        t->rh = out_h;
    }
    double sx = t->rw / cw, sy = t->rh / ch;
    // x' = A x + b, A = [a0 a1; a3 a4]
    double a0 = sx, a1 = 0, a3 = 0, a4 = sy;
    double b0 = t->rx - g->crop_x1 * sx, b1 = t->ry - g->crop_y1 * sy;
    if (g->flip) { // x' -> 2 rx + rw - x' (mirror inside the picture)
        a0 = -a0;
        a1 = -a1;
        b0 = 2.0 * t->rx + t->rw - b0;
    }
    if (g->angle != 0) {
        // Counter-clockwise as displayed (y points down), about the picture centre.
        double th = g->angle * M_PI / 180.0, c = cos(th), s = sin(th);
        double cx = t->rx + t->rw / 2.0, cy = t->ry + t->rh / 2.0;
        double n0 = c * a0 + s * a3, n1 = c * a1 + s * a4;
        double n3 = -s * a0 + c * a3, n4 = -s * a1 + c * a4;
        double nb0 = c * (b0 - cx) + s * (b1 - cy) + cx;
        double nb1 = -s * (b0 - cx) + c * (b1 - cy) + cy;
        a0 = n0, a1 = n1, a3 = n3, a4 = n4, b0 = nb0, b1 = nb1;
    }
    t->m[0] = a0, t->m[1] = a1, t->m[2] = b0;
    t->m[3] = a3, t->m[4] = a4, t->m[5] = b1;
    t->flip = g->flip;
    t->rotated = g->angle != 0;
    t->cropped = g->crop_x1 != 0 || g->crop_y1 != 0 || g->crop_x2 != src_w || g->crop_y2 != src_h;
}

// Darknet's rand_scale: s ~ U(1, max), used as s or 1/s with equal odds.
static float rand_scale(dt_rng *r, float max) {
    float s = max >= 1 ? dt_rng_range(r, 1, max) : dt_rng_range(r, max, 1);
    return dt_rng_uniform(r) < 0.5f ? s : 1.0f / s;
}

void dt_tfm_draw(const dt_augment *a, int augment, int src_w, int src_h, int out_w, int out_h,
                 dt_rng *r, dt_tfm *t) {
    dt_geom g = {0, 0, (float)src_w, (float)src_h, 0, 0, a->letterbox};
    if (!augment) {
        dt_tfm_geometry(&g, src_w, src_h, out_w, out_h, t);
        return;
    }
    // Every draw is made whatever the settings, in a fixed order, so turning
    // one augmentation on or off leaves the others' numbers unchanged.
    float j[4];
    for (int i = 0; i < 4; i++) j[i] = dt_rng_range(r, -a->jitter, a->jitter);
    float u_flip = dt_rng_uniform(r), u_rot = dt_rng_uniform(r);
    float angle = dt_rng_range(r, -a->rotate, a->rotate);
    float bp = dt_rng_range(r, -a->brightness, a->brightness);
    float cp = dt_rng_range(r, -a->contrast, a->contrast);
    float hue = dt_rng_range(r, -a->hue, a->hue);
    float sat = rand_scale(r, a->saturation), expo = rand_scale(r, a->exposure);
    g.crop_x1 = j[0] * src_w;
    g.crop_y1 = j[1] * src_h;
    g.crop_x2 = src_w - j[2] * src_w;
    g.crop_y2 = src_h - j[3] * src_h;
    g.flip = a->flip && u_flip < 0.5f;
    g.angle = (a->rotate > 0 && u_rot < a->rotate_p) ? angle : 0;
    dt_tfm_geometry(&g, src_w, src_h, out_w, out_h, t);
    t->lighting = a->brightness > 0 || a->contrast > 0;
    t->bright = bp;
    t->contrast_k = cp >= 0 ? 1 + cp : 1 / (1 - cp);
    t->hsv = a->hue > 0 || a->saturation != 1 || a->exposure != 1;
    t->hue = hue;
    t->sat = sat;
    t->expo = expo;
}

int dt_tfm_box(const dt_tfm *t, dt_box in, dt_box *out) {
    const double *m = t->m;
    double xs[4] = {in.x1, in.x2, in.x1, in.x2}, ys[4] = {in.y1, in.y1, in.y2, in.y2};
    double x1 = INFINITY, y1 = INFINITY, x2 = -INFINITY, y2 = -INFINITY;
    for (int i = 0; i < 4; i++) {
        double x = m[0] * xs[i] + m[1] * ys[i] + m[2];
        double y = m[3] * xs[i] + m[4] * ys[i] + m[5];
        x1 = fmin(x1, x), x2 = fmax(x2, x), y1 = fmin(y1, y), y2 = fmax(y2, y);
    }
    x1 = fmax(x1, t->rx), y1 = fmax(y1, t->ry);
    x2 = fmin(x2, t->rx + t->rw), y2 = fmin(y2, t->ry + t->rh);
    out->x1 = (float)x1, out->y1 = (float)y1, out->x2 = (float)x2, out->y2 = (float)y2;
    return (x2 - x1 >= 1 && y2 - y1 >= 1) ? 0 : -1;
}

int dt_tfm_warp(dt_image_ctx *c, const dt_image *decoded, float dec_scale, dt_tfm *t,
                dt_image *warped) {
    double s = dec_scale;
    int exact = decoded->w == (int)lround(t->src_w * s) && decoded->h == (int)lround(t->src_h * s) &&
                fabs(decoded->w - t->src_w * s) < 1e-9 && fabs(decoded->h - t->src_h * s) < 1e-9;
    if (!t->rotated && !t->cropped && exact) {
        t->mirror = t->flip;
        return dt_image_ctx_warp(c, decoded, t->m, t->rw, t->rh, 1, warped);
    }
    t->mirror = 0;
    // Continuous decoded coords u = s x; picture coords p = x' - (rx, ry);
    // OpenCV works on pixel indices i = u - 0.5, j = p - 0.5.
    double a0 = t->m[0] / s, a1 = t->m[1] / s, a3 = t->m[3] / s, a4 = t->m[4] / s;
    double b0 = t->m[2] - t->rx, b1 = t->m[5] - t->ry;
    double mi[6] = {a0, a1, b0 + 0.5 * (a0 + a1) - 0.5, a3, a4, b1 + 0.5 * (a3 + a4) - 0.5};
    return dt_image_ctx_warp(c, decoded, mi, t->rw, t->rh, 0, warped);
}

// h, s, v in [0,1]; the usual hexcone model (as darknet's rgb_to_hsv).
static void rgb_to_hsv(float r, float g, float b, float *h, float *s, float *v) {
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
    *v = mx;
    *s = mx > 0 ? d / mx : 0;
    if (d <= 0) {
        *h = 0;
        return;
    }
    float hh;
    if (mx == r) hh = (g - b) / d;
    else if (mx == g) hh = 2 + (b - r) / d;
    else hh = 4 + (r - g) / d;
    hh /= 6;
    *h = hh < 0 ? hh + 1 : hh;
}

static void hsv_to_rgb(float h, float s, float v, float *r, float *g, float *b) {
    float hh = h * 6;
    int i = (int)floorf(hh);
    float f = hh - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch (((i % 6) + 6) % 6) {
    case 0: *r = v, *g = t, *b = p; break;
    case 1: *r = q, *g = v, *b = p; break;
    case 2: *r = p, *g = v, *b = t; break;
    case 3: *r = p, *g = q, *b = v; break;
    case 4: *r = t, *g = p, *b = v; break;
    default: *r = v, *g = p, *b = q; break;
    }
}

static inline float clip01(float x) { return x < 0 ? 0 : (x > 1 ? 1 : x); }

void dt_tfm_pixels(const dt_image *warped, const dt_tfm *t, float *out) {
    // Every per-value step before HSV (lighting, normalisation) is a function
    // of the byte alone: one 256-entry table per channel does it all.
    float mean = 0;
    if (t->lighting) {
        // mean(x) over the whole picture, all channels, on [0,1] values.
        uint64_t sum = 0;
        for (int y = 0; y < warped->h; y++) {
            const unsigned char *p = warped->data + (size_t)y * warped->step;
            uint32_t row = 0;
            for (int i = 0; i < warped->w * 3; i++) row += p[i];
            sum += row;
        }
        mean = (float)((double)sum / (255.0 * warped->w * warped->h * 3));
    }
    float lut[3][256]; // RGB order
    for (int u = 0; u < 256; u++) {
        float v = u / 255.0f;
        if (t->lighting) v = clip01((v - mean) * t->contrast_k + mean + t->bright);
        for (int c = 0; c < 3; c++)
            lut[c][u] = t->hsv ? v : (v - dt_imagenet_mean[c]) / dt_imagenet_std[c];
    }
    const int W = t->out_w;
    // Letterbox bars: grey 0.5.
    if (t->rw != t->out_w || t->rh != t->out_h) {
        float grey[3];
        for (int c = 0; c < 3; c++) grey[c] = (0.5f - dt_imagenet_mean[c]) / dt_imagenet_std[c];
        for (int y = 0; y < t->out_h; y++)
            for (int x = 0; x < W; x++) {
                if (y >= t->ry && y < t->ry + t->rh && x >= t->rx && x < t->rx + t->rw) continue;
                float *o = out + ((size_t)y * W + x) * 3;
                o[0] = grey[0], o[1] = grey[1], o[2] = grey[2];
            }
    }
    for (int y = 0; y < t->rh; y++) {
        const unsigned char *row = warped->data + (size_t)y * warped->step;
        float *o = out + ((size_t)(y + t->ry) * W + t->rx) * 3; // (rw, 3) slice of (H, W, 3)
        if (!t->hsv) {
            if (t->mirror) {
                for (int x = 0; x < t->rw; x++) {
                    const unsigned char *p = row + (size_t)(t->rw - 1 - x) * 3;
                    o[3 * x + 0] = lut[0][p[2]];
                    o[3 * x + 1] = lut[1][p[1]];
                    o[3 * x + 2] = lut[2][p[0]];
                }
            } else {
                for (int x = 0; x < t->rw; x++) {
                    const unsigned char *p = row + (size_t)x * 3;
                    o[3 * x + 0] = lut[0][p[2]];
                    o[3 * x + 1] = lut[1][p[1]];
                    o[3 * x + 2] = lut[2][p[0]];
                }
            }
            continue;
        }
        for (int x = 0; x < t->rw; x++) {
            const unsigned char *p = row + (size_t)(t->mirror ? t->rw - 1 - x : x) * 3;
            float r = lut[0][p[2]], g = lut[1][p[1]], b = lut[2][p[0]], h, s, v;
            rgb_to_hsv(r, g, b, &h, &s, &v);
            h += t->hue;
            h -= floorf(h);
            s = clip01(s * t->sat);
            v = clip01(v * t->expo);
            hsv_to_rgb(h, s, v, &r, &g, &b);
            o[3 * x + 0] = (r - dt_imagenet_mean[0]) / dt_imagenet_std[0];
            o[3 * x + 1] = (g - dt_imagenet_mean[1]) / dt_imagenet_std[1];
            o[3 * x + 2] = (b - dt_imagenet_mean[2]) / dt_imagenet_std[2];
        }
    }
}
