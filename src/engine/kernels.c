#include "engine/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "engine/act.h"
#include "engine/bn_backward.h"

const char *const dt_act_names[] = {"linear", "relu", "leaky", "tanh", "sigmoid", NULL};

int dt_act_parse(dt_cfg_section *s, dt_act def, dt_act *out) {
    int v;
    if (dt_cfg_choice(s, "activation", dt_act_names, (int)def, &v) != 0) return -1;
    *out = (dt_act)v;
    return 0;
}

void dt_act_forward(dt_act a, float *x, size_t n) {
    if (a == DT_ACT_LINEAR) return;
    if (a == DT_ACT_RELU) {
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        return;
    }
#pragma omp parallel for schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] = dt_act_f(a, x[i]);
}

void dt_act_backward(dt_act a, const float *y, const float *dy, float *dz, size_t n) {
    if (a == DT_ACT_LINEAR) {
        if (dz != dy) memcpy(dz, dy, n * sizeof(float));
        return;
    }
    if (a == DT_ACT_RELU) {
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
        for (size_t i = 0; i < n; i++) dz[i] = y[i] > 0 ? dy[i] : 0;
        return;
    }
#pragma omp parallel for schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) dz[i] = dy[i] * dt_act_grad(a, y[i]);
}

// Per-thread double accumulators for per-channel sums, grown once per shape
// (never per iteration in steady state).
static __thread double *acc_buf;
static __thread size_t acc_cap;

static double *acc_get(size_t n) {
    if (n > acc_cap) {
        free(acc_buf);
        acc_buf = dt_malloc(n * sizeof(double));
        acc_cap = n;
    }
    memset(acc_buf, 0, n * sizeof(double));
    return acc_buf;
}

// Rows are summed in float over blocks of BN_BLOCK rows, then added in
// double: float partial sums keep the inner loop vectorised, doubles keep
// the total exact to ~1e-7 over millions of rows.
#define BN_BLOCK 32

// sums over rows of x shifted by the first row k (so that E[x^2] - E[x]^2
// does not cancel when |mean| >> std): s1[c] = sum (x - k), s2[c] = sum (x - k)^2
// (acc layout: per thread 2C)
static void channel_sums(const float *x, size_t M, int C, double *s1, double *s2) {
    const float *k = x;
    int nt = omp_get_max_threads();
    double *acc = acc_get((size_t)nt * 2 * C);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        int T = omp_get_num_threads();
        double *a1 = acc + (size_t)t * 2 * C, *a2 = a1 + C;
        float p1[C], p2[C];
        size_t nblocks = (M + BN_BLOCK - 1) / BN_BLOCK;
        size_t b0 = nblocks * t / T, b1 = nblocks * (t + 1) / T;
        for (size_t b = b0; b < b1; b++) {
            memset(p1, 0, sizeof p1);
            memset(p2, 0, sizeof p2);
            size_t r1 = (b + 1) * BN_BLOCK < M ? (b + 1) * BN_BLOCK : M;
            for (size_t r = b * BN_BLOCK; r < r1; r++) {
                const float *xr = x + r * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    float d = xr[c] - k[c];
                    p1[c] += d;
                    p2[c] += d * d;
                }
            }
            for (int c = 0; c < C; c++) {
                a1[c] += p1[c];
                a2[c] += p2[c];
            }
        }
    }
    for (int c = 0; c < C; c++) {
        double u = 0, v = 0;
        for (int t = 0; t < nt; t++) {
            u += acc[(size_t)t * 2 * C + c];
            v += acc[(size_t)t * 2 * C + C + c];
        }
        s1[c] = u;
        s2[c] = v;
    }
}

static void affine_act(const float *x, float *y, size_t M, int C, const float *a,
                       const float *b, dt_act act) {
#pragma omp parallel for schedule(static) if (M * C > DT_PAR_MIN)
    for (size_t r = 0; r < M; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        if (act == DT_ACT_RELU) {
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float v = xr[c] * a[c] + b[c];
                yr[c] = v > 0 ? v : 0;
            }
        } else if (act == DT_ACT_LINEAR) {
#pragma omp simd
            for (int c = 0; c < C; c++) yr[c] = xr[c] * a[c] + b[c];
        } else {
            for (int c = 0; c < C; c++) yr[c] = dt_act_f(act, xr[c] * a[c] + b[c]);
        }
    }
}

