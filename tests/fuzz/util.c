// See util.h.
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/common.h"
#include "media/image.h"

#define FZ_SLOTS 4

static int fds[FZ_SLOTS] = {-1, -1, -1, -1};
static char paths[FZ_SLOTS][64];

const char *fz_file(int slot, const uint8_t *data, size_t size) {
    if (slot < 0 || slot >= FZ_SLOTS) abort();
    if (fds[slot] < 0) {
        char name[16];
        snprintf(name, sizeof name, "fuzz%d", slot);
        fds[slot] = memfd_create(name, 0);
        if (fds[slot] < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fds[slot], data + off, size - off, (off_t)off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    return paths[slot];
}

static char tmpdir[64];

static void rm_tmpdir(void) {
    if (!tmpdir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", tmpdir);
}

const char *fz_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/dt_fuzz.XXXXXX", t && strlen(t) < 40 ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

void fz_write(const char *name, const void *text, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
}

void fz_init(void) {
    dt_set_verbosity(0);
    setenv("OMP_NUM_THREADS", "1", 0);
    dt_image_set_threads(1);
}
