#include "detect/anchors.h"

#include <stdlib.h>

#include "base/common.h"

// A grid's sides in range, and the anchors of all grids (k per cell).
static int grid_count(const int *gw, const int *gh, int n_grids, int k, int *n) {
    *n = 0;
    for (int gi = 0; gi < n_grids; gi++) {
        if (gw[gi] < 1 || gw[gi] > 4096 || gh[gi] < 1 || gh[gi] > 4096) {
            if (gw[gi] == gh[gi])
                dt_error("anchors: grid size %d out of range [1, 4096]", gw[gi]);
            else
                dt_error("anchors: grid size %dx%d out of range [1, 4096] per side", gw[gi],
                         gh[gi]);
            return -1;
        }
        *n += gw[gi] * gh[gi] * k;
    }
    return 0;
}

dt_anchors *dt_anchors_create(const int *grids, int n_grids, const float *zooms, int n_zooms,
                              const float *ratios, int n_ratios) {
    return dt_anchors_create_wh(grids, grids, n_grids, zooms, n_zooms, ratios, n_ratios);
}

dt_anchors *dt_anchors_create_wh(const int *gw, const int *gh, int n_grids, const float *zooms,
                                 int n_zooms, const float *ratios, int n_ratios) {
    if (n_grids < 1 || n_zooms < 1 || n_ratios < 1) {
        dt_error("anchors: need at least one grid, zoom and ratio (got %d, %d, %d)", n_grids,
                 n_zooms, n_ratios);
        return NULL;
    }
    int k = n_zooms * n_ratios;
    int n = 0;
    if (grid_count(gw, gh, n_grids, k, &n) != 0) return NULL;
    for (int i = 0; i < n_zooms; i++)
        if (!(zooms[i] > 0.0f)) {
            dt_error("anchors: zoom %g must be > 0", (double)zooms[i]);
            return NULL;
        }
    for (int i = 0; i < 2 * n_ratios; i++)
        if (!(ratios[i] > 0.0f)) {
            dt_error("anchors: ratio factor %g must be > 0", (double)ratios[i]);
            return NULL;
        }

    dt_anchors *a = dt_calloc(1, sizeof(*a));
    a->n = n;
    a->k = k;
    a->ctr_size = dt_alloc_floats((size_t)n * 4);
    a->corners = dt_alloc_floats((size_t)n * 4);
    a->grid = dt_alloc_floats((size_t)n * 2);
    int idx = 0;
    for (int gi = 0; gi < n_grids; gi++) {
        const int W = gw[gi], H = gh[gi];
        const float sx = 1.0f / (float)W, sy = 1.0f / (float)H;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++)
                for (int z = 0; z < n_zooms; z++)
                    for (int q = 0; q < n_ratios; q++, idx++) {
                        float *cs = a->ctr_size + (size_t)idx * 4;
                        // in double then rounded once, as the lesson's numpy
                        // arrays were before the cast to float32; across by
                        // 1/W, down by 1/H (docs/DETECT.md)
                        cs[0] = (float)((c + 0.5) / W);
                        cs[1] = (float)((r + 0.5) / H);
                        cs[2] = (float)((double)zooms[z] * ratios[2 * q + 1] / W);
                        cs[3] = (float)((double)zooms[z] * ratios[2 * q] / H);
                        float *b = a->corners + (size_t)idx * 4;
                        b[0] = cs[0] - cs[2] / 2.0f;
                        b[1] = cs[1] - cs[3] / 2.0f;
                        b[2] = cs[0] + cs[2] / 2.0f;
                        b[3] = cs[1] + cs[3] / 2.0f;
                        a->grid[2 * (size_t)idx] = sx;
                        a->grid[2 * (size_t)idx + 1] = sy;
                    }
    }
    return a;
}

dt_anchors *dt_anchors_create_lesson(void) {
    static const int grids[] = {4, 2, 1};
    static const float zooms[] = {0.75f, 1.0f, 1.3f};
    static const float ratios[] = {1.0f, 1.0f, 1.0f, 0.5f, 0.5f, 1.0f};
    return dt_anchors_create(grids, 3, zooms, 3, ratios, 3);
}

