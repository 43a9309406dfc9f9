// GPU twins of the layers built on a convolution: [convolutional],
// [stdconv] and [outconv], all through cuDNN (cuda/conv_gpu.h). Semantics
// are their CPU files'; differences of route, not of result:
//   - [convolutional] with BN runs conv -> BN (+act) in inference too (the
//     CPU folds BN into the filters there): same numbers, one more pass. A
//     network without gradients has no pre-BN buffer: BN runs in place on
//     the output ([stdconv] likewise), so inference holds one tensor a layer.
//   - bias and activation are one kernel after cuDNN's convolution.
// Without cuDNN (GPU=1 CUDNN=0) each twin runs its CPU function in place.
// The keys are the CPU file's parse (layers/conv_priv.h: l->priv starts
// with them).
#include "cuda/conv_gpu.h"
#include "cuda/layer_gpu.h"
#include "layers/conv_priv.h"

#ifdef DT_CUDNN

static dt_gconv *conv_for(dt_network *net, const dt_layer *l, int O, int K, int stride, int pad,
                          int dil, int groups) {
    return dt_gconv_create(net, l->batch, l->h, l->w, l->c, O, K, stride, pad, dil, groups,
                           l->out_h, l->out_w);
}

// --- [convolutional] ------------------------------------------------------------------------

typedef struct {
    dt_gpu_priv h;
    dt_gconv *conv;
    const dt_conv_args *a;        // the CPU file's parse (bn, momentum, eps, act, pb..pw)
    int filters;
    float *xbuf;                  // (B, OH, OW, O) pre-BN output (BN with gradients only)
    float *save_mean, *save_inv;  // (O)
    int trained;                  // the last forward used batch statistics
} conv_gpu;

static void conv_gpu_destroy(void *self) {
    conv_gpu *p = (conv_gpu *)self;
    dt_gconv_free(p->conv);
    dt_gpu_free(p->xbuf);
    dt_gpu_free(p->save_mean);
    dt_gpu_free(p->save_inv);
    free(p);
}

static conv_gpu *conv_get(dt_layer *l, dt_network *net) {
    if (l->priv_gpu) return (conv_gpu *)l->priv_gpu;
    conv_gpu *p = (conv_gpu *)dt_gpu_priv_new(l, sizeof *p, conv_gpu_destroy);
    const dt_conv_args *a = p->a = (const dt_conv_args *)l->priv;
    p->filters = l->out_c;
    p->conv = conv_for(net, l, p->filters, a->size, a->stride, a->pad, a->dilation, a->groups);
    if (p->a->bn) {
        if (net->with_grads) // backward reads it; inference runs BN in place
            p->xbuf = dt_gpu_floats(l->outputs * l->batch, "pre-BN convolution output");
        p->save_mean = dt_gpu_floats(p->filters, "BN statistics");
        p->save_inv = dt_gpu_floats(p->filters, "BN statistics");
    }
    return p;
}

extern "C" void dt_convolutional_forward_gpu(dt_layer *l, dt_network *net) {
    conv_gpu *p = conv_get(l, net);
    const size_t M = (size_t)l->batch * l->out_h * l->out_w;
    float *y = dt_dev(net, l->output);
    float *z = p->xbuf ? p->xbuf : y;
    dt_gconv_forward(p->conv, net, dt_layer_in_gpu(net, l, 0), dt_gpu_w(net, l, p->a->pw),
                     l->wver, z);
    if (!p->a->bn) {
        dt_bias_act_gpu(y, dt_gpu_w(net, l, p->a->pb), M, p->filters, p->a->act);
        return;
    }
    if (p->a->pb >= 0) dt_bias_act_gpu(z, dt_gpu_w(net, l, p->a->pb), M, p->filters, DT_ACT_LINEAR);
    p->trained = dt_layer_training(net, l);
    if (p->trained)
        dt_bn_forward_train_gpu(z, y, M, p->filters, dt_gpu_w(net, l, p->a->ps), dt_gpu_w(net, l, p->a->pt),
                                dt_gpu_w(net, l, p->a->pm), dt_gpu_w(net, l, p->a->pv), p->a->momentum,
                                p->a->eps, p->save_mean, p->save_inv, p->a->act);
    else
        dt_bn_forward_infer_gpu(z, y, M, p->filters, dt_gpu_w(net, l, p->a->ps), dt_gpu_w(net, l, p->a->pt),
                                dt_gpu_w(net, l, p->a->pm), dt_gpu_w(net, l, p->a->pv), p->a->eps,
                                p->save_mean, p->save_inv, p->a->act);
}

