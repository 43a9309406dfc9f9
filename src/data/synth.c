// Synthetic shapes in VOC layout (synth.h): the embedded default data set,
// made here so that the default run needs no download.
#include "data/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/fs.h"
#include "media/image.h"

const char *const dt_synth_names[DT_SYNTH_CLASSES] = {"circle", "square", "triangle", "cross"};

#define CIRCLE_VERTS 96
#define MAX_VERTS 96

void dt_synth_opts_default(dt_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = 500;
    o->size = 128;
    o->seed = 1;
    o->max_objects = 4;
}

static double iou(const dt_synth_obj *a, const dt_synth_obj *b) {
    double iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1);
    double ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
    if (iw <= 0 || ih <= 0) return 0;
    double in = iw * ih;
    return in / ((a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - in);
}

// Fraction of b's box that a covers.
static double cover(const dt_synth_obj *a, const dt_synth_obj *b) {
    double iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1);
    double ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
    if (iw <= 0 || ih <= 0) return 0;
    return iw * ih / ((b->x2 - b->x1) * (b->y2 - b->y1));
}

// Shape outline of class c with extent s around (0, 0), rotated by `ang`;
// returns the vertex count.
static int shape_outline(int c, double s, double ang, double thick, double *xy) {
    int n = 0;
    if (c == 0) { // circle of diameter s
        for (int i = 0; i < CIRCLE_VERTS; i++) {
            double t = 2 * M_PI * i / CIRCLE_VERTS;
            xy[2 * n] = 0.5 * s * cos(t), xy[2 * n + 1] = 0.5 * s * sin(t);
            n++;
        }
        return n; // rotation changes nothing
    }
    const double h = 0.5 * s;
    if (c == 1) { // square
        const double p[8] = {-h, -h, h, -h, h, h, -h, h};
        memcpy(xy, p, sizeof p);
        n = 4;
    } else if (c == 2) { // triangle, apex up
        const double p[6] = {0, -h, h, h, -h, h};
        memcpy(xy, p, sizeof p);
        n = 3;
    } else { // cross (plus sign), arms `thick` of s wide
        const double t = 0.5 * thick * s;
        const double p[24] = {-t, -h, t, -h, t, -t, h, -t, h, t, t, t,
                              t,  h,  -t, h, -t, t, -h, t, -h, -t, -t, -t};
        memcpy(xy, p, sizeof p);
        n = 12;
    }
    const double cs = cos(ang), sn = sin(ang);
    for (int i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        xy[2 * i] = cs * x - sn * y;
        xy[2 * i + 1] = sn * x + cs * y;
    }
    return n;
}

static unsigned char clamp_u8(double v) {
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5));
}

