// CUDA kernels that move data rather than compute it: pooling windows,
// channel slices (route, outconv), per-image transposes (flatten), residual
// addition, upsampling. Backward passes GATHER (each input element sums the outputs that
// read it, in the CPU's loop order), so no atomics and the same rounding.
#include "cuda/gpu_net.h"
#include "cuda/kernels_gpu.h"
#include "cuda/launch.h"

// first output index whose window [o*s - pad, o*s - pad + k) covers input i
__device__ static inline int first_cover(int i, int k, int s, int pad) {
    int t = i + pad - k + 1;
    return t <= 0 ? 0 : (t + s - 1) / s;
}

// --- maxpool ---------------------------------------------------------------------------------

__global__ static void k_maxpool_fwd(const float *x, float *y, int *am, int B, int H, int W,
                                     int C, int OH, int OW, int k, int s, int pad) {
    size_t n = (size_t)B * OH * OW * C;
    GRID_LOOP(o, n) {
        int c = (int)(o % C);
        size_t t = o / C;
        int ox = (int)(t % OW);
        t /= OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        int y0 = oy * s - pad, y1 = y0 + k, x0 = ox * s - pad, x1 = x0 + k;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > H ? H : y1;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > W ? W : x1;
        const float *xb = x + (size_t)b * H * W * C + c;
        float best = xb[((size_t)y0 * W + x0) * C];
        int arg = y0 * W + x0;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) {
                float v = xb[((size_t)iy * W + ix) * C];
                if (v > best || v != v) { // first maximum; NaN wins (PyTorch)
                    best = v;
                    arg = iy * W + ix;
                }
            }
        y[o] = best;
        if (am) am[o] = arg;
    }
}

extern "C" void dt_pool_max_forward_gpu(const float *x, float *y, int *argmax, int B, int H,
                                       int W, int C, int OH, int OW, int k, int s, int pad) {
    size_t n = (size_t)B * OH * OW * C;
    k_maxpool_fwd<<<blocks_for(n), NT>>>(x, y, argmax, B, H, W, C, OH, OW, k, s, pad);
    DT_LAUNCH_CHECK("maxpool forward");
}

__global__ static void k_maxpool_bwd(const float *dy, const int *am, float *dx, int B, int H,
                                     int W, int C, int OH, int OW, int k, int s, int pad,
                                     int accum) {
    size_t n = (size_t)B * H * W * C;
    GRID_LOOP(i, n) {
        int c = (int)(i % C);
        size_t t = i / C;
        int ix = (int)(t % W);
        t /= W;
        int iy = (int)(t % H);
        int b = (int)(t / H);
        int oy0 = first_cover(iy, k, s, pad), oy1 = (iy + pad) / s + 1;
        int ox0 = first_cover(ix, k, s, pad), ox1 = (ix + pad) / s + 1;
        oy1 = oy1 > OH ? OH : oy1;
        ox1 = ox1 > OW ? OW : ox1;
        const int idx = iy * W + ix;
        float d = accum ? dx[i] : 0.0f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++) {
                size_t o = (((size_t)b * OH + oy) * OW + ox) * C + c;
                d += am[o] == idx ? dy[o] : 0.0f;
            }
        dx[i] = d;
    }
}

extern "C" void dt_pool_max_backward_gpu(const float *dy, const int *argmax, float *dx, int B,
                                        int H, int W, int C, int OH, int OW, int k, int s,
                                        int pad, int accum) {
    size_t n = (size_t)B * H * W * C;
    k_maxpool_bwd<<<blocks_for(n), NT>>>(dy, argmax, dx, B, H, W, C, OH, OW, k, s, pad, accum);
    DT_LAUNCH_CHECK("maxpool backward");
}

// --- avgpool ---------------------------------------------------------------------------------

__global__ static void k_avgpool_global_fwd(const float *x, float *y, int B, int HW, int C) {
    size_t n = (size_t)B * C;
    GRID_LOOP(o, n) {
        int c = (int)(o % C);
        size_t b = o / C;
        const float *xb = x + b * HW * C + c;
        float acc = xb[0];
        for (int i = 1; i < HW; i++) acc += xb[(size_t)i * C];
        y[o] = acc * (1.0f / HW);
    }
}

__global__ static void k_avgpool_fwd(const float *x, float *y, int B, int H, int W, int C,
                                     int OH, int OW, int k, int s, int pad) {
    size_t n = (size_t)B * OH * OW * C;
    const float inv = 1.0f / (k * k);
    GRID_LOOP(o, n) {
        int c = (int)(o % C);
        size_t t = o / C;
        int ox = (int)(t % OW);
        t /= OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        int y0 = oy * s - pad, y1 = y0 + k, x0 = ox * s - pad, x1 = x0 + k;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > H ? H : y1;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > W ? W : x1;
        float acc = 0;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) acc += x[(((size_t)b * H + iy) * W + ix) * C + c];
        y[o] = acc * inv;
    }
}

