// Per-anchor math of the SSD loss (docs/SEMANTICS.md §3): the matching rule, the L1
// localisation term and the classification term of one anchor. One
// definition, used by detect/ssd.c (the CPU reference, one image at a time)
// and by the [ssd] layer's CUDA twin (layers/ssd_gpu.cu, one thread per anchor),
// so the two devices take the same decisions and compute the same terms;
// tests/test_ssd_math.c exercises them through dt_ssd_match and
// dt_ssd_loss_image. Layouts as in detect/ssd.h.
#ifndef DT_DETECT_SSD_ELEM_H
#define DT_DETECT_SSD_ELEM_H

#include <stddef.h>

#include "detect/box.h"

// The overlap an object's best anchor is forced to (the lesson's 1.99): above
// any threshold, so that anchor is positive whatever its IoU.
#define DT_SSD_FORCED_OVERLAP 1.99f

// Anchor j's best object, first on ties (the lesson's overlaps.max(0)):
// overlaps (n_obj, stride), row i = object i. n_obj = 0: 0 and -1.
static inline DT_HD void dt_ssd_best_object(const float *overlaps, int n_obj, size_t stride,
                                            int j, float *ov, int *idx) {
    float best = n_obj > 0 ? overlaps[j] : 0.0f;
    int bi = n_obj > 0 ? 0 : -1;
    for (int i = 1; i < n_obj; i++) {
        float v = overlaps[(size_t)i * stride + j];
        if (dt_rank_before(v, i, best, bi)) {
            best = v;
            bi = i;
        }
    }
    *ov = best;
    *idx = bi;
}

static inline DT_HD int dt_ssd_positive(float overlap, float thresh) {
    return overlap > thresh;
}

// L1 term of one positive anchor: pred (4) = the decoded box, absd (4) =
// |pred - target| per corner (the caller sums them, in double, in this
// order); dact (4), when not NULL, = d(gscale * sum absd) / d act, gscale =
// 1 / (4 n_pos) of the image (the mean over its positive anchors' coords).
static inline DT_HD void dt_ssd_loc_terms(const float *act, const float *anchor, const float *grid,
                                          const float *target, float gscale, float *pred,
                                          float *absd, float *dact) {
    float dp[4];
    dt_box_decode(act, anchor, grid, pred);
    for (int q = 0; q < 4; q++) {
        float d = pred[q] - target[q];
        absd[q] = fabsf(d);
        dp[q] = (d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f) * gscale;
    }
    if (dact) dt_box_decode_backward(act, anchor, grid, dp, dact);
}

// One classification term, logit x against target t in {0, 1}: BCE with
// logits, or focal (alpha, gamma) when focal; grad, when not NULL, gets its
// derivative (the caller scales both by 1/C).
static inline DT_HD float dt_ssd_clas_term(float x, float t, int focal, float alpha, float gamma,
                                           float *grad) {
    if (focal) {
        float v = dt_focal_term(x, t, alpha, gamma);
        if (grad) *grad = dt_focal_grad(x, t, alpha, gamma);
        return v;
    }
    float v = dt_bce_logit(x, t);
    if (grad) *grad = dt_bce_logit_grad(x, t);
    return v;
}

#endif
