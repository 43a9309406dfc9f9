// CUDA twins of the CPU kernels in kernels.h and of the small per-layer loops
// (pooling, routing, dropout, optimizer). Same names with a _gpu suffix and
// the same arguments, but every pointer is a DEVICE pointer (dt_dev()).
// All run on the legacy default stream, in order with cuBLAS and cuDNN, so
// no call here synchronises. Layouts as on the CPU: NHWC rows (M, C).
#ifndef DT_CUDA_KERNELS_GPU_H
#define DT_CUDA_KERNELS_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kernels.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

void dt_act_forward_gpu(dt_act a, float *x, size_t n);
void dt_act_backward_gpu(dt_act a, const float *y, const float *dy, float *dz, size_t n);
void dt_add_gpu(const float *x, float *y, size_t n, int accum); // y (+)= x
void dt_copy_gpu(const float *x, float *y, size_t n);
void dt_fill_gpu(float *y, size_t n, float v);
// y (M, C) = act(y + bias[c]); bias may be NULL.
void dt_bias_act_gpu(float *y, const float *bias, size_t M, int C, dt_act a);
// out (C) = sum over the M rows of x (M, C) (a bias gradient).
void dt_channel_sum_gpu(const float *x, size_t M, int C, float *out);

// Batch normalisation, as kernels.h (statistics shifted by row 0, the
// partial sums per block in float, the total per channel in double).
void dt_bn_forward_train_gpu(const float *x, float *y, size_t M, int C, const float *scale,
                             const float *shift, float *run_mean, float *run_var,
                             float momentum, float eps, float *save_mean, float *save_invstd,
                             dt_act act);
void dt_bn_forward_infer_gpu(const float *x, float *y, size_t M, int C, const float *scale,
                             const float *shift, const float *run_mean, const float *run_var,
                             float eps, float *save_mean, float *save_invstd, dt_act act);
void dt_bn_backward_gpu(const float *x, const float *y, float *dy, float *dx, size_t M, int C,
                        const float *scale, const float *save_mean, const float *save_invstd,
                        float *dscale, float *dshift, dt_act act, int training, int accum);

// One optimizer update of one tensor: network.c's step_tensor on the GPU.
void dt_opt_step_gpu(const dt_optim *o, float lr, float *w, const float *g, float *m,
                     float *v, size_t n);

// e = e + a * (w - e) over n floats (the weight EMA's update, train/schedule.h).
void dt_lerp_gpu(float *e, const float *w, float a, size_t n);

// Dropout: mask (n) = 0 or 1/(1-p) drawn exactly as the CPU draws it
// (engine/dropout_mask.h, from `seed`), then y = x * mask (x may alias y).
void dt_dropout_gpu(const float *x, float *y, float *mask, size_t n, float p, uint64_t seed);
// dx (+)= dy * mask
void dt_mul_gpu(const float *dy, const float *mask, float *dx, size_t n, int accum);

// Filters: OIHW (PyTorch, our parameters) <-> OHWI (cuDNN's NHWC/KRSC).
void dt_oihw_to_ohwi_gpu(const float *src, float *dst, int O, int I, int K);
void dt_ohwi_to_oihw_gpu(const float *src, float *dst, int O, int I, int K);

// Mixed precision (amp.h; mode DT_AMP_FP16 / DT_AMP_BF16, 16-bit data as
// uint16_t): h = x rounded to the format; y (+)= widened h (accum); filters
// OIHW FP32 <-> OHWI 16-bit; x *= s; g *= inv with *nonfinite set to 1 when a
// result is not finite (never cleared here).
void dt_to_lowp_gpu(const float *x, uint16_t *h, size_t n, int mode);
void dt_from_lowp_gpu(const uint16_t *h, float *y, size_t n, int mode, int accum);
void dt_oihw_to_ohwi_lowp_gpu(const float *src, uint16_t *dst, int O, int I, int K, int mode);
void dt_ohwi_lowp_to_oihw_gpu(const uint16_t *src, float *dst, int O, int I, int K, int mode);
void dt_scale_gpu(float *x, size_t n, float s);
void dt_unscale_gpu(float *g, size_t n, float inv, int *nonfinite);

// Pooling (maxpool.c / avgpool.c semantics). argmax (B, OH, OW, C) ints.
void dt_pool_max_forward_gpu(const float *x, float *y, int *argmax, int B, int H, int W, int C,
                            int OH, int OW, int k, int s, int pad);
void dt_pool_max_backward_gpu(const float *dy, const int *argmax, float *dx, int B, int H,
                             int W, int C, int OH, int OW, int k, int s, int pad, int accum);
void dt_pool_avg_forward_gpu(const float *x, float *y, int B, int H, int W, int C, int OH,
                            int OW, int k, int s, int pad, int global);
void dt_pool_avg_backward_gpu(const float *dy, float *dx, int B, int H, int W, int C, int OH,
                             int OW, int k, int s, int pad, int global, int accum);

// Channel slices of (rows, OC): y[:, off:off+c] = x (rows, c), and back.
void dt_slice_put_gpu(const float *x, float *y, size_t rows, int c, int OC, int off);
void dt_slice_get_gpu(const float *y, float *x, size_t rows, int c, int OC, int off,
                      int accum);
// Per image (HW, C) -> (C, HW) (back = 0) or the inverse, assign or add.
void dt_transpose_gpu(const float *src, float *dst, int B, int HW, int C, int back, int accum);
// [upsample] by an integer factor s (layers/upsample.c semantics): x (B, H, W, C)
// -> y (B, H*s, W*s, C), nearest or bilinear (align_corners=False); the
// backward gathers into dx (B, H, W, C), assign or add.
void dt_upsample_forward_k_gpu(const float *x, float *y, int B, int H, int W, int C, int s,
                               int bilinear);
void dt_upsample_backward_k_gpu(const float *dy, float *dx, int B, int H, int W, int C, int s,
                                int bilinear, int accum);
// y = act(a + b); backward: dx (+)= relu ? (y > 0 ? dy : 0) : dy.
void dt_residual_forward_gpu(const float *a, const float *b, float *y, size_t n, dt_act act);
void dt_residual_backward_gpu(const float *y, const float *dy, float *dx, size_t n, int relu,
                              int accum);

#ifdef __cplusplus
}
#endif
#endif
