// Geometry, box mapping and the fused pixel pass of transform.h.
#include "data/transform.h"

#include <math.h>
#include <string.h>

const float dt_imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
const float dt_imagenet_std[3] = {0.229f, 0.224f, 0.225f};

void dt_tfm_geometry(const dt_geom *g, int src_w, int src_h, int out_w, int out_h, dt_tfm *t) {
    dt_tfm_geometry_ssd(g, NULL, src_w, src_h, out_w, out_h, t);
}

void dt_tfm_geometry_ssd(const dt_geom *g, const dt_geom_ssd *ssd, int src_w, int src_h,
                         int out_w, int out_h, dt_tfm *t) {
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
    if (ssd) {
        t->fill_mean = ssd->fill_mean;
        t->box_crop = ssd->box_crop;
        t->bx1 = ssd->bx1, t->by1 = ssd->by1, t->bx2 = ssd->bx2, t->by2 = ssd->by2;
    }
    double det = a0 * a4 - a1 * a3; // never 0: a scale, a mirror and a rotation
    t->inv[0] = a4 / det, t->inv[1] = -a1 / det, t->inv[3] = -a3 / det, t->inv[4] = a0 / det;
    t->inv[2] = -(t->inv[0] * b0 + t->inv[1] * b1);
    t->inv[5] = -(t->inv[3] * b0 + t->inv[4] * b1);
}

