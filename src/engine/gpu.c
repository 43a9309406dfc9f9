#include "engine/gpu.h"

#include "base/common.h"
#include "engine/network.h"

#include <stdlib.h>

#ifdef DT_GPU
#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef DT_CUDNN
#include <cudnn.h>
#endif

// Implemented in gpu_kernels.cu.
int dt_gpu_fill_check(float value, size_t n);

int dt_gpu_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}

int dt_gpu_select(int index) {
    int n = dt_gpu_count();
    if (index < 0 || index >= n) {
        dt_error("GPU %d requested, %d available", index, n);
        return -1;
    }
    cudaError_t e = cudaSetDevice(index);
    if (e != cudaSuccess) {
        dt_error("cudaSetDevice(%d) failed: %s", index, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

void dt_gpu_print_info(FILE *f) {
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    fprintf(f, "CUDA runtime %d, driver %d", rt, drv);
#ifdef DT_CUDNN
    fprintf(f, ", cuDNN %zu", (size_t)cudnnGetVersion());
#endif
    fprintf(f, "\n");
    int n = dt_gpu_count();
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        fprintf(f, "GPU %d: %s, sm_%d%d, %.1f GiB\n", i, p.name, p.major, p.minor,
                p.totalGlobalMem / 1073741824.0);
    }
    if (!n) fprintf(f, "no GPU visible\n");
}

void dt_gpu_sync(void) { cudaDeviceSynchronize(); }

int dt_gpu_pin(void *p, size_t bytes) {
    if (!p || !bytes || dt_gpu_count() == 0) return 0; // dt_gpu_opts.no_pin: callers don't ask
    if (cudaHostRegister(p, bytes, cudaHostRegisterDefault) == cudaSuccess) return 1;
    cudaGetLastError(); // pageable copies still work
    return 0;
}

void dt_gpu_unpin(void *p) {
    if (p) cudaHostUnregister(p);
}

int dt_gpu_mem_info(size_t *used, size_t *total) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) return -1;
    *used = tot - fr;
    *total = tot;
    return 0;
}

int dt_gpu_selftest(void) {
    if (dt_gpu_count() == 0) {
        dt_error("no GPU visible to the CUDA runtime");
        return -1;
    }
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        dt_error("cublasCreate failed");
        return -1;
    }
    cublasDestroy(h);
#ifdef DT_CUDNN
    cudnnHandle_t dh;
    if (cudnnCreate(&dh) != CUDNN_STATUS_SUCCESS) {
        dt_error("cudnnCreate failed");
        return -1;
    }
    cudnnDestroy(dh);
#endif
    return dt_gpu_fill_check(3.5f, 1 << 20);
}

#else // !DT_GPU

int dt_gpu_count(void) { return 0; }
int dt_gpu_select(int index) {
    dt_error("GPU %d requested, but detector was built without GPU support (make GPU=1 "
             "CUDNN=1)",
             index);
    return -1;
}
void dt_gpu_print_info(FILE *f) { fprintf(f, "built without GPU support (make GPU=1 CUDNN=1)\n"); }
int dt_gpu_selftest(void) {
    dt_error("built without GPU support (make GPU=1 CUDNN=1)");
    return -1;
}
// A CPU build has no GPU mode: net->gpu stays 0, so the dispatch never calls
// the run functions; enabling reports why it cannot.
int dt_net_gpu_enable(dt_network *net, int device) {
    (void)net;
    return dt_gpu_select(device);
}
void dt_net_gpu_disable(dt_network *net) { (void)net; }
void dt_net_pull(dt_network *net) { (void)net; }
void dt_net_push(dt_network *net) { (void)net; }
void dt_net_gpu_fetch(dt_network *net, float *host, size_t n) {
    (void)net, (void)host, (void)n;
}
void dt_net_gpu_put(dt_network *net, const float *host, size_t n) {
    (void)net, (void)host, (void)n;
}
float *dt_net_gpu_twin(dt_network *net, const float *host) {
    (void)net, (void)host;
    return NULL;
}

void dt_net_gpu_ema_put(dt_network *net, const float *ema) { (void)net, (void)ema; }
void dt_net_gpu_ema_step(dt_network *net, double d) { (void)net, (void)d; }
void dt_net_gpu_ema_fetch(dt_network *net, float *ema) { (void)net, (void)ema; }
void dt_net_gpu_input_unchanged(dt_network *net) { (void)net; }
void dt_net_gpu_profile_print(dt_network *net) { (void)net; }
void dt_net_gpu_set_tf32(dt_network *net, int on) { (void)net, (void)on; }
int dt_net_gpu_set_amp(dt_network *net, int mode, float init_scale) {
    (void)net, (void)init_scale;
    if (mode == 0) return 0;
    dt_error("mixed precision needs a GPU build (make GPU=1 CUDNN=1) and a GPU network");
    return -1;
}
int dt_net_gpu_amp(const dt_network *net, float *scale, long *skipped) {
    (void)net;
    if (scale) *scale = 1.0f;
    if (skipped) *skipped = 0;
    return 0;
}
void dt_gpu_sync(void) {}
int dt_gpu_pin(void *p, size_t bytes) {
    (void)p, (void)bytes;
    return 0;
}
void dt_gpu_unpin(void *p) { (void)p; }
int dt_gpu_mem_info(size_t *used, size_t *total) {
    *used = *total = 0;
    return -1;
}
#endif

const dt_pin_ops dt_gpu_pin_ops = {dt_gpu_pin, dt_gpu_unpin};

const dt_pin_ops *dt_net_pin_ops(const dt_network *net) {
    return net->gpu && !net->gpu_opts.no_pin ? &dt_gpu_pin_ops : NULL;
}
