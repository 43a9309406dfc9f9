// [cost] type=l2|l1: regression loss against net->truth (N values per image,
// N = the input's per-image size). As F.mse_loss / F.l1_loss with mean
// reduction over all B*N elements; the loss is added to net->loss. The
// output is a copy of the input (the predictions); backward seeds its input
// delta (l1: sign(x - t) / (B*N), sign(0) = 0 as PyTorch).
#include <math.h>
#include <stdlib.h>

#include "kernels.h"
#include "network.h"

typedef enum { COST_L2 = 0, COST_L1 } cost_type;
static const char *const cost_names[] = {"l2", "l1", NULL};

typedef struct {
    cost_type type;
} cost_priv;

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
    const size_t B = l->batch, N = l->inputs, ts = net->truth_size;
    dt_copy(x, l->output, B * N);
    double loss = 0;
    for (size_t b = 0; b < B; b++) {
        const float *xb = x + b * N, *tb = net->truth + b * ts;
        float s = 0; // per image in float (vectorised), the batch in double
        if (p->type == COST_L1) {
#pragma omp simd reduction(+ : s)
            for (size_t i = 0; i < N; i++) s += fabsf(xb[i] - tb[i]);
        } else {
#pragma omp simd reduction(+ : s)
            for (size_t i = 0; i < N; i++) s += (xb[i] - tb[i]) * (xb[i] - tb[i]);
        }
        loss += s;
    }
    net->loss += (float)(loss / ((double)B * N));
}

static void cost_backward(dt_layer *l, dt_network *net) {
    const cost_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const float *x = l->output;
    const size_t B = l->batch, N = l->inputs, ts = net->truth_size;
    const int accum = l->in_accum[0];
    const float k = (p->type == COST_L1 ? 1.0f : 2.0f) / (float)(B * N);
#pragma omp parallel for schedule(static) if (B * N > 4096)
    for (size_t b = 0; b < B; b++) {
        const float *xb = x + b * N, *tb = net->truth + b * ts;
        float *d = dx + b * N;
        for (size_t i = 0; i < N; i++) {
            float e = xb[i] - tb[i];
            float g = p->type == COST_L1 ? (float)((e > 0) - (e < 0)) * k : e * k;
            d[i] = accum ? d[i] + g : g;
        }
    }
}

static void cost_describe(const dt_layer *l, char *buf, size_t n) {
    const cost_priv *p = l->priv;
    snprintf(buf, n, "%s", cost_names[p->type]);
}

static void cost_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_cost_ops = {
    .name = "cost",
    .parse = cost_parse,
    .forward = cost_forward,
    .backward = cost_backward,
    .destroy = cost_destroy,
    .describe = cost_describe,
};
