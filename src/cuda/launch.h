// Launch shapes shared by the CUDA files: NT threads a block, a grid that
// covers n elements (capped at 2^20 blocks: GRID_LOOP strides over the
// rest, so a launch never depends on the tensor fitting a grid).
#ifndef DT_CUDA_LAUNCH_H
#define DT_CUDA_LAUNCH_H

#include <stddef.h>

#define NT 256 // a power of two: the per-block tree reductions rely on it

static inline unsigned blocks_for(size_t n) {
    size_t b = (n + NT - 1) / NT;
    if (b < 1) b = 1;
    return (unsigned)(b > (1u << 20) ? (1u << 20) : b);
}

#define GRID_LOOP(i, n)                                                                    \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);               \
         i += (size_t)gridDim.x * blockDim.x)

#endif
