// The device side of the CUDA emulator (tests/cuda_emu), force-included into
// every .cu file its nvcc compiles: qualifiers, the built-in indices, block
// barriers and launches. __shared__ arrays become static (one block runs at
// a time); a kernel with __syncthreads runs one fiber per thread, switching
// at each barrier; the others run thread by thread.
#ifndef DT_CUDA_EMU_DEV_H
#define DT_CUDA_EMU_DEV_H

#include <functional>

#include "cuda_runtime.h"

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(x)

extern dim3 threadIdx, blockIdx, blockDim, gridDim;
int emu_barrier(int pred);
static inline void __syncthreads(void) { emu_barrier(0); }
static inline int __syncthreads_or(int p) { return emu_barrier(p != 0); }
template <class T> static inline T atomicAdd(T *a, T v) {
    T old = *a;
    *a = old + v;
    return old;
}

void emu_run(dim3 grid, dim3 block, int barriers, const std::function<void()> &kernel);
// The arguments convert to the kernel's parameter types at the launch (as
// CUDA's do: NULL to a pointer) and are evaluated once.
template <class T> struct emu_id { typedef T type; };
template <class... P>
static void emu_launch(dim3 g, dim3 b, void (*k)(P...), typename emu_id<P>::type... a) {
    emu_run(g, b, 0, [=]() { k(a...); });
}
template <class... P>
static void emu_launch_sync(dim3 g, dim3 b, void (*k)(P...), typename emu_id<P>::type... a) {
    emu_run(g, b, 1, [=]() { k(a...); });
}

#endif
