// The device a network runs on, as a table of functions (docs/GPU.md,
// "Backends"). network.c holds the one forward / backward / step loop and
// calls these; the CPU backend is network.c's own (dt_backend_cpu), the
// CUDA backend is src/cuda/gpu_net.c's, which dt_net_gpu_enable installs in
// net->backend (and dt_net_gpu_disable puts the CPU's back). So the engine
// never calls into src/cuda/: it calls through this table.
#ifndef DT_BACKEND_H
#define DT_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_network dt_network;
typedef struct dt_layer dt_layer;

typedef struct dt_backend {
    const char *name;
    // forward: before the first layer. net->input and net->truth (and
    // parameters changed on the host) onto the device.
    void (*upload_input)(dt_network *net);
    void (*layer_forward)(dt_network *net, dt_layer *l);
    // forward: after the last layer. The last layer's output back on the
    // host, the device synchronised (the host API holds after a forward).
    void (*download_output)(dt_network *net);
    // backward: before the last layer. A non-loss last layer's delta, which
    // the caller seeded on the host, onto the device.
    void (*upload_delta)(dt_network *net);
    void (*layer_backward)(dt_network *net, dt_layer *l);
    // backward: after the first trainable layer (gradients complete).
    void (*backward_done)(dt_network *net);
    // step: 1 to take it, 0 to skip it (mixed precision's loss scaler saw an
    // overflow); then the optimizer over each trainable tensor, the
    // parameters [offset, offset + n) of params / grads / opt_m / opt_v at
    // learning rate lr (net->opt: the rule, the step count); then step_end,
    // once net->weights_version counts the new weights.
    int (*step_begin)(dt_network *net);
    void (*step_params)(dt_network *net, float lr, size_t offset, size_t n);
    void (*step_end)(dt_network *net);
    // The optimizer moments were zeroed on the host: the backend's copies
    // too. May be NULL.
    void (*reset_optim)(dt_network *net);
    // dt_net_free: the backend's state freed (parameters back on the host
    // first). May be NULL.
    void (*release)(dt_network *net);
    // The next forward's input is `host` (page-locked batch x h x w x c
    // floats) instead of net->input, which is left as it was: the training
    // loop's batches without a host copy (dt_net_feed). May be NULL: the
    // backend then takes net->input, and dt_net_feed copies into it.
    void (*input_from)(dt_network *net, const float *host);
} dt_backend;

// The CPU backend (network.c): every network starts on it.
extern const dt_backend dt_backend_cpu;

#ifdef __cplusplus
}
#endif
#endif
