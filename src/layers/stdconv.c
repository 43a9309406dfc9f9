// [stdconv]: the lesson's StdConv (docs/SEMANTICS.md §1): conv 3x3 pad 1 with bias ->
// ReLU -> BatchNorm -> Dropout. BN comes AFTER the ReLU, so it cannot be
// folded into the conv as [convolutional batch_normalize=1] does.
//
// Keys:
//   filters=N        output channels (required)
//   stride=1
//   dropout=0.1      drop probability p in [0, 1) (inverted dropout, as
//                    torch.nn.Dropout; identity when the network does not train)
//   momentum=0.1, eps=1e-5   the BN's (PyTorch's BatchNorm2d)
// Output: (B, ceil(H/stride), ceil(W/stride), filters) (3x3 pad 1).
//
// Parameters (weights-file order): bias (O), weights (O, I, 3, 3) of the
// conv, then the BN's scale, shift, mean, var (O).
//
// The conv is a [convolutional] sub-layer (subconv.h: convolutional.c's
// oneDNN primitives, with the ReLU as their post-op). BN is dt_bn_forward_*
// (batch statistics iff dt_layer_training: a frozen StdConv uses the running
// ones). Dropout draws its mask from net->rng as [dropout] does (one 64-bit
// draw per forward seeds a stream per chunk: thread-count independent) and
// applies it in the same pass that draws it, in place on the BN output.
#include <stdint.h>
#include <stdlib.h>

#include "engine/dropout_mask.h"
#include "engine/kernels.h"
#include "layers/subconv.h"
#include "engine/network.h"
#include "layers/conv_priv.h"

enum { P_BIAS, P_WEIGHTS, P_SCALE, P_SHIFT, P_MEAN, P_VAR };

typedef struct {
    dt_stdconv_args a; // first: the GPU twin reads it (layers/conv_priv.h)
    dt_subconv conv;   // conv.l.output (B, oh, ow, O): relu(conv(x) + bias) = BN input
    float *save_mean;   // (O) statistics the last forward normalised with (NULL
    float *save_invstd; // (O)  without gradients: nothing reads them)
    float *mask;        // (B, oh, ow, O) 0 or 1/(1-p); NULL without gradients
    int bn_trained;     // the last forward used batch statistics
    int dropped;        // the last forward applied the mask
} stdconv_priv;

static int stdconv_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    stdconv_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_int_req(s, "filters", 1, 1 << 16, &p->a.filters) ||
        dt_cfg_int(s, "stride", 1, 1, 64, &p->a.stride) ||
        dt_cfg_float(s, "dropout", 0.1f, 0, 1, &p->a.p) ||
        dt_cfg_float(s, "momentum", 0.1f, 0, 1, &p->a.momentum) ||
        dt_cfg_float(s, "eps", 1e-5f, 1e-12f, 1, &p->a.eps))
        return -1;
    if (p->a.p >= 1) {
        dt_cfg_error_key(s, dt_cfg_find(s, "dropout"),
                         "value %g out of range: the drop probability must be in [0, 1)",
                         p->a.p);
        return -1;
    }
    // params 0, 1 = the conv's bias, weights (checked: the enum relies on it)
    if (dt_subconv_parse(&p->conv, l, net, p->a.filters, p->a.stride, "relu", "") != 0) return -1;
    DT_ASSERT(l->n_params == 2 && strcmp(l->params[P_BIAS].name, "bias") == 0 &&
              strcmp(l->params[P_WEIGHTS].name, "weights") == 0);
    const int O = p->a.filters;
    dt_layer_add_param(l, "scale", 1, 1, O, 0, 0, 0);
    dt_layer_add_param(l, "shift", 1, 1, O, 0, 0, 0);
    dt_layer_add_param(l, "mean", 0, 1, O, 0, 0, 0);
    dt_layer_add_param(l, "var", 0, 1, O, 0, 0, 0);
    l->out_h = p->conv.l.out_h;
    l->out_w = p->conv.l.out_w;
    l->out_c = O;
    size_t n = (size_t)l->batch * l->out_h * l->out_w * O;
    if (net->with_grads) { // for the backward pass only
        dt_layer_add_buffer(net, &p->save_mean, (size_t)O);
        dt_layer_add_buffer(net, &p->save_invstd, (size_t)O);
        if (p->a.p > 0) dt_layer_add_buffer(net, &p->mask, n);
    }
    l->flops += 4.0 * (double)l->out_h * l->out_w * O; // BN + dropout
    return 0;
}

static int stdconv_setup(dt_layer *l, dt_network *net) {
    stdconv_priv *p = l->priv;
    return dt_subconv_setup(&p->conv, l, net, l->in_accum[0]);
}

