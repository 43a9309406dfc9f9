#include "base/common.h"
#include "base/rng_step.h"

#ifdef __linux__
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static __thread char err_buf[2048];

void dt_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
}

const char *dt_last_error(void) { return err_buf[0] ? err_buf : "unknown error"; }
void dt_clear_error(void) { err_buf[0] = 0; }

void dt_fatal_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "detector: fatal: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

void *dt_malloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) dt_fatal_at(file, line, "malloc(%zu bytes) failed: out of memory", n);
    return p;
}

void *dt_calloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) dt_fatal_at(file, line, "calloc(%zu x %zu bytes) failed: out of memory", n, size);
    return p;
}

void *dt_realloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) dt_fatal_at(file, line, "realloc(%zu bytes) failed: out of memory", n);
    return q;
}

float *dt_alloc_floats_at(size_t n, const char *file, int line) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        dt_fatal_at(file, line, "allocating %zu floats (%.1f MiB) failed: out of memory", n,
                    bytes / 1048576.0);
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

char *dt_strdup_at(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = dt_malloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

// The caller's (the command line maps DT_QUIET onto it, src/cli/env.c).
static int verbosity = 1;
void dt_set_verbosity(int v) { verbosity = v; }
int dt_verbosity(void) { return verbosity; }

void dt_log(const char *fmt, ...) {
    if (!dt_verbosity()) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

void dt_warn(const char *fmt, ...) {
    va_list ap;
    fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void dt_rng_seed(dt_rng *r, uint64_t seed) { dt_rng_state_seed(r->s, seed); }

void dt_rng_seed3(dt_rng *r, uint64_t a, uint64_t b, uint64_t c) {
    dt_rng_state_seed3(r->s, a, b, c);
}

uint64_t dt_rng_u64(dt_rng *r) { return dt_rng_state_next(r->s); }

float dt_rng_uniform(dt_rng *r) { return (float)(dt_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float dt_rng_range(dt_rng *r, float lo, float hi) { return lo + (hi - lo) * dt_rng_uniform(r); }

float dt_rng_normal(dt_rng *r) {
    // Box-Muller; u1 in (0, 1]
    double u1 = ((dt_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (dt_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

int dt_thread_background(void) {
#ifdef __linux__
    // Linux schedules threads one by one: with a thread id, both calls
    // change this thread only, and neither needs a privilege. SCHED_IDLE
    // runs it only on a core that nothing else wants; where that policy is
    // refused, the lowest nice value.
    const pid_t tid = (pid_t)syscall(SYS_gettid);
    struct sched_param sp = {0};
    if (sched_setscheduler(tid, SCHED_IDLE, &sp) == 0) return 0;
    return setpriority(PRIO_PROCESS, (id_t)tid, DT_BACKGROUND_NICE);
#else
    return -1;
#endif
}

double dt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
