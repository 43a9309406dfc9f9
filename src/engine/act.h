// The activation functions, once for the CPU loops (kernels.c) and the CUDA
// kernels (cuda/kernels_gpu.cu): f(x), and f'(x) written in terms of
// y = f(x), which is what the backward passes have.
#ifndef DT_ENGINE_ACT_H
#define DT_ENGINE_ACT_H

#include <math.h>

#include "base/hd.h"
#include "engine/kernels.h" // dt_act, DT_LEAKY_SLOPE

static inline DT_HD float dt_act_f(int a, float x) {
    switch (a) {
    case DT_ACT_RELU: return x > 0 ? x : 0;
    case DT_ACT_LEAKY: return x > 0 ? x : DT_LEAKY_SLOPE * x;
    case DT_ACT_TANH: return tanhf(x);
    case DT_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return x;
    }
}

static inline DT_HD float dt_act_grad(int a, float y) {
    switch (a) {
    case DT_ACT_RELU: return y > 0 ? 1.0f : 0.0f;
    case DT_ACT_LEAKY: return y > 0 ? 1.0f : DT_LEAKY_SLOPE;
    case DT_ACT_TANH: return 1.0f - y * y;
    case DT_ACT_SIGMOID: return y * (1.0f - y);
    default: return 1.0f;
    }
}

#endif
