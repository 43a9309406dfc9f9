// Internal helpers shared by every source file: errors a person can act on,
// checked allocation, logging, a small deterministic RNG.
#ifndef DT_COMMON_H
#define DT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------
// Errors. Library functions that can fail on user input return -1 (or NULL)
// and leave a message here; the CLI prints it and exits non-zero. The buffer
// is thread-local so loader threads can report independently.
void dt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *dt_last_error(void);
void dt_clear_error(void);

// Fatal internal failure (out of memory, a broken invariant): prints file:line
// and the failing call, then exits. Never used for bad user input.
void dt_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
#define dt_fatal(...) dt_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define DT_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) dt_fatal("assertion failed: %s", #cond);                  \
    } while (0)

void *dt_malloc_at(size_t n, const char *file, int line);
void *dt_calloc_at(size_t n, size_t size, const char *file, int line);
void *dt_realloc_at(void *p, size_t n, const char *file, int line);
// 64-byte aligned, zeroed: for tensors (AVX-512 lines).
float *dt_alloc_floats_at(size_t n, const char *file, int line);
char *dt_strdup_at(const char *s, const char *file, int line);
#define dt_malloc(n) dt_malloc_at((n), __FILE__, __LINE__)
#define dt_calloc(n, s) dt_calloc_at((n), (s), __FILE__, __LINE__)
#define dt_realloc(p, n) dt_realloc_at((p), (n), __FILE__, __LINE__)
#define dt_alloc_floats(n) dt_alloc_floats_at((n), __FILE__, __LINE__)
#define dt_strdup(s) dt_strdup_at((s), __FILE__, __LINE__)

// ---------------------------------------------------------------------------
// Logging to stderr; dt_set_verbosity(0) (the CLI: DT_QUIET=1, docs/ENV.md)
// silences informational lines, never errors.
void dt_set_verbosity(int v);
int dt_verbosity(void);
void dt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---------------------------------------------------------------------------
// RNG: splitmix64-seeded xoshiro128+-style generator. Each owner (network,
// loader thread, sample) has its own state: same seed, same numbers.
typedef struct {
    uint64_t s[2];
} dt_rng;
void dt_rng_seed(dt_rng *r, uint64_t seed);
// Derives an independent stream from several integers (seed, epoch, index).
void dt_rng_seed3(dt_rng *r, uint64_t a, uint64_t b, uint64_t c);
uint64_t dt_rng_u64(dt_rng *r);
float dt_rng_uniform(dt_rng *r);                  // [0, 1)
float dt_rng_range(dt_rng *r, float lo, float hi); // [lo, hi)
float dt_rng_normal(dt_rng *r);                   // N(0, 1)

double dt_now(void); // seconds, monotonic

// Makes the calling thread yield the CPU to the compute threads (Linux:
// SCHED_IDLE, else nice DT_BACKGROUND_NICE). For helper threads that share the
// cores with an OpenMP team (loader workers, demo capture and display): when
// one team member is preempted, the others wait for it at the next barrier,
// so a helper's few milliseconds cost the team up to twice that. A background
// thread still gets every idle cycle (a GPU run, the gaps between batches).
// 0, or -1 where not supported (nothing changes then).
#define DT_BACKGROUND_NICE 19
int dt_thread_background(void);

#ifdef __cplusplus
}
#endif
#endif
