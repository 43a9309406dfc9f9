// Internal header of the CUDA backend (GPU=1 builds only): the network's
// device state, the device twin of any host tensor, and checked calls that
// name the call, the layer, file and line.
//
// Device memory mirrors the host exactly: one cudaMalloc each for the
// parameters, gradients, Adam/SGD moments and the activation arena, at the
// same offsets as their host allocations. So a layer's GPU twin finds the
// device copy of ANY host buffer it was given at parse time (l->output,
// l->delta, a private dt_layer_add_buffer, a parameter's w or g) with
// dt_dev(net, host_pointer): no second set of pointers, no change to the
// layers' parse code. State that exists only on the GPU (cuDNN descriptors,
// reordered filters, a pre-BN buffer) is the layer's l->priv_gpu, built on
// its first call and freed with the network.
#ifndef DT_CUDA_GPU_NET_H
#define DT_CUDA_GPU_NET_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#ifdef DT_CUDNN
#include <cudnn.h>
#endif

#include "engine/amp.h"
#include "base/common.h"
#include "engine/gpu.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_gpu_net {
    int device;
    float *params, *grads, *opt_m, *opt_v; // (n_params) each; grads.. NULL w/o grads
    float *arena;                          // (n_act) twin of net->arena
    float *scratch;                        // (scratch_n) BN/bias partial sums
    size_t scratch_n;
    void *ws; // cuDNN workspace, shared by every layer (one stream)
    size_t ws_bytes;
    size_t ws_limit; // largest workspace an algorithm may ask for
    cublasHandle_t blas;
#ifdef DT_CUDNN
    cudnnHandle_t dnn;
#else
    void *dnn; // same layout in every translation unit
#endif
    int tf32;
    // Mixed precision (dt_amp_mode): convolutions and GEMMs read 16-bit copies
    // of their FP32 inputs (made in lp[], the 16-bit scratch: 0 an input, 1 an
    // output or output gradient, 2 an input gradient); FP32 master weights,
    // FP32 everywhere else. lp_src[k] is the FP32 tensor lp[k] holds a copy of,
    // valid within one layer's call (the dispatch clears it).
    int amp;
    dt_loss_scaler scaler;
    uint16_t *lp[3];
    size_t lp_n[3];
    const float *lp_src[3];
    size_t lp_len[3];
    int *nonfinite; // (2) device flags: [0] an unscaled gradient was not finite, [1] a sink
    uint64_t synced_ver; // weights_version the device holds
    int host_stale;      // the device's parameters are newer than the host's
    float *pinned;       // host span input..truth page-locked (cudaHostRegister), or NULL
    int input_unchanged; // skip the next forward's input/truth upload (bench)
    const float *input_src; // the next forward's input on the host (NULL: net->input)
    // Input transfer overlap: the input and truth go up on their own
    // (non-blocking) stream into `staging`, while the previous iteration's
    // backward and step still run on the compute stream; the compute stream
    // waits for `uploaded` and copies staging into the arena (device to
    // device). NULL stream: uploads on the compute stream (DT_GPU_COPY_STREAM=0).
    cudaStream_t copy_stream;
    cudaEvent_t uploaded;
    float *staging; // (input + truth floats)
    struct dt_gpu_prof *prof; // DT_GPU_PROFILE: event marks of one iteration, or NULL
    float *ema; // (n_params) the trainer's weight EMA (dt_net_gpu_ema_put), or NULL
} dt_gpu_net;

// Private GPU state of a layer starts with this header.
typedef struct dt_gpu_priv {
    void (*destroy)(void *self);
} dt_gpu_priv;

// The layer the dispatch loop is running (-1: none), for error messages.
extern int dt_gpu_cur_layer;
extern const char *dt_gpu_cur_name;
// The GPU network being run (set by the dispatch), whose shared scratch the
// kernels that need one (BN, bias gradients) use.
extern dt_network *dt_gpu_cur_net;

// Device twin of a host pointer into net->arena / params / grads / opt_m /
// opt_v; NULL for NULL. Any other pointer is a broken invariant (fatal).
float *dt_dev(const dt_network *net, const float *host);
// Device twins of the usual host accessors.
float *dt_layer_in_gpu(dt_network *net, const dt_layer *l, int k);
float *dt_layer_in_delta_gpu(dt_network *net, const dt_layer *l, int k);

// cudaMalloc that reports, on failure, the request, the free and total
// memory, the layer, and suggests a smaller batch. Fatal (it runs mid-run).
void *dt_gpu_alloc(size_t bytes, const char *what);
void dt_gpu_free(void *p);
// The shared cuDNN workspace grown to at least `bytes` (fatal on failure).
void *dt_gpu_workspace(dt_network *net, size_t bytes);
// The shared scratch for partial sums, at least n floats (net NULL: the
// current network).
float *dt_gpu_scratch(dt_network *net, size_t n);

// Mixed precision: 16-bit scratch k (0-2) of at least n elements (grown while
// the first iteration meets new sizes); its content is then the caller's.
uint16_t *dt_gpu_lowp(dt_network *net, int k, size_t n);
// The 16-bit copy of device tensor x (n floats) in scratch k, made unless
// scratch k already holds it in this layer's call.
const uint16_t *dt_gpu_lowp_of(dt_network *net, int k, const float *x, size_t n);

void dt_cuda_check_at(int err, const char *call, const char *file, int line);
void dt_cublas_check_at(int st, const char *call, const char *file, int line);
#ifdef DT_CUDNN
void dt_cudnn_check_at(cudnnStatus_t st, const char *call, const char *file, int line);
#define DT_CUDNN_CHECK(call) dt_cudnn_check_at((call), #call, __FILE__, __LINE__)
#endif
#define DT_CUDA_CHECK(call) dt_cuda_check_at((int)(call), #call, __FILE__, __LINE__)
#define DT_CUBLAS_CHECK(call) dt_cublas_check_at((int)(call), #call, __FILE__, __LINE__)
// After a kernel launch: the launch error (bad configuration); with
// DT_GPU_SYNC=1 also synchronises so an asynchronous fault names its kernel.
void dt_cuda_launch_check_at(const char *kernel, const char *file, int line);
#define DT_LAUNCH_CHECK(name) dt_cuda_launch_check_at((name), __FILE__, __LINE__)

// The CUDA backend (engine/backend.h), which dt_net_gpu_enable installs.
extern const struct dt_backend dt_backend_cuda;

// A layer's GPU private state: the existing one, or NULL (then build it).
static inline void *dt_gpu_priv_of(const dt_layer *l) { return l->priv_gpu; }

// Runs one layer's CPU forward/backward inside a GPU network: inputs and
// parameters down, outputs (and running statistics) up; backward likewise
// for deltas and gradients. The convolutions' twins without cuDNN.
void dt_gpu_layer_forward_on_cpu(dt_layer *l, dt_network *net);
void dt_gpu_layer_backward_on_cpu(dt_layer *l, dt_network *net);

#ifdef __cplusplus
}
#endif
#endif