extern "C" void dt_pool_avg_forward_gpu(const float *x, float *y, int B, int H, int W, int C,
                                       int OH, int OW, int k, int s, int pad, int global) {
    if (global) {
        k_avgpool_global_fwd<<<blocks_for((size_t)B * C), NT>>>(x, y, B, H * W, C);
    } else {
        size_t n = (size_t)B * OH * OW * C;
        k_avgpool_fwd<<<blocks_for(n), NT>>>(x, y, B, H, W, C, OH, OW, k, s, pad);
    }
    DT_LAUNCH_CHECK("avgpool forward");
}

__global__ static void k_avgpool_bwd(const float *dy, float *dx, int B, int H, int W, int C,
                                     int OH, int OW, int k, int s, int pad, int global,
                                     int accum) {
    size_t n = (size_t)B * H * W * C;
    GRID_LOOP(i, n) {
        int c = (int)(i % C);
        size_t t = i / C;
        int ix = (int)(t % W);
        t /= W;
        int iy = (int)(t % H);
        int b = (int)(t / H);
        if (global) {
            float v = dy[(size_t)b * C + c] * (1.0f / (H * W));
            dx[i] = accum ? dx[i] + v : v;
            continue;
        }
        const float inv = 1.0f / (k * k);
        int oy0 = first_cover(iy, k, s, pad), oy1 = (iy + pad) / s + 1;
        int ox0 = first_cover(ix, k, s, pad), ox1 = (ix + pad) / s + 1;
        oy1 = oy1 > OH ? OH : oy1;
        ox1 = ox1 > OW ? OW : ox1;
        float d = accum ? dx[i] : 0.0f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++)
                d += dy[(((size_t)b * OH + oy) * OW + ox) * C + c] * inv;
        dx[i] = d;
    }
}

extern "C" void dt_pool_avg_backward_gpu(const float *dy, float *dx, int B, int H, int W, int C,
                                        int OH, int OW, int k, int s, int pad, int global,
                                        int accum) {
    size_t n = (size_t)B * H * W * C;
    k_avgpool_bwd<<<blocks_for(n), NT>>>(dy, dx, B, H, W, C, OH, OW, k, s, pad, global, accum);
    DT_LAUNCH_CHECK("avgpool backward");
}

// --- channel slices, transposes, residuals ----------------------------------------------------

__global__ static void k_slice(const float *src, float *dst, size_t rows, int c, int OC, int off,
                               int put, int accum) {
    size_t n = rows * c;
    GRID_LOOP(i, n) {
        size_t r = i / c;
        int j = (int)(i % c);
        size_t wide = r * OC + off + j;
        if (put) {
            dst[wide] = src[i];
        } else {
            float v = src[wide];
            dst[i] = accum ? dst[i] + v : v;
        }
    }
}

extern "C" void dt_slice_put_gpu(const float *x, float *y, size_t rows, int c, int OC, int off) {
    k_slice<<<blocks_for(rows * c), NT>>>(x, y, rows, c, OC, off, 1, 0);
    DT_LAUNCH_CHECK("channel slice put");
}

extern "C" void dt_slice_get_gpu(const float *y, float *x, size_t rows, int c, int OC, int off,
                                 int accum) {
    k_slice<<<blocks_for(rows * c), NT>>>(y, x, rows, c, OC, off, 0, accum);
    DT_LAUNCH_CHECK("channel slice get");
}

// element (i, c) of an image: NHWC offset i*C + c, NCHW offset c*HW + i
__global__ static void k_transpose(const float *src, float *dst, int B, int HW, int C, int back,
                                   int accum) {
    size_t n = (size_t)B * HW * C;
    GRID_LOOP(t, n) {
        size_t b = t / ((size_t)HW * C);
        size_t r = t % ((size_t)HW * C);
        // t walks the destination
        size_t src_off;
        if (!back) { // dst NCHW: r = c*HW + i
            int c = (int)(r / HW), i = (int)(r % HW);
            src_off = (size_t)i * C + c;
        } else { // dst NHWC: r = i*C + c
            int i = (int)(r / C), c = (int)(r % C);
            src_off = (size_t)c * HW + i;
        }
        float v = src[b * HW * C + src_off];
        dst[t] = accum ? dst[t] + v : v;
    }
}

extern "C" void dt_transpose_gpu(const float *src, float *dst, int B, int HW, int C, int back,
                                 int accum) {
    size_t n = (size_t)B * HW * C;
    if (HW == 1 || C == 1) { // the layouts coincide
        dt_add_gpu(src, dst, n, accum);
        return;
    }
    k_transpose<<<blocks_for(n), NT>>>(src, dst, B, HW, C, back, accum);
    DT_LAUNCH_CHECK("transpose");
}

__global__ static void k_shortcut_fwd(const float *a, const float *b, float *y, size_t n,
                                      int relu) {
    GRID_LOOP(i, n) {
        float v = a[i] + b[i];
        y[i] = relu ? (v > 0 ? v : 0) : v;
    }
}