extern "C" void dt_convolutional_backward_gpu(dt_layer *l, dt_network *net) {
    conv_gpu *p = conv_get(l, net);
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (l->frozen && !dx) return;
    const size_t M = (size_t)l->batch * l->out_h * l->out_w;
    float *y = dt_dev(net, l->output), *dy = dt_dev(net, l->delta);
    if (p->a->bn) {
        // dL/dxbuf overwrites xbuf (each element read before it is written)
        dt_bn_backward_gpu(p->xbuf, y, dy, p->xbuf, M, p->filters, dt_gpu_w(net, l, p->a->ps),
                           p->save_mean, p->save_inv, l->frozen ? NULL : dt_gpu_g(net, l, p->a->ps),
                           l->frozen ? NULL : dt_gpu_g(net, l, p->a->pt), p->a->act, p->trained, 0);
        dy = p->xbuf;
    } else {
        dt_act_backward_gpu(p->a->act, y, dy, dy, M * p->filters);
    }
    if (!l->frozen) {
        dt_gconv_backward_filter(p->conv, net, dt_layer_in_gpu(net, l, 0), dy, dt_gpu_g(net, l, p->a->pw));
        if (p->a->pb >= 0) dt_channel_sum_gpu(dy, M, p->filters, dt_gpu_g(net, l, p->a->pb));
    }
    if (dx)
        dt_gconv_backward_data(p->conv, net, dy, dt_gpu_w(net, l, p->a->pw), l->wver, dx,
                               l->in_accum[0]);
}

// --- [stdconv]: conv 3x3 + bias -> ReLU -> BN -> dropout --------------------------------------

enum { S_BIAS, S_WEIGHTS, S_SCALE, S_SHIFT, S_MEAN, S_VAR };

typedef struct {
    dt_gpu_priv h;
    dt_gconv *conv;
    const dt_stdconv_args *a; // the CPU file's parse (p, momentum, eps, stride)
    int filters;
    float *cbuf, *dcbuf;         // (B, OH, OW, O) relu(conv + bias) and its gradient
                                 // (with gradients only: inference works in the output)
    float *mask;                 // (B, OH, OW, O) NULL without gradients or p = 0
    float *save_mean, *save_inv; // (O)
    int bn_trained, dropped;
} stdconv_gpu;

static void stdconv_gpu_destroy(void *self) {
    stdconv_gpu *p = (stdconv_gpu *)self;
    dt_gconv_free(p->conv);
    dt_gpu_free(p->cbuf);
    dt_gpu_free(p->dcbuf);
    dt_gpu_free(p->mask);
    dt_gpu_free(p->save_mean);
    dt_gpu_free(p->save_inv);
    free(p);
}

static stdconv_gpu *stdconv_get(dt_layer *l, dt_network *net) {
    if (l->priv_gpu) return (stdconv_gpu *)l->priv_gpu;
    stdconv_gpu *p = (stdconv_gpu *)dt_gpu_priv_new(l, sizeof *p, stdconv_gpu_destroy);
    p->filters = l->out_c;
    const dt_stdconv_args *a = p->a = (const dt_stdconv_args *)l->priv;
    p->conv = conv_for(net, l, p->filters, 3, a->stride, 1, 1, 1);
    size_t n = l->outputs * l->batch;
    if (net->with_grads) p->cbuf = dt_gpu_floats(n, "stdconv conv output");
    if (net->with_grads) p->dcbuf = dt_gpu_floats(n, "stdconv conv gradient");
    if (net->with_grads && p->a->p > 0) p->mask = dt_gpu_floats(n, "dropout mask");
    p->save_mean = dt_gpu_floats(p->filters, "BN statistics");
    p->save_inv = dt_gpu_floats(p->filters, "BN statistics");
    return p;
}

