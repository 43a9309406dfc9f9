// [batchnorm] momentum=0.1 eps=1e-5 activation=linear: batch normalisation
// over the channels of any NHWC input, as torch.nn.BatchNorm2d (and
// BatchNorm1d on a 1x1xN input, e.g. after [connected]). Statistics are taken
// over B*H*W rows; the running statistics follow PyTorch (unbiased variance,
// `momentum` weight on the new value). Frozen layers and inference use the
// running statistics.
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

enum { P_SCALE, P_SHIFT, P_MEAN, P_VAR };

static int batchnorm_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    batchnorm_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_float(s, "momentum", 0.1f, 0, 1, &p->momentum) ||
        dt_cfg_float(s, "eps", 1e-5f, 0, 1, &p->eps) ||
        dt_act_parse(s, DT_ACT_LINEAR, &p->act))
        return -1;
    if (p->eps <= 0) {
        dt_cfg_error_key(s, dt_cfg_find(s, "eps"), "must be > 0");
        return -1;
    }
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = l->c;
    dt_layer_add_param(l, "scale", 1, 1, l->c, 0, 0, 0);
    dt_layer_add_param(l, "shift", 1, 1, l->c, 0, 0, 0);
    dt_layer_add_param(l, "mean", 0, 1, l->c, 0, 0, 0);
    dt_layer_add_param(l, "var", 0, 1, l->c, 0, 0, 0);
    dt_layer_add_buffer(net, &p->save_mean, (size_t)l->c);
    dt_layer_add_buffer(net, &p->save_invstd, (size_t)l->c);
    l->flops = 2.0 * (double)l->inputs;
    return 0;
}

static void batchnorm_init(dt_layer *l, dt_network *net) {
    dt_fill(l->params[P_SCALE].w, (size_t)l->c, 1.0f);
    dt_fill(l->params[P_SHIFT].w, (size_t)l->c, 0.0f);
    dt_fill(l->params[P_MEAN].w, (size_t)l->c, 0.0f);
    dt_fill(l->params[P_VAR].w, (size_t)l->c, 1.0f);
}

static void batchnorm_forward(dt_layer *l, dt_network *net) {
    batchnorm_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    size_t M = (size_t)l->batch * l->h * l->w;
    dt_param *P = l->params;
    p->trained = dt_layer_training(net, l);
    if (p->trained)
        dt_bn_forward_train_sync(x, l->output, M, l->c, P[P_SCALE].w, P[P_SHIFT].w, P[P_MEAN].w,
                            P[P_VAR].w, p->momentum, p->eps, p->save_mean, p->save_invstd,
                            p->act, dt_net_bn_sync(net));
    else
        dt_bn_forward_infer(x, l->output, M, l->c, P[P_SCALE].w, P[P_SHIFT].w, P[P_MEAN].w,
                            P[P_VAR].w, p->eps, p->save_mean, p->save_invstd, p->act);
}

static void batchnorm_backward(dt_layer *l, dt_network *net) {
    batchnorm_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    float *dx = dt_layer_in_delta(net, l, 0);
    size_t M = (size_t)l->batch * l->h * l->w;
    dt_param *P = l->params;
    float *dscale = l->frozen ? NULL : P[P_SCALE].g;
    float *dshift = l->frozen ? NULL : P[P_SHIFT].g;
    if (!dx && !dscale) return;
    // l->delta is ours: dt_bn_backward turns it into the pre-activation gradient
    dt_bn_backward_sync(x, l->output, l->delta, dx, M, l->c, P[P_SCALE].w, p->save_mean,
                   p->save_invstd, dscale, dshift, p->act, p->trained, l->in_accum[0],
                   dt_net_bn_sync(net));
}

static void batchnorm_describe(const dt_layer *l, char *buf, size_t n) {
    const batchnorm_priv *p = l->priv;
    snprintf(buf, n, "%s", p->act == DT_ACT_LINEAR ? "" : dt_act_names[p->act]);
}

static void batchnorm_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_batchnorm_ops = {
    .name = "batchnorm",
    .parse = batchnorm_parse,
    .init = batchnorm_init,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .destroy = batchnorm_destroy,
    .describe = batchnorm_describe,
#ifdef DT_GPU
    .forward_gpu = dt_batchnorm_forward_gpu, .backward_gpu = dt_batchnorm_backward_gpu,
#endif
};
