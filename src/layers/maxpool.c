// [maxpool] size=2 stride=size pad=0: max pooling as torch.nn.MaxPool2d
// (floor mode; padding never wins, as -inf; ties and the gradient go to the
// first maximum in row-major window order; NaN propagates).
// out = floor((H + 2*pad - size) / stride) + 1.
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

// Floor-mode output size along one dimension (out <= 0 would be reported
// by the engine with less help). 0 / -1.
static int pool_out(dt_cfg_section *s, int in, int size, int stride, int pad, int *out,
                    const char *dim) {
    if (in + 2 * pad < size) {
        dt_cfg_error_key(s, dt_cfg_find(s, "size"),
                         "window %d is larger than the padded input %s %d (+2*%d)", size, dim,
                         in, pad);
        return -1;
    }
    *out = (in + 2 * pad - size) / stride + 1;
    return 0;
}

static int maxpool_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    maxpool_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_int(s, "size", 2, 1, 1 << 15, &p->size) ||
        dt_cfg_int(s, "stride", p->size, 1, 1 << 15, &p->stride) ||
        dt_cfg_int(s, "pad", 0, 0, 1 << 15, &p->pad))
        return -1;
    if (2 * p->pad > p->size) { // PyTorch: a window must hold an input element
        dt_cfg_error_key(s, dt_cfg_find(s, "pad"), "pad %d must be at most size/2 (size %d)",
                         p->pad, p->size);
        return -1;
    }
    if (pool_out(s, l->h, p->size, p->stride, p->pad, &l->out_h, "height") ||
        pool_out(s, l->w, p->size, p->stride, p->pad, &l->out_w, "width"))
        return -1;
    l->out_c = l->c;
    if (net->with_grads)
        p->argmax = dt_malloc(sizeof(int) * (size_t)l->batch * l->out_h * l->out_w * l->c);
    l->flops = (double)l->out_h * l->out_w * l->c * p->size * p->size;
    return 0;
}

static void maxpool_forward(dt_layer *l, dt_network *net) {
    const maxpool_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    const int H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int k = p->size, s = p->stride, pad = p->pad;
    float *y = l->output;
    int *am = p->argmax;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < l->batch; b++)
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * s - pad, y1 = y0 + k;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * s - pad, x1 = x0 + k;
                if (x0 < 0) x0 = 0;
                if (x1 > W) x1 = W;
                size_t o = (((size_t)b * OH + oy) * OW + ox) * C;
                float *yo = y + o;
                int *ao = am ? am + o : NULL;
                const float *first = x + (((size_t)b * H + y0) * W + x0) * C;
                memcpy(yo, first, sizeof(float) * C);
                if (ao)
                    for (int c = 0; c < C; c++) ao[c] = y0 * W + x0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        if (iy == y0 && ix == x0) continue;
                        const float *xi = x + (((size_t)b * H + iy) * W + ix) * C;
                        int idx = iy * W + ix;
                        if (ao) {
#pragma omp simd
                            for (int c = 0; c < C; c++) {
                                // strict > keeps the first maximum; NaN wins (PyTorch)
                                int take = xi[c] > yo[c] || xi[c] != xi[c];
                                yo[c] = take ? xi[c] : yo[c];
                                ao[c] = take ? idx : ao[c];
                            }
                        } else {
#pragma omp simd
                            for (int c = 0; c < C; c++) {
                                int take = xi[c] > yo[c] || xi[c] != xi[c];
                                yo[c] = take ? xi[c] : yo[c];
                            }
                        }
                    }
            }
        }
}

// first output index whose window [o*s - pad, o*s - pad + k) covers input i
static inline int first_cover(int i, int k, int s, int pad) {
    int t = i + pad - k + 1; // o*s >= t
    return t <= 0 ? 0 : (t + s - 1) / s;
}

static void maxpool_backward(dt_layer *l, dt_network *net) {
    const maxpool_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int k = p->size, s = p->stride, pad = p->pad, accum = l->in_accum[0];
    const float *dy = l->delta;
    const int *am = p->argmax;
    // Gather: each input pixel collects dy from the windows that cover it and
    // chose it, so rows are independent (no scatter races when stride < size)
    // and the channel loop vectorises.
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < l->batch; b++)
        for (int iy = 0; iy < H; iy++) {
            int oy0 = first_cover(iy, k, s, pad), oy1 = (iy + pad) / s + 1;
            if (oy1 > OH) oy1 = OH;
            for (int ix = 0; ix < W; ix++) {
                int ox0 = first_cover(ix, k, s, pad), ox1 = (ix + pad) / s + 1;
                if (ox1 > OW) ox1 = OW;
                const int idx = iy * W + ix;
                float *d = dx + (((size_t)b * H + iy) * W + ix) * C;
                if (!accum)
                    for (int c = 0; c < C; c++) d[c] = 0;
                for (int oy = oy0; oy < oy1; oy++)
                    for (int ox = ox0; ox < ox1; ox++) {
                        size_t o = (((size_t)b * OH + oy) * OW + ox) * C;
                        const float *g = dy + o;
                        const int *a = am + o;
#pragma omp simd
                        for (int c = 0; c < C; c++) d[c] += a[c] == idx ? g[c] : 0.0f;
                    }
            }
        }
}

static void maxpool_describe(const dt_layer *l, char *buf, size_t n) {
    const maxpool_priv *p = l->priv;
    if (p->pad)
        snprintf(buf, n, "%dx%d/%d p%d", p->size, p->size, p->stride, p->pad);
    else
        snprintf(buf, n, "%dx%d/%d", p->size, p->size, p->stride);
}

static void maxpool_destroy(dt_layer *l) {
    maxpool_priv *p = l->priv;
    if (p) free(p->argmax);
    free(p);
}

const dt_layer_ops dt_maxpool_ops = {
    .name = "maxpool",
    .parse = maxpool_parse,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .destroy = maxpool_destroy,
    .describe = maxpool_describe,
#ifdef DT_GPU
    .forward_gpu = dt_maxpool_forward_gpu, .backward_gpu = dt_maxpool_backward_gpu,
#endif
};
