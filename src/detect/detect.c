#include "detect/detect.h"

#include <stdlib.h>

#include "base/common.h"
#include "base/sort.h"
#include "detect/box.h"

void dt_detect_cfg_default(dt_detect_cfg *cfg) {
    cfg->score_thresh = 0.25f;
    cfg->nms_iou = 0.4f;
    cfg->max_per_class = 50;
    cfg->max_total = 100;
}

// NMS over the subset idx (n) (sorted in place); kept indices to keep.
static int nms_subset(const float *boxes, const float *scores, int *idx, int n, float thr,
                      int max_keep, int *keep, int *ws) {
    dt_sort_idx_desc_f(idx, n, scores, ws);
    int nk = 0;
    for (int a = 0; a < n && (max_keep < 0 || nk < max_keep); a++) {
        const float *b = boxes + (size_t)idx[a] * 4;
        int ok = 1;
        for (int q = 0; q < nk && ok; q++)
            if (dt_nms_suppresses(dt_box_iou(boxes + (size_t)keep[q] * 4, b), thr)) ok = 0;
        if (ok) keep[nk++] = idx[a];
    }
    return nk;
}

int dt_nms(const float *boxes, const float *scores, int n, float iou_thresh, int max_keep,
           int *keep, int *ws) {
    int *idx = ws, *scratch = ws + n;
    for (int i = 0; i < n; i++) idx[i] = i;
    return nms_subset(boxes, scores, idx, n, iou_thresh, max_keep, keep, scratch);
}

int dt_nms_batched(const float *boxes, const float *scores, const int *cls, int n,
                   float iou_thresh, int max_keep, int *keep, int *ws) {
    // ws: [0, n) the current class's members, [n, 2n) sort scratch
    int *members = ws, *scratch = ws + n;
    int nk = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int q = 0; q < i && !seen; q++) seen = cls[q] == cls[i];
        if (seen) continue; // class already done at its first member
        int m = 0;
        for (int q = i; q < n; q++)
            if (cls[q] == cls[i]) members[m++] = q;
        nk += nms_subset(boxes, scores, members, m, iou_thresh, max_keep, keep + nk, scratch);
    }
    // merge the classes' lists into one in descending score; sorting by
    // index first makes the stable sort break ties by index
    for (int a = 1; a < nk; a++) {
        int v = keep[a], b = a - 1;
        while (b >= 0 && keep[b] > v) {
            keep[b + 1] = keep[b];
            b--;
        }
        keep[b + 1] = v;
    }
    dt_sort_idx_desc_f(keep, nk, scores, scratch);
    return nk;
}

dt_detect_ws *dt_detect_ws_create(int n_anchors, int n_classes) {
    dt_detect_ws *w = dt_calloc(1, sizeof(*w));
    w->n_anchors = n_anchors;
    w->n_classes = n_classes;
    size_t A = (size_t)(n_anchors > 0 ? n_anchors : 1);
    w->boxes = dt_alloc_floats(A * 4);
    w->scores = dt_alloc_floats(A);
    w->idx = dt_malloc(A * sizeof(int));
    w->keep = dt_malloc(A * sizeof(int));
    w->ws = dt_malloc(A * sizeof(int));
    return w;
}

void dt_detect_ws_free(dt_detect_ws *w) {
    if (!w) return;
    free(w->boxes);
    free(w->scores);
    free(w->idx);
    free(w->keep);
    free(w->ws);
    free(w->all);
    free(w);
}

// descending score; ties: lower class, then lower anchor (box.h's rule, which
// the GPU twin's rank count applies too)
static int det_cmp(const void *pa, const void *pb) {
    const dt_detection *a = pa, *b = pb;
    if (dt_det_before(a->score, a->cls, a->anchor, b->score, b->cls, b->anchor)) return -1;
    return dt_det_before(b->score, b->cls, b->anchor, a->score, a->cls, a->anchor);
}

int dt_detect_image(const dt_anchors *an, int n_classes, const float *clas, const float *bact,
                    const dt_detect_cfg *cfg, dt_detect_ws *w, dt_detection *out) {
    int A = an->n, C = n_classes, C1 = C + 1;
    DT_ASSERT(w->n_anchors == A && w->n_classes == C);
    for (int j = 0; j < A; j++)
        dt_box_decode(bact + (size_t)j * 4, an->ctr_size + (size_t)j * 4, an->grid + (size_t)j * 2,
                      w->boxes + (size_t)j * 4);
    int n_all = 0;
    for (int c = 0; c < C; c++) {
        int m = 0;
        for (int j = 0; j < A; j++) {
            float s = dt_sigmoid(clas[(size_t)j * C1 + c]);
            w->scores[j] = s;
            if (s > cfg->score_thresh) w->idx[m++] = j;
        }
        int nk = nms_subset(w->boxes, w->scores, w->idx, m, cfg->nms_iou, cfg->max_per_class,
                            w->keep, w->ws);
        if (n_all + nk > w->all_cap) {
            w->all_cap = 2 * (n_all + nk);
            w->all = dt_realloc(w->all, (size_t)w->all_cap * sizeof(dt_detection));
        }
        for (int q = 0; q < nk; q++) {
            dt_detection *d = &w->all[n_all++];
            int j = w->keep[q];
            for (int e = 0; e < 4; e++) d->box[e] = w->boxes[(size_t)j * 4 + e];
            d->score = w->scores[j];
            d->cls = c;
            d->anchor = j;
        }
    }
    if (n_all > 1) qsort(w->all, (size_t)n_all, sizeof(dt_detection), det_cmp);
    int n_out = n_all < cfg->max_total ? n_all : cfg->max_total;
    if (n_out < 0) n_out = 0;
    for (int q = 0; q < n_out; q++) out[q] = w->all[q];
    return n_out;
}

#ifndef DT_GPU
// The GPU twins (cuda/detect_gpu.cu) in a build without CUDA.
int dt_nms_gpu(const float *boxes, const float *scores, int n, float iou_thresh, int max_keep,
               int *keep) {
    (void)boxes, (void)scores, (void)n, (void)iou_thresh, (void)max_keep, (void)keep;
    dt_error("dt_nms_gpu: built without GPU support (make GPU=1 CUDNN=1)");
    return -1;
}

int dt_detect_image_gpu(const dt_anchors *anchors, int n_classes, const float *clas,
                        const float *bact, const dt_detect_cfg *cfg, dt_detection *out) {
    (void)anchors, (void)n_classes, (void)clas, (void)bact, (void)cfg, (void)out;
    dt_error("dt_detect_image_gpu: built without GPU support (make GPU=1 CUDNN=1)");
    return -1;
}
#endif