// The conv as PyTorch's Conv2d default (subconv -> conv_init); BN identity.
static void stdconv_init(dt_layer *l, dt_network *net) {
    stdconv_priv *p = l->priv;
    dt_subconv_init(&p->conv, net);
    const size_t O = (size_t)p->a.filters;
    dt_fill(l->params[P_SCALE].w, O, 1.0f);
    dt_fill(l->params[P_SHIFT].w, O, 0.0f);
    dt_fill(l->params[P_MEAN].w, O, 0.0f);
    dt_fill(l->params[P_VAR].w, O, 1.0f);
}

// y *= mask with a fresh mask (0 or 1/(1-p)), drawn as [dropout] draws it.
static void dropout_apply(stdconv_priv *p, float *y, size_t n, dt_network *net) {
    const uint64_t seed = dt_rng_u64(&net->rng);
    const size_t nchunks = dt_dropout_chunks(n);
    float *mask = p->mask;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nchunks; k++) {
        const size_t i1 = dt_dropout_chunk(mask, n, k, seed, p->a.p);
#pragma omp simd
        for (size_t i = k * DT_DROPOUT_CHUNK; i < i1; i++) y[i] *= mask[i];
    }
}

static void stdconv_forward(dt_layer *l, dt_network *net) {
    stdconv_priv *p = l->priv;
    dt_param *P = l->params;
    dt_subconv_forward(&p->conv, l, net);
    const float *x = p->conv.l.output; // (B, oh, ow, O) after the ReLU
    const size_t M = (size_t)l->batch * l->out_h * l->out_w;
    p->bn_trained = dt_layer_training(net, l);
    if (p->bn_trained)
        dt_bn_forward_train_sync(x, l->output, M, p->a.filters, P[P_SCALE].w, P[P_SHIFT].w,
                            P[P_MEAN].w, P[P_VAR].w, p->a.momentum, p->a.eps, p->save_mean,
                            p->save_invstd, DT_ACT_LINEAR, dt_net_bn_sync(net));
    else
        dt_bn_forward_infer(x, l->output, M, p->a.filters, P[P_SCALE].w, P[P_SHIFT].w,
                            P[P_MEAN].w, P[P_VAR].w, p->a.eps, p->save_mean, p->save_invstd,
                            DT_ACT_LINEAR);
    // dropout follows net->train, frozen or not (as [dropout] and fastai)
    p->dropped = net->train && p->a.p > 0 && p->mask;
    if (p->dropped) dropout_apply(p, l->output, M * p->a.filters, net);
}

static void stdconv_backward(dt_layer *l, dt_network *net) {
    stdconv_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (l->frozen && !dx) return;
    const size_t M = (size_t)l->batch * l->out_h * l->out_w, n = M * p->a.filters;
    float *dy = l->delta; // ours: overwritten with dL/d(BN output), then BN's dz
    if (p->dropped) {
        const float *mask = p->mask;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dy[i] *= mask[i];
    }
    dt_param *P = l->params;
    float *dscale = l->frozen ? NULL : P[P_SCALE].g;
    float *dshift = l->frozen ? NULL : P[P_SHIFT].g;
    // y is only read for the activation's gradient, and BN's is linear here
    dt_bn_backward_sync(p->conv.l.output, l->output, dy, p->conv.l.delta, M, p->a.filters,
                   P[P_SCALE].w, p->save_mean, p->save_invstd, dscale, dshift, DT_ACT_LINEAR,
                   p->bn_trained, 0, dt_net_bn_sync(net));
    dt_subconv_backward(&p->conv, l, net); // ReLU, conv weights/bias, dx
}

static void stdconv_describe(const dt_layer *l, char *buf, size_t n) {
    const stdconv_priv *p = l->priv;
    snprintf(buf, n, "%d 3x3/%d d%.2f", p->a.filters, p->a.stride, p->a.p);
}

static int stdconv_routes(const dt_layer *l, int *route, int *how, int max) {
    const stdconv_priv *p = l->priv;
    return p ? dt_subconv_routes(&p->conv, route, how, max) : 0;
}

static void stdconv_destroy(dt_layer *l) {
    stdconv_priv *p = l->priv;
    if (!p) return;
    dt_subconv_destroy(&p->conv);
    free(p);
    l->priv = NULL;
}

const dt_layer_ops dt_stdconv_ops = {
    .name = "stdconv",
    .parse = stdconv_parse,
    .setup = stdconv_setup,
    .init = stdconv_init,
    .forward = stdconv_forward,
    .backward = stdconv_backward,
    .destroy = stdconv_destroy,
    .describe = stdconv_describe,
    .conv_routes = stdconv_routes,
#ifdef DT_GPU
    .forward_gpu = dt_stdconv_forward_gpu, .backward_gpu = dt_stdconv_backward_gpu,
#endif
};
