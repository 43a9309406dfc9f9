// The CUDA side's entry points. Built with GPU=1 (DT_GPU) they talk to the
// CUDA runtime, cuBLAS and cuDNN; otherwise they report that the build has
// no GPU. Layer kernels have twins with the CPU functions' signatures
// (dt_layer_ops.forward_gpu / backward_gpu, src/layers/*.cu); the network's
// GPU mode lives in src/cuda/gpu_net.c (docs/GPU.md).
#ifndef DT_GPU_H
#define DT_GPU_H

#include <stddef.h>
#include <stdio.h>

#include "data/loader.h" // dt_pin_ops

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

// --- network GPU mode -------------------------------------------------------
typedef struct dt_network dt_network;
// Moves a built network onto GPU `device`: device twins of its parameters,
// gradients, optimizer moments and activation arena (one allocation each),
// cuBLAS/cuDNN handles, parameters uploaded. From then on dt_net_forward /
// backward / step / reset_optim run there. 0, or -1 with dt_error (no GPU,
// out of memory: says how much was asked and what is free).
int dt_net_gpu_enable(dt_network *net, int device);
// Back to the CPU: parameters pulled to the host, device memory freed.
void dt_net_gpu_disable(dt_network *net);
// Parameters (with BN running statistics) and optimizer moments: device ->
// host (before saving a checkpoint or reading weights on the host) and
// host -> device (after changing them on the host; forward also uploads by
// itself when net->weights_version moved). No-ops on a CPU network.
void dt_net_pull(dt_network *net);
void dt_net_push(dt_network *net);
// Copies the device twin of host tensor `host` (n floats inside the arena or
// the parameter/gradient/moment allocations) into `host`. Tests and debugging.
void dt_net_gpu_fetch(dt_network *net, float *host, size_t n);
// The other way: `host` (n floats, same rule) onto its device twin.
void dt_net_gpu_put(dt_network *net, const float *host, size_t n);
// The device address of host tensor `host` (same rule); NULL on a CPU
// network. For src/dist/'s NCCL all-reduces of the gradients.
float *dt_net_gpu_twin(dt_network *net, const float *host);
// The trainer's weight EMA (train/schedule.h, dt_wema_net) on the device:
// _put uploads the host copy ema (n_params floats; the device buffer is
// allocated on first use, freed with the GPU state), _step takes one update
// ema += (1 - d) * (params - ema) there, _fetch downloads it into ema.
// No-ops on a CPU network.
void dt_net_gpu_ema_put(dt_network *net, const float *ema);
void dt_net_gpu_ema_step(dt_network *net, double d);
void dt_net_gpu_ema_fetch(dt_network *net, float *ema);
// Declares net->input and net->truth unchanged since the last forward, so
// the next GPU forward skips their upload (a benchmark on a fixed batch, as
// PyTorch's keeps its input on the device). Cleared by that forward.
void dt_net_gpu_input_unchanged(dt_network *net);
// dt_gpu_opts.profile (the CLI: DT_GPU_PROFILE=1): time each layer type's forward / backward and the
// transfers and step of the next iteration with CUDA events, then print the
// table to stderr (dt_net_gpu_profile_print). No-op without a GPU.
void dt_net_gpu_profile_print(dt_network *net);
// TF32 for convolutions (cuDNN) and GEMMs (cuBLAS): 0 = strict FP32 (the
// default), 1 = TF32 tensor cores (dt_gpu_opts.tf32 at enable time).
void dt_net_gpu_set_tf32(dt_network *net, int on);
// Mixed precision (docs/GPU.md): mode 0 off (the default), 1 FP16, 2 BF16
// (sm_80+). Convolutions and GEMMs run on 16-bit copies of their inputs and
// of the FP32 master weights, with FP32 accumulation; everything else stays
// FP32. init_scale > 0: dynamic loss scaling from that scale; 0: the mode's
// default (FP16 dynamic from 65536, BF16 none); < 0: none (dt_gpu_opts.amp
// and .loss_scale at enable time). 0, or -1 with
// dt_error (a CPU network, BF16 on an older GPU).
int dt_net_gpu_set_amp(dt_network *net, int mode, float init_scale);
// The mode, the current loss scale and the steps skipped for overflow.
int dt_net_gpu_amp(const dt_network *net, float *scale, long *skipped);
// Page-locks host memory for DMA to the GPU (cudaHostRegister), as
// PyTorch's pin_memory: 1 when it did, 0 when it did not (no GPU, a CPU
// build, dt_gpu_opts.no_pin, or the driver refused: the memory stays pageable and
// usable). Both the network's input span and the loader's batches use it.
int dt_gpu_pin(void *p, size_t bytes);
void dt_gpu_unpin(void *p);
// The two for a loader (dt_loader_opts.pin).
extern const dt_pin_ops dt_gpu_pin_ops;
// What a loader feeding `net` page-locks with: dt_gpu_pin_ops on a GPU
// network (unless dt_gpu_opts.no_pin), else NULL (pageable batches).
const dt_pin_ops *dt_net_pin_ops(const dt_network *net);
// Waits for all work queued on the current GPU (timing). No-op on the CPU.
void dt_gpu_sync(void);
// Device memory in use and total, bytes (cudaMemGetInfo). 0 / -1.
int dt_gpu_mem_info(size_t *used, size_t *total);

#ifdef __cplusplus
}
#endif
#endif
