// [flatten]: each image's HxWxC activations as one 1x1x(C*H*W) vector in
// C, H, W order, as torch.flatten(x, 1) on the NCHW tensor, so that a
// [connected] after it takes PyTorch's Linear weights unchanged.
#include <stdlib.h>

#include "engine/kernels.h"
#include "engine/network.h"

static int flatten_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    l->out_h = l->out_w = 1;
    l->out_c = l->h * l->w * l->c;
    l->flops = 0;
    return 0;
}

// Per image, a (HW, C) -> (C, HW) transpose; inverse when `back`.
static void flatten_transpose(const float *src, float *dst, int B, int HW, int C, int back,
                              int accum) {
    if (HW == 1 || C == 1) { // the layouts coincide
        dt_add(src, dst, (size_t)B * HW * C, accum);
        return;
    }
    // tiles of T x T keep both sides in cache; one branch-free loop per case
    enum { T = 32 };
    const int nty = (HW + T - 1) / T, ntc = (C + T - 1) / T;
    // element (i, c) of an image: nhwc offset i*C + c, nchw offset c*HW + i
    const size_t ss_i = back ? 1 : (size_t)C, ss_c = back ? (size_t)HW : 1;
    const size_t ds_i = back ? (size_t)C : 1, ds_c = back ? 1 : (size_t)HW;
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++)
        for (int ty = 0; ty < nty; ty++)
            for (int tc = 0; tc < ntc; tc++) {
                const float *sb = src + (size_t)b * HW * C;
                float *db = dst + (size_t)b * HW * C;
                int i0 = ty * T, i1 = i0 + T < HW ? i0 + T : HW;
                int c0 = tc * T, c1 = c0 + T < C ? c0 + T : C;
                for (int c = c0; c < c1; c++) {
                    const float *sc = sb + c * ss_c;
                    float *dc = db + c * ds_c;
                    if (accum)
                        for (int i = i0; i < i1; i++) dc[i * ds_i] += sc[i * ss_i];
                    else
                        for (int i = i0; i < i1; i++) dc[i * ds_i] = sc[i * ss_i];
                }
            }
}

static void flatten_forward(dt_layer *l, dt_network *net) {
    flatten_transpose(dt_layer_in(net, l, 0), l->output, l->batch, l->h * l->w, l->c, 0, 0);
}

static void flatten_backward(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta(net, l, 0);
    if (!dx) return;
    flatten_transpose(l->delta, dx, l->batch, l->h * l->w, l->c, 1, l->in_accum[0]);
}

const dt_layer_ops dt_flatten_ops = {
    .name = "flatten",
    .parse = flatten_parse,
    .forward = flatten_forward,
    .backward = flatten_backward,
#ifdef DT_GPU
    .forward_gpu = dt_flatten_forward_gpu, .backward_gpu = dt_flatten_backward_gpu,
#endif
};
