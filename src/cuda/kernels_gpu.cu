// CUDA kernels mirroring kernels.c and the per-layer CPU loops. Each one
// computes what its CPU twin computes, in the same order where the order
// decides the rounding (pooling sums, dropout masks, Adam), so the parity
// test can hold them to tight tolerances. Grid-stride loops everywhere: a
// launch never depends on the tensor fitting a grid.
#include <math.h>

#include "cuda/gpu_net.h"
#include "cuda/kernels_gpu.h"
#include "cuda/launch.h"
#include "engine/act.h"
#include "engine/bn_backward.h"
#include "engine/dropout_mask.h"
#include "engine/optim_step.h"

// i % C for the channel of element i of an NHWC tensor: 32-bit while the
// index fits (a 64-bit remainder is a ~70-instruction routine on the GPU,
// enough to make the elementwise BN / bias kernels compute bound).
__device__ static inline int chan_of(size_t i, int C) {
    return i <= 0xffffffffu ? (int)((unsigned)i % (unsigned)C) : (int)(i % (size_t)C);
}

// --- activations (engine/act.h) ----------------------------------------------------------

__global__ static void k_act_fwd(int a, float *x, size_t n) {
    GRID_LOOP(i, n) x[i] = dt_act_f(a, x[i]);
}

__global__ static void k_act_bwd(int a, const float *y, const float *dy, float *dz, size_t n) {
    GRID_LOOP(i, n) {
        // relu: select, not multiply, as the CPU (0 * inf stays 0)
        if (a == DT_ACT_RELU)
            dz[i] = y[i] > 0 ? dy[i] : 0.0f;
        else
            dz[i] = dy[i] * dt_act_grad(a, y[i]);
    }
}

extern "C" void dt_act_forward_gpu(dt_act a, float *x, size_t n) {
    if (a == DT_ACT_LINEAR || n == 0) return;
    k_act_fwd<<<blocks_for(n), NT>>>((int)a, x, n);
    DT_LAUNCH_CHECK("act_forward");
}

extern "C" void dt_act_backward_gpu(dt_act a, const float *y, const float *dy, float *dz,
                                    size_t n) {
    if (n == 0) return;
    if (a == DT_ACT_LINEAR) {
        if (dz != dy) DT_CUDA_CHECK(cudaMemcpy(dz, dy, n * sizeof(float), cudaMemcpyDeviceToDevice));
        return;
    }
    k_act_bwd<<<blocks_for(n), NT>>>((int)a, y, dy, dz, n);
    DT_LAUNCH_CHECK("act_backward");
}

__global__ static void k_add(const float *x, float *y, size_t n) { GRID_LOOP(i, n) y[i] += x[i]; }
__global__ static void k_fill(float *y, size_t n, float v) { GRID_LOOP(i, n) y[i] = v; }

extern "C" void dt_copy_gpu(const float *x, float *y, size_t n) {
    if (x == y || n == 0) return;
    DT_CUDA_CHECK(cudaMemcpy(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice));
}

extern "C" void dt_add_gpu(const float *x, float *y, size_t n, int accum) {
    if (!accum) {
        dt_copy_gpu(x, y, n);
        return;
    }
    if (n == 0) return;
    k_add<<<blocks_for(n), NT>>>(x, y, n);
    DT_LAUNCH_CHECK("add");
}

extern "C" void dt_fill_gpu(float *y, size_t n, float v) {
    if (n == 0) return;
    k_fill<<<blocks_for(n), NT>>>(y, n, v);
    DT_LAUNCH_CHECK("fill");
}

__global__ static void k_bias_act(float *y, const float *bias, size_t n, int C, int a) {
    GRID_LOOP(i, n) {
        float v = y[i] + (bias ? bias[chan_of(i, C)] : 0.0f);
        y[i] = dt_act_f(a, v);
    }
}

extern "C" void dt_bias_act_gpu(float *y, const float *bias, size_t M, int C, dt_act a) {
    size_t n = M * (size_t)C;
    if (n == 0 || (!bias && a == DT_ACT_LINEAR)) return;
    k_bias_act<<<blocks_for(n), NT>>>(y, bias, n, C, (int)a);
    DT_LAUNCH_CHECK("bias_act");
}

// --- per-channel sums over rows ------------------------------------------------------------
// Blocks of 32 channels x 8 row lanes; grid.y = P row partitions. Each thread
// sums its rows in float, the 8 lanes meet in shared memory, partial[p][c]
// (and partial[p][C + c] for the second quantity) go to the scratch; a second
// kernel adds the P partials of a channel in double.