void dt_bn_forward_train(const float *x, float *y, size_t M, int C, const float *scale,
                         const float *shift, float *run_mean, float *run_var, float momentum,
                         float eps, float *save_mean, float *save_invstd, dt_act act) {
    dt_bn_forward_train_sync(x, y, M, C, scale, shift, run_mean, run_var, momentum, eps,
                             save_mean, save_invstd, act, NULL);
}

// The moments over every rank's rows: each rank's sums about 0 (from its
// sums about its first row, in double), then count, sums and sums of squares
// added over ranks. *Mp becomes the total count.
static void bn_sync_moments(const float *x, size_t *Mp, int C, const double *s1,
                            const double *s2, double *mean, double *var,
                            const dt_bn_sync *sync) {
    const size_t M = *Mp;
    double *buf = malloc(sizeof(double) * (2 * (size_t)C + 1));
    if (!buf) dt_fatal("out of memory (sync_bn)");
    buf[0] = (double)M;
    for (int c = 0; c < C; c++) {
        double x0 = x[c];
        buf[1 + c] = M * x0 + s1[c];                               // sum x
        buf[1 + C + c] = M * x0 * x0 + 2 * x0 * s1[c] + s2[c];     // sum x^2
    }
    sync->fn(sync->ctx, buf, 2 * (size_t)C + 1);
    const double n = buf[0];
    for (int c = 0; c < C; c++) {
        mean[c] = buf[1 + c] / n;
        var[c] = buf[1 + C + c] / n - mean[c] * mean[c];
    }
    *Mp = (size_t)n;
    free(buf);
}