extern "C" void dt_stdconv_forward_gpu(dt_layer *l, dt_network *net) {
    stdconv_gpu *p = stdconv_get(l, net);
    const size_t M = (size_t)l->batch * l->out_h * l->out_w, n = M * p->filters;
    float *y = dt_dev(net, l->output), *c = p->cbuf ? p->cbuf : y; // BN in place w/o cbuf
    dt_gconv_forward(p->conv, net, dt_layer_in_gpu(net, l, 0), dt_gpu_w(net, l, S_WEIGHTS),
                     l->wver, c);
    dt_bias_act_gpu(c, dt_gpu_w(net, l, S_BIAS), M, p->filters, DT_ACT_RELU);
    p->bn_trained = dt_layer_training(net, l);
    if (p->bn_trained)
        dt_bn_forward_train_gpu(c, y, M, p->filters, dt_gpu_w(net, l, S_SCALE),
                                dt_gpu_w(net, l, S_SHIFT), dt_gpu_w(net, l, S_MEAN),
                                dt_gpu_w(net, l, S_VAR), p->a->momentum, p->a->eps, p->save_mean,
                                p->save_inv, DT_ACT_LINEAR);
    else
        dt_bn_forward_infer_gpu(c, y, M, p->filters, dt_gpu_w(net, l, S_SCALE),
                                dt_gpu_w(net, l, S_SHIFT), dt_gpu_w(net, l, S_MEAN),
                                dt_gpu_w(net, l, S_VAR), p->a->eps, p->save_mean, p->save_inv,
                                DT_ACT_LINEAR);
    // dropout follows net->train, frozen or not; one draw of net->rng as the CPU
    p->dropped = net->train && p->a->p > 0 && p->mask;
    if (p->dropped) dt_dropout_gpu(y, y, p->mask, n, p->a->p, dt_rng_u64(&net->rng));
}

extern "C" void dt_stdconv_backward_gpu(dt_layer *l, dt_network *net) {
    stdconv_gpu *p = stdconv_get(l, net);
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (l->frozen && !dx) return;
    const size_t M = (size_t)l->batch * l->out_h * l->out_w, n = M * p->filters;
    float *y = dt_dev(net, l->output), *dy = dt_dev(net, l->delta);
    if (p->dropped) dt_mul_gpu(dy, p->mask, dy, n, 0);
    dt_bn_backward_gpu(p->cbuf, y, dy, p->dcbuf, M, p->filters, dt_gpu_w(net, l, S_SCALE),
                       p->save_mean, p->save_inv, l->frozen ? NULL : dt_gpu_g(net, l, S_SCALE),
                       l->frozen ? NULL : dt_gpu_g(net, l, S_SHIFT), DT_ACT_LINEAR, p->bn_trained,
                       0);
    dt_act_backward_gpu(DT_ACT_RELU, p->cbuf, p->dcbuf, p->dcbuf, n);
    if (!l->frozen) {
        dt_gconv_backward_filter(p->conv, net, dt_layer_in_gpu(net, l, 0), p->dcbuf,
                                 dt_gpu_g(net, l, S_WEIGHTS));
        dt_channel_sum_gpu(p->dcbuf, M, p->filters, dt_gpu_g(net, l, S_BIAS));
    }
    if (dx)
        dt_gconv_backward_data(p->conv, net, p->dcbuf, dt_gpu_w(net, l, S_WEIGHTS),
                               l->wver, dx, l->in_accum[0]);
}

// --- [outconv]: two sibling 3x3 convs, interleaved per cell ----------------------------------

enum { O_CBIAS, O_CWEIGHTS, O_BBIAS, O_BWEIGHTS };

typedef struct {
    dt_gpu_priv h;
    dt_gconv *clas, *box;
    int fc, fb;
    float *yc, *yb; // (B, H, W, fc) and (B, H, W, fb); deltas in backward
} outconv_gpu;

static void outconv_gpu_destroy(void *self) {
    outconv_gpu *p = (outconv_gpu *)self;
    dt_gconv_free(p->clas);
    dt_gconv_free(p->box);
    dt_gpu_free(p->yc);
    dt_gpu_free(p->yb);
    free(p);
}