enum { SUM_PLAIN = 0, SUM_SHIFTED, SUM_BN_BWD };

static int partitions(size_t M) {
    size_t p = (M + 511) / 512;
    return (int)(p < 1 ? 1 : p > 256 ? 256 : p);
}

// mode PLAIN: s1 = sum x. SHIFTED: s1 = sum (x - x0), s2 = sum (x - x0)^2 (x0 = row 0).
// BN_BWD: s1 = sum dz, s2 = sum dz * (x - mean) * invstd.
__global__ static void k_partial(const float *x, const float *dz, const float *mean,
                                 const float *invstd, size_t M, int C, int mode, float *part) {
    __shared__ float s1[8][33], s2[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int P = gridDim.y;
    float a1 = 0, a2 = 0;
    if (c < C) {
        const float k = mode == SUM_SHIFTED ? x[c] : 0.0f;
        const float mu = mode == SUM_BN_BWD ? mean[c] : 0.0f;
        const float is = mode == SUM_BN_BWD ? invstd[c] : 0.0f;
        for (size_t r = (size_t)blockIdx.y * 8 + threadIdx.y; r < M; r += (size_t)P * 8) {
            float v = x[r * C + c];
            if (mode == SUM_PLAIN) {
                a1 += v;
            } else if (mode == SUM_SHIFTED) {
                float d = v - k;
                a1 += d;
                a2 += d * d;
            } else {
                float g = dz[r * C + c];
                a1 += g;
                a2 += dt_bn_bwd_dzx(g, v, mu, is);
            }
        }
    }
    s1[threadIdx.y][threadIdx.x] = a1;
    s2[threadIdx.y][threadIdx.x] = a2;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t1 = 0, t2 = 0;
        for (int j = 0; j < 8; j++) {
            t1 += s1[j][threadIdx.x];
            t2 += s2[j][threadIdx.x];
        }
        part[(size_t)blockIdx.y * 2 * C + c] = t1;
        part[(size_t)blockIdx.y * 2 * C + C + c] = t2;
    }
}

static void partial_sums(const float *x, const float *dz, const float *mean, const float *invstd,
                         size_t M, int C, int mode, float *part, int P) {
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)P), block(32, 8);
    k_partial<<<grid, block>>>(x, dz, mean, invstd, M, C, mode, part);
    DT_LAUNCH_CHECK("channel partial sums");
}

__global__ static void k_sum_final(const float *part, int P, int C, float *out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0;
    for (int p = 0; p < P; p++) s += part[(size_t)p * 2 * C + c];
    out[c] = (float)s;
}

extern "C" void dt_channel_sum_gpu(const float *x, size_t M, int C, float *out) {
    int P = partitions(M);
    float *part = dt_gpu_scratch(NULL, (size_t)P * 2 * C);
    partial_sums(x, NULL, NULL, NULL, M, C, SUM_PLAIN, part, P);
    k_sum_final<<<(C + 127) / 128, 128>>>(part, P, C, out);
    DT_LAUNCH_CHECK("channel sum");
}

// --- batch normalisation -----------------------------------------------------------------

// coef: a (C) then b (C), y = act(x * a + b)
__global__ static void k_bn_train_final(const float *x, const float *part, int P, size_t M,
                                        int C, const float *scale, const float *shift,
                                        float *run_mean, float *run_var, float momentum,
                                        float eps, float *save_mean, float *save_invstd,
                                        float *coef) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double u = 0, v = 0;
    for (int p = 0; p < P; p++) {
        u += part[(size_t)p * 2 * C + c];
        v += part[(size_t)p * 2 * C + C + c];
    }
    double d = u / M;
    double mean = x[c] + d;
    double var = v / M - d * d;
    if (var < 0) var = 0;
    double invstd = 1.0 / sqrt(var + eps);
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    coef[c] = (float)(scale[c] * invstd);
    coef[C + c] = (float)(shift[c] - mean * scale[c] * invstd);
    double unbiased = M > 1 ? var * M / (M - 1) : var;
    run_mean[c] = (float)((1 - momentum) * run_mean[c] + momentum * mean);
    run_var[c] = (float)((1 - momentum) * run_var[c] + momentum * unbiased);
}

__global__ static void k_bn_infer_coef(int C, const float *scale, const float *shift,
                                       const float *run_mean, const float *run_var, float eps,
                                       float *save_mean, float *save_invstd, float *coef) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float invstd = 1.0f / sqrtf(run_var[c] + eps);
    if (save_mean) save_mean[c] = run_mean[c];
    if (save_invstd) save_invstd[c] = invstd;
    float a = scale[c] * invstd;
    coef[c] = a;
    coef[C + c] = shift[c] - run_mean[c] * a;
}

