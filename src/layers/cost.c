// [cost] type=l2|l1 target=box|classes: regression loss against net->truth
// (N values per image, N = the input's per-image size). As F.mse_loss /
// F.l1_loss with mean reduction over all B*N elements; the loss is added to
// net->loss. The output is a copy of the input (the predictions); backward
// seeds its input delta (l1: sign(x - t) / (B*N), sign(0) = 0 as PyTorch).
//
// Training hook: set_truth fills the target the section names: target=box,
// the largest object's box (x1, y1, x2, y2) in network-input pixels (the
// lesson's bbox model, L1 on pixel coordinates; N must be 4); target=classes,
// the multi-label class mask (N = the data's number of classes). Without the
// key: classes when N != 4 (a box has 4 values: nothing else fits); N = 4 is
// ambiguous (a box, or 4 classes): set_truth refuses it with a cfg error
// naming file and line (the network runs without targets as before; only
// training and validation need to know). After set_truth the mean
// runs over the b->n real rows only (B above becomes b->n). No metrics: the
// best checkpoint goes by loss.
#include <math.h>
#include <stdlib.h>

#include "engine/kernels.h"
#include "layers/heads.h"
#include "layers/loss_rows.h"
#include "engine/network.h"

typedef enum { COST_L2 = 0, COST_L1 } cost_type;
static const char *const cost_names[] = {"l2", "l1", NULL};
typedef enum { COST_BOX = 0, COST_CLASSES } cost_target;
static const char *const target_names[] = {"box", "classes", NULL};

typedef struct {
    cost_type type;
    cost_target target;
    int has_target; // target= given
    int rows; // rows of the batch given to set_truth; 0: all B
} cost_priv;

static size_t cost_rows(const dt_layer *l) {
    const cost_priv *p = l->priv;
    return p->rows > 0 && p->rows < l->batch ? (size_t)p->rows : (size_t)l->batch;
}

void dt_cost_args(const dt_layer *l, dt_head_args *a) {
    const cost_priv *p = l->priv;
    *a = (dt_head_args){.rows = (int)cost_rows(l), .l1 = p->type == COST_L1};
}

static int cost_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    cost_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    int t;
    if (dt_cfg_choice(s, "type", cost_names, COST_L2, &t)) return -1;
    p->type = (cost_type)t;
    if (l->inputs > (size_t)1 << 30) {
        dt_cfg_error_sec(s, "input of %zu values per image is too large", l->inputs);
        return -1;
    }
    p->has_target = dt_cfg_has(s, "target");
    if (dt_cfg_choice(s, "target", target_names, COST_CLASSES, &t)) return -1;
    p->target = (cost_target)t;
    if (p->target == COST_BOX && l->inputs != 4) {
        dt_cfg_error_key(s, dt_cfg_find(s, "target"),
                         "box: the input has %zu values per image, a box 4 (x1, y1, x2, y2)",
                         l->inputs);
        return -1;
    }
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = l->c;
    l->is_loss = 1;
    if (net->truth_size < (int)l->inputs) net->truth_size = (int)l->inputs;
    l->flops = 3.0 * (double)l->inputs;
    return 0;
}

static void cost_forward(dt_layer *l, dt_network *net) {
    const cost_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    const size_t B = cost_rows(l), N = l->inputs, ts = net->truth_size;
    dt_copy(x, l->output, (size_t)l->batch * N);
    if (!net->with_loss) return; // predictions only
    double loss = 0;
    for (size_t b = 0; b < B; b++) {
        const float *xb = x + b * N, *tb = net->truth + b * ts;
        float s = 0; // per image in float (vectorised), the batch in double
        const int l1 = p->type == COST_L1;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < N; i++) s += dt_cost_term(xb[i], tb[i], l1);
        loss += s;
    }
    net->loss += (float)(loss / ((double)B * N));
}

static void cost_backward(dt_layer *l, dt_network *net) {
    const cost_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const float *x = l->output;
    const size_t B = l->batch, rows = cost_rows(l), N = l->inputs, ts = net->truth_size;
    const int accum = l->in_accum[0];
    const float k = (p->type == COST_L1 ? 1.0f : 2.0f) / (float)(rows * N);
#pragma omp parallel for schedule(static) if (B * N > 4096)
    for (size_t b = 0; b < B; b++) {
        const float *xb = x + b * N, *tb = net->truth + b * ts;
        float *d = dx + b * N;
        for (size_t i = 0; i < N; i++) {
            // padding rows: no gradient
            float g = b < rows ? dt_cost_grad(xb[i], tb[i], p->type == COST_L1, k) : 0.0f;
            d[i] = accum ? d[i] + g : g;
        }
    }
}

static int cost_set_truth(dt_layer *l, dt_network *net, const dt_batch *b) {
    cost_priv *p = l->priv;
    const size_t N = l->inputs, ts = net->truth_size;
    if (!p->has_target && N == 4) {
        dt_cfg_error_sec(l->sec, "4 inputs per image could be a box or 4 classes: say which "
                                 "with target=box or target=classes");
        return -1;
    }
    if (p->target == COST_CLASSES && (int)N != b->n_classes) {
        dt_error("[cost] (%s:%d) target=classes has %zu inputs per image, the data %d classes "
                 "(one input per class, the class mask)",
                 l->sec->file, l->sec->line, N, b->n_classes);
        return -1;
    }
    for (int i = 0; i < l->batch; i++) {
        float *t = net->truth + (size_t)i * ts;
        for (size_t k = 0; k < ts; k++) t[k] = 0;
        if (i >= b->n) continue;
        if (p->target == COST_BOX) {
            const float *bx = b->largest_box + 4 * (size_t)i; // [0,1] corners
            t[0] = bx[0] * b->w, t[1] = bx[1] * b->h, t[2] = bx[2] * b->w, t[3] = bx[3] * b->h;
        } else {
            for (size_t k = 0; k < N; k++) t[k] = b->class_mask[(size_t)i * b->n_classes + k];
        }
    }
    p->rows = b->n;
    return 0;
}

static void cost_describe(const dt_layer *l, char *buf, size_t n) {
    const cost_priv *p = l->priv;
    snprintf(buf, n, "%s %s", cost_names[p->type], target_names[p->target]);
}

static void cost_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_cost_ops = {
    .name = "cost",
    .head = DT_HEAD_BOX,
    .loss_metric = "L1_px", // valid: the loss is the mean L1 in input pixels
    .parse = cost_parse,
    .forward = cost_forward,
    .backward = cost_backward,
    .destroy = cost_destroy,
    .describe = cost_describe,
    .set_truth = cost_set_truth,
#ifdef DT_GPU
    .forward_gpu = dt_cost_forward_gpu, .backward_gpu = dt_cost_backward_gpu,
#endif
};
