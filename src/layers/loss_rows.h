// Per-row and per-element math of the small loss heads ([softmax], [single],
// [multilabel], [cost]), shared by their CPU loops and their CUDA twins
// (layers/loss_gpu.cu), so the CPU tests against PyTorch check what the GPU
// computes too.
#ifndef DT_LAYERS_LOSS_ROWS_H
#define DT_LAYERS_LOSS_ROWS_H

#include <math.h>

#include "detect/box.h" // DT_HD, dt_sigmoid, dt_bce_logit

// The class index a truth value names: -1 unless an integer in [0, N) (NaN too).
static inline DT_HD int dt_class_index(float t, int N) {
    if (!(t >= 0 && t < N)) return -1;
    const int k = (int)t;
    return (float)k == t ? k : -1;
}

// y = softmax(x) over N values; returns the cross-entropy against class t in
// log-sum-exp form (finite when the target's probability underflows), 0 when
// t < 0 (no target).
static inline DT_HD double dt_softmax_ce_row(const float *x, float *y, int N, int t) {
    float mx = x[0];
    for (int i = 1; i < N; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
    for (int i = 0; i < N; i++) sum += (y[i] = expf(x[i] - mx));
    const float inv = 1.0f / sum;
    for (int i = 0; i < N; i++) y[i] *= inv;
    return t >= 0 ? (double)mx + log((double)sum) - x[t] : 0.0;
}

// d(k CE)/dx_i from the softmax output y_i; 0 without a target (t < 0).
static inline DT_HD float dt_softmax_ce_grad(float y, int i, int t, float k) {
    return t < 0 ? 0.0f : (y - (i == t ? 1.0f : 0.0f)) * k;
}

// [single]'s box coordinate: *y = sigmoid(x); returns |y s - t s| (s: the
// input's width or height, the lesson's pixel scale).
static inline DT_HD float dt_single_box_y(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline DT_HD float dt_single_box_fwd(float x, float t, float s, float *y) {
    *y = dt_single_box_y(x);
    return fabsf(*y * s - t * s);
}

// d(k |y s - t s|)/dx: sign(e) (0 at 0, as PyTorch) k s y (1 - y).
static inline DT_HD float dt_single_box_grad(float y, float t, float s, float k) {
    const float e = y * s - t * s;
    return (float)((e > 0) - (e < 0)) * k * s * y * (1.0f - y);
}

// [cost]: |x - t| (l1) or (x - t)^2, and d(k term)/dx: sign(x - t) k or (x - t) k
// (the 2 of the square is in k).
static inline DT_HD float dt_cost_term(float x, float t, int l1) {
    const float e = x - t;
    return l1 ? fabsf(e) : e * e;
}
static inline DT_HD float dt_cost_grad(float x, float t, int l1, float k) {
    const float e = x - t;
    return l1 ? (float)((e > 0) - (e < 0)) * k : e * k;
}

// [multilabel]: d(k BCE)/dx from the sigmoid output y.
static inline DT_HD float dt_multilabel_grad(float y, float t, float k) { return (y - t) * k; }

#endif