__global__ static void k_affine_act(const float *x, float *y, size_t n, int C, const float *coef,
                                    int act) {
    GRID_LOOP(i, n) {
        int c = chan_of(i, C);
        y[i] = dt_act_f(act, x[i] * coef[c] + coef[C + c]);
    }
}

extern "C" void dt_bn_forward_train_gpu(const float *x, float *y, size_t M, int C,
                                        const float *scale, const float *shift, float *run_mean,
                                        float *run_var, float momentum, float eps,
                                        float *save_mean, float *save_invstd, dt_act act) {
    int P = partitions(M);
    float *part = dt_gpu_scratch(NULL, (size_t)P * 2 * C + 2 * (size_t)C);
    float *coef = part + (size_t)P * 2 * C;
    partial_sums(x, NULL, NULL, NULL, M, C, SUM_SHIFTED, part, P);
    k_bn_train_final<<<(C + 127) / 128, 128>>>(x, part, P, M, C, scale, shift, run_mean, run_var,
                                               momentum, eps, save_mean, save_invstd, coef);
    DT_LAUNCH_CHECK("bn statistics");
    k_affine_act<<<blocks_for(M * C), NT>>>(x, y, M * C, C, coef, (int)act);
    DT_LAUNCH_CHECK("bn apply");
}

extern "C" void dt_bn_forward_infer_gpu(const float *x, float *y, size_t M, int C,
                                        const float *scale, const float *shift,
                                        const float *run_mean, const float *run_var, float eps,
                                        float *save_mean, float *save_invstd, dt_act act) {
    float *coef = dt_gpu_scratch(NULL, 2 * (size_t)C);
    k_bn_infer_coef<<<(C + 127) / 128, 128>>>(C, scale, shift, run_mean, run_var, eps, save_mean,
                                              save_invstd, coef);
    DT_LAUNCH_CHECK("bn inference coefficients");
    k_affine_act<<<blocks_for(M * C), NT>>>(x, y, M * C, C, coef, (int)act);
    DT_LAUNCH_CHECK("bn apply");
}

// coef: k0, k1, k2 (C each)
__global__ static void k_bn_bwd_final(const float *part, int P, size_t M, int C,
                                      const float *scale, const float *save_invstd,
                                      float *dscale, float *dshift, int training, float *coef) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double sdz = 0, sdzx = 0;
    for (int p = 0; p < P; p++) {
        sdz += part[(size_t)p * 2 * C + c];
        sdzx += part[(size_t)p * 2 * C + C + c];
    }
    dt_bn_bwd_coef(sdz, sdzx, M, scale[c], save_invstd[c], training, dscale ? dscale + c : NULL,
                   dshift ? dshift + c : NULL, coef + c, coef + C + c, coef + 2 * C + c);
}

__global__ static void k_bn_bwd_apply(const float *x, const float *dz, float *dx, size_t n,
                                      int C, const float *mean, const float *coef, int accum) {
    GRID_LOOP(i, n) {
        int c = chan_of(i, C);
        float v = dt_bn_bwd_dx(dz[i], x[i], mean[c], coef[c], coef[C + c], coef[2 * C + c]);
        dx[i] = accum ? dx[i] + v : v;
    }
}

extern "C" void dt_bn_backward_gpu(const float *x, const float *y, float *dy, float *dx,
                                   size_t M, int C, const float *scale, const float *save_mean,
                                   const float *save_invstd, float *dscale, float *dshift,
                                   dt_act act, int training, int accum) {
    dt_act_backward_gpu(act, y, dy, dy, M * (size_t)C);
    int P = partitions(M);
    float *part = dt_gpu_scratch(NULL, (size_t)P * 2 * C + 3 * (size_t)C);
    float *coef = part + (size_t)P * 2 * C;
    partial_sums(x, dy, save_mean, save_invstd, M, C, SUM_BN_BWD, part, P);
    k_bn_bwd_final<<<(C + 127) / 128, 128>>>(part, P, M, C, scale, save_invstd, dscale, dshift,
                                             training, coef);
    DT_LAUNCH_CHECK("bn backward sums");
    if (!dx) return;
    k_bn_bwd_apply<<<blocks_for(M * C), NT>>>(x, dy, dx, M * C, C, save_mean, coef, accum);
    DT_LAUNCH_CHECK("bn backward apply");
}