static outconv_gpu *outconv_get(dt_layer *l, dt_network *net) {
    if (l->priv_gpu) return (outconv_gpu *)l->priv_gpu;
    outconv_gpu *p = (outconv_gpu *)dt_gpu_priv_new(l, sizeof *p, outconv_gpu_destroy);
    const int k = ((const dt_outconv_args *)l->priv)->k;
    p->fb = 4 * k;
    p->fc = l->out_c - p->fb;
    p->clas = conv_for(net, l, p->fc, 3, 1, 1, 1, 1);
    p->box = conv_for(net, l, p->fb, 3, 1, 1, 1, 1);
    size_t cells = (size_t)l->batch * l->out_h * l->out_w;
    p->yc = dt_gpu_floats(cells * p->fc, "outconv class output");
    p->yb = dt_gpu_floats(cells * p->fb, "outconv box output");
    return p;
}

extern "C" void dt_outconv_forward_gpu(dt_layer *l, dt_network *net) {
    outconv_gpu *p = outconv_get(l, net);
    const size_t cells = (size_t)l->batch * l->out_h * l->out_w;
    const float *x = dt_layer_in_gpu(net, l, 0);
    float *y = dt_dev(net, l->output);
    dt_gconv_forward(p->clas, net, x, dt_gpu_w(net, l, O_CWEIGHTS), l->wver, p->yc);
    dt_bias_act_gpu(p->yc, dt_gpu_w(net, l, O_CBIAS), cells, p->fc, DT_ACT_LINEAR);
    dt_gconv_forward(p->box, net, x, dt_gpu_w(net, l, O_BWEIGHTS), l->wver, p->yb);
    dt_bias_act_gpu(p->yb, dt_gpu_w(net, l, O_BBIAS), cells, p->fb, DT_ACT_LINEAR);
    dt_slice_put_gpu(p->yc, y, cells, p->fc, l->out_c, 0);
    dt_slice_put_gpu(p->yb, y, cells, p->fb, l->out_c, p->fc);
}

extern "C" void dt_outconv_backward_gpu(dt_layer *l, dt_network *net) {
    outconv_gpu *p = outconv_get(l, net);
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (l->frozen && !dx) return;
    const size_t cells = (size_t)l->batch * l->out_h * l->out_w;
    const float *dy = dt_dev(net, l->delta), *x = dt_layer_in_gpu(net, l, 0);
    // linear convs: their outputs are not needed any more, so they hold the deltas
    dt_slice_get_gpu(dy, p->yc, cells, p->fc, l->out_c, 0, 0);
    dt_slice_get_gpu(dy, p->yb, cells, p->fb, l->out_c, p->fc, 0);
    if (!l->frozen) {
        dt_gconv_backward_filter(p->clas, net, x, p->yc, dt_gpu_g(net, l, O_CWEIGHTS));
        dt_channel_sum_gpu(p->yc, cells, p->fc, dt_gpu_g(net, l, O_CBIAS));
        dt_gconv_backward_filter(p->box, net, x, p->yb, dt_gpu_g(net, l, O_BWEIGHTS));
        dt_channel_sum_gpu(p->yb, cells, p->fb, dt_gpu_g(net, l, O_BBIAS));
    }
    if (dx) { // class conv assigns or adds as in_accum says, the box conv adds
        dt_gconv_backward_data(p->clas, net, p->yc, dt_gpu_w(net, l, O_CWEIGHTS),
                               l->wver, dx, l->in_accum[0]);
        dt_gconv_backward_data(p->box, net, p->yb, dt_gpu_w(net, l, O_BWEIGHTS),
                               l->wver, dx, 1);
    }
}

#else // !DT_CUDNN: the CPU functions, with transfers

extern "C" void dt_convolutional_forward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_forward_on_cpu(l, net); }
extern "C" void dt_convolutional_backward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_backward_on_cpu(l, net); }
extern "C" void dt_stdconv_forward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_forward_on_cpu(l, net); }
extern "C" void dt_stdconv_backward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_backward_on_cpu(l, net); }
extern "C" void dt_outconv_forward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_forward_on_cpu(l, net); }
extern "C" void dt_outconv_backward_gpu(dt_layer *l, dt_network *net) { dt_gpu_layer_backward_on_cpu(l, net); }
#endif
