// The convolution route cache: see conv_route.h and docs/CONV_ROUTES.md.
#include "engine/conv_route.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "base/fs.h"
#include "base/common.h"
#include "engine/network.h"

#define CACHE_MAGIC "detector conv-route cache 1"
#define CACHE_MAX_BYTES (4u << 20) // a larger file is not ours: refused
#define CACHE_MAX_ENTRIES 4096     // the oldest go first beyond this

// --- the mode --------------------------------------------------------------------

int dt_conv_mode(int opt) {
    if (opt == DT_CONV_AUTO || opt == DT_CONV_GEMM || opt == DT_CONV_ONEDNN) return opt;
    return DT_CONV_AUTO;
}

int dt_conv_route_available(const dt_conv_shape *s, int route) {
    if (route == DT_CONV_ONEDNN) return 1;
    return route == DT_CONV_GEMM && s->groups == 1 && s->dilation == 1;
}

// --- the machine key -------------------------------------------------------------

static int key_char_ok(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("._-+()/", c));
}

// Keeps letters, digits and . _ - + ( ) /; anything else becomes '_'.
static void sanitize(char *s) {
    for (; *s; s++)
        if (!key_char_ok((unsigned char)*s)) *s = '_';
}

// "model name" with "cpu family" and "model" from /proc/cpuinfo (the first
// processor), e.g. AMD_EPYC/26/2; "unknown" where there is none.
static void cpu_name(char *out, size_t n) {
    char model[80] = "", fam[16] = "", mod[16] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '\n') break; // end of the first processor
            char *colon = strchr(line, ':');
            if (!colon) continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            size_t k = (size_t)(colon - line);
            while (k && (line[k - 1] == ' ' || line[k - 1] == '\t')) k--;
            line[k] = 0;
            if (strcmp(line, "model name") == 0) snprintf(model, sizeof model, "%s", v);
            else if (strcmp(line, "cpu family") == 0) snprintf(fam, sizeof fam, "%s", v);
            else if (strcmp(line, "model") == 0) snprintf(mod, sizeof mod, "%s", v);
        }
        fclose(f);
    }
    if (!model[0]) snprintf(model, sizeof model, "unknown");
    snprintf(out, n, "%s/%s/%s", model, fam[0] ? fam : "-", mod[0] ? mod : "-");
    sanitize(out);
}

static char the_cpu[sizeof ((dt_conv_machine *)0)->cpu];
static void cpu_once(void) { cpu_name(the_cpu, sizeof the_cpu); }

void dt_conv_machine_now(dt_conv_machine *m) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, cpu_once);
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "%s", the_cpu);
    const char *isa = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa());
    if (strncmp(isa, "cpu_isa_", 8) == 0) isa += 8;
    snprintf(m->isa, sizeof m->isa, "%s", isa);
    sanitize(m->isa);
    m->threads = omp_get_max_threads();
    const dnnl_version_t *v = dnnl_version();
    snprintf(m->onednn, sizeof m->onednn, "%d.%d.%d", v->major, v->minor, v->patch);
}

// noinline: inlined into table_add, GCC 12 under -fsanitize=address warns of
// a zero-size read there (-Wstringop-overread) that cannot happen.
__attribute__((noinline)) static int machine_eq(const dt_conv_machine *a,
                                                const dt_conv_machine *b) {
    return a->threads == b->threads && strcmp(a->cpu, b->cpu) == 0 &&
           strcmp(a->isa, b->isa) == 0 && strcmp(a->onednn, b->onednn) == 0;
}

