// [avgpool]: average pooling.
//   No `size` key: global average over H*W, output 1x1xC
//     (torch.nn.AdaptiveAvgPool2d(1)).
//   size=k stride=k pad=0: windowed, as torch.nn.AvgPool2d with
//     count_include_pad=True and floor mode: every window divides by k*k
//     (padding counts as zeros; with pad <= k/2 no window reaches past it).
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

static int avgpool_out(dt_cfg_section *s, int in, const avgpool_priv *p, int *out,
                       const char *dim) {
    if (in + 2 * p->pad < p->size) {
        dt_cfg_error_key(s, dt_cfg_find(s, "size"),
                         "window %d is larger than the padded input %s %d (+2*%d)", p->size,
                         dim, in, p->pad);
        return -1;
    }
    *out = (in + 2 * p->pad - p->size) / p->stride + 1;
    return 0;
}

static int avgpool_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    avgpool_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    l->out_c = l->c;
    p->global = !dt_cfg_has(s, "size");
    if (p->global) {
        if (dt_cfg_has(s, "stride") || dt_cfg_has(s, "pad")) {
            dt_cfg_error_sec(s, "stride/pad need a window: add size= (without size the "
                                "pooling is global)");
            return -1;
        }
        l->out_h = l->out_w = 1;
        l->flops = (double)l->inputs;
        return 0;
    }
    if (dt_cfg_int(s, "size", 2, 1, 1 << 15, &p->size) ||
        dt_cfg_int(s, "stride", p->size, 1, 1 << 15, &p->stride) ||
        dt_cfg_int(s, "pad", 0, 0, 1 << 15, &p->pad))
        return -1;
    if (2 * p->pad > p->size) {
        dt_cfg_error_key(s, dt_cfg_find(s, "pad"), "pad %d must be at most size/2 (size %d)",
                         p->pad, p->size);
        return -1;
    }
    if (avgpool_out(s, l->h, p, &l->out_h, "height") ||
        avgpool_out(s, l->w, p, &l->out_w, "width"))
        return -1;
    l->flops = (double)l->out_h * l->out_w * l->c * p->size * p->size;
    return 0;
}

static void avgpool_forward_global(dt_layer *l, const float *x) {
    const int HW = l->h * l->w, C = l->c;
    const float inv = 1.0f / HW;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < l->batch; b++) {
        float *yb = l->output + (size_t)b * C;
        const float *xb = x + (size_t)b * HW * C;
        memcpy(yb, xb, sizeof(float) * C);
        for (int i = 1; i < HW; i++) {
            const float *xi = xb + (size_t)i * C;
#pragma omp simd
            for (int c = 0; c < C; c++) yb[c] += xi[c];
        }
#pragma omp simd
        for (int c = 0; c < C; c++) yb[c] *= inv;
    }
}

static void avgpool_forward(dt_layer *l, dt_network *net) {
    const avgpool_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    if (p->global) {
        avgpool_forward_global(l, x);
        return;
    }
    const int H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int k = p->size, s = p->stride, pad = p->pad;
    const float inv = 1.0f / (k * k);
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
                float *yo = l->output + (((size_t)b * OH + oy) * OW + ox) * C;
                memset(yo, 0, sizeof(float) * C);
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const float *xi = x + (((size_t)b * H + iy) * W + ix) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++) yo[c] += xi[c];
                    }
#pragma omp simd
                for (int c = 0; c < C; c++) yo[c] *= inv;
            }
        }
}

// first output index whose window [o*s - pad, o*s - pad + k) covers input i
static inline int first_cover(int i, int k, int s, int pad) {
    int t = i + pad - k + 1; // o*s >= t
    return t <= 0 ? 0 : (t + s - 1) / s;
}

static void avgpool_backward(dt_layer *l, dt_network *net) {
    const avgpool_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const int H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int accum = l->in_accum[0];
    const float *dy = l->delta;
    if (p->global) {
        const float inv = 1.0f / (H * W);
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < l->batch; b++)
            for (int i = 0; i < H * W; i++) {
                const float *g = dy + (size_t)b * C;
                float *d = dx + ((size_t)b * H * W + i) * C;
                if (accum) {
#pragma omp simd
                    for (int c = 0; c < C; c++) d[c] += g[c] * inv;
                } else {
#pragma omp simd
                    for (int c = 0; c < C; c++) d[c] = g[c] * inv;
                }
            }
        return;
    }
    // Gather: each input pixel sums the outputs whose windows cover it, so
    // rows are independent and no two threads write the same element.
    const int k = p->size, s = p->stride, pad = p->pad;
    const float inv = 1.0f / (k * k);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < l->batch; b++)
        for (int iy = 0; iy < H; iy++) {
            int oy0 = first_cover(iy, k, s, pad), oy1 = (iy + pad) / s + 1;
            if (oy1 > OH) oy1 = OH;
            for (int ix = 0; ix < W; ix++) {
                int ox0 = first_cover(ix, k, s, pad), ox1 = (ix + pad) / s + 1;
                if (ox1 > OW) ox1 = OW;
                float *d = dx + (((size_t)b * H + iy) * W + ix) * C;
                if (!accum) memset(d, 0, sizeof(float) * C);
                for (int oy = oy0; oy < oy1; oy++)
                    for (int ox = ox0; ox < ox1; ox++) {
                        const float *g = dy + (((size_t)b * OH + oy) * OW + ox) * C;
#pragma omp simd
                        for (int c = 0; c < C; c++) d[c] += g[c] * inv;
                    }
            }
        }
}

static void avgpool_describe(const dt_layer *l, char *buf, size_t n) {
    const avgpool_priv *p = l->priv;
    if (p->global)
        snprintf(buf, n, "global");
    else if (p->pad)
        snprintf(buf, n, "%dx%d/%d p%d", p->size, p->size, p->stride, p->pad);
    else
        snprintf(buf, n, "%dx%d/%d", p->size, p->size, p->stride);
}

static void avgpool_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_avgpool_ops = {
    .name = "avgpool",
    .parse = avgpool_parse,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .destroy = avgpool_destroy,
    .describe = avgpool_describe,
#ifdef DT_GPU
    .forward_gpu = dt_avgpool_forward_gpu, .backward_gpu = dt_avgpool_backward_gpu,
#endif
};