extern "C" void dt_residual_forward_gpu(const float *a, const float *b, float *y, size_t n,
                                        dt_act act) {
    k_shortcut_fwd<<<blocks_for(n), NT>>>(a, b, y, n, act == DT_ACT_RELU);
    DT_LAUNCH_CHECK("shortcut forward");
    if (act != DT_ACT_RELU) dt_act_forward_gpu(act, y, n);
}

__global__ static void k_shortcut_bwd(const float *y, const float *dy, float *dx, size_t n,
                                      int relu, int accum) {
    GRID_LOOP(i, n) {
        float v = relu ? (y[i] > 0 ? dy[i] : 0.0f) : dy[i];
        dx[i] = accum ? dx[i] + v : v;
    }
}

extern "C" void dt_residual_backward_gpu(const float *y, const float *dy, float *dx, size_t n,
                                         int relu, int accum) {
    k_shortcut_bwd<<<blocks_for(n), NT>>>(y, dy, dx, n, relu, accum);
    DT_LAUNCH_CHECK("shortcut backward");
}

// --- upsample (layers/upsample.c: the same per-axis source and weights, the
// same gather order) ---------------------------------------------------------

__device__ static inline void bil_src(int o, float scale, int in, int *i0, int *i1, float *l0,
                                      float *l1) {
    float src = scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int a = (int)src;
    *i0 = a;
    *i1 = a + (a < in - 1 ? 1 : 0);
    *l1 = src - (float)a;
    *l0 = 1.0f - *l1;
}

__device__ static inline float bil_weight(int o, int i, float scale, int in) {
    int i0, i1;
    float l0, l1;
    bil_src(o, scale, in, &i0, &i1, &l0, &l1);
    return (i0 == i ? l0 : 0.0f) + (i1 == i ? l1 : 0.0f);
}

__global__ static void k_upsample_fwd(const float *x, float *y, int B, int H, int W, int C,
                                      int s, int bilinear, float scale) {
    const int OH = H * s, OW = W * s;
    size_t n = (size_t)B * OH * OW * C;
    GRID_LOOP(o, n) {
        int c = (int)(o % C);
        size_t t = o / C;
        int ox = (int)(t % OW);
        t /= OW;
        int oy = (int)(t % OH);
        int b = (int)(t / OH);
        const float *xb = x + (size_t)b * H * W * C + c;
        if (!bilinear) {
            y[o] = xb[((size_t)(oy / s) * W + ox / s) * C];
            continue;
        }
        int y0, y1, x0, x1;
        float ly0, ly1, lx0, lx1;
        bil_src(oy, scale, H, &y0, &y1, &ly0, &ly1);
        bil_src(ox, scale, W, &x0, &x1, &lx0, &lx1);
        y[o] = ly0 * (lx0 * xb[((size_t)y0 * W + x0) * C] + lx1 * xb[((size_t)y0 * W + x1) * C]) +
               ly1 * (lx0 * xb[((size_t)y1 * W + x0) * C] + lx1 * xb[((size_t)y1 * W + x1) * C]);
    }
}

extern "C" void dt_upsample_forward_k_gpu(const float *x, float *y, int B, int H, int W, int C,
                                          int s, int bilinear) {
    size_t n = (size_t)B * H * s * W * s * C;
    k_upsample_fwd<<<blocks_for(n), NT>>>(x, y, B, H, W, C, s, bilinear, (float)(1.0 / s));
    DT_LAUNCH_CHECK("upsample forward");
}

__global__ static void k_upsample_bwd(const float *dy, float *dx, int B, int H, int W, int C,
                                      int s, int bilinear, float scale, int accum) {
    const int OH = H * s, OW = W * s;
    size_t n = (size_t)B * H * W * C;
    GRID_LOOP(i, n) {
        int c = (int)(i % C);
        size_t t = i / C;
        int ix = (int)(t % W);
        t /= W;
        int iy = (int)(t % H);
        int b = (int)(t / H);
        const float *g = dy + (size_t)b * OH * OW * C + c;
        float d = accum ? dx[i] : 0.0f;
        if (!bilinear) {
            for (int oy = iy * s; oy < iy * s + s; oy++)
                for (int ox = ix * s; ox < ix * s + s; ox++) d += g[((size_t)oy * OW + ox) * C];
        } else {
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
                    d += wy * wx * g[((size_t)oy * OW + ox) * C];
                }
            }
        }
        dx[i] = d;
    }
}

extern "C" void dt_upsample_backward_k_gpu(const float *dy, float *dx, int B, int H, int W,
                                           int C, int s, int bilinear, int accum) {
    size_t n = (size_t)B * H * W * C;
    k_upsample_bwd<<<blocks_for(n), NT>>>(dy, dx, B, H, W, C, s, bilinear, (float)(1.0 / s),
                                          accum);
    DT_LAUNCH_CHECK("upsample backward");
}
