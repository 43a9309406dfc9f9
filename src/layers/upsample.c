// [upsample] stride=2 mode=nearest|bilinear: each image enlarged by an
// integer factor, as torch.nn.Upsample(scale_factor=stride, mode=...) /
// F.interpolate (bilinear with align_corners=False, PyTorch's default).
// Output (B, H*stride, W*stride, C). docs/LAYERS.md.
//
// Bilinear, per axis (PyTorch's area_pixel_compute_source_index): output o
// reads src = max(0, (o + 0.5) / stride - 0.5) (in float, the factor as
// float(1/stride)), i0 = floor(src), i1 = min(i0 + 1, in - 1), weights
// l1 = src - i0 and l0 = 1 - l1. The backward GATHERS: each input element
// sums the outputs that read it (no scatter, so the CPU and the GPU twin
// add in the same order and threads never collide).
#include <stdio.h>
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

static const char *const upsample_modes[] = {"nearest", "bilinear", NULL};

static int upsample_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    (void)net;
    upsample_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_int(s, "stride", 2, 1, 64, &p->stride) ||
        dt_cfg_choice(s, "mode", upsample_modes, DT_UPSAMPLE_NEAREST, &p->mode))
        return -1;
    if ((double)l->h * p->stride > 1 << 20 || (double)l->w * p->stride > 1 << 20) {
        dt_cfg_error_key(s, dt_cfg_find(s, "stride"),
                         "the output %dx%d times %d is too large", l->h, l->w, p->stride);
        return -1;
    }
    l->out_h = l->h * p->stride;
    l->out_w = l->w * p->stride;
    l->out_c = l->c;
    l->flops = p->mode == DT_UPSAMPLE_BILINEAR ? 6.0 * l->out_h * l->out_w * l->c : 0;
    return 0;
}

// Source of output index o along an axis of `in` inputs (bilinear).
static inline void bil_src(int o, float scale, int in, int *i0, int *i1, float *l0, float *l1) {
    float src = scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int a = (int)src;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    *l1 = src - (float)a;
    *l0 = 1.0f - *l1;
}

// Weight of input i in output o along an axis (bilinear): 0 when o does not read i.
static inline float bil_weight(int o, int i, float scale, int in) {
    int i0, i1;
    float l0, l1;
    bil_src(o, scale, in, &i0, &i1, &l0, &l1);
    return (i0 == i ? l0 : 0.0f) + (i1 == i ? l1 : 0.0f);
}

static void upsample_forward(dt_layer *l, dt_network *net) {
    const upsample_priv *p = l->priv;
    const float *x = dt_layer_in(net, l, 0);
    float *y = l->output;
    const int B = l->batch, H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int s = p->stride;
    const float scale = (float)(1.0 / s);
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * OH * OW * C > DT_PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < OH; oy++) {
            const float *xb = x + (size_t)b * H * W * C;
            float *yr = y + ((size_t)b * OH + oy) * OW * C;
            if (p->mode == DT_UPSAMPLE_NEAREST) {
                const float *xr = xb + (size_t)(oy / s) * W * C;
                for (int ox = 0; ox < OW; ox++) {
                    const float *xp = xr + (size_t)(ox / s) * C;
                    for (int c = 0; c < C; c++) yr[(size_t)ox * C + c] = xp[c];
                }
                continue;
            }
            int y0, y1;
            float ly0, ly1;
            bil_src(oy, scale, H, &y0, &y1, &ly0, &ly1);
            for (int ox = 0; ox < OW; ox++) {
                int x0, x1;
                float lx0, lx1;
                bil_src(ox, scale, W, &x0, &x1, &lx0, &lx1);
                const float *a = xb + ((size_t)y0 * W + x0) * C, *b1 = xb + ((size_t)y0 * W + x1) * C;
                const float *c0 = xb + ((size_t)y1 * W + x0) * C, *d = xb + ((size_t)y1 * W + x1) * C;
                float *yp = yr + (size_t)ox * C;
                for (int c = 0; c < C; c++)
                    yp[c] = ly0 * (lx0 * a[c] + lx1 * b1[c]) + ly1 * (lx0 * c0[c] + lx1 * d[c]);
            }
        }
}

static void upsample_backward(dt_layer *l, dt_network *net) {
    const upsample_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    const float *dy = l->delta;
    const int B = l->batch, H = l->h, W = l->w, C = l->c, OH = l->out_h, OW = l->out_w;
    const int s = p->stride, accum = l->in_accum[0];
    const float scale = (float)(1.0 / s);
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * OH * OW * C > DT_PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int iy = 0; iy < H; iy++) {
            const float *dyb = dy + (size_t)b * OH * OW * C;
            for (int ix = 0; ix < W; ix++) {
                float *d = dx + (((size_t)b * H + iy) * W + ix) * C;
                if (!accum)
                    for (int c = 0; c < C; c++) d[c] = 0;
                if (p->mode == DT_UPSAMPLE_NEAREST) {
                    for (int oy = iy * s; oy < iy * s + s; oy++)
                        for (int ox = ix * s; ox < ix * s + s; ox++) {
                            const float *g = dyb + ((size_t)oy * OW + ox) * C;
                            for (int c = 0; c < C; c++) d[c] += g[c];
                        }
                    continue;
                }
                // the outputs that can read (iy, ix): rows/columns within a
                // stride of its neighbours
                int oy0 = (iy - 1) * s, oy1 = (iy + 2) * s, ox0 = (ix - 1) * s, ox1 = (ix + 2) * s;
                if (oy0 < 0) oy0 = 0;
                if (ox0 < 0) ox0 = 0;
                if (oy1 > OH) oy1 = OH;
                if (ox1 > OW) ox1 = OW;
                for (int oy = oy0; oy < oy1; oy++) {
                    const float wy = bil_weight(oy, iy, scale, H);
                    if (wy == 0.0f) continue;
                    for (int ox = ox0; ox < ox1; ox++) {
                        const float wx = bil_weight(ox, ix, scale, W);
                        if (wx == 0.0f) continue;
                        const float w = wy * wx;
                        const float *g = dyb + ((size_t)oy * OW + ox) * C;
                        for (int c = 0; c < C; c++) d[c] += w * g[c];
                    }
                }
            }
        }
}

static void upsample_describe(const dt_layer *l, char *buf, size_t n) {
    const upsample_priv *p = l->priv;
    snprintf(buf, n, "x%d %s", p->stride, upsample_modes[p->mode]);
}

static void upsample_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_upsample_ops = {
    .name = "upsample",
    .parse = upsample_parse,
    .forward = upsample_forward,
    .backward = upsample_backward,
    .destroy = upsample_destroy,
    .describe = upsample_describe,
#ifdef DT_GPU
    .forward_gpu = dt_upsample_forward_gpu, .backward_gpu = dt_upsample_backward_gpu,
#endif
};