double dt_tfm_iou(dt_box a, dt_box b) {
    double iw = fmin(a.x2, b.x2) - fmax(a.x1, b.x1), ih = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih;
    double ua = (double)(a.x2 - a.x1) * (a.y2 - a.y1) + (double)(b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0;
}

// Whether the crop keeps box b: its centre strictly inside (the SSD rule), or
// (clip) a part of positive area inside.
static int crop_keeps(int keep, dt_box c, dt_box b) {
    if (keep == DT_CROP_KEEP_CENTRE) {
        double cx = 0.5 * ((double)b.x1 + b.x2), cy = 0.5 * ((double)b.y1 + b.y2);
        return c.x1 < cx && cx < c.x2 && c.y1 < cy && cy < c.y2;
    }
    return fmin(b.x2, c.x2) > fmax(b.x1, c.x1) && fmin(b.y2, c.y2) > fmax(b.y1, c.y1);
}

// The SSD paper's sampler on the canvas (cx1..cy2, source pixels): one of
// "whole image", "no constraint" and the min-IoU choices at random; then up
// to crop_trials crops of sides U(lo, hi) of the canvas' (w/h within
// crop_ratio) at a uniform position, the first keeping at least one box and
// with some kept box's IoU with it >= the choice. 1 and the crop in *c, or 0
// (the whole canvas).
static int ssd_crop(const dt_augment *a, dt_rng *r, dt_box canvas, const dt_object *objs,
                    int n_obj, dt_box *c, int *choice) {
    int n_opt = a->n_crop_iou + 2;
    int k = (int)(dt_rng_uniform(r) * n_opt);
    if (k >= n_opt) k = n_opt - 1;
    *choice = k;
    if (k == 0) return 0; // the whole image
    double min_iou = k == 1 ? -1 : a->crop_iou[k - 2];
    float cw = canvas.x2 - canvas.x1, ch = canvas.y2 - canvas.y1;
    for (int trial = 0; trial < a->crop_trials; trial++) {
        float w = dt_rng_range(r, a->crop_scale[0], a->crop_scale[1]) * cw;
        float h = dt_rng_range(r, a->crop_scale[0], a->crop_scale[1]) * ch;
        float ux = dt_rng_uniform(r), uy = dt_rng_uniform(r);
        if (!(h > 0) || w / h < a->crop_ratio[0] || w / h > a->crop_ratio[1]) continue;
        dt_box t;
        t.x1 = canvas.x1 + ux * (cw - w), t.y1 = canvas.y1 + uy * (ch - h);
        t.x2 = t.x1 + w, t.y2 = t.y1 + h;
        int kept = 0;
        double best = -1;
        for (int i = 0; i < n_obj; i++) {
            if (!crop_keeps(a->crop_keep, t, objs[i].box)) continue;
            kept++;
            best = fmax(best, dt_tfm_iou(objs[i].box, t));
        }
        if (!kept || best < min_iou) continue;
        *c = t;
        return 1;
    }
    return 0;
}

// Darknet's rand_scale: s ~ U(1, max), used as s or 1/s with equal odds.
static float rand_scale(dt_rng *r, float max) {
    float s = max >= 1 ? dt_rng_range(r, 1, max) : dt_rng_range(r, max, 1);
    return dt_rng_uniform(r) < 0.5f ? s : 1.0f / s;
}

void dt_tfm_draw(const dt_augment *a, int augment, int src_w, int src_h, int out_w, int out_h,
                 dt_rng *r, dt_tfm *t) {
    dt_tfm_draw_objs(a, augment, src_w, src_h, out_w, out_h, NULL, 0, r, t);
}

void dt_tfm_draw_objs(const dt_augment *a, int augment, int src_w, int src_h, int out_w,
                      int out_h, const dt_object *objs, int n_obj, dt_rng *r, dt_tfm *t) {
    dt_geom g = {0, 0, (float)src_w, (float)src_h, 0, 0, a->letterbox};
    dt_geom_ssd gs = {0, 0, 0, 0, 0, 0};
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
    // The SSD augmentation's draws come after those above (so they stay as
    // they were), all made when any part is on; the crop's variable number
    // of draws comes from a generator of its own, seeded from this one.
    dt_box region = {0, 0, (float)src_w, (float)src_h};
    int ssd = dt_augment_ssd(a);
    float ph[9] = {1, 0, 1, 1, 1, 1, 1, 1, 0}, ex[4] = {1, 1, 0, 0};
    uint64_t crop_seed = 0;
    int crop_choice = 0;
    if (ssd) {
        ph[0] = dt_rng_uniform(r), ph[1] = dt_rng_range(r, -32 / 255.0f, 32 / 255.0f);
        ph[2] = dt_rng_uniform(r);
        ph[3] = dt_rng_uniform(r), ph[4] = dt_rng_range(r, 0.5f, 1.5f);
        ph[5] = dt_rng_uniform(r), ph[6] = dt_rng_range(r, 0.5f, 1.5f);
        ph[7] = dt_rng_uniform(r), ph[8] = dt_rng_range(r, -18 / 360.0f, 18 / 360.0f);
        ex[0] = dt_rng_uniform(r), ex[1] = dt_rng_range(r, 1, a->expand);
        ex[2] = dt_rng_uniform(r), ex[3] = dt_rng_uniform(r);
        crop_seed = dt_rng_u64(r);
    }
    if (a->expand > 1 && ex[0] < a->expand_p) {
        // The source at a uniform place on a canvas ex[1] times its size.
        float cw = ex[1] * src_w, ch = ex[1] * src_h;
        region.x1 = -ex[2] * (cw - src_w), region.y1 = -ex[3] * (ch - src_h);
        region.x2 = region.x1 + cw, region.y2 = region.y1 + ch;
        gs.fill_mean = 1;
    }
    if (a->crop) {
        dt_rng cr;
        dt_rng_seed(&cr, crop_seed);
        dt_box c;
        if (ssd_crop(a, &cr, region, objs, n_obj, &c, &crop_choice)) {
            region = c;
            gs.box_crop = a->crop_keep == DT_CROP_KEEP_CENTRE ? 1 : 2;
            gs.bx1 = c.x1, gs.by1 = c.y1, gs.bx2 = c.x2, gs.by2 = c.y2;
        }
    }
    float rw = region.x2 - region.x1, rh = region.y2 - region.y1;
    g.crop_x1 = region.x1 + j[0] * rw;
    g.crop_y1 = region.y1 + j[1] * rh;
    g.crop_x2 = region.x2 - j[2] * rw;
    g.crop_y2 = region.y2 - j[3] * rh;
    g.flip = a->flip && u_flip < 0.5f;
    g.angle = (a->rotate > 0 && u_rot < a->rotate_p) ? angle : 0;
    dt_tfm_geometry_ssd(&g, &gs, src_w, src_h, out_w, out_h, t);
    t->crop_choice = crop_choice;
    t->lighting = a->brightness > 0 || a->contrast > 0;
    t->bright = bp;
    t->contrast_k = cp >= 0 ? 1 + cp : 1 / (1 - cp);
    t->hsv = a->hue > 0 || a->saturation != 1 || a->exposure != 1;
    t->hue = hue;
    t->sat = sat;
    t->expo = expo;
    if (a->photometric) {
        t->photo = 1;
        t->p_bright = ph[0] < 0.5f ? ph[1] : 0;
        t->p_contrast_last = ph[2] < 0.5f;
        t->p_alpha = ph[3] < 0.5f ? ph[4] : 1;
        t->p_sat = ph[5] < 0.5f ? ph[6] : 1;
        t->p_hue = ph[7] < 0.5f ? ph[8] : 0;
    }
}

int dt_tfm_box(const dt_tfm *t, dt_box in, dt_box *out) {
    const double *m = t->m;
    *out = in;
    if (t->box_crop) { // the SSD crop first: centre rule, then clipped to it
        double cx = 0.5 * ((double)in.x1 + in.x2), cy = 0.5 * ((double)in.y1 + in.y2);
        if (t->box_crop == 1 && !(t->bx1 < cx && cx < t->bx2 && t->by1 < cy && cy < t->by2))
            return -1;
        in.x1 = fmaxf(in.x1, t->bx1), in.y1 = fmaxf(in.y1, t->by1);
        in.x2 = fminf(in.x2, t->bx2), in.y2 = fminf(in.y2, t->by2);
        if (in.x2 <= in.x1 || in.y2 <= in.y1) return -1;
    }
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
    if (!t->rotated && !t->cropped && !t->fill_mean && exact) {
        t->mirror = t->flip;
        return dt_image_ctx_warp(c, decoded, t->m, t->rw, t->rh, 1, warped);
    }
    // The expand canvas: the mean pixel in bytes (B,G,R) for the border, so
    // that bilinear samples at the image's edge blend with it; the pixel
    // pass then writes canvas pixels as the exact mean.
    unsigned char fill[3];
    for (int k = 0; k < 3; k++) fill[k] = (unsigned char)lrintf(dt_imagenet_mean[2 - k] * 255);
    t->mirror = 0;
    // Continuous decoded coords u = s x; picture coords p = x' - (rx, ry);
    // OpenCV works on pixel indices i = u - 0.5, j = p - 0.5.
    double a0 = t->m[0] / s, a1 = t->m[1] / s, a3 = t->m[3] / s, a4 = t->m[4] / s;
    double b0 = t->m[2] - t->rx, b1 = t->m[5] - t->ry;
    double mi[6] = {a0, a1, b0 + 0.5 * (a0 + a1) - 0.5, a3, a4, b1 + 0.5 * (a3 + a4) - 0.5};
    if (t->fill_mean) return dt_image_ctx_warp_fill(c, decoded, mi, t->rw, t->rh, fill, warped);
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

// One pixel through the tables, HSV and the late contrast, normalised.
static inline void slow_pixel(const dt_tfm *t, const unsigned char *p, float *o,
                              float lut[3][256], int hsv, int post) {
    float r = lut[0][p[2]], g = lut[1][p[1]], b = lut[2][p[0]];
    if (hsv) {
        float h, s, v;
        rgb_to_hsv(r, g, b, &h, &s, &v);
        if (t->hsv) { // the hue/saturation/exposure keys
            h += t->hue;
            s = clip01(s * t->sat);
            v = clip01(v * t->expo);
        }
        if (t->photo) h += t->p_hue, s = clip01(s * t->p_sat);
        h -= floorf(h);
        hsv_to_rgb(h, s, v, &r, &g, &b);
    }
    if (post) r = clip01(r * t->p_alpha), g = clip01(g * t->p_alpha), b = clip01(b * t->p_alpha);
    o[0] = (r - dt_imagenet_mean[0]) / dt_imagenet_std[0];
    o[1] = (g - dt_imagenet_mean[1]) / dt_imagenet_std[1];
    o[2] = (b - dt_imagenet_mean[2]) / dt_imagenet_std[2];
}

// A row of an expanded sample: pixels whose centre maps outside the source
// are the canvas, the mean pixel exactly (0 once normalised), untouched by
// lighting or photometric distortion (the SSD order: distortion, then
// expand).
static void canvas_row(const dt_tfm *t, int y, const unsigned char *row, float *o,
                       float lut[3][256], int hsv, int post) {
    const double *iv = t->inv;
    double py = t->ry + y + 0.5;
    for (int x = 0; x < t->rw; x++) {
        double px = t->rx + x + 0.5;
        double u = iv[0] * px + iv[1] * py + iv[2], v = iv[3] * px + iv[4] * py + iv[5];
        float *q = o + 3 * x;
        if (!(u >= 0 && u < t->src_w && v >= 0 && v < t->src_h)) {
            q[0] = q[1] = q[2] = 0;
            continue;
        }
        const unsigned char *p = row + (size_t)x * 3; // mirror is 0: warped, not resized
        if (hsv || post) slow_pixel(t, p, q, lut, hsv, post);
        else
            for (int c = 0; c < 3; c++) q[c] = lut[c][p[2 - c]];
    }
}

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
    // Per pixel: HSV (the hue/saturation/exposure keys, then the SSD
    // saturation and hue) and the SSD contrast when it comes last.
    const int hsv = t->hsv || (t->photo && (t->p_sat != 1 || t->p_hue != 0));
    const int post = t->photo && t->p_contrast_last && t->p_alpha != 1;
    const int slow = hsv || post;
    float lut[3][256]; // RGB order
    for (int u = 0; u < 256; u++) {
        float v = u / 255.0f;
        if (t->lighting) v = clip01((v - mean) * t->contrast_k + mean + t->bright);
        if (t->photo) {
            v = clip01(v + t->p_bright);
            if (!t->p_contrast_last) v = clip01(v * t->p_alpha);
        }
        for (int c = 0; c < 3; c++)
            lut[c][u] = slow ? v : (v - dt_imagenet_mean[c]) / dt_imagenet_std[c];
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
        if (t->fill_mean) {
            canvas_row(t, y, row, o, lut, hsv, post);
            continue;
        }
        if (!slow) {
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
            slow_pixel(t, p, o + 3 * x, lut, hsv, post);
        }
    }
}
