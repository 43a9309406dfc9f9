// Per-element box math of the SSD head: one definition, used by the CPU code
// (detect/*.c) and by the CUDA kernels (layers/ssd_gpu.cu, cuda/detect_gpu.cu),
// so both devices compute the same numbers.
//
// BOX CONVENTION (the one place it is stated):
//   a box is float[4] = [x1, y1, x2, y2], x horizontal (column), y vertical
//   (row), normalised to [0, 1] of the image width/height, continuous: x2 is
//   the right edge, so width = x2 - x1 (no +1).
//   The lesson (fastai 0.7) used [y1, x1, y2, x2]; the reference scripts
//   permute to and from it (tests/ssd_ref.py).
//   An anchor in centre+size form is [cx, cy, w, h].
//
// BOX ACTIVATIONS (4 per anchor, channels [4s, 4s+4) of an OutConv):
//   [ax, ay, aw, ah]: t = tanh(a); cx = anchor cx + tx/2 * gridsize,
//   cy likewise; w = anchor w * (tw/2 + 1), h likewise (docs/SEMANTICS.md §3). The lesson's
//   order was (y, x, h, w); ours follows the box convention.
#ifndef DT_DETECT_BOX_H
#define DT_DETECT_BOX_H

#include <math.h>

#include "base/hd.h"

// ---------------------------------------------------------------------------
// Geometry.

static inline DT_HD float dt_box_area(const float *b) {
    return (b[2] - b[0]) * (b[3] - b[1]);
}

// Jaccard of two corner boxes, continuous areas (docs/SEMANTICS.md §3). The order of the
// operations follows the lesson's jaccard() so float results agree: the
// intersection is clamped per side, the union is area_a + area_b - inter.
static inline DT_HD float dt_box_iou(const float *a, const float *b) {
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    iw = iw > 0.0f ? iw : 0.0f;
    ih = ih > 0.0f ? ih : 0.0f;
    float inter = iw * ih;
    return inter / (dt_box_area(a) + dt_box_area(b) - inter);
}

// IoU in double for evaluation. inclusive = 1: the VOC devkit's pixel
// convention, boxes are 1-based inclusive pixel indices and a side is
// x2 - x1 + 1; inclusive = 0: continuous (COCO, torchvision).
static inline DT_HD double dt_box_iou_d(const double *a, const double *b, int inclusive) {
    double one = inclusive ? 1.0 : 0.0;
    double iw = fmin(a[2], b[2]) - fmax(a[0], b[0]) + one;
    double ih = fmin(a[3], b[3]) - fmax(a[1], b[1]) + one;
    if (iw <= 0.0 || ih <= 0.0) return 0.0;
    double inter = iw * ih;
    double ua = (a[2] - a[0] + one) * (a[3] - a[1] + one) +
                (b[2] - b[0] + one) * (b[3] - b[1] + one) - inter;
    return inter / ua;
}

// NMS: a kept box suppresses a lower-scored one whose IoU is strictly above
// the threshold (torchvision.ops.nms).
static inline DT_HD int dt_nms_suppresses(float iou, float thresh) {
    return iou > thresh;
}

// The one ranking rule of the matching and of NMS: (v, i) comes before
// (w, k) when v is larger, or equal with the lower index. An ascending scan
// that takes only a strictly larger value (the CPU's argmax loops, its stable
// sorts of ascending indices) keeps exactly this order, and so does a GPU
// tree reduction or rank count that applies it pairwise. Values without NaN.
static inline DT_HD int dt_rank_before(float v, int i, float w, int k) {
    return v > w || (v == w && i < k);
}

// Order of an image's detections (dt_detect_image): higher score, then the
// lower class, then the lower anchor.
static inline DT_HD int dt_det_before(float sa, int ca, int aa, float sb, int cb, int ab) {
    if (sa != sb) return sa > sb;
    if (ca != cb) return ca < cb;
    return aa < ab;
}

// ---------------------------------------------------------------------------
// Activations to box (docs/SEMANTICS.md §3) and its backward.

