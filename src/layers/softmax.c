// [softmax]: classification loss. Output: softmax probabilities of each
// image's N inputs (the flat vector). Loss (added to net->loss): mean over
// the batch of the cross-entropy with the class index in
// net->truth[b * truth_size], as F.cross_entropy(logits, target). Backward
// seeds dL/dlogits = (softmax - onehot) / B into its input.
//
// A target that is not a class index in [0, N) (e.g. a padded slot) adds no
// loss and no gradient; the mean still divides by B.
#include <math.h>
#include <stdlib.h>

#include "kernels.h"
#include "network.h"

static int softmax_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    l->out_h = l->out_w = 1;
    l->out_c = (int)l->inputs;
    l->is_loss = 1;
    if (net->truth_size < 1) net->truth_size = 1;
    l->flops = 4.0 * (double)l->inputs;
    return 0;
}

// class index of image b, -1 when the truth is not a valid one
static inline int softmax_target(const dt_network *net, int b, int N) {
    float t = net->truth[(size_t)b * net->truth_size];
    if (!(t >= 0 && t < N)) return -1; // also NaN
    int k = (int)t;
    return (float)k == t ? k : -1;
}

static void softmax_forward(dt_layer *l, dt_network *net) {
    const float *x = dt_layer_in(net, l, 0); // (B, N)
    const int B = l->batch, N = l->out_c;
    double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss) if (B * N > 4096)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * N;
        float *yb = l->output + (size_t)b * N;
        float mx = xb[0];
        for (int i = 1; i < N; i++) mx = xb[i] > mx ? xb[i] : mx;
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < N; i++) {
            yb[i] = expf(xb[i] - mx);
            sum += yb[i];
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int i = 0; i < N; i++) yb[i] *= inv;
        int t = softmax_target(net, b, N);
        // log-sum-exp form: stays finite when the target's probability underflows
        if (t >= 0) loss += (double)mx + log((double)sum) - xb[t];
    }
    net->loss += (float)(loss / B);
}

static void softmax_backward(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int B = l->batch, N = l->out_c, accum = l->in_accum[0];
    const float invB = 1.0f / B;
#pragma omp parallel for schedule(static) if (B * N > 4096)
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * N;
        float *d = dx + (size_t)b * N;
        int t = softmax_target(net, b, N);
        if (t < 0) {
            if (!accum)
                for (int i = 0; i < N; i++) d[i] = 0;
            continue;
        }
        for (int i = 0; i < N; i++) {
            float g = (yb[i] - (i == t ? 1.0f : 0.0f)) * invB;
            d[i] = accum ? d[i] + g : g;
        }
    }
}

static void softmax_describe(const dt_layer *l, char *buf, size_t n) {
    snprintf(buf, n, "%d classes", l->out_c);
}

const dt_layer_ops dt_softmax_ops = {
    .name = "softmax",
    .parse = softmax_parse,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = softmax_describe,
};
