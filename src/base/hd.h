// DT_HD marks a function that the host and the device both compile: the
// per-element formulas that the CPU loops and the CUDA kernels share, so
// each exists once (__host__ __device__ under nvcc, nothing in C).
#ifndef DT_BASE_HD_H
#define DT_BASE_HD_H

#ifdef __CUDACC__
#define DT_HD __host__ __device__
#else
#define DT_HD
#endif

#endif
