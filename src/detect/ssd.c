#include "detect/ssd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "detect/box.h"
#include "detect/ssd_elem.h"

void dt_ssd_loss_cfg_default(dt_ssd_loss_cfg *cfg, dt_ssd_clas_kind kind) {
    cfg->clas = kind;
    cfg->alpha = 0.25f;
    cfg->gamma = 2.0f;
    cfg->pos_thresh = 0.4f;
}

void dt_box_jaccard(const float *a, int n, const float *b, int m, float *out) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            out[(size_t)i * m + j] = dt_box_iou(a + (size_t)i * 4, b + (size_t)j * 4);
}

void dt_ssd_match(const float *overlaps, int n_obj, int n_anchors, float *gt_overlap,
                  int *gt_idx) {
    for (int j = 0; j < n_anchors; j++)
        dt_ssd_best_object(overlaps, n_obj, (size_t)n_anchors, j, gt_overlap + j, gt_idx + j);
    // Every object gets at least its best anchor, whatever the threshold;
    // forcing in object order lets a later object take a shared anchor.
    for (int i = 0; i < n_obj; i++) {
        const float *row = overlaps + (size_t)i * n_anchors;
        int bj = 0;
        for (int j = 1; j < n_anchors; j++)
            if (dt_rank_before(row[j], j, row[bj], bj)) bj = j;
        gt_overlap[bj] = DT_SSD_FORCED_OVERLAP;
        gt_idx[bj] = i;
    }
}

dt_ssd_loss *dt_ssd_loss_create(const dt_anchors *anchors, int n_classes, int max_objects,
                                const dt_ssd_loss_cfg *cfg) {
    if (n_classes < 1 || max_objects < 0) {
        dt_error("ssd loss: need n_classes >= 1 and max_objects >= 0 (got %d, %d)", n_classes,
                 max_objects);
        return NULL;
    }
    dt_ssd_loss *l = dt_calloc(1, sizeof(*l));
    int A = anchors->n;
    l->anchors = anchors;
    l->n_classes = n_classes;
    l->max_objects = max_objects;
    if (cfg)
        l->cfg = *cfg;
    else
        dt_ssd_loss_cfg_default(&l->cfg, DT_SSD_BCE);
    l->overlaps = dt_alloc_floats((size_t)(max_objects > 0 ? max_objects : 1) * A);
    l->gt_overlap = dt_alloc_floats((size_t)A);
    l->gt_idx = dt_calloc((size_t)A, sizeof(int));
    l->pred = dt_alloc_floats((size_t)A * 4);
    return l;
}

void dt_ssd_loss_free(dt_ssd_loss *l) {
    if (!l) return;
    free(l->overlaps);
    free(l->gt_overlap);
    free(l->gt_idx);
    free(l->pred);
    free(l);
}

int dt_ssd_loss_image(dt_ssd_loss *l, const float *clas, const float *bact, const float *boxes,
                      const int *classes, int n, float *dclas, float *dbact,
                      dt_ssd_terms *terms) {
    const dt_anchors *an = l->anchors;
    int A = an->n, C = l->n_classes, C1 = C + 1;
    if (n < 0 || n > l->max_objects) {
        dt_error("ssd loss: %d objects in an image, the loss was sized for at most %d", n,
                 l->max_objects);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (classes[i] < 0 || classes[i] >= C) {
            dt_error("ssd loss: object %d has class %d, outside [0, %d)", i, classes[i], C);
            return -1;
        }

    dt_box_jaccard(boxes, n, an->corners, A, l->overlaps);
    dt_ssd_match(l->overlaps, n, A, l->gt_overlap, l->gt_idx);

    // loc: mean over positive anchors x 4 coordinates
    int n_pos = 0;
    for (int j = 0; j < A; j++) n_pos += dt_ssd_positive(l->gt_overlap[j], l->cfg.pos_thresh);
    double loc = 0.0;
    float gscale = n_pos > 0 ? 1.0f / (float)(4 * n_pos) : 0.0f;
    if (dbact) memset(dbact, 0, (size_t)A * 4 * sizeof(float));
    for (int j = 0; j < A; j++) {
        if (!dt_ssd_positive(l->gt_overlap[j], l->cfg.pos_thresh)) continue;
        float absd[4];
        dt_ssd_loc_terms(bact + (size_t)j * 4, an->ctr_size + (size_t)j * 4, an->grid + (size_t)j * 2,
                         boxes + (size_t)l->gt_idx[j] * 4, gscale, l->pred + (size_t)j * 4, absd,
                         dbact ? dbact + (size_t)j * 4 : NULL);
        for (int q = 0; q < 4; q++) loc += absd[q];
    }
    if (n_pos > 0) loc /= 4.0 * n_pos;

    // clas: one-hot target without the background column, / C
    double cl = 0.0;
    int focal = l->cfg.clas == DT_SSD_FOCAL;
    float alpha = l->cfg.alpha, gamma = l->cfg.gamma, inv_c = 1.0f / (float)C;
    for (int j = 0; j < A; j++) {
        int target =
            dt_ssd_positive(l->gt_overlap[j], l->cfg.pos_thresh) ? classes[l->gt_idx[j]] : C;
        const float *x = clas + (size_t)j * C1;
        float *dx = dclas ? dclas + (size_t)j * C1 : NULL;
        for (int c = 0; c < C; c++) {
            float g = 0.0f;
            cl += dt_ssd_clas_term(x[c], c == target ? 1.0f : 0.0f, focal, alpha, gamma,
                                   dx ? &g : NULL);
            if (dx) dx[c] = g * inv_c;
        }
        if (dx) dx[C] = 0.0f; // the background logit is not used
    }
    cl /= C;
    if (terms) {
        terms->loc = loc;
        terms->clas = cl;
        terms->n_pos = n_pos;
    }
    return 0;
}

int dt_ssd_loss_batch(dt_ssd_loss *l, int batch, const float *clas, const float *bact,
                      const float *boxes, const int *classes, const int *n_boxes, int max_boxes,
                      float *dclas, float *dbact, double *loss, dt_ssd_terms *terms) {
    size_t A = (size_t)l->anchors->n, C1 = (size_t)l->n_classes + 1;
    double sum = 0.0;
    for (int b = 0; b < batch; b++) {
        if (n_boxes[b] < 0 || n_boxes[b] > max_boxes) {
            dt_error("ssd loss: image %d of the batch has %d objects, padding holds %d", b,
                     n_boxes[b], max_boxes);
            return -1;
        }
        dt_ssd_terms t;
        if (dt_ssd_loss_image(l, clas + b * A * C1, bact + b * A * 4,
                              boxes + (size_t)b * max_boxes * 4, classes + (size_t)b * max_boxes,
                              n_boxes[b], dclas ? dclas + b * A * C1 : NULL,
                              dbact ? dbact + b * A * 4 : NULL, &t) != 0)
            return -1;
        sum += t.loc + t.clas;
        if (terms) terms[b] = t;
    }
    if (loss) *loss = sum;
    return 0;
}
