// The dropout mask, once for [dropout], [stdconv] and their GPU twins
// (cuda/kernels_gpu.cu): one 64-bit draw of net->rng per forward seeds an
// independent stream per chunk of DT_DROPOUT_CHUNK elements (salted, so it
// is not another consumer's stream), so the mask depends on that seed only,
// not on the number of threads or the device.
#ifndef DT_ENGINE_DROPOUT_MASK_H
#define DT_ENGINE_DROPOUT_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng_step.h"

#define DT_DROPOUT_CHUNK 4096
#define DT_DROPOUT_SALT 0x64726f70 // "drop"

// Chunks covering n elements.
static inline DT_HD size_t dt_dropout_chunks(size_t n) {
    return (n + DT_DROPOUT_CHUNK - 1) / DT_DROPOUT_CHUNK;
}

// Inverted dropout with drop probability p: mask[i] of chunk k (elements
// [k * CHUNK, min((k + 1) * CHUNK, n))) is 0 or 1 / (1 - p). An element is
// kept iff a 24-bit uniform integer is < (1 - p) * 2^24; two per 64-bit draw
// (xoroshiro's high bits are its best). Returns the chunk's end.
static inline DT_HD size_t dt_dropout_chunk(float *mask, size_t n, size_t k, uint64_t seed,
                                           float p) {
    const float keep = 1.0f - p, scale = 1.0f / keep;
    const float thresh = keep * 16777216.0f;
    uint64_t s[2];
    dt_rng_state_seed3(s, seed, k, DT_DROPOUT_SALT);
    size_t i1 = (k + 1) * DT_DROPOUT_CHUNK < n ? (k + 1) * DT_DROPOUT_CHUNK : n;
    for (size_t i = k * DT_DROPOUT_CHUNK; i < i1; i += 2) {
        uint64_t u = dt_rng_state_next(s);
        mask[i] = (float)(u >> 40) < thresh ? scale : 0.0f;
        if (i + 1 < i1) mask[i + 1] = (float)((u >> 16) & 0xffffff) < thresh ? scale : 0.0f;
    }
    return i1;
}

#endif
