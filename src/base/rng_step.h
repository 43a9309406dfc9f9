// The RNG's steps (splitmix64 seeding, xoroshiro128+), once for the host
// and the device: common.c's dt_rng calls them, and so does the dropout
// mask on the GPU (engine/dropout_mask.h), which must draw the CPU's numbers.
#ifndef DT_BASE_RNG_STEP_H
#define DT_BASE_RNG_STEP_H

#include <stdint.h>

#include "base/hd.h"

static inline DT_HD uint64_t dt_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The state s[2] from one seed (never all zero).
static inline DT_HD void dt_rng_state_seed(uint64_t s[2], uint64_t seed) {
    uint64_t x = seed;
    s[0] = dt_splitmix64(&x);
    s[1] = dt_splitmix64(&x);
    if (!s[0] && !s[1]) s[1] = 1;
}

// An independent stream from several integers (seed, epoch, index).
static inline DT_HD void dt_rng_state_seed3(uint64_t s[2], uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = a;
    uint64_t h = dt_splitmix64(&x);
    x = h ^ b;
    h = dt_splitmix64(&x);
    x = h ^ c;
    dt_rng_state_seed(s, dt_splitmix64(&x));
}

// xoroshiro128+
static inline DT_HD uint64_t dt_rng_state_next(uint64_t s[2]) {
    uint64_t s0 = s[0], s1 = s[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
    s[1] = (s1 << 37) | (s1 >> 27);
    return result;
}

#endif
