// Files and paths (fs.h).
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"

// --- reading ------------------------------------------------------------------------

static const char *file_kind(mode_t m) {
    return S_ISDIR(m)                  ? "a directory"
           : S_ISCHR(m) || S_ISBLK(m)  ? "a device"
           : S_ISFIFO(m)               ? "a pipe"
           : S_ISSOCK(m)               ? "a socket"
                                       : "not a regular file";
}

char *dt_read_file(const char *path, const char *what, size_t max, size_t *len) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        dt_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        dt_error("cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        dt_error("%s: the %s is %s (only a regular file is read)", path, what,
                 file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    if (max && st.st_size > (off_t)max) {
        dt_error("%s: the %s is too large (%lld bytes; at most %zu)", path, what,
                 (long long)st.st_size, max);
        close(fd);
        return NULL;
    }
    // read to the end, whatever the size said (the file may change), up to max + 1
    const size_t limit = max ? max + 2 : (size_t)-1;
    size_t cap = (size_t)st.st_size + 2, n = 0;
    if (cap < 64) cap = 64;
    if (cap > limit) cap = limit;
    char *buf = dt_malloc(cap);
    for (;;) {
        if (n + 1 == cap) {
            if (max && n > max) break;
            cap = 2 * cap < limit ? 2 * cap : limit;
            buf = dt_realloc(buf, cap);
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            dt_error("cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    if (max && n > max) {
        free(buf);
        dt_error("%s: the %s is too large (more than %zu bytes)", path, what, max);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

// --- paths --------------------------------------------------------------------------

char *dt_path_join_dir(const char *base_file, const char *e) {
    if (e[0] == '/' || !base_file) return dt_strdup(e);
    const char *slash = strrchr(base_file, '/');
    if (!slash) return dt_strdup(e);
    size_t dl = (size_t)(slash - base_file) + 1;
    char *p = dt_malloc(dl + strlen(e) + 1);
    memcpy(p, base_file, dl);
    strcpy(p + dl, e);
    return p;
}

char *dt_path_join(const char *dir, const char *e) {
    if (e[0] == '/') return dt_strdup(e);
    size_t dl = strlen(dir);
    char *p = dt_malloc(dl + strlen(e) + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    strcpy(p + dl + 1, e);
    return p;
}

void dt_path_stem(const char *path, char *out, size_t n) {
    if (!n) return;
    if (!path) path = "";
    const char *s = strrchr(path, '/');
    snprintf(out, n, "%s", s ? s + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

// --- folders ------------------------------------------------------------------------

int dt_mkdirs(const char *dir) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        dt_error("folder name too long: %s", dir);
        return -1;
    }
    if (!buf[0]) return 0;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            dt_error("cannot create the folder %s: %s", buf, strerror(errno));
            return -1;
        }
        if (!c) break;
        *p = c;
    }
    return 0;
}

int dt_mkdirs_parent(const char *path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        dt_error("path too long: %s", path);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    return dt_mkdirs(dir);
}

// --- the atomic save ----------------------------------------------------------------

FILE *dt_atomic_open(const char *path, const char *what, char **tmp) {
    size_t plen = strlen(path) + 32;
    *tmp = dt_malloc(plen);
    snprintf(*tmp, plen, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(*tmp, "wb");
    if (!f) {
        dt_error("%s: cannot write the %s: %s", *tmp, what, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

int dt_atomic_commit(FILE *f, char *tmp, const char *path, const char *what, int ok) {
    int err = 0;
    if (ok && (fflush(f) != 0 || fsync(fileno(f)) != 0)) ok = 0, err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
    if (!ok) {
        if (!err) err = errno;
        dt_error("%s: writing the %s failed: %s (the previous file, if any, is untouched)",
                 path, what, strerror(err));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    // the rename itself reaches the disk with its folder
    char *dir = dt_strdup(path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); // best effort: some file systems refuse fsync on a folder
        close(fd);
    }
    free(dir);
    return 0;
}