void dt_anchors_free(dt_anchors *a) {
    if (!a) return;
    free(a->ctr_size);
    free(a->corners);
    free(a->grid);
    free(a);
}

dt_anchors *dt_anchors_create_sizes(const int *grids, int n_grids, const float *wh, int n_sizes) {
    return dt_anchors_create_sizes_wh(grids, grids, n_grids, wh, n_sizes);
}

dt_anchors *dt_anchors_create_sizes_wh(const int *gw, const int *gh, int n_grids, const float *wh,
                                       int n_sizes) {
    if (n_grids < 1 || n_sizes < 1) {
        dt_error("anchors: need at least one grid and one size (got %d, %d)", n_grids, n_sizes);
        return NULL;
    }
    int n = 0;
    if (grid_count(gw, gh, n_grids, n_sizes, &n) != 0) return NULL;
    for (int i = 0; i < 2 * n_sizes; i++)
        if (!(wh[i] > 0.0f) || !(wh[i] <= 16.0f)) {
            dt_error("anchors: size %g must be in (0, 16] (a fraction of the image)",
                     (double)wh[i]);
            return NULL;
        }
    dt_anchors *a = dt_calloc(1, sizeof(*a));
    a->n = n;
    a->k = n_sizes;
    a->ctr_size = dt_alloc_floats((size_t)n * 4);
    a->corners = dt_alloc_floats((size_t)n * 4);
    a->grid = dt_alloc_floats((size_t)n * 2);
    int idx = 0;
    for (int gi = 0; gi < n_grids; gi++) {
        const int W = gw[gi], H = gh[gi];
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++)
                for (int q = 0; q < n_sizes; q++, idx++) {
                    float *cs = a->ctr_size + (size_t)idx * 4;
                    cs[0] = (float)((c + 0.5) / W);
                    cs[1] = (float)((r + 0.5) / H);
                    cs[2] = wh[2 * q];
                    cs[3] = wh[2 * q + 1];
                    float *b = a->corners + (size_t)idx * 4;
                    b[0] = cs[0] - cs[2] / 2.0f;
                    b[1] = cs[1] - cs[3] / 2.0f;
                    b[2] = cs[0] + cs[2] / 2.0f;
                    b[3] = cs[1] + cs[3] / 2.0f;
                    a->grid[2 * (size_t)idx] = 1.0f / (float)W;
                    a->grid[2 * (size_t)idx + 1] = 1.0f / (float)H;
                }
    }
    return a;
}

double dt_anchor_iou_wh(double w1, double h1, double w2, double h2) {
    const double iw = w1 < w2 ? w1 : w2, ih = h1 < h2 ? h1 : h2, inter = iw * ih;
    const double uni = w1 * h1 + w2 * h2 - inter;
    return uni > 0 ? inter / uni : 0.0;
}

// index of the anchor of highest IoU with (w, h); the lowest on ties
static int best_of(double w, double h, const double *c, int k, double *iou) {
    int best = 0;
    double bi = -1;
    for (int j = 0; j < k; j++) {
        double v = dt_anchor_iou_wh(w, h, c[2 * j], c[2 * j + 1]);
        if (v > bi) bi = v, best = j;
    }
    if (iou) *iou = bi;
    return best;
}

double dt_anchors_mean_best_iou(const float *box_wh, int n, const float *anc_wh, int k) {
    if (n < 1 || k < 1) return 0.0;
    double *c = malloc(sizeof(double) * 2 * (size_t)k);
    if (!c) return 0.0;
    for (int j = 0; j < 2 * k; j++) c[j] = anc_wh[j];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double v;
        best_of(box_wh[2 * i], box_wh[2 * i + 1], c, k, &v);
        sum += v;
    }
    free(c);
    return sum / n;
}

int dt_anchors_distinct_sizes(const dt_anchors *a, float *wh, int max) {
    int m = 0;
    for (int i = 0; i < a->n && m < max; i++) {
        const float w = a->ctr_size[4 * (size_t)i + 2], h = a->ctr_size[4 * (size_t)i + 3];
        int seen = 0;
        for (int j = 0; j < m && !seen; j++) seen = wh[2 * j] == w && wh[2 * j + 1] == h;
        if (!seen) wh[2 * m] = w, wh[2 * m + 1] = h, m++;
    }
    return m;
}

