// Test helpers: see testutil.h.
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cfg.h"
#include "cli/env.h"
#include "base/common.h"

// --- archives -------------------------------------------------------------------

static int read_u32(FILE *f, uint32_t *v) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

void tu_free(tu_archive *a) {
    if (!a)
        return;
    for (int i = 0; i < a->n; i++) {
        free(a->t[i].name);
        free(a->t[i].data);
    }
    free(a->t);
    free(a->path);
    free(a);
}

tu_archive *tu_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tu_load: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    tu_archive *a = calloc(1, sizeof *a);
    a->path = strdup(path);
    int cap = 0;
    for (;;) {
        long at = ftell(f);
        uint32_t len;
        unsigned char probe;
        if (fread(&probe, 1, 1, f) != 1)
            break; // clean end of file
        ungetc(probe, f);
        const char *why = NULL;
        tu_tensor t = {0};
        uint32_t nd = 0;
        if (read_u32(f, &len) || len == 0 || len > 4096) {
            why = "bad name length";
            goto bad;
        }
        t.name = calloc(len + 1, 1);
        if (fread(t.name, 1, len, f) != len) {
            why = "truncated name";
            goto bad;
        }
        if (read_u32(f, &nd) || nd > TU_MAX_DIMS) {
            why = "bad ndims";
            goto bad;
        }
        t.ndims = (int)nd;
        t.n = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint32_t v;
            if (read_u32(f, &v) || v > (1u << 30)) {
                why = "bad dimension";
                goto bad;
            }
            t.dims[d] = (int)v;
            t.n *= v;
        }
        if (t.n * 4 > (size_t)size) {
            why = "tensor larger than the file";
            goto bad;
        }
        t.data = malloc(t.n ? t.n * 4 : 4);
        if (fread(t.data, 4, t.n, f) != t.n) {
            why = "truncated data";
            goto bad;
        }
        if (a->n == cap) {
            cap = cap ? 2 * cap : 16;
            a->t = realloc(a->t, sizeof(tu_tensor) * cap);
        }
        a->t[a->n++] = t;
        continue;
    bad:
        fprintf(stderr, "tu_load: %s: %s in the record at byte %ld%s%s\n", path, why, at,
                t.name ? " named " : "", t.name ? t.name : "");
        free(t.name);
        free(t.data);
        fclose(f);
        tu_free(a);
        return NULL;
    }
    fclose(f);
    return a;
}

tu_tensor *tu_get(tu_archive *a, const char *name) {
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->t[i].name, name) == 0)
            return &a->t[i];
    return NULL;
}

// --- comparison -----------------------------------------------------------------

double tu_rel_err(const float *got, const float *want, size_t n) {
    double maxw = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i]))
            return INFINITY;
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > maxd)
            maxd = d;
        if (fabs(want[i]) > maxw)
            maxw = fabs(want[i]);
    }
    return maxd / (maxw > 1e-6 ? maxw : 1e-6);
}

double tu_rel_err_d(const double *got, const double *want, size_t n) {
    double maxw = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) || !isfinite(want[i]))
            return INFINITY;
        double d = fabs(got[i] - want[i]);
        if (d > maxd)
            maxd = d;
        if (fabs(want[i]) > maxw)
            maxw = fabs(want[i]);
    }
    return maxd / (maxw > 1e-6 ? maxw : 1e-6);
}

static int report(const char *what, double e, double tol, size_t n) {
    int ok = e <= tol; // NaN fails
    printf("  %-40s err %.3e tol %.1e (n=%zu) %s\n", what, e, tol, n, ok ? "PASS" : "FAIL");
    fflush(stdout);
    return ok;
}

int tu_check(const char *what, const float *got, const float *want, size_t n, double tol) {
    return report(what, tu_rel_err(got, want, n), tol, n);
}

int tu_check_d(const char *what, const double *got, const double *want, size_t n, double tol) {
    return report(what, tu_rel_err_d(got, want, n), tol, n);
}

// --- errors ---------------------------------------------------------------------

const char *tu_error(void) {
    static char buf[4096];
    const char *e = dt_last_error();
    snprintf(buf, sizeof buf, "%s", e ? e : "");
    return buf;
}

