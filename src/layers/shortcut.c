// [shortcut] from=-3 activation=linear: residual addition,
// output = act(previous layer's output + output of layer `from`). Both must
// have the same shape (no implicit projection: write the 1x1 convolution).
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

static int shortcut_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    shortcut_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    int ref;
    if (dt_cfg_int_req(s, "from", -(1 << 20), 1 << 20, &ref) ||
        dt_act_parse(s, DT_ACT_LINEAR, &p->act))
        return -1;
    if (l->index == 0) {
        dt_cfg_error_sec(s, "a shortcut cannot be the first layer (it adds the previous "
                            "layer's output)");
        return -1;
    }
    p->from = dt_layer_ref(l, s, "from", ref);
    if (p->from < 0) return -1;
    int in[2] = {l->index - 1, p->from};
    dt_layer_set_inputs(l, in, 2);
    int h, w, c;
    dt_layer_in_shape(net, l, 1, &h, &w, &c);
    if (h != l->h || w != l->w || c != l->c) {
        dt_cfg_error_key(s, dt_cfg_find(s, "from"),
                         "layer %d's output %dx%dx%d does not match the previous layer's "
                         "%dx%dx%d (HxWxC); shapes must be equal",
                         p->from, h, w, c, l->h, l->w, l->c);
        return -1;
    }
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = l->c;
    l->flops = (double)l->inputs;
    return 0;
}

static void shortcut_forward(dt_layer *l, dt_network *net) {
    const shortcut_priv *p = l->priv;
    const float *a = dt_layer_in(net, l, 0), *b = dt_layer_in(net, l, 1);
    float *y = l->output;
    size_t n = l->outputs * l->batch;
    if (p->act == DT_ACT_RELU) { // the ResNet case, fused
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = a[i] + b[i];
            y[i] = v > 0 ? v : 0;
        }
        return;
    }
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    dt_act_forward(p->act, y, n);
}

static void shortcut_backward(dt_layer *l, dt_network *net) {
    const shortcut_priv *p = l->priv;
    size_t n = l->outputs * l->batch;
    const float *y = l->output, *dy = l->delta;
    const int fused = p->act == DT_ACT_RELU || p->act == DT_ACT_LINEAR;
    if (!fused) dt_act_backward(p->act, l->output, l->delta, l->delta, n); // own delta
    // inputs in order: the engine lets the lower index assign first when
    // both inputs are the same layer
    for (int k = 0; k < 2; k++) {
        float *dx = dt_layer_in_delta(net, l, k);
        if (!dx) continue;
        if (p->act != DT_ACT_RELU) {
            dt_add(dy, dx, n, l->in_accum[k]);
        } else if (l->in_accum[k]) { // relu' applied on the fly: one pass per input
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0 ? dy[i] : 0.0f;
        } else {
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0f;
        }
    }
}

static void shortcut_describe(const dt_layer *l, char *buf, size_t n) {
    const shortcut_priv *p = l->priv;
    if (p->act == DT_ACT_LINEAR)
        snprintf(buf, n, "from %d", p->from);
    else
        snprintf(buf, n, "from %d %s", p->from, dt_act_names[p->act]);
}

static void shortcut_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_shortcut_ops = {
    .name = "shortcut",
    .parse = shortcut_parse,
    .forward = shortcut_forward,
    .backward = shortcut_backward,
    .destroy = shortcut_destroy,
    .describe = shortcut_describe,
#ifdef DT_GPU
    .forward_gpu = dt_shortcut_forward_gpu, .backward_gpu = dt_shortcut_backward_gpu,
#endif
};
