#include "gpu.h"

#include "common.h"

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
#endif
