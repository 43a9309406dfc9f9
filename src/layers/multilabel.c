// [multilabel]: which classes are present (docs/SEMANTICS.md §1): sigmoid + binary
// cross-entropy with logits, mean over the B x C elements, as
// F.binary_cross_entropy_with_logits(x, t) on a (B, C) input (any shape with
// C values per image, e.g. after [connected]).
//
// Keys:
//   classes=C    (optional: checked against the input; default its size)
//
// Targets (net->truth, truth_size C): a 0/1 mask of the classes present
// (values in between are used as soft targets, as PyTorch does).
// Output (B, 1, 1, C): sigmoid probabilities. Backward seeds
// dL/dx = (sigmoid(x) - t) / (B C). Metrics: layers/heads.h.
//
// Training hooks: set_truth takes the batch's class mask; after it the mean
// runs over the b->n real rows (B above becomes b->n, padding rows get no
// gradient). Metrics over the images given: accuracy at 0.5 per label (the
// selector, fastai's accuracy_thresh) and micro F1.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/box.h"
#include "engine/kernels.h"
#include "layers/heads.h"
#include "layers/loss_rows.h"
#include "engine/network.h"

typedef struct {
    int classes;
    int rows;                     // rows of the batch given to set_truth; 0: all B
    long right, labels, tp, fp, fn; // metrics between metrics_reset and metrics_get
} multilabel_priv;

static int multilabel_rows(const dt_layer *l) {
    const multilabel_priv *p = l->priv;
    return p->rows > 0 && p->rows < l->batch ? p->rows : l->batch;
}

void dt_multilabel_args(const dt_layer *l, dt_head_args *a) {
    const multilabel_priv *p = l->priv;
    *a = (dt_head_args){.rows = multilabel_rows(l), .classes = p->classes};
}

static int multilabel_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    multilabel_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    const int def = l->inputs < (1u << 20) ? (int)l->inputs : 0;
    if (dt_cfg_int(s, "classes", def, 1, 1 << 20, &p->classes)) return -1;
    if (l->inputs != (size_t)p->classes) {
        dt_cfg_error_sec(s, "the input has %zu values per image (%dx%dx%d), classes=%d needs "
                            "one logit per class",
                         l->inputs, l->h, l->w, l->c, p->classes);
        return -1;
    }
    l->out_h = l->out_w = 1;
    l->out_c = p->classes;
    l->is_loss = 1;
    if (net->truth_size < p->classes) net->truth_size = p->classes;
    l->flops = 6.0 * (double)l->inputs;
    return 0;
}

static void multilabel_forward(dt_layer *l, dt_network *net) {
    const multilabel_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0); // (B, C)
    const int B = l->batch, C = p->classes, rows = multilabel_rows(l);
    if (!net->with_loss) { // predictions only
        for (size_t i = 0; i < (size_t)B * C; i++) l->output[i] = dt_sigmoid(x[i]);
        return;
    }
    double loss = 0;
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * C, *tb = net->truth + (size_t)b * net->truth_size;
        float *yb = l->output + (size_t)b * C;
        for (int i = 0; i < C; i++) {
            yb[i] = dt_sigmoid(xb[i]);
            if (b < rows) loss += dt_bce_logit(xb[i], tb[i]);
        }
    }
    net->loss += (float)(loss / ((double)rows * C));
}

static void multilabel_backward(dt_layer *l, dt_network *net) {
    const multilabel_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int B = l->batch, C = p->classes, accum = l->in_accum[0], rows = multilabel_rows(l);
    const float k = 1.0f / ((float)rows * C);
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * C;
        const float *tb = net->truth + (size_t)b * net->truth_size;
        float *d = dx + (size_t)b * C;
        for (int i = 0; i < C; i++) {
            float g = b < rows ? dt_multilabel_grad(yb[i], tb[i], k) : 0.0f;
            d[i] = accum ? d[i] + g : g;
        }
    }
}

