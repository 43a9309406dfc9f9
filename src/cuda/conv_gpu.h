// One 2-D convolution on the GPU through cuDNN (NHWC activations, filters
// kept as OIHW parameters and reordered to cuDNN's OHWI/KRSC copy when
// the layer's l->wver moves). Shared by [convolutional], [stdconv] and
// [outconv]'s GPU twins. Algorithms are chosen once per layer with
// cudnnFind* (DT_CUDNN_FIND=0: the heuristic cudnnGet*_v7) under the
// network's workspace limit; strict FP32 (CUDNN_FMA_MATH) unless TF32 is on.
#ifndef DT_CUDA_CONV_GPU_H
#define DT_CUDA_CONV_GPU_H

#include "cuda/gpu_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_gconv dt_gconv;

// x (B, H, W, C) -> y (B, OH, OW, O); filters (O, C/groups, K, K).
dt_gconv *dt_gconv_create(dt_network *net, int B, int H, int W, int C, int O, int K,
                          int stride, int pad, int dilation, int groups, int OH, int OW);
void dt_gconv_free(dt_gconv *c);
// y = conv(x, w); w_oihw the device parameter, reordered when ver (l->wver) moved.
void dt_gconv_forward(dt_gconv *c, dt_network *net, const float *x, const float *w_oihw,
                      uint64_t ver, float *y);
// dw_oihw = dL/dw (assigned) from x and dy.
void dt_gconv_backward_filter(dt_gconv *c, dt_network *net, const float *x, const float *dy,
                              float *dw_oihw);
// dx (+)= conv_transpose(dy, w) (beta = accum).
void dt_gconv_backward_data(dt_gconv *c, dt_network *net, const float *dy,
                            const float *w_oihw, uint64_t ver, float *dx, int accum);

#ifdef __cplusplus
}
#endif
#endif
