// Small helpers shared by the weights file (weights.c) and the training state
// (checkpoint.c): a FILE with a running CRC-32 and a sticky error flag, and
// length-prefixed strings; they are saved through the atomic save of fs.h.
// The formats are in docs/TRAIN.md.
#ifndef DT_BINIO_H
#define DT_BINIO_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/common.h"
#include "base/fs.h" // the atomic save

typedef struct {
    FILE *f;
    uint32_t crc; // zlib's crc32 (the same as Python's zlib.crc32) of the bytes so far
    int ok;       // 0 after the first short read or write
} dt_bio;

// zlib's crc32_z over a buffer of any size (zlib answers a NULL buffer with
// its initial value 0, not with crc: an empty buffer must change nothing).
static inline uint32_t dt_crc32(uint32_t crc, const void *p, size_t n) {
    if (!n) return crc;
    return (uint32_t)crc32_z(crc, (const Bytef *)p, n);
}

static inline void dt_bio_put(dt_bio *b, const void *p, size_t n) {
    if (!b->ok || !n) return; // (p may be NULL then: an empty history)
    b->ok = fwrite(p, 1, n, b->f) == n;
    b->crc = dt_crc32(b->crc, p, n);
}

static inline void dt_bio_get(dt_bio *b, void *p, size_t n) {
    if (!b->ok || !n) return;
    b->ok = fread(p, 1, n, b->f) == n;
    if (b->ok) b->crc = dt_crc32(b->crc, p, n);
}

// u32 length, then the bytes (no NUL).
static inline void dt_bio_put_str(dt_bio *b, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    dt_bio_put(b, &n, 4);
    dt_bio_put(b, s, n);
}

// Reads a string written by dt_bio_put_str (malloc'ed, NUL-terminated).
// NULL when the read fails (b->ok = 0) or the length is above max or the
// text holds a NUL (*bad = 1: a damaged file).
char *dt_bio_get_str(dt_bio *b, uint32_t max, int *bad);

#endif
