// OpenDML AVI writer for Motion-JPEG frames (avi.h). Layout:
//
//   RIFF 'AVI '
//     LIST 'hdrl'  avih, LIST 'strl' (strh, strf, indx), LIST 'odml' (dmlh)
//     LIST 'movi'  00dc ... 00dc, ix00
//     idx1                                  (legacy index, first RIFF only)
//   RIFF 'AVIX'
//     LIST 'movi'  00dc ... 00dc, ix00      (one per further ~1 GiB)
//
// Sizes and counts unknown until the end are written as 0 and patched when a
// RIFF closes (its sizes) and on dt_avi_close (the headers' totals).
#include "media/avi.h"

#include "base/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SUPER_ENTRIES = 256 }; // indx capacity: RIFFs per file

struct dt_avi {
    FILE *f;
    char *path;
    int w, h;
    uint32_t rate, scale; // frames per second = rate / scale
    uint64_t riff_limit;
    // where the patched fields are
    uint64_t pos_avih, pos_strh, pos_indx, pos_dmlh;
    // the RIFF being written
    int n_riff;               // RIFFs begun
    uint64_t riff_pos;        // its 'RIFF'
    uint64_t movi_pos;        // its LIST 'movi'
    uint32_t *off, *len;      // its frames: data offset from movi_pos, JPEG size
    size_t n, cap;
    // totals
    uint64_t frames, frames_first_riff;
    uint32_t max_frame;
    uint64_t super_off[SUPER_ENTRIES];
    uint32_t super_size[SUPER_ENTRIES], super_dur[SUPER_ENTRIES];
};

static void put16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v), put16(p + 2, v >> 16); }
static void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v), put32(p + 4, (uint32_t)(v >> 32)); }
static void putcc(unsigned char *p, const char *cc) { memcpy(p, cc, 4); }

static int io_fail(dt_avi *a, const char *what) {
    dt_error("%s: %s failed: %s", a->path, what, errno ? strerror(errno) : "unknown error");
    return -1;
}

static int put(dt_avi *a, const void *p, size_t n) {
    errno = 0;
    return fwrite(p, 1, n, a->f) == n ? 0 : io_fail(a, "write");
}

static uint64_t tell(dt_avi *a) { return (uint64_t)ftello(a->f); }

static int seek(dt_avi *a, uint64_t pos) {
    errno = 0;
    return fseeko(a->f, (off_t)pos, SEEK_SET) == 0 ? 0 : io_fail(a, "seek");
}

// Overwrites 4 bytes at pos and returns to the end of the file.
static int patch32(dt_avi *a, uint64_t pos, uint32_t v) {
    unsigned char b[4];
    put32(b, v);
    if (seek(a, pos) || put(a, b, 4)) return -1;
    errno = 0;
    return fseeko(a->f, 0, SEEK_END) == 0 ? 0 : io_fail(a, "seek");
}

static int chunk_head(dt_avi *a, const char *cc, uint32_t size) {
    unsigned char b[8];
    putcc(b, cc), put32(b + 4, size);
    return put(a, b, 8);
}

static int list_head(dt_avi *a, const char *cc, uint32_t size, const char *type) {
    unsigned char b[12];
    putcc(b, cc), put32(b + 4, size), putcc(b + 8, type);
    return put(a, b, 12);
}

// avih, strh and indx, dmlh: written at open, rewritten on close with totals.
static void fill_avih(const dt_avi *a, unsigned char *b) {
    memset(b, 0, 56);
    put32(b, (uint32_t)llround(1e6 * a->scale / a->rate));        // dwMicroSecPerFrame
    put32(b + 4, (uint32_t)((uint64_t)a->max_frame * a->rate / a->scale)); // dwMaxBytesPerSec
    put32(b + 12, 0x10);                                             // AVIF_HASINDEX
    put32(b + 16, (uint32_t)a->frames_first_riff);                   // dwTotalFrames
    put32(b + 24, 1);                                                // dwStreams
    put32(b + 28, a->max_frame + 8);                                 // dwSuggestedBufferSize
    put32(b + 32, (uint32_t)a->w), put32(b + 36, (uint32_t)a->h);
}

static void fill_strh(const dt_avi *a, unsigned char *b) {
    memset(b, 0, 56);
    putcc(b, "vids"), putcc(b + 4, "MJPG");
    put32(b + 20, a->scale), put32(b + 24, a->rate);
    put32(b + 32, (uint32_t)a->frames);   // dwLength
    put32(b + 36, a->max_frame + 8);      // dwSuggestedBufferSize
    put32(b + 40, 0xFFFFFFFFu);           // dwQuality: default
    put16(b + 52, (uint32_t)a->w), put16(b + 54, (uint32_t)a->h); // rcFrame right, bottom
}

