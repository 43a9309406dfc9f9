// [activation] activation=relu: an element-wise activation on its input.
#include <stdlib.h>
#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

static int activation_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    activation_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_act_parse(s, DT_ACT_LINEAR, &p->act) != 0) return -1;
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = l->c;
    l->flops = (double)l->inputs;
    return 0;
}

static void activation_forward(dt_layer *l, dt_network *net) {
    activation_priv *p = l->priv;
    size_t n = l->outputs * l->batch;
    const float *x = dt_layer_in(net, l, 0);
    if (p->act == DT_ACT_RELU) { // one pass, not a copy and then the ReLU in place
        float *y = l->output;
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        return;
    }
    dt_copy(x, l->output, n);
    dt_act_forward(p->act, l->output, n);
}

static void activation_backward(dt_layer *l, dt_network *net) {
    activation_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    size_t n = l->outputs * l->batch;
    dt_act_backward(p->act, l->output, l->delta, l->delta, n); // own delta: safe to overwrite
    dt_add(l->delta, dx, n, l->in_accum[0]);
}

static void activation_describe(const dt_layer *l, char *buf, size_t n) {
    const activation_priv *p = l->priv;
    snprintf(buf, n, "%s", dt_act_names[p->act]);
}

static void activation_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_activation_ops = {
    .name = "activation",
    .parse = activation_parse,
    .forward = activation_forward,
    .backward = activation_backward,
    .destroy = activation_destroy,
    .describe = activation_describe,
#ifdef DT_GPU
    .forward_gpu = dt_activation_forward_gpu, .backward_gpu = dt_activation_backward_gpu,
#endif
};