int tu_error_has(const char *first, ...) {
    const char *msg = tu_error();
    va_list ap;
    va_start(ap, first);
    int ok = 1;
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (!strstr(msg, s)) {
            // fputs, not printf: GCC's ASan build warns (-Wformat-overflow)
            // that a %s argument here may be null, which it cannot be
            fputs("  error message lacks '", stdout);
            fputs(s, stdout);
            fputs("': ", stdout);
            fputs(msg, stdout);
            fputc('\n', stdout);
            ok = 0;
        }
    va_end(ap);
    if (ok)
        printf("  error ok: %s\n", msg);
    fflush(stdout);
    return ok;
}

// The environment, mapped once for every test program as the command line
// maps it (src/cli/env.c): tests/run_all.sh's DT_CONV_CACHE, CI's DT_QUIET.
// A test that needs another setting sets the option itself.
__attribute__((constructor)) static void tu_map_env(void) { dt_cli_env_load(); }

// --- files and commands ------------------------------------------------------------

static char tmpdir[256];

static void remove_tmpdir(void) {
    if (!tmpdir[0] || getenv("TU_KEEP"))
        return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tmpdir);
}

const char *tu_tmpdir(void) {
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/dt_test_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "tu_tmpdir: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        abort();
    }
    atexit(remove_tmpdir);
    return tmpdir;
}

char *tu_write_file(const char *name, const char *text, size_t len) {
    const char *d = tu_tmpdir();
    size_t n = strlen(d) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", d, name);
    if (len == (size_t)-1)
        len = strlen(text);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        fprintf(stderr, "tu_write_file: %s: %s\n", path, strerror(errno));
        abort();
    }
    fclose(f);
    return path;
}

int tu_run(const char *cmd, char **out) {
    size_t n = strlen(cmd) + 16;
    char *full = malloc(n);
    snprintf(full, n, "(%s) 2>&1", cmd);
    fflush(stdout);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) {
        if (out)
            *out = NULL;
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

// --- networks -------------------------------------------------------------------------

dt_network *tu_net_from_text(const char *cfg_text, int with_grads) {
    dt_cfg *cfg = dt_cfg_parse_string(cfg_text, "test.cfg");
    if (!cfg) {
        printf("  cfg error: %s\n", tu_error());
        return NULL;
    }
    dt_net_opts o = {.with_grads = with_grads, .quiet = 1, .with_input_delta = with_grads};
    dt_network *net = dt_net_from_cfg(cfg, "test.cfg", &o);
    if (!net) {
        printf("  network error: %s\n", tu_error());
        dt_cfg_free(cfg);
        return NULL;
    }
    return net;
}

dt_model *tu_model_from_text(const char *cfg_text, int with_grads) {
    dt_cfg *cfg = dt_cfg_parse_string(cfg_text, "test.cfg");
    if (!cfg) {
        printf("  cfg error: %s\n", tu_error());
        return NULL;
    }
    dt_net_opts o = {.with_grads = with_grads, .quiet = 1, .with_input_delta = with_grads};
    dt_model *m = dt_model_from_cfg(cfg, "test.cfg", &o);
    if (!m) {
        printf("  network error: %s\n", tu_error());
        dt_cfg_free(cfg);
        return NULL;
    }
    return m;
}

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    dt_rng r;
    dt_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = dt_rng_range(&r, lo, hi);
}

dt_param *tu_param(dt_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0)
            return &l->params[i];
    return NULL;
}

const char *tu_ref_dir(void) {
    const char *d = getenv("TU_REF_DIR");
    return d && *d ? d : "tests/ref";
}

dt_anchors *tu_anchors_10x8_5x4(void) {
    const int gw[] = {10, 5}, gh[] = {8, 4};
    const float zooms[] = {0.75f, 1.0f, 1.3f}, ratios[] = {1, 1, 1, 0.5f, 0.5f, 1};
    dt_anchors *a = dt_anchors_create_wh(gw, gh, 2, zooms, 3, ratios, 3);
    if (!a) {
        fprintf(stderr, "tu_anchors_10x8_5x4: %s\n", dt_last_error());
        abort();
    }
    return a;
}