// --- optimizer: the formulas of engine/optim_step.h, one thread per parameter ---------------

__global__ static void k_sgd(dt_opt_coef c, float *w, const float *g, float *m, size_t n) {
    GRID_LOOP(i, n) dt_sgd_elem(&c, w + i, g[i], m + i);
}

__global__ static void k_adam(dt_opt_coef c, float *w, const float *g, float *m, float *v,
                              size_t n) {
    GRID_LOOP(i, n) dt_adam_elem(&c, w + i, g[i], m + i, v + i);
}

extern "C" void dt_opt_step_gpu(const dt_optim *o, float lr, float *w, const float *g, float *m,
                                float *v, size_t n) {
    if (n == 0) return;
    const dt_opt_coef c = dt_opt_coef_of(o, lr); // on the host, as the CPU step
    if (c.sgd) {
        k_sgd<<<blocks_for(n), NT>>>(c, w, g, m, n);
        DT_LAUNCH_CHECK("sgd step");
        return;
    }
    k_adam<<<blocks_for(n), NT>>>(c, w, g, m, v, n);
    DT_LAUNCH_CHECK("adam step");
}

// --- weight EMA: train/schedule.c's dt_wema_update ----------------------------------------------

__global__ static void k_lerp(float *e, const float *w, float a, size_t n) {
    GRID_LOOP(i, n) e[i] = e[i] + a * (w[i] - e[i]);
}

extern "C" void dt_lerp_gpu(float *e, const float *w, float a, size_t n) {
    if (n == 0) return;
    k_lerp<<<blocks_for(n), NT>>>(e, w, a, n);
    DT_LAUNCH_CHECK("weight EMA");
}

// --- dropout: the mask of engine/dropout_mask.h ------------------------------------------------

// One thread per chunk: the stream is sequential within a chunk, as on the
// CPU. Chunks are few (n / 4096), so this is a short kernel.
__global__ static void k_dropout(const float *x, float *y, float *mask, size_t n, float p,
                                 uint64_t seed) {
    const size_t nchunks = dt_dropout_chunks(n);
    GRID_LOOP(k, nchunks) {
        const size_t i1 = dt_dropout_chunk(mask, n, k, seed, p);
        for (size_t i = k * DT_DROPOUT_CHUNK; i < i1; i++) y[i] = x[i] * mask[i];
    }
}

extern "C" void dt_dropout_gpu(const float *x, float *y, float *mask, size_t n, float p,
                               uint64_t seed) {
    if (n == 0) return;
    size_t nchunks = dt_dropout_chunks(n);
    k_dropout<<<(unsigned)((nchunks + 63) / 64), 64>>>(x, y, mask, n, p, seed);
    DT_LAUNCH_CHECK("dropout");
}

__global__ static void k_mul(const float *dy, const float *mask, float *dx, size_t n, int accum) {
    GRID_LOOP(i, n) {
        float v = dy[i] * mask[i];
        dx[i] = accum ? dx[i] + v : v;
    }
}

extern "C" void dt_mul_gpu(const float *dy, const float *mask, float *dx, size_t n, int accum) {
    if (n == 0) return;
    k_mul<<<blocks_for(n), NT>>>(dy, mask, dx, n, accum);
    DT_LAUNCH_CHECK("mask multiply");
}

// --- filter layouts --------------------------------------------------------------------------

__global__ static void k_filter(const float *src, float *dst, int O, int I, int KK, int to_ohwi) {
    size_t n = (size_t)O * I * KK;
    GRID_LOOP(t, n) {
        // t indexes OIHW: o, i, kk
        int kk = (int)(t % KK);
        int i = (int)((t / KK) % I);
        int o = (int)(t / ((size_t)KK * I));
        size_t ohwi = ((size_t)o * KK + kk) * I + i;
        if (to_ohwi)
            dst[ohwi] = src[t];
        else
            dst[t] = src[ohwi];
    }
}

extern "C" void dt_oihw_to_ohwi_gpu(const float *src, float *dst, int O, int I, int K) {
    k_filter<<<blocks_for((size_t)O * I * K * K), NT>>>(src, dst, O, I, K * K, 1);
    DT_LAUNCH_CHECK("filter OIHW->OHWI");
}

extern "C" void dt_ohwi_to_oihw_gpu(const float *src, float *dst, int O, int I, int K) {
    k_filter<<<blocks_for((size_t)O * I * K * K), NT>>>(src, dst, O, I, K * K, 0);
    DT_LAUNCH_CHECK("filter OHWI->OIHW");
}
