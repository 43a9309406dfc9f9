// [dropout] p=0.5: inverted dropout, as torch.nn.Dropout. While the network
// trains (net->train, frozen or not, as fastai's dropout), each element is
// zeroed with probability p and the kept ones are scaled by 1/(1-p); in
// inference it is the identity.
//
// The mask is drawn from net->rng as engine/dropout_mask.h says: it depends
// on the seed only, not on the number of threads or the device.
#include <stdint.h>
#include <stdlib.h>

#include "engine/dropout_mask.h"
#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

static int dropout_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    dropout_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_float(s, "p", 0.5f, 0, 1, &p->p)) return -1;
    if (p->p >= 1) {
        dt_cfg_error_key(s, dt_cfg_find(s, "p"),
                         "value %g out of range: the drop probability must be in [0, 1)",
                         p->p);
        return -1;
    }
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = l->c;
    // without gradients the network never trains, so the mask is never drawn
    if (net->with_grads) dt_layer_add_buffer(net, &p->mask, l->inputs * l->batch);
    l->flops = (double)l->inputs;
    return 0;
}

static void dropout_forward(dt_layer *l, dt_network *net) {
    dropout_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    size_t n = l->inputs * l->batch;
    p->trained = net->train && p->p > 0 && p->mask;
    if (!p->trained) {
        dt_copy(x, l->output, n);
        return;
    }
    const uint64_t seed = dt_rng_u64(&net->rng);
    const size_t nchunks = dt_dropout_chunks(n);
    float *mask = p->mask, *y = l->output;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nchunks; k++) {
        const size_t i1 = dt_dropout_chunk(mask, n, k, seed, p->p);
#pragma omp simd
        for (size_t i = k * DT_DROPOUT_CHUNK; i < i1; i++) y[i] = x[i] * mask[i];
    }
}

static void dropout_backward(dt_layer *l, dt_network *net) {
    dropout_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    size_t n = l->inputs * l->batch;
    if (!p->trained) {
        dt_add(l->delta, dx, n, l->in_accum[0]);
        return;
    }
    const float *dy = l->delta, *mask = p->mask;
    if (l->in_accum[0]) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
    }
}

static void dropout_describe(const dt_layer *l, char *buf, size_t n) {
    const dropout_priv *p = l->priv;
    snprintf(buf, n, "p=%.2f", p->p);
}

static void dropout_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_dropout_ops = {
    .name = "dropout",
    .parse = dropout_parse,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .destroy = dropout_destroy,
    .describe = dropout_describe,
#ifdef DT_GPU
    .forward_gpu = dt_dropout_forward_gpu, .backward_gpu = dt_dropout_backward_gpu,
#endif
};