void dt_bn_forward_train_sync(const float *x, float *y, size_t M, int C, const float *scale,
                              const float *shift, float *run_mean, float *run_var,
                              float momentum, float eps, float *save_mean, float *save_invstd,
                              dt_act act, const dt_bn_sync *sync) {
    double s1[C], s2[C], gmean[C], gvar[C];
    float a[C], b[C];
    channel_sums(x, M, C, s1, s2);
    if (sync) bn_sync_moments(x, &M, C, s1, s2, gmean, gvar, sync);
    for (int c = 0; c < C; c++) {
        double d = s1[c] / M; // mean - x[0][c]
        double mean = sync ? gmean[c] : x[c] + d;
        double var = sync ? gvar[c] : s2[c] / M - d * d;
        if (var < 0) var = 0;
        double invstd = 1.0 / sqrt(var + eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        a[c] = (float)(scale[c] * invstd);
        b[c] = (float)(shift[c] - mean * scale[c] * invstd);
        double unbiased = M > 1 ? var * M / (M - 1) : var;
        run_mean[c] = (float)((1 - momentum) * run_mean[c] + momentum * mean);
        run_var[c] = (float)((1 - momentum) * run_var[c] + momentum * unbiased);
    }
    affine_act(x, y, M, C, a, b, act);
}

void dt_bn_forward_infer(const float *x, float *y, size_t M, int C, const float *scale,
                         const float *shift, const float *run_mean, const float *run_var,
                         float eps, float *save_mean, float *save_invstd, dt_act act) {
    float a[C], b[C];
    for (int c = 0; c < C; c++) {
        float invstd = 1.0f / sqrtf(run_var[c] + eps);
        if (save_mean) save_mean[c] = run_mean[c];
        if (save_invstd) save_invstd[c] = invstd;
        a[c] = scale[c] * invstd;
        b[c] = shift[c] - run_mean[c] * a[c];
    }
    affine_act(x, y, M, C, a, b, act);
}

void dt_bn_backward(const float *x, const float *y, float *dy, float *dx, size_t M, int C,
                    const float *scale, const float *save_mean, const float *save_invstd,
                    float *dscale, float *dshift, dt_act act, int training, int accum) {
    dt_bn_backward_sync(x, y, dy, dx, M, C, scale, save_mean, save_invstd, dscale, dshift, act,
                        training, accum, NULL);
}

void dt_bn_backward_sync(const float *x, const float *y, float *dy, float *dx, size_t M, int C,
                         const float *scale, const float *save_mean, const float *save_invstd,
                         float *dscale, float *dshift, dt_act act, int training, int accum,
                         const dt_bn_sync *sync) {
    dt_act_backward(act, y, dy, dy, M * (size_t)C);
    // sums: sdz = sum dz, sdzx = sum dz * xhat
    int nt = omp_get_max_threads();
    double *acc = acc_get((size_t)nt * 2 * C);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        double *a1 = acc + (size_t)t * 2 * C, *a2 = a1 + C;
        float p1[C], p2[C];
        size_t nblocks = (M + BN_BLOCK - 1) / BN_BLOCK;
        size_t b0 = nblocks * t / T, b1 = nblocks * (t + 1) / T;
        for (size_t b = b0; b < b1; b++) {
            memset(p1, 0, sizeof p1);
            memset(p2, 0, sizeof p2);
            size_t r1 = (b + 1) * BN_BLOCK < M ? (b + 1) * BN_BLOCK : M;
            for (size_t r = b * BN_BLOCK; r < r1; r++) {
                const float *xr = x + r * C, *dr = dy + r * C;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    p1[c] += dr[c];
                    p2[c] += dt_bn_bwd_dzx(dr[c], xr[c], save_mean[c], save_invstd[c]);
                }
            }
            for (int c = 0; c < C; c++) {
                a1[c] += p1[c];
                a2[c] += p2[c];
            }
        }
    }
    float k0[C], k1[C], k2[C];
    double sum[2 * C + 1]; // sdz, sdzx per channel, the count: over every rank with sync
    for (int c = 0; c < C; c++) {
        double sdz = 0, sdzx = 0;
        for (int t = 0; t < nt; t++) {
            sdz += acc[(size_t)t * 2 * C + c];
            sdzx += acc[(size_t)t * 2 * C + C + c];
        }
        sum[c] = sdz, sum[C + c] = sdzx;
        if (dscale) dscale[c] = (float)sdzx; // this rank's own
        if (dshift) dshift[c] = (float)sdz;
    }
    sum[2 * C] = (double)M;
    if (sync && training) sync->fn(sync->ctx, sum, 2 * (size_t)C + 1);
    for (int c = 0; c < C; c++)
        dt_bn_bwd_coef(sum[c], sum[C + c], (size_t)sum[2 * C], scale[c], save_invstd[c],
                       training, NULL, NULL, k0 + c, k1 + c, k2 + c);
    if (!dx) return;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < M; r++) {
        const float *xr = x + r * C, *dr = dy + r * C;
        float *o = dx + r * C;
        if (accum) {
#pragma omp simd
            for (int c = 0; c < C; c++)
                o[c] += dt_bn_bwd_dx(dr[c], xr[c], save_mean[c], k0[c], k1[c], k2[c]);
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++)
                o[c] = dt_bn_bwd_dx(dr[c], xr[c], save_mean[c], k0[c], k1[c], k2[c]);
        }
    }
}

void dt_add(const float *x, float *y, size_t n, int accum) {
    if (!accum) {
        dt_copy(x, y, n);
        return;
    }
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void dt_add_bias(float *y, const float *b, size_t M, size_t C) {
#pragma omp parallel for schedule(static) if (M * C > 4096)
    for (size_t m = 0; m < M; m++) {
        float *ym = y + m * C;
#pragma omp simd
        for (size_t c = 0; c < C; c++) ym[c] += b[c];
    }
}

// Threads own blocks of 64 channels and walk the rows in order: contiguous
// reads, and each channel's sum is the serial one.
void dt_channel_sum(const float *x, size_t M, size_t C, float *sum) {
    const size_t nb = (C + 63) / 64;
#pragma omp parallel for schedule(static) if (M * C > 4096)
    for (size_t blk = 0; blk < nb; blk++) {
        const size_t c0 = blk * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
        for (size_t c = c0; c < c1; c++) sum[c] = 0;
        for (size_t m = 0; m < M; m++) {
            const float *xm = x + m * C;
#pragma omp simd
            for (size_t c = c0; c < c1; c++) sum[c] += xm[c];
        }
    }
}

void dt_copy(const float *x, float *y, size_t n) {
    if (x == y) return;
#pragma omp parallel for schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i];
}

void dt_fill(float *y, size_t n, float v) {
#pragma omp parallel for simd schedule(static) if (n > DT_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = v;
}