// uniform double in [0, 1) from 53 random bits
static double rng_unit(dt_rng *r) { return (double)(dt_rng_u64(r) >> 11) * 0x1.0p-53; }

static int area_cmp(const void *a, const void *b) {
    const double *x = a, *y = b;
    const double ax = x[0] * x[1], ay = y[0] * y[1];
    if (ax != ay) return ax < ay ? -1 : 1;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

int dt_anchors_kmeans(const float *box_wh, int n, int k, unsigned long long seed, int max_iter,
                      float *out_wh, int *iters) {
    if (k < 1 || n < k) {
        dt_error("k-means needs 1 <= K <= the number of boxes (K %d, %d boxes)", k, n);
        return -1;
    }
    for (int i = 0; i < 2 * n; i++)
        if (!(box_wh[i] > 0.0f)) {
            dt_error("k-means: box %d has a side %g <= 0", i / 2, (double)box_wh[i]);
            return -1;
        }
    double *c = malloc(sizeof(double) * 2 * (size_t)k);
    double *dist = malloc(sizeof(double) * (size_t)n);
    int *asg = malloc(sizeof(int) * (size_t)n);
    double *sum = malloc(sizeof(double) * 3 * (size_t)k);
    if (!c || !dist || !asg || !sum) {
        free(c), free(dist), free(asg), free(sum);
        dt_error("k-means: out of memory (%d boxes)", n);
        return -1;
    }
    dt_rng r;
    dt_rng_seed(&r, seed);
    // k-means++ seeding
    int first = (int)(dt_rng_u64(&r) % (unsigned long long)n);
    c[0] = box_wh[2 * first], c[1] = box_wh[2 * first + 1];
    for (int i = 0; i < n; i++) dist[i] = 2.0; // above any (1 - IoU)^2
    for (int j = 1; j < k; j++) {
        double total = 0;
        for (int i = 0; i < n; i++) {
            double d = 1.0 - dt_anchor_iou_wh(box_wh[2 * i], box_wh[2 * i + 1], c[2 * j - 2],
                                              c[2 * j - 1]);
            if (d * d < dist[i]) dist[i] = d * d;
            total += dist[i];
        }
        int pick = n - 1;
        if (total > 0) {
            double u = rng_unit(&r) * total, acc = 0;
            for (int i = 0; i < n; i++) {
                acc += dist[i];
                if (u < acc && dist[i] > 0) {
                    pick = i;
                    break;
                }
            }
        } else { // every box already equals a centre: any box
            pick = (int)(dt_rng_u64(&r) % (unsigned long long)n);
        }
        c[2 * j] = box_wh[2 * pick], c[2 * j + 1] = box_wh[2 * pick + 1];
    }
    // Lloyd's iterations
    int it = 0;
    for (int i = 0; i < n; i++) asg[i] = -1;
    while (it < max_iter) {
        it++;
        int changed = 0;
        for (int i = 0; i < 3 * k; i++) sum[i] = 0;
        for (int i = 0; i < n; i++) {
            int b = best_of(box_wh[2 * i], box_wh[2 * i + 1], c, k, NULL);
            changed += b != asg[i];
            asg[i] = b;
            sum[3 * b] += box_wh[2 * i], sum[3 * b + 1] += box_wh[2 * i + 1], sum[3 * b + 2] += 1;
        }
        if (!changed) break;
        for (int j = 0; j < k; j++)
            if (sum[3 * j + 2] > 0)
                c[2 * j] = sum[3 * j] / sum[3 * j + 2], c[2 * j + 1] = sum[3 * j + 1] / sum[3 * j + 2];
    }
    qsort(c, (size_t)k, 2 * sizeof(double), area_cmp);
    for (int j = 0; j < 2 * k; j++) out_wh[j] = (float)c[j];
    if (iters) *iters = it;
    free(c), free(dist), free(asg), free(sum);
    return 0;
}
