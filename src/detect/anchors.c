#include "detect/anchors.h"

#include <stdlib.h>

#include "base/common.h"

dt_anchors *dt_anchors_create(const int *grids, int n_grids, const float *zooms, int n_zooms,
                              const float *ratios, int n_ratios) {
    if (n_grids < 1 || n_zooms < 1 || n_ratios < 1) {
        dt_error("anchors: need at least one grid, zoom and ratio (got %d, %d, %d)", n_grids,
                 n_zooms, n_ratios);
        return NULL;
    }
    int k = n_zooms * n_ratios;
    int n = 0;
    for (int gi = 0; gi < n_grids; gi++) {
        if (grids[gi] < 1 || grids[gi] > 4096) {
            dt_error("anchors: grid size %d out of range [1, 4096]", grids[gi]);
            return NULL;
        }
        n += grids[gi] * grids[gi] * k;
    }
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
    a->grid = dt_alloc_floats((size_t)n);
    int idx = 0;
    for (int gi = 0; gi < n_grids; gi++) {
        int g = grids[gi];
        float gs = 1.0f / (float)g;
        for (int r = 0; r < g; r++)
            for (int c = 0; c < g; c++)
                for (int z = 0; z < n_zooms; z++)
                    for (int q = 0; q < n_ratios; q++, idx++) {
                        float *cs = a->ctr_size + (size_t)idx * 4;
                        // in double then rounded once, as the lesson's numpy
                        // arrays were before the cast to float32
                        cs[0] = (float)((c + 0.5) / g);
                        cs[1] = (float)((r + 0.5) / g);
                        cs[2] = (float)((double)zooms[z] * ratios[2 * q + 1] / g);
                        cs[3] = (float)((double)zooms[z] * ratios[2 * q] / g);
                        float *b = a->corners + (size_t)idx * 4;
                        b[0] = cs[0] - cs[2] / 2.0f;
                        b[1] = cs[1] - cs[3] / 2.0f;
                        b[2] = cs[0] + cs[2] / 2.0f;
                        b[3] = cs[1] + cs[3] / 2.0f;
                        a->grid[idx] = gs;
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