// act (4) [ax, ay, aw, ah]; anchor (4) [cx, cy, w, h]; grid (2) = [1/W, 1/H]
// of the anchor's W x H grid (dt_anchors.grid); out (4) corners.
static inline DT_HD void dt_box_decode(const float *act, const float *anchor, const float *grid,
                                       float *out) {
    float tx = tanhf(act[0]), ty = tanhf(act[1]);
    float tw = tanhf(act[2]), th = tanhf(act[3]);
    float cx = tx / 2.0f * grid[0] + anchor[0];
    float cy = ty / 2.0f * grid[1] + anchor[1];
    float w = (tw / 2.0f + 1.0f) * anchor[2];
    float h = (th / 2.0f + 1.0f) * anchor[3];
    out[0] = cx - w / 2.0f;
    out[1] = cy - h / 2.0f;
    out[2] = cx + w / 2.0f;
    out[3] = cy + h / 2.0f;
}

// dout (4): dL/d corners; dact (4): dL/d activations (overwritten).
static inline DT_HD void dt_box_decode_backward(const float *act, const float *anchor,
                                                const float *grid, const float *dout,
                                                float *dact) {
    // x1 = cx - w/2, x2 = cx + w/2  =>  dcx = d1 + d2, dw = (d2 - d1)/2
    float dcx = dout[0] + dout[2], dcy = dout[1] + dout[3];
    float dw = (dout[2] - dout[0]) * 0.5f, dh = (dout[3] - dout[1]) * 0.5f;
    float d[4] = {dcx * grid[0] * 0.5f, dcy * grid[1] * 0.5f, dw * anchor[2] * 0.5f,
                  dh * anchor[3] * 0.5f};
    for (int i = 0; i < 4; i++) {
        float t = tanhf(act[i]);
        dact[i] = d[i] * (1.0f - t * t);
    }
}

// ---------------------------------------------------------------------------
// Classification terms, one logit x against a target t in {0, 1}.

static inline DT_HD float dt_sigmoid(float x) {
    return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

// BCE with logits, in the stable form PyTorch uses:
// (1 - t) x + m + log(e^-m + e^(-x-m)), m = max(-x, 0).
static inline DT_HD float dt_bce_logit(float x, float t) {
    float m = -x > 0.0f ? -x : 0.0f;
    return (1.0f - t) * x + m + logf(expf(-m) + expf(-x - m));
}

static inline DT_HD float dt_bce_logit_grad(float x, float t) {
    return dt_sigmoid(x) - t;
}

// Focal weight w = (alpha t + (1-alpha)(1-t)) (1 - pt)^gamma,
// p = sigmoid(x), pt = p t + (1-p)(1-t)  (Lin et al. 2017; docs/SEMANTICS.md §3).
static inline DT_HD float dt_focal_weight(float x, float t, float alpha, float gamma) {
    float p = dt_sigmoid(x);
    float pt = p * t + (1.0f - p) * (1.0f - t);
    return (alpha * t + (1.0f - alpha) * (1.0f - t)) * powf(1.0f - pt, gamma);
}

static inline DT_HD float dt_focal_term(float x, float t, float alpha, float gamma) {
    return dt_focal_weight(x, t, alpha, gamma) * dt_bce_logit(x, t);
}

// d/dx of w(x) * bce(x): the gradient flows through w, as it did in the
// lesson (w was computed from the live logits and autograd went through it):
//   w (p - t) + bce * dw/dx,
//   dw/dx = a_t * gamma (1-pt)^(gamma-1) * -(2t - 1) p (1-p).
static inline DT_HD float dt_focal_grad(float x, float t, float alpha, float gamma) {
    float p = dt_sigmoid(x);
    float pt = p * t + (1.0f - p) * (1.0f - t);
    float at = alpha * t + (1.0f - alpha) * (1.0f - t);
    float q = 1.0f - pt;
    float w = at * powf(q, gamma);
    float dq = -(2.0f * t - 1.0f) * p * (1.0f - p);
    float dw = gamma == 0.0f ? 0.0f : at * gamma * powf(q, gamma - 1.0f) * dq;
    return w * (p - t) + dt_bce_logit(x, t) * dw;
}

#endif
