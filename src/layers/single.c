// [single]: the lesson's single-object loss (docs/SEMANTICS.md §1, 3) on a (B, 4+C) input o
// (any shape with 4 + C values per image, e.g. after [connected]):
//   L1(sigmoid(o[0:4]) * size, box * size)       mean over the B*4 elements,
//                                                 as F.l1_loss
//   + weight * cross_entropy(o[4:], class)        mean over the batch
//
// Keys:
//   classes=C    (optional: checked against the input; default inputs - 4)
//   weight=20    weight of the cross-entropy
//
// Box order: OURS, [x1, y1, x2, y2] corners (detect/box.h), in both the
// outputs o[0:4] and the targets; the lesson used [y1, x1, y2, x2]. Since the
// network learns whatever order its targets have, only the order of the x/y
// pixel scale matters: x coordinates are scaled by the network's input
// width, y by its height (the lesson's 224 for both on square inputs).
//
// Targets (net->truth, truth_size 5): [x1, y1, x2, y2 normalised to [0, 1],
// class]. A class that is not an integer in [0, C) adds no cross-entropy and
// no class gradient (as [softmax]); the mean still divides by B.
// Output (B, 1, 1, 4+C): sigmoid(o[0:4]) (normalised corners), then the
// softmax probabilities of o[4:].
//
// Training hooks: set_truth takes the batch's largest object (its box and
// class; an image without objects gets class -1); after it the means run
// over the b->n real rows (B above becomes b->n, padding rows get no
// gradient). Metrics over the images given: detn_acc (the selector) and
// detn_l1 in input pixels, as the lesson's.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "layers/heads.h"
#include "layers/loss_rows.h"
#include "engine/network.h"

typedef struct {
    int classes;
    float weight;
    int rows;          // rows of the batch given to set_truth; 0: all B
    long hits, n;      // metrics between metrics_reset and metrics_get
    double l1;         // sum of |error| in pixels over 4 n coordinates
} single_priv;

static int single_rows(const dt_layer *l) {
    const single_priv *p = l->priv;
    return p->rows > 0 && p->rows < l->batch ? p->rows : l->batch;
}

static int single_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    single_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    const int def = l->inputs > 4 && l->inputs < (1u << 20) ? (int)l->inputs - 4 : 0;
    if (dt_cfg_int(s, "classes", def, 1, 1 << 20, &p->classes) ||
        dt_cfg_float(s, "weight", 20.0f, 0, 1e6f, &p->weight))
        return -1;
    if (l->inputs <= 4 && !dt_cfg_has(s, "classes")) {
        dt_cfg_error_sec(s, "the input has %zu values per image (%dx%dx%d); a [single] head "
                            "needs 4 box values + at least 1 class",
                         l->inputs, l->h, l->w, l->c);
        return -1;
    }
    if (l->inputs != (size_t)p->classes + 4) {
        dt_cfg_error_sec(s, "the input has %zu values per image (%dx%dx%d); a [single] head "
                            "needs 4 box values + %d classes = %d",
                         l->inputs, l->h, l->w, l->c, p->classes, p->classes + 4);
        return -1;
    }
    l->out_h = l->out_w = 1;
    l->out_c = (int)l->inputs;
    l->is_loss = 1;
    if (net->truth_size < 5) net->truth_size = 5;
    l->flops = 8.0 * (double)l->inputs;
    return 0;
}

static inline int single_target(const dt_network *net, int b, int C) {
    return dt_class_index(net->truth[(size_t)b * net->truth_size + 4], C);
}

void dt_single_args(const dt_layer *l, dt_head_args *a) {
    const single_priv *p = l->priv;
    *a = (dt_head_args){.rows = single_rows(l), .classes = p->classes, .weight = p->weight};
}

static void single_forward(dt_layer *l, dt_network *net) {
    const single_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0); // (B, 4+C)
    const int B = l->batch, C = p->classes, N = C + 4, rows = single_rows(l);
    const float size[4] = {(float)net->w, (float)net->h, (float)net->w, (float)net->h};
    if (!net->with_loss) { // predictions only: sigmoid box, softmax classes
        for (int b = 0; b < B; b++) {
            const float *xb = x + (size_t)b * N;
            float *yb = l->output + (size_t)b * N;
            for (int i = 0; i < 4; i++) yb[i] = dt_single_box_y(xb[i]);
            dt_softmax_ce_row(xb + 4, yb + 4, C, -1);
        }
        return;
    }
    double l1 = 0, ce = 0;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * N, *tb = net->truth + (size_t)b * net->truth_size;
        float *yb = l->output + (size_t)b * N;
        for (int i = 0; i < 4; i++) {
            const float e = dt_single_box_fwd(xb[i], tb[i], size[i], &yb[i]);
            if (b < rows) l1 += e;
        }
        int t = b < rows ? single_target(net, b, C) : -1;
        ce += dt_softmax_ce_row(xb + 4, yb + 4, C, t);
    }
    net->loss += (float)(l1 / (4.0 * rows) + p->weight * (ce / rows));
}

