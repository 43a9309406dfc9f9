// Batch normalisation's backward, once for both devices: the CPU
// (kernels.c dt_bn_backward) and the GPU (cuda/kernels_gpu.cu) sum the same
// per-element terms over the M rows of a channel, turn the two sums into the
// parameter gradients and three coefficients here, and apply them per
// element here. xhat = (x - mean) * invstd; with batch statistics
//   dx = g*is*dz - g*is*sdz/M - g*is*xhat*sdzx/M   (sdz = sum dz, sdzx = sum dz*xhat),
// with running statistics (inference mode) only the first term.
#ifndef DT_ENGINE_BN_BACKWARD_H
#define DT_ENGINE_BN_BACKWARD_H

#include <stddef.h>

#include "base/hd.h"

// The element's term of sdzx.
static inline DT_HD float dt_bn_bwd_dzx(float dz, float x, float mean, float invstd) {
    return dz * (x - mean) * invstd;
}

// One channel's sums (in double) over M rows -> dscale, dshift (each may be
// NULL) and the coefficients k[0..2] of dt_bn_bwd_dx.
static inline DT_HD void dt_bn_bwd_coef(double sdz, double sdzx, size_t M, float scale,
                                        float invstd, int training, float *dscale,
                                        float *dshift, float *k0, float *k1, float *k2) {
    if (dscale) *dscale = (float)sdzx;
    if (dshift) *dshift = (float)sdz;
    float gis = scale * invstd;
    *k0 = gis;
    *k1 = training ? (float)(gis * sdz / M) : 0.0f;
    *k2 = training ? (float)(gis * sdzx / M * invstd) : 0.0f;
}

static inline DT_HD float dt_bn_bwd_dx(float dz, float x, float mean, float k0, float k1,
                                       float k2) {
    return k0 * dz - k1 - k2 * (x - mean);
}

#endif