static int shape_eq(const dt_conv_shape *a, const dt_conv_shape *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

// --- the file format -------------------------------------------------------------

uint64_t dt_conv_cache_hash(const void *buf, size_t n) {
    const unsigned char *p = buf;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static const char *route_name(int route) { return route == DT_CONV_GEMM ? "gemm" : "onednn"; }

// Appends one entry's line to *buf (grown as needed).
static void put_entry(char **buf, size_t *len, size_t *cap, const dt_conv_entry *e) {
    char line[512];
    int k = snprintf(line, sizeof line,
                     "cpu=%s isa=%s threads=%d onednn=%s batch=%d h=%d w=%d c=%d filters=%d "
                     "size=%d stride=%d pad=%d dilation=%d groups=%d train=%d route=%s "
                     "gemm_us=%.1f onednn_us=%.1f\n",
                     e->m.cpu, e->m.isa, e->m.threads, e->m.onednn, e->s.batch, e->s.h, e->s.w,
                     e->s.c, e->s.filters, e->s.size, e->s.stride, e->s.pad, e->s.dilation,
                     e->s.groups, e->s.train, route_name(e->route), e->gemm_us, e->onednn_us);
    if (k < 0) return;
    if (*len + (size_t)k + 1 > *cap) {
        *cap = (*len + (size_t)k + 1) * 2;
        *buf = dt_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, line, (size_t)k + 1);
    *len += (size_t)k;
}

int dt_conv_cache_write(const char *path, const dt_conv_entry *e, int n) {
    size_t len = 0, cap = 4096;
    char *buf = dt_malloc(cap);
    buf[0] = 0;
    const char *head = CACHE_MAGIC "\n"
                       "# detector: the measured convolution route per shape and machine "
                       "(docs/CONV_ROUTES.md); delete this file to measure again\n";
    len = strlen(head);
    memcpy(buf, head, len + 1);
    for (int i = 0; i < n; i++) put_entry(&buf, &len, &cap, &e[i]);
    char end[64];
    int k = snprintf(end, sizeof end, "end %d %016" PRIx64 "\n", n,
                     dt_conv_cache_hash(buf, len));

    // the project's atomic write (temp + fsync + rename, base/fs.h), private to
    // its owner like the folder
    const char *what = "convolution route cache";
    char *tmp;
    FILE *f = dt_atomic_open(path, what, &tmp);
    if (!f) {
        free(buf);
        return -1;
    }
    int ok = fchmod(fileno(f), 0600) == 0 && fwrite(buf, 1, len, f) == len &&
             fwrite(end, 1, (size_t)k, f) == (size_t)k;
    free(buf);
    return dt_atomic_commit(f, tmp, path, what, ok);
}

// Strict "name=value" token parsers: the name must match, the value be whole.
static const char *tok_val(const char *tok, const char *name) {
    size_t n = strlen(name);
    if (strncmp(tok, name, n) != 0 || tok[n] != '=') return NULL;
    return tok + n + 1;
}

static int tok_int(const char *tok, const char *name, long lo, long hi, int *out) {
    const char *v = tok_val(tok, name);
    if (!v || !*v || (!(*v >= '0' && *v <= '9'))) return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

static int tok_str(const char *tok, const char *name, char *out, size_t n) {
    const char *v = tok_val(tok, name);
    if (!v || !*v || strlen(v) >= n) return -1;
    for (const char *c = v; *c; c++)
        if (!key_char_ok((unsigned char)*c)) return -1;
    snprintf(out, n, "%s", v);
    return 0;
}

static int tok_us(const char *tok, const char *name, double *out) {
    const char *v = tok_val(tok, name);
    if (!v || !*v || (!(*v >= '0' && *v <= '9'))) return -1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !isfinite(x) || x < 0) return -1;
    *out = x;
    return 0;
}

// One entry line (NUL-terminated, no '\n'). 0 / -1.
static int parse_entry(char *line, dt_conv_entry *e) {
    char *tok[18];
    int nt = 0;
    for (char *s = line; nt < 18;) {
        tok[nt++] = s;
        char *sp = strchr(s, ' ');
        if (!sp) break;
        *sp = 0;
        s = sp + 1;
    }
    if (nt != 18) return -1;
    for (int i = 0; i < 17; i++) // a trailing space would hide in the last token
        if (!tok[i][0]) return -1;
    memset(e, 0, sizeof *e);
    dt_conv_shape *s = &e->s;
    const long BIG = 1L << 24;
    char route[8];
    if (tok_str(tok[0], "cpu", e->m.cpu, sizeof e->m.cpu) ||
        tok_str(tok[1], "isa", e->m.isa, sizeof e->m.isa) ||
        tok_int(tok[2], "threads", 1, 65536, &e->m.threads) ||
        tok_str(tok[3], "onednn", e->m.onednn, sizeof e->m.onednn) ||
        tok_int(tok[4], "batch", 1, BIG, &s->batch) || tok_int(tok[5], "h", 1, BIG, &s->h) ||
        tok_int(tok[6], "w", 1, BIG, &s->w) || tok_int(tok[7], "c", 1, BIG, &s->c) ||
        tok_int(tok[8], "filters", 1, 1 << 16, &s->filters) ||
        tok_int(tok[9], "size", 1, 15, &s->size) ||
        tok_int(tok[10], "stride", 1, 64, &s->stride) ||
        tok_int(tok[11], "pad", 0, 64, &s->pad) ||
        tok_int(tok[12], "dilation", 1, 64, &s->dilation) ||
        tok_int(tok[13], "groups", 1, 1 << 16, &s->groups) ||
        tok_int(tok[14], "train", 0, 1, &s->train) ||
        tok_str(tok[15], "route", route, sizeof route) ||
        tok_us(tok[16], "gemm_us", &e->gemm_us) || tok_us(tok[17], "onednn_us", &e->onednn_us))
        return -1;
    if (strcmp(route, "gemm") == 0) e->route = DT_CONV_GEMM;
    else if (strcmp(route, "onednn") == 0) e->route = DT_CONV_ONEDNN;
    else return -1;
    return 0;
}

int dt_conv_cache_read(const char *path, dt_conv_entry **out, int *nout) {
    *out = NULL;
    *nout = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        dt_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CACHE_MAX_BYTES) {
        dt_error("%s: not a regular file of at most %u bytes", path, CACHE_MAX_BYTES);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = dt_malloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    size = got;
    int rc = -1, lineno = 0, cap = 0, n = 0;
    dt_conv_entry *e = NULL;
    const char *why = NULL;
    if (memchr(buf, 0, size)) {
        why = "a NUL byte";
        goto done;
    }
    // the "end" line: the last line of the file
    if (size == 0 || buf[size - 1] != '\n') {
        why = "truncated (no final end line)";
        goto done;
    }
    size_t body = size - 1;
    while (body > 0 && buf[body - 1] != '\n') body--;
    int count;
    char hex[17];
    char tail[64];
    if (size - body >= sizeof tail) {
        why = "truncated (no final end line)";
        goto done;
    }
    memcpy(tail, buf + body, size - body);
    tail[size - body - 1] = 0;
    int used = 0;
    if (sscanf(tail, "end %d %16[0-9a-f]%n", &count, hex, &used) != 2 || tail[used] ||
        strlen(hex) != 16 || count < 0) {
        why = "truncated (no final end line)";
        goto done;
    }
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, dt_conv_cache_hash(buf, body));
    if (strcmp(want, hex) != 0) {
        why = "checksum mismatch (edited or damaged)";
        goto done;
    }
    buf[body] = 0;
    char *s = buf;
    for (;;) {
        char *nl = strchr(s, '\n');
        if (!nl) break;
        *nl = 0;
        lineno++;
        if (lineno == 1) {
            if (strcmp(s, CACHE_MAGIC) != 0) {
                why = "not a detector convolution route cache (bad first line)";
                goto done;
            }
        } else if (s[0] != '#') {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                e = dt_realloc(e, (size_t)cap * sizeof *e);
            }
            if (parse_entry(s, &e[n]) != 0) {
                why = "malformed entry";
                goto done;
            }
            n++;
        }
        s = nl + 1;
    }
    if (lineno == 0) {
        lineno = 1;
        why = "not a detector convolution route cache (bad first line)";
        goto done;
    }
    if (n != count) {
        lineno++;
        why = "the end line's entry count does not match";
        goto done;
    }
    rc = 0;
done:
    if (rc != 0) {
        if (lineno) dt_error("%s:%d: %s", path, lineno, why);
        else dt_error("%s: %s", path, why);
        free(e);
        e = NULL;
        n = 0;
    }
    free(buf);
    *out = e;
    *nout = n;
    return rc;
}

