// [dropout] p=0.5: inverted dropout, as torch.nn.Dropout. While the network
// trains (net->train, frozen or not, as fastai's dropout), each element is
// zeroed with probability p and the kept ones are scaled by 1/(1-p); in
// inference it is the identity.
//
// The mask is drawn from net->rng: one 64-bit draw per forward seeds an
// independent stream per fixed-size chunk, so the mask depends on the seed
// only, not on the number of threads.
#include <stdint.h>
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/network.h"

#define DROPOUT_CHUNK 4096

typedef struct {
    float p;
    float *mask; // (B, H, W, C) 0 or 1/(1-p); the backward multiplies by it
    int trained; // the last forward dropped (the mask is valid)
} dropout_priv;

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
    const float keep = 1.0f - p->p, scale = 1.0f / keep;
    const float thresh = keep * 16777216.0f; // keep iff a 24-bit integer < keep * 2^24
    const uint64_t seed = dt_rng_u64(&net->rng);
    const size_t nchunks = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
    float *mask = p->mask, *y = l->output;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nchunks; k++) {
        dt_rng r;
        dt_rng_seed3(&r, seed, k, 0x64726f70);
        size_t i1 = (k + 1) * DROPOUT_CHUNK < n ? (k + 1) * DROPOUT_CHUNK : n;
        // two 24-bit uniforms per 64-bit draw (xoroshiro's high bits are its best)
        for (size_t i = k * DROPOUT_CHUNK; i < i1; i += 2) {
            uint64_t u = dt_rng_u64(&r);
            mask[i] = (float)(u >> 40) < thresh ? scale : 0.0f;
            if (i + 1 < i1) mask[i + 1] = (float)((u >> 16) & 0xffffff) < thresh ? scale : 0.0f;
        }
#pragma omp simd
        for (size_t i = k * DROPOUT_CHUNK; i < i1; i++) y[i] = x[i] * mask[i];
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