static void fill_indx(const dt_avi *a, unsigned char *b) {
    memset(b, 0, 24 + 16 * SUPER_ENTRIES);
    put16(b, 4);           // wLongsPerEntry
    b[3] = 0;              // bIndexType: AVI_INDEX_OF_INDEXES
    put32(b + 4, (uint32_t)a->n_riff);
    putcc(b + 8, "00dc");
    for (int i = 0; i < a->n_riff && i < SUPER_ENTRIES; i++) {
        unsigned char *e = b + 24 + 16 * i;
        put64(e, a->super_off[i]), put32(e + 8, a->super_size[i]), put32(e + 12, a->super_dur[i]);
    }
}

static int begin_riff(dt_avi *a) {
    if (a->n_riff >= SUPER_ENTRIES) {
        dt_error("%s: the video reached %d parts of %.0f MiB, the most one AVI's index holds",
                 a->path, SUPER_ENTRIES, a->riff_limit / 1048576.0);
        return -1;
    }
    if (a->n_riff > 0) {
        a->riff_pos = tell(a);
        if (list_head(a, "RIFF", 0, "AVIX")) return -1;
    }
    a->movi_pos = tell(a);
    if (list_head(a, "LIST", 0, "movi")) return -1;
    a->n = 0;
    a->n_riff++;
    return 0;
}

// The standard index of this RIFF's frames (ix00) closes its movi list; the
// first RIFF also gets idx1. Then the RIFF's and the list's sizes.
static int end_riff(dt_avi *a) {
    const int r = a->n_riff - 1;
    const uint64_t ix_pos = tell(a);
    const uint32_t ix_size = 24 + 8 * (uint32_t)a->n;
    unsigned char h[24];
    memset(h, 0, sizeof h);
    put16(h, 2);   // wLongsPerEntry
    h[3] = 1;      // bIndexType: AVI_INDEX_OF_CHUNKS
    put32(h + 4, (uint32_t)a->n);
    putcc(h + 8, "00dc");
    put64(h + 12, a->movi_pos); // qwBaseOffset
    if (chunk_head(a, "ix00", ix_size) || put(a, h, sizeof h)) return -1;
    for (size_t i = 0; i < a->n; i++) {
        unsigned char e[8];
        put32(e, a->off[i]), put32(e + 4, a->len[i]); // bit 31 clear: key frame
        if (put(a, e, 8)) return -1;
    }
    a->super_off[r] = ix_pos;
    a->super_size[r] = ix_size + 8;
    a->super_dur[r] = (uint32_t)a->n;
    const uint64_t movi_end = tell(a);
    if (r == 0) {
        a->frames_first_riff = a->n;
        if (chunk_head(a, "idx1", 16 * (uint32_t)a->n)) return -1;
        for (size_t i = 0; i < a->n; i++) {
            unsigned char e[16];
            putcc(e, "00dc"), put32(e + 4, 0x10); // AVIIF_KEYFRAME
            put32(e + 8, a->off[i] - 8 - 8);      // the chunk, from the 'movi' fourcc
            put32(e + 12, a->len[i]);
            if (put(a, e, 16)) return -1;
        }
    }
    const uint64_t end = tell(a);
    if (patch32(a, a->movi_pos + 4, (uint32_t)(movi_end - a->movi_pos - 8))) return -1;
    return patch32(a, a->riff_pos + 4, (uint32_t)(end - a->riff_pos - 8));
}