int dt_multilabel_metrics(const dt_layer *l, const dt_network *net, float thresh, double *acc,
                          double *f1) {
    if (!l || !l->ops || strcmp(l->ops->name, "multilabel") != 0) return -1;
    const multilabel_priv *p = l->priv;
    const int B = l->batch, C = p->classes;
    long right = 0, tp = 0, fp = 0, fn = 0;
    for (int b = 0; b < B; b++) {
        const float *yb = l->output + (size_t)b * C;
        const float *tb = net->truth + (size_t)b * net->truth_size;
        for (int i = 0; i < C; i++) {
            int pred = yb[i] > thresh, truth = tb[i] > 0.5f;
            right += pred == truth;
            tp += pred && truth;
            fp += pred && !truth;
            fn += !pred && truth;
        }
    }
    *acc = (double)right / ((double)B * C);
    *f1 = tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
    return 0;
}

static int multilabel_set_truth(dt_layer *l, dt_network *net, const dt_batch *b) {
    multilabel_priv *p = l->priv;
    const int ts = net->truth_size;
    if (b->n_classes != p->classes) {
        dt_error("the data set has %d classes, the [multilabel] layer (%s:%d) classes=%d",
                 b->n_classes, l->sec->file, l->sec->line, p->classes);
        return -1;
    }
    for (int i = 0; i < l->batch; i++) {
        float *t = net->truth + (size_t)i * ts;
        memset(t, 0, sizeof(float) * (size_t)ts);
        if (i < b->n)
            memcpy(t, b->class_mask + (size_t)i * b->n_classes, sizeof(float) * (size_t)p->classes);
    }
    p->rows = b->n;
    return 0;
}

static void multilabel_metrics_reset(dt_layer *l, dt_network *net) {
    multilabel_priv *p = l->priv;
    p->right = p->labels = p->tp = p->fp = p->fn = 0;
}

static void multilabel_metrics_add(dt_layer *l, dt_network *net, const dt_batch *b) {
    multilabel_priv *p = l->priv;
    const int C = p->classes;
    for (int i = 0; i < b->n && i < l->batch; i++) {
        const float *yb = l->output + (size_t)i * C;
        const float *tb = net->truth + (size_t)i * net->truth_size;
        for (int c = 0; c < C; c++) {
            int pred = yb[c] > 0.5f, truth = tb[c] > 0.5f;
            p->labels++;
            p->right += pred == truth;
            p->tp += pred && truth;
            p->fp += pred && !truth;
            p->fn += !pred && truth;
        }
    }
}

static int multilabel_metrics_get(dt_layer *l, dt_network *net, dt_metric *out, int max) {
    const multilabel_priv *p = l->priv;
    const dt_metric m[2] = {
        {"accuracy@0.5", p->labels ? (double)p->right / p->labels : 0, 1},
        {"F1", p->tp ? 2.0 * p->tp / (2.0 * p->tp + p->fp + p->fn) : 0, 1}};
    int n = max < 2 ? max : 2;
    for (int i = 0; i < n; i++) out[i] = m[i];
    return n;
}

static void multilabel_describe(const dt_layer *l, char *buf, size_t n) {
    const multilabel_priv *p = l->priv;
    snprintf(buf, n, "%d bce", p->classes);
}

static void multilabel_destroy(dt_layer *l) {
    free(l->priv);
    l->priv = NULL;
}

const dt_layer_ops dt_multilabel_ops = {
    .name = "multilabel",
    .head = DT_HEAD_MULTILABEL,
    .parse = multilabel_parse,
    .forward = multilabel_forward,
    .backward = multilabel_backward,
    .destroy = multilabel_destroy,
    .describe = multilabel_describe,
    .set_truth = multilabel_set_truth,
    .metrics_reset = multilabel_metrics_reset,
    .metrics_add = multilabel_metrics_add,
    .metrics_get = multilabel_metrics_get,
#ifdef DT_GPU
    .forward_gpu = dt_multilabel_forward_gpu, .backward_gpu = dt_multilabel_backward_gpu,
#endif
};
