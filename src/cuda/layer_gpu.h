// Helpers for the layers' GPU twins (src/layers/*.cu). A twin cannot see its
// CPU file's private struct, so it re-reads its keys from l->sec (already
// validated by parse) and finds parameters by name; its GPU-only state lives
// in l->priv_gpu, built on first use by gpu_priv_new.
#ifndef DT_CUDA_LAYER_GPU_H
#define DT_CUDA_LAYER_GPU_H

#include <stdlib.h>
#include <string.h>

#include "cuda/gpu_net.h"
#include "cuda/kernels_gpu.h"
#include "engine/kernels.h"

// Index of parameter `name` of l, -1 if absent.
static inline int dt_gpu_param_index(const dt_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0) return i;
    return -1;
}

// Device value / gradient of parameter i (NULL when i < 0).
static inline float *dt_gpu_w(dt_network *net, const dt_layer *l, int i) {
    return i < 0 ? NULL : dt_dev(net, l->params[i].w);
}
static inline float *dt_gpu_g(dt_network *net, const dt_layer *l, int i) {
    return i < 0 ? NULL : dt_dev(net, l->params[i].g);
}

// Keys again (parse validated them; the getters only read).
static inline int dt_gpu_key_int(dt_layer *l, const char *key, int def) {
    int v = def;
    if (dt_cfg_int(l->sec, key, def, -(1 << 30), 1 << 30, &v) != 0) v = def;
    return v;
}
static inline float dt_gpu_key_float(dt_layer *l, const char *key, float def) {
    float v = def;
    if (dt_cfg_float(l->sec, key, def, -1e30f, 1e30f, &v) != 0) v = def;
    return v;
}
static inline dt_act dt_gpu_key_act(dt_layer *l) {
    dt_act a = DT_ACT_LINEAR;
    if (dt_act_parse(l->sec, DT_ACT_LINEAR, &a) != 0) a = DT_ACT_LINEAR;
    return a;
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