dt_avi *dt_avi_open(const char *path, int w, int h, double fps) {
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535 || !(fps > 0 && fps < 10000)) {
        dt_error("%s: cannot write a %dx%d video at %g frames/s", path, w, h, fps);
        return NULL;
    }
    dt_avi *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        dt_error("out of memory opening %s", path);
        return NULL;
    }
    a->w = w, a->h = h;
    // an integer rate exactly; else milli-frames (29.97 = 29970 / 1000)
    if (fabs(fps - round(fps)) < 1e-9) a->rate = (uint32_t)round(fps), a->scale = 1;
    else a->rate = (uint32_t)llround(fps * 1000), a->scale = 1000;
    a->riff_limit = 1ull << 30;
    errno = 0;
    if (!(a->f = fopen(path, "wb"))) {
        dt_error("%s: cannot open for writing: %s", path, strerror(errno));
        free(a->path);
        free(a);
        return NULL;
    }
    unsigned char avih[56], strh[56], strf[40], indx[24 + 16 * SUPER_ENTRIES], dmlh[248];
    const uint32_t strl = 4 + (8 + 56) + (8 + 40) + (8 + sizeof indx);
    const uint32_t odml = 4 + 8 + sizeof dmlh;
    const uint32_t hdrl = 4 + (8 + 56) + (8 + strl) + (8 + odml);
    fill_avih(a, avih);
    fill_strh(a, strh);
    memset(strf, 0, sizeof strf);
    put32(strf, 40), put32(strf + 4, (uint32_t)w), put32(strf + 8, (uint32_t)h);
    put16(strf + 12, 1), put16(strf + 14, 24), putcc(strf + 16, "MJPG");
    put32(strf + 20, (uint32_t)w * (uint32_t)h * 3);
    fill_indx(a, indx);
    memset(dmlh, 0, sizeof dmlh);
    int bad = list_head(a, "RIFF", 0, "AVI ") || list_head(a, "LIST", hdrl, "hdrl") ||
              chunk_head(a, "avih", 56);
    a->pos_avih = tell(a);
    bad = bad || put(a, avih, 56) || list_head(a, "LIST", strl, "strl") || chunk_head(a, "strh", 56);
    a->pos_strh = tell(a);
    bad = bad || put(a, strh, 56) || chunk_head(a, "strf", 40) || put(a, strf, 40) ||
          chunk_head(a, "indx", sizeof indx);
    a->pos_indx = tell(a);
    bad = bad || put(a, indx, sizeof indx) || list_head(a, "LIST", odml, "odml") ||
          chunk_head(a, "dmlh", sizeof dmlh);
    a->pos_dmlh = tell(a);
    bad = bad || put(a, dmlh, sizeof dmlh) || begin_riff(a);
    if (bad) {
        fclose(a->f);
        a->f = NULL;
        dt_avi_close(a);
        return NULL;
    }
    return a;
}

void dt_avi_set_riff_limit(dt_avi *a, uint64_t bytes) { a->riff_limit = bytes; }

int dt_avi_write_frame(dt_avi *a, const void *jpeg, size_t n) {
    if (n > 0x7fffffffu - 16) {
        dt_error("%s: a frame of %zu bytes is too large for AVI", a->path, n);
        return -1;
    }
    const uint64_t pad = n & 1;
    // what this RIFF will hold with this frame: its data, its index entries
    const uint64_t after = tell(a) + 8 + n + pad + 32 + 8 * (a->n + 1) +
                           (a->n_riff == 1 ? 8 + 16 * (a->n + 1) : 0) - a->riff_pos;
    if (a->n > 0 && after > a->riff_limit && (end_riff(a) || begin_riff(a))) return -1;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        uint32_t *o = realloc(a->off, cap * sizeof *o);
        if (o) a->off = o;
        uint32_t *l = o ? realloc(a->len, cap * sizeof *l) : NULL;
        if (!l) {
            dt_error("%s: out of memory for the index", a->path);
            return -1;
        }
        a->len = l, a->cap = cap;
    }
    const uint64_t data = tell(a) + 8;
    static const unsigned char zero = 0;
    if (chunk_head(a, "00dc", (uint32_t)n) || put(a, jpeg, n) || (pad && put(a, &zero, 1)))
        return -1;
    a->off[a->n] = (uint32_t)(data - a->movi_pos);
    a->len[a->n] = (uint32_t)n;
    a->n++;
    a->frames++;
    if (n > a->max_frame) a->max_frame = (uint32_t)n;
    return 0;
}

int dt_avi_close(dt_avi *a) {
    if (!a) return 0;
    int rc = 0;
    if (a->f) {
        unsigned char avih[56], strh[56], indx[24 + 16 * SUPER_ENTRIES], total[4];
        rc = end_riff(a);
        if (!rc) {
            fill_avih(a, avih), fill_strh(a, strh), fill_indx(a, indx);
            put32(total, (uint32_t)a->frames);
            rc = seek(a, a->pos_avih) || put(a, avih, 56) || seek(a, a->pos_strh) ||
                         put(a, strh, 56) || seek(a, a->pos_indx) || put(a, indx, sizeof indx) ||
                         seek(a, a->pos_dmlh) || put(a, total, 4)
                     ? -1
                     : 0;
        }
        errno = 0;
        if (fclose(a->f) != 0 && !rc) rc = io_fail(a, "close");
    }
    free(a->off);
    free(a->len);
    free(a->path);
    free(a);
    return rc;
}
