// The toolchain self-check of `detector gpuinfo` (dt_gpu_selftest, gpu.c):
// fill a device buffer and read it back. The layers' kernels live beside
// their layers (src/layers/*.cu) and in src/cuda/.
#include <cuda_runtime.h>

#include "base/common.h"

__global__ static void fill_kernel(float *x, size_t n, float v) {
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) x[i] = v;
}

extern "C" int dt_gpu_fill_check(float value, size_t n) {
    float *d = NULL;
    cudaError_t e = cudaMalloc(&d, n * sizeof(float));
    if (e != cudaSuccess) {
        dt_error("cudaMalloc(%zu bytes) failed: %s", n * sizeof(float), cudaGetErrorString(e));
        return -1;
    }
    fill_kernel<<<(unsigned)((n + 255) / 256), 256>>>(d, n, value);
    float *h = (float *)dt_malloc(n * sizeof(float));
    e = cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (size_t i = 0; i < n && e == cudaSuccess; i++) bad += h[i] != value;
    free(h);
    cudaFree(d);
    if (e != cudaSuccess) {
        dt_error("fill kernel / cudaMemcpy failed: %s", cudaGetErrorString(e));
        return -1;
    }
    if (bad) {
        dt_error("fill kernel wrote %d wrong values", bad);
        return -1;
    }
    return 0;
}
