// Helpers for the layers' GPU twins (src/layers/*.cu). A twin reads what its
// CPU file parsed from that file's private struct (layers/basic_priv.h,
// layers/conv_priv.h, layers/ssd_priv.h; the heads' dt_head_args); its
// GPU-only state lives in l->priv_gpu, built on first use by dt_gpu_priv_new.
#ifndef DT_CUDA_LAYER_GPU_H
#define DT_CUDA_LAYER_GPU_H

#include <stdlib.h>
#include <string.h>

#include "cuda/gpu_net.h"
#include "cuda/kernels_gpu.h"
#include "engine/kernels.h"

// Device value / gradient of parameter i (NULL when i < 0).
static inline float *dt_gpu_w(dt_network *net, const dt_layer *l, int i) {
    return i < 0 ? NULL : dt_dev(net, l->params[i].w);
}
static inline float *dt_gpu_g(dt_network *net, const dt_layer *l, int i) {
    return i < 0 ? NULL : dt_dev(net, l->params[i].g);
}

// Allocates l->priv_gpu of `size` bytes (zeroed) with its destroy.
static inline void *dt_gpu_priv_new(dt_layer *l, size_t size, void (*destroy)(void *)) {
    dt_gpu_priv *p = (dt_gpu_priv *)dt_calloc(1, size);
    p->destroy = destroy;
    l->priv_gpu = p;
    return p;
}

static inline float *dt_gpu_floats(size_t n, const char *what) {
    return (float *)dt_gpu_alloc(n * sizeof(float), what);
}

#endif
