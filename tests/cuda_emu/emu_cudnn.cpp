// The CUDA emulator's cuDNN (tests/cuda_emu/include/cudnn.h): the legacy
// convolution API on NHWC tensors and KRSC filters, as direct loops. Values
// are read in their format (FP32, or FP16/BF16 through src/engine/amp.h), products
// summed in FP32 (as the tensor cores' FP32 accumulation), and the result
// rounded to the output's format: what cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16
// configurations compute, up to the order of the sums.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "engine/amp.h"
#include "cudnn.h"

struct emu_tensor {
    cudnnDataType_t t;
    int n, c, h, w; // filters: k = n, c per group, r = h, s = w
};
struct emu_conv {
    int ph, pw, sh, sw, dh, dw, groups;
};

namespace {
float get(const void *p, cudnnDataType_t t, size_t i) {
    if (t == CUDNN_DATA_FLOAT) return ((const float *)p)[i];
    return dt_lowp_to_float(((const uint16_t *)p)[i], t == CUDNN_DATA_BFLOAT16 ? DT_AMP_BF16 : DT_AMP_FP16);
}
// out[i] = alpha v + beta out[i] (beta 0: out not read), in out's format
void put(void *p, cudnnDataType_t t, size_t i, float v, float alpha, float beta) {
    float r = alpha * v + (beta != 0 ? beta * get(p, t, i) : 0.0f);
    if (t == CUDNN_DATA_FLOAT)
        ((float *)p)[i] = r;
    else
        ((uint16_t *)p)[i] = dt_float_to_lowp(r, t == CUDNN_DATA_BFLOAT16 ? DT_AMP_BF16 : DT_AMP_FP16);
}
size_t nhwc(const emu_tensor *d, int b, int y, int x, int c) {
    return (((size_t)b * d->h + y) * d->w + x) * d->c + c;
}
// Calls f(b, oy, ox, o, iy, ix, ci, krs) for every product of the convolution.
template <class F> void each_product(const emu_tensor *xd, const emu_tensor *wd,
                                     const emu_tensor *yd, const emu_conv *cd, F f) {
    const int G = cd->groups, OG = wd->n / G, IG = wd->c;
    for (int b = 0; b < yd->n; b++)
        for (int oy = 0; oy < yd->h; oy++)
            for (int ox = 0; ox < yd->w; ox++)
                for (int o = 0; o < yd->c; o++) {
                    const int g = o / OG;
                    for (int r = 0; r < wd->h; r++) {
                        const int iy = oy * cd->sh - cd->ph + r * cd->dh;
                        if (iy < 0 || iy >= xd->h) continue;
                        for (int s = 0; s < wd->w; s++) {
                            const int ix = ox * cd->sw - cd->pw + s * cd->dw;
                            if (ix < 0 || ix >= xd->w) continue;
                            for (int i = 0; i < IG; i++)
                                f(b, oy, ox, o, iy, ix, g * IG + i,
                                  (((size_t)o * wd->h + r) * wd->w + s) * IG + i);
                        }
                    }
                }
}
} // namespace

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
const char *cudnnGetErrorString(cudnnStatus_t s) { return s ? "CUDNN_STATUS_NOT_SUPPORTED" : "CUDNN_STATUS_SUCCESS"; }
cudnnStatus_t cudnnCreate(cudnnHandle_t *h) {
    *h = (cudnnHandle_t)malloc(1);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) {
    free(h);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) {
    *d = (emu_tensor *)calloc(1, sizeof(emu_tensor));
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) {
    free(d);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f,
                                         cudnnDataType_t t, int n, int c, int h, int w) {
    if (f != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_NOT_SUPPORTED;
    *d = emu_tensor{t, n, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { return cudnnCreateTensorDescriptor(d); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return cudnnDestroyTensorDescriptor(d); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t,
                                         cudnnTensorFormat_t f, int k, int c, int h, int w) {
    return cudnnSetTensor4dDescriptor(d, f, t, k, c, h, w);
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) {
    *d = (emu_conv *)calloc(1, sizeof(emu_conv));
    (*d)->groups = 1;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) {
    free(d);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw,
                                              int sh, int sw, int dh, int dw,
                                              cudnnConvolutionMode_t m, cudnnDataType_t) {
    if (m != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_NOT_SUPPORTED;
    d->ph = ph, d->pw = pw, d->sh = sh, d->sw = sw, d->dh = dh, d->dw = dw;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int g) {
    d->groups = g;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t, cudnnMathType_t) {
    return CUDNN_STATUS_SUCCESS;
}

#define EMU_ONE_ALGO(r, n)                                                                     \
    do {                                                                                       \
        memset((r), 0, sizeof *(r));                                                           \
        (r)->status = CUDNN_STATUS_SUCCESS;                                                    \
        (r)->mathType = CUDNN_FMA_MATH;                                                        \
        *(n) = 1;                                                                              \
    } while (0)
cudnnStatus_t cudnnFindConvolutionForwardAlgorithm(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                   cudnnFilterDescriptor_t,
                                                   cudnnConvolutionDescriptor_t,
                                                   cudnnTensorDescriptor_t, int, int *n,
                                                   cudnnConvolutionFwdAlgoPerf_t *r) {
    EMU_ONE_ALGO(r, n);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w,
                                                     cudnnConvolutionDescriptor_t c,
                                                     cudnnTensorDescriptor_t y, int k, int *n,
                                                     cudnnConvolutionFwdAlgoPerf_t *r) {
    return cudnnFindConvolutionForwardAlgorithm(h, x, w, c, y, k, n, r);
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithm(cudnnHandle_t, cudnnFilterDescriptor_t,
                                                        cudnnTensorDescriptor_t,
                                                        cudnnConvolutionDescriptor_t,
                                                        cudnnTensorDescriptor_t, int, int *n,
                                                        cudnnConvolutionBwdDataAlgoPerf_t *r) {
    EMU_ONE_ALGO(r, n);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy,
                                                          cudnnConvolutionDescriptor_t c,
                                                          cudnnTensorDescriptor_t dx, int k,
                                                          int *n,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *r) {
    return cudnnFindConvolutionBackwardDataAlgorithm(h, w, dy, c, dx, k, n, r);
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithm(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                          cudnnTensorDescriptor_t,
                                                          cudnnConvolutionDescriptor_t,
                                                          cudnnFilterDescriptor_t, int, int *n,
                                                          cudnnConvolutionBwdFilterAlgoPerf_t *r) {
    EMU_ONE_ALGO(r, n);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
    cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t dw, int k, int *n,
    cudnnConvolutionBwdFilterAlgoPerf_t *r) {
    return cudnnFindConvolutionBackwardFilterAlgorithm(h, x, dy, c, dw, k, n, r);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void *alpha, cudnnTensorDescriptor_t xd,
                                      const void *x, cudnnFilterDescriptor_t wd, const void *w,
                                      cudnnConvolutionDescriptor_t cd, cudnnConvolutionFwdAlgo_t,
                                      void *, size_t, const void *beta, cudnnTensorDescriptor_t yd,
                                      void *y) {
    const size_t ny = (size_t)yd->n * yd->h * yd->w * yd->c;
    std::vector<float> acc(ny, 0.0f);
    each_product(xd, wd, yd, cd, [&](int b, int oy, int ox, int o, int iy, int ix, int ci, size_t k) {
        acc[nhwc(yd, b, oy, ox, o)] += get(x, xd->t, nhwc(xd, b, iy, ix, ci)) * get(w, wd->t, k);
    });
    for (size_t i = 0; i < ny; i++) put(y, yd->t, i, acc[i], *(const float *)alpha, *(const float *)beta);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void *alpha,
                                           cudnnFilterDescriptor_t wd, const void *w,
                                           cudnnTensorDescriptor_t dyd, const void *dy,
                                           cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t, void *, size_t,
                                           const void *beta, cudnnTensorDescriptor_t dxd,
                                           void *dx) {
    const size_t nx = (size_t)dxd->n * dxd->h * dxd->w * dxd->c;
    std::vector<float> acc(nx, 0.0f);
    each_product(dxd, wd, dyd, cd, [&](int b, int oy, int ox, int o, int iy, int ix, int ci, size_t k) {
        acc[nhwc(dxd, b, iy, ix, ci)] += get(dy, dyd->t, nhwc(dyd, b, oy, ox, o)) * get(w, wd->t, k);
    });
    for (size_t i = 0; i < nx; i++) put(dx, dxd->t, i, acc[i], *(const float *)alpha, *(const float *)beta);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void *alpha,
                                             cudnnTensorDescriptor_t xd, const void *x,
                                             cudnnTensorDescriptor_t dyd, const void *dy,
                                             cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t, void *, size_t,
                                             const void *beta, cudnnFilterDescriptor_t dwd,
                                             void *dw) {
    const size_t nw = (size_t)dwd->n * dwd->h * dwd->w * dwd->c;
    std::vector<float> acc(nw, 0.0f);
    each_product(xd, dwd, dyd, cd, [&](int b, int oy, int ox, int o, int iy, int ix, int ci, size_t k) {
        acc[k] += get(x, xd->t, nhwc(xd, b, iy, ix, ci)) * get(dy, dyd->t, nhwc(dyd, b, oy, ox, o));
    });
    for (size_t i = 0; i < nw; i++) put(dw, dwd->t, i, acc[i], *(const float *)alpha, *(const float *)beta);
    return CUDNN_STATUS_SUCCESS;
}

} // extern "C"
