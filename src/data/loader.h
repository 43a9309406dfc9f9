// The batch loader: N worker threads build whole batches ahead of training
// into a bounded ring of batch buffers (condition variables, no busy-wait)
// and hand them out in order. Epochs run without replacement, shuffled by
// (seed, epoch); every sample's randomness comes from (seed, epoch, index),
// so the same seed gives the same batches whatever the thread count.
#ifndef DT_DATA_LOADER_H
#define DT_DATA_LOADER_H

#include "data/batch.h"
#include "data/data.h"
#include "data/transform.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif


// How a loader page-locks its batches (the GPU backend's; the loader knows
// no device). pin returns 1 when the memory was locked.
typedef struct {
    int (*pin)(void *p, size_t bytes);
    void (*unpin)(void *p);
} dt_pin_ops;

typedef struct {
    int batch;          // images per batch
    int width, height;  // network input
    int threads;        // worker threads; 0 = number of cores
    int queue;          // batches ready ahead; 0 = threads + 2
    uint64_t seed;
    int shuffle;        // 1: a new order each epoch
    int augment;        // 0: only resize + normalise (validation)
    int epochs;         // 0: endless; else dt_loader_next returns NULL after them
    // Page-locks the batches' images for DMA to a GPU, as PyTorch's
    // pin_memory: the engine's dt_gpu_pin_ops (engine/gpu.h), set by train
    // and valid on a GPU network; NULL: pageable memory.
    const dt_pin_ops *pin;
    dt_augment aug;
    // 1: an image that cannot be read (warned about, counted) gives its place
    // in the batch to another sample, drawn from (seed, epoch, batch) and
    // augmented from its own stream, so batches stay full and a seeded run
    // stays reproducible whatever the thread count (training). 0: it is left
    // out and the batch is short (validation: no image is counted twice).
    int refill;
    // (dataset n,) optional DT_IMG_* flags per sample, zeroed by the caller
    // and kept across loaders (one loader per pass), so that each bad image
    // is tried, warned about and counted once per run. NULL: the loader's own.
    unsigned char *state;
    // Data-parallel sharding (docs/DISTRIBUTED.md), as torch's
    // DistributedSampler: the epoch's one order (from seed, the same on
    // every rank) is read as a list; rank `rank` of `world` takes places
    // rank, rank + world, ... shard_pad = 1 (training): the list is first
    // padded to a multiple of world by repeating it from its start, so
    // every rank has as many samples (and batches); 0 (validation): no
    // sample twice, shards differ by at most one. world <= 1: no sharding.
    int rank, world, shard_pad;
} dt_loader_opts;

// Samples in rank's shard of n (see dt_loader_opts.rank).
int dt_loader_shard_size(int n, int rank, int world, int pad);

enum { DT_IMG_SEEN = 1, DT_IMG_FAILED = 2 };
// Samples flagged DT_IMG_FAILED in a state array of n.
int dt_loader_count_failed(const unsigned char *state, int n);

void dt_loader_opts_defaults(dt_loader_opts *o);
// The defaults, then a network's input: batches of `batch` images of w x h,
// with its augmentation settings. eval = 1: one epoch, in order, without
// augmentation (validation, and the commands that show what it sees).
void dt_loader_opts_net(dt_loader_opts *o, int batch, int w, int h, const dt_augment *aug,
                        int eval);

typedef struct dt_loader dt_loader;

// The dataset must outlive the loader. Warnings about bad images go to `w`
// (may be NULL: stderr only). The data set's max_pixels (0: the default)
// caps the images it decodes. NULL + dt_error on bad options.
dt_loader *dt_loader_new(const dt_dataset *d, const dt_loader_opts *o, dt_warnings *w);
// The next batch, in order. It stays valid until the next call (which hands
// its buffer back to the workers). NULL after the last epoch. Images that
// fail to load are warned about once, counted, and replaced (opts.refill) or
// left out of their batch (so b->n may be below b->want); a batch left empty
// is not handed out at all - an epoch's end is then seen as b->epoch changing.
dt_batch *dt_loader_next(dt_loader *L);
int dt_loader_batches_per_epoch(const dt_loader *L);
int dt_loader_skipped(dt_loader *L); // distinct images this loader found unreadable
void dt_loader_free(dt_loader *L);

// One sample, without threads (the workers call this too): decode, transform
// and normalise into img (out_h, out_w, 3); its objects mapped into input
// pixels, clipped, dropped when under a pixel, into objs (capacity >=
// s->n_obj); *largest indexes objs (-1 if none). A declared size that
// disagrees with the image is warned about when warn_size is set; the image
// wins. 0, or -1 with dt_error naming the file.
int dt_sample_load(dt_image_ctx *ctx, const dt_sample *s, const dt_augment *a, int augment,
                   int out_w, int out_h, dt_rng *r, float *img, dt_object *objs, int *n_objs,
                   int *largest, int *orig_w, int *orig_h, dt_warnings *w, int warn_size);

#ifdef __cplusplus
}
#endif
#endif