// --- the process's table and the cache file ----------------------------------------

typedef struct {
    dt_conv_entry e;
    int fresh; // measured in this process
} table_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;
static char *cache_path; // NULL: no file
// The caller's choice (dt_conv_route_set_cache): a file, or the default folder
// under these two (resolved on first use), or neither: no file.
static char *want_file, *want_xdg, *want_home;
static int want_default;
static table_entry *table;
static int n_table, cap_table;
static int n_measured;
static double measured_s;

// A warning at verbosity >= 1 (dt_warn's form).
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    if (!dt_verbosity()) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// mkdir that accepts an existing folder.
static int mkdir_ok(const char *d) { return mkdir(d, 0700) == 0 || errno == EEXIST ? 0 : -1; }

// The default folder, created 0700, checked ours: a malloc'd file path, or NULL.
static char *default_path(const char *xdg, const char *home) {
    char base[4096];
    if (xdg && xdg[0] == '/') { // the XDG spec: a relative path is ignored
        snprintf(base, sizeof base, "%s", xdg);
    } else if (home && home[0] == '/') {
        snprintf(base, sizeof base, "%s/.cache", home);
        mkdir_ok(base);
    } else {
        note("convolution route cache: neither XDG_CACHE_HOME nor HOME is an absolute "
             "path; routes are measured in every run");
        return NULL;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/detector", base);
    if (mkdir_ok(dir) != 0) {
        note("convolution route cache: cannot create %s (%s); routes are measured in every run",
             dir, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *why = NULL;
    if (lstat(dir, &st) != 0) why = strerror(errno);
    else if (S_ISLNK(st.st_mode)) why = "it is a symbolic link";
    else if (!S_ISDIR(st.st_mode)) why = "it is not a folder";
    else if (st.st_uid != geteuid()) why = "it belongs to another user";
    else if (st.st_mode & 022) why = "others can write into it";
    if (why) {
        note("convolution route cache: refusing the folder %s: %s; routes are measured in "
             "every run",
             dir, why);
        return NULL;
    }
    size_t n = strlen(dir) + sizeof "/conv_routes.txt";
    char *p = dt_malloc(n);
    snprintf(p, n, "%s/conv_routes.txt", dir);
    return p;
}

static void table_add(const dt_conv_entry *e, int fresh) {
    for (int i = 0; i < n_table; i++)
        if (machine_eq(&table[i].e.m, &e->m) && shape_eq(&table[i].e.s, &e->s)) {
            table[i].e = *e;
            table[i].fresh = fresh;
            return;
        }
    if (n_table == cap_table) {
        cap_table = cap_table ? cap_table * 2 : 64;
        table = dt_realloc(table, (size_t)cap_table * sizeof *table);
    }
    table[n_table].e = *e;
    table[n_table].fresh = fresh;
    n_table++;
}

static char *dup_or_null(const char *s) { return s ? dt_strdup(s) : NULL; }

void dt_conv_route_set_cache(const char *file, const char *xdg_cache_home, const char *home) {
    pthread_mutex_lock(&lock);
    free(want_file);
    free(want_xdg);
    free(want_home);
    want_file = dup_or_null(file);
    want_xdg = dup_or_null(xdg_cache_home);
    want_home = dup_or_null(home);
    want_default = !file && (xdg_cache_home || home);
    free(cache_path);
    cache_path = NULL;
    loaded = 0;
    pthread_mutex_unlock(&lock);
}

// Resolves the caller's choice and reads the file once (under the lock).
static void load(void) {
    if (loaded) return;
    loaded = 1;
    if (want_file)
        cache_path = dt_strdup(want_file);
    else if (want_default)
        cache_path = default_path(want_xdg, want_home);
    else
        cache_path = NULL;
    if (!cache_path) return;
    dt_conv_entry *e;
    int n;
    int rc = dt_conv_cache_read(cache_path, &e, &n);
    if (rc < 0) {
        note("convolution route cache %s not used: %s; measuring again and rewriting it",
             cache_path, dt_last_error());
        return;
    }
    for (int i = 0; i < n; i++) table_add(&e[i], 0);
    free(e);
}

void dt_conv_route_reset(void) {
    pthread_mutex_lock(&lock);
    free(table);
    table = NULL;
    n_table = cap_table = 0;
    free(cache_path);
    cache_path = NULL;
    loaded = 0;
    n_measured = 0;
    measured_s = 0;
    pthread_mutex_unlock(&lock);
}

const char *dt_conv_route_cache_path(void) {
    pthread_mutex_lock(&lock);
    load();
    const char *p = cache_path;
    pthread_mutex_unlock(&lock);
    return p;
}

void dt_conv_route_stats(int *measured, double *seconds) {
    pthread_mutex_lock(&lock);
    *measured = n_measured;
    *seconds = measured_s;
    pthread_mutex_unlock(&lock);
}

int dt_conv_route_find(const dt_conv_shape *s, int *route, int *how) {
    dt_conv_machine m;
    dt_conv_machine_now(&m);
    int found = 0;
    pthread_mutex_lock(&lock);
    load();
    for (int i = 0; i < n_table; i++) {
        const dt_conv_entry *e = &table[i].e;
        if (machine_eq(&e->m, &m) && shape_eq(&e->s, s) && dt_conv_route_available(s, e->route)) {
            *route = e->route;
            *how = table[i].fresh ? DT_ROUTE_MEASURED : DT_ROUTE_CACHED;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void dt_conv_route_record(const dt_conv_shape *s, int route, double gemm_us, double onednn_us,
                          double seconds) {
    dt_conv_entry e = {.s = *s, .route = route, .gemm_us = gemm_us, .onednn_us = onednn_us};
    dt_conv_machine_now(&e.m);
    pthread_mutex_lock(&lock);
    load();
    table_add(&e, 1);
    n_measured++;
    measured_s += seconds;
    if (cache_path) {
        // entries another process wrote since we read the file are kept
        dt_conv_entry *disk;
        int nd;
        if (dt_conv_cache_read(cache_path, &disk, &nd) == 0) {
            for (int i = 0; i < nd; i++) {
                int known = 0;
                for (int j = 0; j < n_table && !known; j++)
                    known = machine_eq(&table[j].e.m, &disk[i].m) &&
                            shape_eq(&table[j].e.s, &disk[i].s);
                if (!known) table_add(&disk[i], 0);
            }
            free(disk);
        }
        int first = n_table > CACHE_MAX_ENTRIES ? n_table - CACHE_MAX_ENTRIES : 0;
        dt_conv_entry *all = dt_malloc((size_t)(n_table - first + 1) * sizeof *all);
        for (int i = first; i < n_table; i++) all[i - first] = table[i].e;
        if (dt_conv_cache_write(cache_path, all, n_table - first) != 0) {
            static int warned;
            if (!warned) {
                warned = 1;
                note("convolution route cache not saved: %s", dt_last_error());
            }
        }
        free(all);
    }
    pthread_mutex_unlock(&lock);
}

// --- what the summary and bench print ----------------------------------------------

#define MAX_ROUTES 8

void dt_layer_conv_routes_text(const struct dt_layer *l, char *buf, size_t n) {
    buf[0] = 0;
    int route[MAX_ROUTES], how[MAX_ROUTES];
    int k = l->ops->conv_routes ? l->ops->conv_routes(l, route, how, MAX_ROUTES) : 0;
    int g = 0, o = 0;
    for (int i = 0; i < k; i++) {
        if (route[i] == DT_CONV_GEMM) g++;
        else o++;
    }
    if (g && o) snprintf(buf, n, "gemm+onednn");
    else if (g) snprintf(buf, n, "gemm");
    else if (o) snprintf(buf, n, "onednn");
}

int dt_net_conv_routes_line(const struct dt_network *net, char *buf, size_t n) {
    int count[2] = {0, 0}, hows[DT_ROUTE_N_HOW] = {0};
    for (int i = 0; i < net->n_layers; i++) {
        const dt_layer *l = &net->layers[i];
        int route[MAX_ROUTES], how[MAX_ROUTES];
        int k = l->ops->conv_routes ? l->ops->conv_routes(l, route, how, MAX_ROUTES) : 0;
        for (int j = 0; j < k; j++) {
            count[route[j] == DT_CONV_GEMM]++;
            if (how[j] >= 0 && how[j] < DT_ROUTE_N_HOW) hows[how[j]]++;
        }
    }
    size_t k = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        if (k < n) {                                                               \
            int r_ = snprintf(buf + k, n - k, __VA_ARGS__);                        \
            if (r_ > 0) k += (size_t)r_;                                           \
        }                                                                          \
    } while (0)
    PUT("conv routes: %d onednn, %d gemm", count[0], count[1]);
    if (count[0] + count[1] == 0) return 0;
    const char *sep = " (";
    if (hows[DT_ROUTE_CACHED]) {
        PUT("%s%d from the cache", sep, hows[DT_ROUTE_CACHED]);
        sep = ", ";
    }
    if (hows[DT_ROUTE_MEASURED]) {
        int shapes;
        double s;
        dt_conv_route_stats(&shapes, &s);
        PUT("%s%d measured: %d shape%s in %.2f s", sep, hows[DT_ROUTE_MEASURED], shapes,
            shapes == 1 ? "" : "s", s);
        sep = ", ";
    }
    if (hows[DT_ROUTE_FORCED]) {
        PUT("%s%d forced by %s", sep, hows[DT_ROUTE_FORCED],
            net->conv_route_why ? net->conv_route_why : "the network's conv_route option");
        sep = ", ";
    }
    if (hows[DT_ROUTE_ONLY]) {
        PUT("%s%d oneDNN only (groups or dilation)", sep, hows[DT_ROUTE_ONLY]);
        sep = ", ";
    }
    if (hows[DT_ROUTE_GPU]) {
        PUT("%s%d not measured (the network runs on the GPU)", sep, hows[DT_ROUTE_GPU]);
        sep = ", ";
    }
    if (hows[DT_ROUTE_CACHED] || hows[DT_ROUTE_MEASURED]) {
        const char *p = dt_conv_route_cache_path();
        PUT("%scache %s", sep, p ? p : "off");
    }
    PUT(")");
#undef PUT
    return count[0] + count[1];
}
