// [connected] output=256 bias=1 activation=linear: a fully connected layer,
// y = act(x W^T + b), as torch.nn.Linear. The input may have any shape; each
// image is its flat vector in memory order (after [flatten] or [avgpool],
// PyTorch's order). Weights (out, in) row-major, bias (out); GEMMs by oneDNN.
#include <math.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"
#include "engine/onednn.h"

static int connected_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    connected_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_int_req(s, "output", 1, 1 << 28, &l->out_c) ||
        dt_cfg_int(s, "bias", 1, 0, 1, &p->bias) || dt_act_parse(s, DT_ACT_LINEAR, &p->act))
        return -1;
    if (l->inputs > (size_t)1 << 31) {
        dt_cfg_error_sec(s, "input of %zu values per image is too large", l->inputs);
        return -1;
    }
    l->out_h = l->out_w = 1;
    p->pb = -1;
    if (p->bias) {
        p->pb = l->n_params;
        dt_layer_add_param(l, "bias", 1, 1, l->out_c, 0, 0, 0);
    }
    p->pw = l->n_params;
    dt_layer_add_param(l, "weights", 1, 2, l->out_c, (int)l->inputs, 0, 0);
    l->flops = 2.0 * (double)l->inputs * l->out_c + (p->bias ? l->out_c : 0);
    return 0;
}

// PyTorch's Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) gives
// U(-1/sqrt(in), 1/sqrt(in)) for the weights, the same bound for the bias.
static void connected_init(dt_layer *l, dt_network *net) {
    const connected_priv *p = l->priv;
    float bound = 1.0f / sqrtf((float)l->inputs);
    dt_param *w = &l->params[p->pw];
    for (size_t i = 0; i < w->n; i++) w->w[i] = dt_rng_range(&net->rng, -bound, bound);
    if (p->pb >= 0) {
        dt_param *b = &l->params[p->pb];
        for (size_t i = 0; i < b->n; i++) b->w[i] = dt_rng_range(&net->rng, -bound, bound);
    }
}

static void connected_forward(dt_layer *l, dt_network *net) {
    const connected_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0); // (B, in)
    const size_t B = l->batch, in = l->inputs, out = l->out_c;
    float *y = l->output; // (B, out)
    dt_dnnl_sgemm('N', 'T', B, out, in, x, in, l->params[p->pw].w, in, 0.0f, y, out, l->index);
    if (p->pb >= 0) dt_add_bias(y, l->params[p->pb].w, B, out);
    dt_act_forward(p->act, y, B * out);
}

static void connected_backward(dt_layer *l, dt_network *net) {
    const connected_priv *p = l->priv;
    const size_t B = l->batch, in = l->inputs, out = l->out_c;
    float *dz = l->delta; // (B, out), ours: becomes the pre-activation gradient
    dt_act_backward(p->act, l->output, dz, dz, B * out);
    if (!l->frozen) {
        // dW (out, in) = dz^T (out, B) x (B, in)
        dt_dnnl_sgemm('T', 'N', out, in, B, dz, out, dt_layer_in(net, l, 0), in, 0.0f,
                      l->params[p->pw].g, in, l->index);
        if (p->pb >= 0) dt_channel_sum(dz, B, out, l->params[p->pb].g);
    }
    float *dx = dt_layer_in_delta(net, l, 0); // (B, in)
    if (dx)
        dt_dnnl_sgemm('N', 'N', B, in, out, dz, out, l->params[p->pw].w, in,
                      l->in_accum[0] ? 1.0f : 0.0f, dx, in, l->index);
}

static void connected_describe(const dt_layer *l, char *buf, size_t n) {
    const connected_priv *p = l->priv;
    const int lin = p->act == DT_ACT_LINEAR;
    snprintf(buf, n, "%d%s%s%s", l->out_c, p->bias ? "" : " nobias", lin ? "" : " ",
             lin ? "" : dt_act_names[p->act]);
}

static void connected_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_connected_ops = {
    .name = "connected",
    .parse = connected_parse,
    .init = connected_init,
    .forward = connected_forward,
    .backward = connected_backward,
    .destroy = connected_destroy,
    .describe = connected_describe,
#ifdef DT_GPU
    .forward_gpu = dt_connected_forward_gpu, .backward_gpu = dt_connected_backward_gpu,
#endif
};
