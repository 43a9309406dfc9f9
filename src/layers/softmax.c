// [softmax]: classification loss. Output: softmax probabilities of each
// image's N inputs (the flat vector). Loss (added to net->loss): mean over
// the batch of the cross-entropy with the class index in
// net->truth[b * truth_size], as F.cross_entropy(logits, target). Backward
// seeds dL/dlogits = (softmax - onehot) / B into its input.
//
// A target that is not a class index in [0, N) (e.g. an image without
// objects) adds no loss and no gradient; the mean still divides by the rows.
//
// Training hooks: set_truth takes the batch's largest-object class (the
// lesson's largest-object classifier); after it, the loss averages over the
// batch's b->n real rows and ignores the padding rows (a partial validation
// batch). Metric: accuracy (arg-max == target) over the images with a target.
#include <math.h>
#include <stdlib.h>

#include "engine/kernels.h"
#include "layers/heads.h"
#include "layers/loss_rows.h"
#include "engine/network.h"

typedef struct {
    int rows;             // rows of the batch given to set_truth; 0: all B
    long correct, total;  // accuracy counters between metrics_reset and _get
} softmax_priv;

static int softmax_rows(const dt_layer *l) {
    const softmax_priv *p = l->priv;
    return p->rows > 0 && p->rows < l->batch ? p->rows : l->batch;
}

static int softmax_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    l->priv = dt_calloc(1, sizeof(softmax_priv));
    l->out_h = l->out_w = 1;
    l->out_c = (int)l->inputs;
    l->is_loss = 1;
    if (net->truth_size < 1) net->truth_size = 1; // unused without net->with_loss
    l->flops = 4.0 * (double)l->inputs;
    return 0;
}

// class index of image b, -1 when the truth is not a valid one
static inline int softmax_target(const dt_network *net, int b, int N) {
    return dt_class_index(net->truth[(size_t)b * net->truth_size], N);
}

void dt_softmax_args(const dt_layer *l, dt_head_args *a) {
    *a = (dt_head_args){.rows = softmax_rows(l), .classes = l->out_c};
}

static void softmax_forward(dt_layer *l, dt_network *net) {
    const float *x = dt_layer_in(net, l, 0); // (B, N)
    const int B = l->batch, N = l->out_c, rows = softmax_rows(l), with_loss = net->with_loss;
    double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss) if (B * N > 4096)
    for (int b = 0; b < B; b++) {
        int t = with_loss && b < rows ? softmax_target(net, b, N) : -1; // -1: softmax only
        loss += dt_softmax_ce_row(x + (size_t)b * N, l->output + (size_t)b * N, N, t);
    }
    if (with_loss) net->loss += (float)(loss / rows);
}

static void softmax_backward(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int B = l->batch, N = l->out_c, accum = l->in_accum[0], rows = softmax_rows(l);
    const float invB = 1.0f / rows;
#pragma omp parallel for schedule(static) if (B * N > 4096)
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * N;
        float *d = dx + (size_t)b * N;
        int t = b < rows ? softmax_target(net, b, N) : -1;
        if (t < 0) {
            if (!accum)
                for (int i = 0; i < N; i++) d[i] = 0;
            continue;
        }
        for (int i = 0; i < N; i++) {
            float g = dt_softmax_ce_grad(yb[i], i, t, invB);
            d[i] = accum ? d[i] + g : g;
        }
    }
}

static int softmax_set_truth(dt_layer *l, dt_network *net, const dt_batch *b) {
    softmax_priv *p = l->priv;
    const int ts = net->truth_size;
    for (int i = 0; i < l->batch; i++) {
        float *t = net->truth + (size_t)i * ts;
        for (int k = 0; k < ts; k++) t[k] = 0;
        int c = i < b->n ? b->largest_class[i] : -1;
        if (c >= l->out_c) {
            dt_error("%s: class %d of image %s, but [softmax] (%s:%d) has %d outputs: the "
                     "layer before it must have one output per class",
                     l->ops->name, c, b->paths ? b->paths[i] : "?", l->sec->file,
                     l->sec->line, l->out_c);
            return -1;
        }
        t[0] = (float)c; // -1: no object, no loss
    }
    p->rows = b->n;
    return 0;
}

static void softmax_metrics_reset(dt_layer *l, dt_network *net) {
    softmax_priv *p = l->priv;
    p->correct = p->total = 0;
}

static void softmax_metrics_add(dt_layer *l, dt_network *net, const dt_batch *b) {
    softmax_priv *p = l->priv;
    const int N = l->out_c;
    for (int i = 0; i < b->n && i < l->batch; i++) {
        int t = softmax_target(net, i, N);
        if (t < 0) continue;
        const float *y = l->output + (size_t)i * N;
        int best = 0;
        for (int k = 1; k < N; k++)
            if (y[k] > y[best]) best = k;
        p->correct += best == t;
        p->total++;
    }
}

static int softmax_metrics_get(dt_layer *l, dt_network *net, dt_metric *out, int max) {
    const softmax_priv *p = l->priv;
    if (max < 1) return 0;
    snprintf(out[0].name, sizeof out[0].name, "accuracy");
    out[0].value = p->total ? (double)p->correct / p->total : 0;
    out[0].higher_is_better = 1;
    return 1;
}

static void softmax_destroy(dt_layer *l) { free(l->priv); }

static void softmax_describe(const dt_layer *l, char *buf, size_t n) {
    snprintf(buf, n, "%d classes", l->out_c);
}

const dt_layer_ops dt_softmax_ops = {
    .name = "softmax",
    .head = DT_HEAD_CLASS,
    .parse = softmax_parse,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .describe = softmax_describe,
    .destroy = softmax_destroy,
    .set_truth = softmax_set_truth,
    .metrics_reset = softmax_metrics_reset,
    .metrics_add = softmax_metrics_add,
    .metrics_get = softmax_metrics_get,
#ifdef DT_GPU
    .forward_gpu = dt_softmax_forward_gpu, .backward_gpu = dt_softmax_backward_gpu,
#endif
};
