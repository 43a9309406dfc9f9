// The CUDA side's entry points. Built with GPU=1 (DT_GPU) they talk to the
// CUDA runtime, cuBLAS and cuDNN; otherwise they report that the build has
// no GPU. Layer kernels get twins with the CPU functions' signatures
// (dt_layer_ops.forward_gpu / backward_gpu) when the CUDA backend lands.
#ifndef DT_GPU_H
#define DT_GPU_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

// Number of usable GPUs (0 without GPU=1 or without a device).
int dt_gpu_count(void);
// Selects device `index`; 0 / -1 with dt_error naming the call and device.
int dt_gpu_select(int index);
// One line per device plus library versions (runtime, cuBLAS, cuDNN).
void dt_gpu_print_info(FILE *f);
// Self-check of the toolchain: a kernel fills a device buffer, the host
// reads it back. 0 on success.
int dt_gpu_selftest(void);

#ifdef __cplusplus
}
#endif
#endif