int dt_synth_render(const dt_synth_opts *o, int k, unsigned char *bgr, dt_synth_obj *objs) {
    const int S = o->size;
    dt_rng r;
    dt_rng_seed3(&r, o->seed, (uint64_t)k, 0x73796e74); // "synt"
    dt_image im = {S, S, (size_t)S * 3, bgr, 0};

    // Background: a gradient between two colours plus faint stripes.
    double c0[3], c1[3];
    for (int i = 0; i < 3; i++) c0[i] = dt_rng_range(&r, 20, 235), c1[i] = dt_rng_range(&r, 20, 235);
    double ga = dt_rng_range(&r, 0, 2 * M_PI), gx = cos(ga), gy = sin(ga);
    double sa = dt_rng_range(&r, 0, M_PI), sf = dt_rng_range(&r, 0.05, 0.4);
    double samp = dt_rng_range(&r, 0, 25);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double u = ((x - S / 2.0) * gx + (y - S / 2.0) * gy) / S + 0.5; // 0..1 along the gradient
            double st = samp * sin(sf * (x * cos(sa) + y * sin(sa)));
            for (int i = 0; i < 3; i++)
                bgr[((size_t)y * S + x) * 3 + i] = clamp_u8(c0[i] + (c1[i] - c0[i]) * u + st);
        }
    // Clutter that is not an object: thin lines and small blobs.
    const int n_clutter = 2 + (int)(dt_rng_uniform(&r) * 5);
    for (int j = 0; j < n_clutter; j++) {
        double xy[8];
        unsigned char col[3];
        for (int i = 0; i < 3; i++) col[i] = (unsigned char)dt_rng_range(&r, 0, 256);
        double x0 = dt_rng_range(&r, 0, S), y0 = dt_rng_range(&r, 0, S);
        double a = dt_rng_range(&r, 0, M_PI), len = dt_rng_range(&r, 0.2, 0.9) * S;
        double w = dt_rng_range(&r, 0.6, 2.0), dx = cos(a), dy = sin(a);
        double pts[8] = {x0 - dy * w, y0 + dx * w, x0 + dx * len - dy * w, y0 + dy * len + dx * w,
                         x0 + dx * len + dy * w, y0 + dy * len - dx * w, x0 + dy * w, y0 - dx * w};
        memcpy(xy, pts, sizeof pts);
        dt_image_fill_polygon(&im, xy, 4, col, 1);
    }

    // Objects: 1 .. max_objects, fully inside, IoU < 0.35 with every other.
    const int want = 1 + (int)(dt_rng_uniform(&r) * o->max_objects);
    int n = 0;
    for (int tries = 0; n < want && tries < 40 * want; tries++) {
        dt_synth_obj b;
        b.cls = (int)(dt_rng_uniform(&r) * DT_SYNTH_CLASSES);
        double s = dt_rng_range(&r, 0.14f, 0.45f) * S;
        double ang = b.cls == 0 ? 0 : dt_rng_range(&r, -0.3f, 0.3f); // radians, +-17 degrees
        double thick = dt_rng_range(&r, 0.28f, 0.42f);
        double xy[2 * MAX_VERTS];
        int nv = shape_outline(b.cls, s, ang, thick, xy);
        double lo_x = INFINITY, lo_y = INFINITY, hi_x = -INFINITY, hi_y = -INFINITY;
        for (int i = 0; i < nv; i++) {
            lo_x = fmin(lo_x, xy[2 * i]), hi_x = fmax(hi_x, xy[2 * i]);
            lo_y = fmin(lo_y, xy[2 * i + 1]), hi_y = fmax(hi_y, xy[2 * i + 1]);
        }
        double cx = dt_rng_range(&r, (float)(1 - lo_x), (float)(S - 1 - hi_x));
        double cy = dt_rng_range(&r, (float)(1 - lo_y), (float)(S - 1 - hi_y));
        b.x1 = (float)(cx + lo_x), b.x2 = (float)(cx + hi_x);
        b.y1 = (float)(cy + lo_y), b.y2 = (float)(cy + hi_y);
        int ok = b.x1 >= 0 && b.y1 >= 0 && b.x2 <= S && b.y2 <= S;
        // later shapes are drawn on top: none may hide half of an earlier one
        for (int j = 0; ok && j < n; j++) ok = iou(&b, &objs[j]) < 0.35 && cover(&b, &objs[j]) < 0.5;
        // a colour that stands out from the background under the object
        unsigned char col[3];
        const unsigned char *bgp = bgr + ((size_t)(int)fmin(fmax(cy, 0), S - 1) * S +
                                          (int)fmin(fmax(cx, 0), S - 1)) * 3;
        double dist = 0;
        for (int ct = 0; ct < 20 && dist < 110; ct++) {
            dist = 0;
            for (int i = 0; i < 3; i++) {
                col[i] = (unsigned char)dt_rng_range(&r, 0, 256);
                dist += fabs((double)col[i] - bgp[i]);
            }
        }
        if (!ok) continue;
        for (int i = 0; i < nv; i++) xy[2 * i] += cx, xy[2 * i + 1] += cy;
        dt_image_fill_polygon(&im, xy, nv, col, 1);
        objs[n++] = b;
    }
    // Sensor noise over everything.
    const double sigma = dt_rng_range(&r, 4, 14);
    for (size_t i = 0; i < (size_t)S * S * 3; i++)
        bgr[i] = clamp_u8(bgr[i] + sigma * dt_rng_normal(&r));
    return n;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        dt_error("cannot write %s: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

// VOC XML: 1-based inclusive pixels, the pixels the continuous box touches.
static int write_xml(const char *path, const char *id, int S, const dt_synth_obj *objs, int n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        dt_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<annotation>\n\t<folder>synth</folder>\n\t<filename>%s.jpg</filename>\n"
               "\t<size>\n\t\t<width>%d</width>\n\t\t<height>%d</height>\n\t\t<depth>3</depth>\n"
               "\t</size>\n\t<segmented>0</segmented>\n",
            id, S, S);
    for (int i = 0; i < n; i++) {
        int xmin = (int)floor(objs[i].x1) + 1, ymin = (int)floor(objs[i].y1) + 1;
        int xmax = (int)ceil(objs[i].x2), ymax = (int)ceil(objs[i].y2);
        xmin = xmin < 1 ? 1 : xmin, ymin = ymin < 1 ? 1 : ymin;
        xmax = xmax > S ? S : xmax, ymax = ymax > S ? S : ymax;
        fprintf(f, "\t<object>\n\t\t<name>%s</name>\n\t\t<pose>Unspecified</pose>\n"
                   "\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n"
                   "\t\t<bndbox>\n\t\t\t<xmin>%d</xmin>\n\t\t\t<ymin>%d</ymin>\n"
                   "\t\t\t<xmax>%d</xmax>\n\t\t\t<ymax>%d</ymax>\n\t\t</bndbox>\n\t</object>\n",
                dt_synth_names[objs[i].cls], xmin, ymin, xmax, ymax);
    }
    fprintf(f, "</annotation>\n");
    if (fclose(f) != 0) {
        dt_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int dt_synth_make(const char *dir, const dt_synth_opts *o) {
    if (o->n < 2 || o->size < 16 || o->size > 4096 || o->max_objects < 1 ||
        o->max_objects > 64) {
        dt_error("synth: need n >= 2, 16 <= size <= 4096, 1 <= max_objects <= 64 (got n %d, "
                 "size %d, max_objects %d)",
                 o->n, o->size, o->max_objects);
        return -1;
    }
    char p[4096];
    const char *sub[] = {"JPEGImages", "Annotations", "ImageSets/Main"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        if (dt_mkdirs(p) != 0) return -1;
    }
    const int S = o->size, n_val = o->n / 5 > 0 ? o->n / 5 : 1, n_train = o->n - n_val;
    unsigned char *px = dt_malloc((size_t)S * S * 3);
    dt_synth_obj *objs = dt_malloc((size_t)o->max_objects * sizeof *objs);
    FILE *lists[2] = {NULL, NULL};
    int rc = -1, counts[DT_SYNTH_CLASSES] = {0}, n_obj = 0;
    const char *names[2] = {"train", "val"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/ImageSets/Main/%s.txt", dir, names[i]);
        if (!(lists[i] = fopen(p, "w"))) {
            dt_error("cannot write %s: %s", p, strerror(errno));
            goto done;
        }
    }
    for (int k = 0; k < o->n; k++) {
        char id[16];
        snprintf(id, sizeof id, "%06d", k);
        int n = dt_synth_render(o, k, px, objs);
        dt_image im = {S, S, (size_t)S * 3, px, 0};
        snprintf(p, sizeof p, "%s/JPEGImages/%s.jpg", dir, id);
        if (dt_image_write(p, &im, 95, 0, 3) != 0) goto done;
        snprintf(p, sizeof p, "%s/Annotations/%s.xml", dir, id);
        if (write_xml(p, id, S, objs, n) != 0) goto done;
        fprintf(lists[k >= n_train], "%s\n", id); // lists[0] = train
        for (int i = 0; i < n; i++) counts[objs[i].cls]++;
        n_obj += n;
    }
    {
        char text[1024] = "";
        for (int c = 0; c < DT_SYNTH_CLASSES; c++) {
            strcat(text, dt_synth_names[c]);
            strcat(text, "\n");
        }
        snprintf(p, sizeof p, "%s/synth.names", dir);
        if (write_text(p, text) != 0) goto done;
        snprintf(text, sizeof text,
                 "# Synthetic shapes made by `detector synth` (n=%d size=%d seed=%llu "
                 "max_objects=%d).\n# Paths are relative to this file's folder.\n"
                 "classes=%d\nnames=synth.names\ntrain=ImageSets/Main/train.txt\n"
                 "valid=ImageSets/Main/val.txt\nformat=voc\nbackup=backup\n",
                 o->n, S, (unsigned long long)o->seed, o->max_objects, DT_SYNTH_CLASSES);
        snprintf(p, sizeof p, "%s/synth.data", dir);
        if (write_text(p, text) != 0) goto done;
    }
    rc = 0;
    if (!o->quiet) {
        printf("synth: %d images (%d train, %d val) of %dx%d, %d objects (", o->n, n_train,
               n_val, S, S, n_obj);
        for (int c = 0; c < DT_SYNTH_CLASSES; c++)
            printf("%s%s %d", c ? ", " : "", dt_synth_names[c], counts[c]);
        printf(") in %s; data file %s/synth.data\n", dir, dir);
    }
done:
    // the lists are written (or the error reported) either way; a failed close
    // only matters when everything else went right
    for (int i = 0; i < 2; i++)
        if (lists[i] && fclose(lists[i]) != 0 && rc == 0) {
            dt_error("cannot write the image lists in %s/ImageSets/Main: %s", dir, strerror(errno));
            rc = -1;
        }
    free(px);
    free(objs);
    return rc;
}