static void single_backward(dt_layer *l, dt_network *net) {
    const single_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int B = l->batch, C = p->classes, N = C + 4, accum = l->in_accum[0];
    const int rows = single_rows(l);
    const float size[4] = {(float)net->w, (float)net->h, (float)net->w, (float)net->h};
    const float kl1 = 1.0f / (4.0f * rows), kce = p->weight / rows;
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * N;
        const float *tb = net->truth + (size_t)b * net->truth_size;
        float *d = dx + (size_t)b * N;
        for (int i = 0; i < 4; i++) {
            float g = b < rows ? dt_single_box_grad(yb[i], tb[i], size[i], kl1) : 0.0f;
            d[i] = accum ? d[i] + g : g;
        }
        int t = b < rows ? single_target(net, b, C) : -1;
        for (int i = 0; i < C; i++) {
            float g = dt_softmax_ce_grad(yb[4 + i], i, t, kce);
            d[4 + i] = accum ? d[4 + i] + g : g;
        }
    }
}

int dt_single_metrics(const dt_layer *l, const dt_network *net, double *acc, double *l1) {
    if (!l || !l->ops || strcmp(l->ops->name, "single") != 0) return -1;
    const single_priv *p = l->priv;
    const int B = l->batch, C = p->classes, N = C + 4;
    const float size[4] = {(float)net->w, (float)net->h, (float)net->w, (float)net->h};
    double err = 0;
    int hits = 0;
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * N;
        const float *tb = net->truth + (size_t)b * net->truth_size;
        for (int i = 0; i < 4; i++) err += fabs((double)yb[i] * size[i] - (double)tb[i] * size[i]);
        int best = 0; // first maximum, as torch.max
        for (int i = 1; i < C; i++)
            if (yb[4 + i] > yb[4 + best]) best = i;
        hits += best == single_target(net, b, C);
    }
    *acc = (double)hits / B;
    *l1 = err / (4.0 * B);
    return 0;
}

static int single_set_truth(dt_layer *l, dt_network *net, const dt_batch *b) {
    single_priv *p = l->priv;
    const int ts = net->truth_size;
    for (int i = 0; i < l->batch; i++) {
        float *t = net->truth + (size_t)i * ts;
        memset(t, 0, sizeof(float) * (size_t)ts);
        const int c = i < b->n ? b->largest_class[i] : -1;
        if (c >= p->classes) {
            dt_error("%s: class %d, but the [single] layer (%s:%d) has classes=%d",
                     b->paths ? b->paths[i] : "image", c, l->sec->file, l->sec->line, p->classes);
            return -1;
        }
        if (c >= 0) memcpy(t, b->largest_box + 4 * (size_t)i, 4 * sizeof(float));
        t[4] = (float)c; // -1: no object, no cross-entropy
    }
    p->rows = b->n;
    return 0;
}

static void single_metrics_reset(dt_layer *l, dt_network *net) {
    single_priv *p = l->priv;
    p->hits = p->n = 0;
    p->l1 = 0;
}

static void single_metrics_add(dt_layer *l, dt_network *net, const dt_batch *b) {
    single_priv *p = l->priv;
    const int C = p->classes, N = C + 4;
    const float size[4] = {(float)net->w, (float)net->h, (float)net->w, (float)net->h};
    for (int i = 0; i < b->n && i < l->batch; i++) {
        const float *yb = l->output + (size_t)i * N;
        const float *tb = net->truth + (size_t)i * net->truth_size;
        for (int k = 0; k < 4; k++) p->l1 += fabs((double)yb[k] * size[k] - (double)tb[k] * size[k]);
        int best = 0; // first maximum, as torch.max
        for (int k = 1; k < C; k++)
            if (yb[4 + k] > yb[4 + best]) best = k;
        p->hits += best == single_target(net, i, C);
        p->n++;
    }
}

static int single_metrics_get(dt_layer *l, dt_network *net, dt_metric *out, int max) {
    const single_priv *p = l->priv;
    const dt_metric m[2] = {{"detn_acc", p->n ? (double)p->hits / p->n : 0, 1},
                            {"detn_l1", p->n ? p->l1 / (4.0 * p->n) : 0, 0}};
    int n = max < 2 ? max : 2;
    for (int i = 0; i < n; i++) out[i] = m[i];
    return n;
}

static void single_describe(const dt_layer *l, char *buf, size_t n) {
    const single_priv *p = l->priv;
    snprintf(buf, n, "4+%d w%g", p->classes, (double)p->weight);
}

static void single_destroy(dt_layer *l) {
    free(l->priv);
    l->priv = NULL;
}

const dt_layer_ops dt_single_ops = {
    .name = "single",
    .head = DT_HEAD_SINGLE,
    .parse = single_parse,
    .forward = single_forward,
    .backward = single_backward,
    .destroy = single_destroy,
    .describe = single_describe,
    .set_truth = single_set_truth,
    .metrics_reset = single_metrics_reset,
    .metrics_add = single_metrics_add,
    .metrics_get = single_metrics_get,
#ifdef DT_GPU
    .forward_gpu = dt_single_forward_gpu, .backward_gpu = dt_single_backward_gpu,
#endif
};
