// The convolution route chosen per shape (src/engine/conv_route.c, convolutional.c):
// the cache file round-trips; a damaged file (bad first line, bad checksum,
// truncation, garbage, a wrong count) is refused and, through a network,
// measured again and rewritten valid; an entry for another machine key (ISA,
// threads, oneDNN version, CPU, training) is not used; an entry for this
// machine is obeyed (gemm, then onednn, per layer); DT_CONV and
// dt_net_opts.conv_route force the route over the cache; groups and
// dilation keep oneDNN whatever the cache or DT_CONV say; the default
// folder is created 0700 and refused when it is a symlink, writable by
// others or another user's; and a network built under auto (measured, or a
// mixed cache) computes what the forced routes compute. No test depends on
// which route is faster.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/env.h"
#include "engine/conv_route.h"
#include "testutil.h"

static char dir[256]; // this program's scratch folder
static int n_file;

// A fresh file name in dir (nothing written).
static const char *fresh_path(const char *what) {
    static char p[8][320];
    char *s = p[n_file % 8];
    snprintf(s, sizeof p[0], "%s/%s_%d.txt", dir, what, n_file++);
    return s;
}

static void use_cache(const char *path) {
    if (path) setenv("DT_CONV_CACHE", path, 1);
    else unsetenv("DT_CONV_CACHE");
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
}

// Two ordinary convolutions (BN + relu; stride 2 leaky), a grouped and a
// dilated one (oneDNN only), and a 1x1.
static const char *CFG = "[net]\nbatch=2\nheight=12\nwidth=12\nchannels=8\nseed=5\n\n"
                         "[convolutional]\nfilters=16\nsize=3\npad=1\nbatch_normalize=1\n"
                         "bias=0\nactivation=relu\n\n"
                         "[convolutional]\nfilters=12\nsize=3\nstride=2\npad=1\n"
                         "activation=leaky\n\n"
                         "[convolutional]\nfilters=12\nsize=3\npad=1\ngroups=4\n"
                         "activation=relu\n\n"
                         "[convolutional]\nfilters=8\nsize=3\npad=2\ndilation=2\n"
                         "batch_normalize=1\nactivation=linear\n\n"
                         "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n";
#define N_CONV 5
#define GROUPED 2
#define DILATED 3

// The shapes of CFG's layers, as the layers key them.
static dt_conv_shape shape_of(int i, int train) {
    static const dt_conv_shape s[N_CONV] = {
        {2, 12, 12, 8, 16, 3, 1, 1, 1, 1, 0},  {2, 12, 12, 16, 12, 3, 2, 1, 1, 1, 0},
        {2, 6, 6, 12, 12, 3, 1, 1, 1, 4, 0},   {2, 6, 6, 12, 8, 3, 1, 2, 2, 1, 0},
        {2, 6, 6, 8, 6, 1, 1, 0, 1, 1, 0},
    };
    dt_conv_shape r = s[i];
    r.train = train;
    return r;
}

static dt_network *build(int route_opt, int train) {
    dt_cfg *cfg = dt_cfg_parse_string(CFG, "routes.cfg");
    assert_non_null(cfg);
    dt_net_opts o = {.with_grads = train, .quiet = 1, .with_input_delta = train,
                     .conv_route = route_opt};
    dt_cli_net_opts(&o); // DT_CONV, as the command line maps it
    dt_network *net = dt_net_from_cfg(cfg, "routes.cfg", &o);
    if (!net) printf("  network error: %s\n", dt_last_error());
    assert_non_null(net);
    return net;
}

static void layer_route(dt_network *net, int i, int *route, int *how) {
    dt_layer *l = &net->layers[i];
    assert_non_null(l->ops->conv_routes);
    assert_int_equal(l->ops->conv_routes(l, route, how, 1), 1);
}

static void expect(dt_network *net, int i, int route, int how) {
    int r, h;
    layer_route(net, i, &r, &h);
    if (r != route || h != how)
        printf("  layer %d: route %d how %d, expected route %d how %d\n", i, r, h, route, how);
    assert_int_equal(r, route);
    assert_int_equal(h, how);
}

static dt_conv_entry entry(int i, int train, int route) {
    dt_conv_entry e = {.s = shape_of(i, train), .route = route, .gemm_us = 10, .onednn_us = 20};
    dt_conv_machine_now(&e.m);
    return e;
}

// A cache naming `route` for every layer of CFG on this machine.
static void write_all(const char *path, int train, int route) {
    dt_conv_entry e[N_CONV];
    for (int i = 0; i < N_CONV; i++) e[i] = entry(i, train, route);
    assert_int_equal(dt_conv_cache_write(path, e, N_CONV), 0);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spit(const char *path, const char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

// body + a correct "end N hash" line: a file whose checksum holds.
static void spit_signed(const char *path, const char *body, int count) {
    size_t n = strlen(body);
    char *b = malloc(n + 64);
    memcpy(b, body, n);
    int k = snprintf(b + n, 64, "end %d %016" PRIx64 "\n", count, dt_conv_cache_hash(body, n));
    spit(path, b, n + (size_t)k);
    free(b);
}

// The file is a valid cache holding, for this machine, every available
// shape of CFG measured (times > 0).
static void expect_valid_rebuilt(const char *path, int train) {
    dt_conv_entry *e;
    int n;
    int rc = dt_conv_cache_read(path, &e, &n);
    if (rc != 0) printf("  %s\n", dt_last_error());
    assert_int_equal(rc, 0);
    dt_conv_machine m;
    dt_conv_machine_now(&m);
    for (int i = 0; i < N_CONV; i++) {
        if (i == GROUPED || i == DILATED) continue;
        dt_conv_shape s = shape_of(i, train);
        int found = 0;
        for (int j = 0; j < n; j++)
            if (!memcmp(&e[j].s, &s, sizeof s) && e[j].m.threads == m.threads &&
                !strcmp(e[j].m.isa, m.isa) && !strcmp(e[j].m.cpu, m.cpu) &&
                !strcmp(e[j].m.onednn, m.onednn)) {
                found = 1;
                assert_true(e[j].gemm_us > 0 && e[j].onednn_us > 0);
                assert_true(e[j].route == DT_CONV_GEMM || e[j].route == DT_CONV_ONEDNN);
            }
        if (!found) printf("  layer %d's shape missing from %s\n", i, path);
        assert_true(found);
    }
    free(e);
}

// --- the format ----------------------------------------------------------------------

static void test_roundtrip(void **state) {
    (void)state;
    dt_conv_entry e[3] = {entry(0, 0, DT_CONV_GEMM), entry(1, 1, DT_CONV_ONEDNN),
                          entry(4, 0, DT_CONV_ONEDNN)};
    e[1].gemm_us = 12345.6;
    e[1].onednn_us = 0.5;
    snprintf(e[2].m.cpu, sizeof e[2].m.cpu, "Some_CPU_(R)/6/85");
    e[2].m.threads = 64;
    const char *path = fresh_path("roundtrip");
    assert_int_equal(dt_conv_cache_write(path, e, 3), 0);
    dt_conv_entry *got;
    int n;
    assert_int_equal(dt_conv_cache_read(path, &got, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(&got[i].s, &e[i].s, sizeof e[i].s);
        assert_string_equal(got[i].m.cpu, e[i].m.cpu);
        assert_string_equal(got[i].m.isa, e[i].m.isa);
        assert_string_equal(got[i].m.onednn, e[i].m.onednn);
        assert_int_equal(got[i].m.threads, e[i].m.threads);
        assert_int_equal(got[i].route, e[i].route);
        assert_true(fabs(got[i].gemm_us - e[i].gemm_us) < 0.051);
        assert_true(fabs(got[i].onednn_us - e[i].onednn_us) < 0.051);
    }
    free(got);
    // written 0600, no temporary file left beside it
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char cmd[400], *out = NULL;
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '^roundtrip_.*\\.txt\\.'", dir);
    tu_run(cmd, &out);
    assert_string_equal(out, "0\n");
    free(out);
    // no entries round-trips too; a missing file is 1, not an error
    assert_int_equal(dt_conv_cache_write(path, NULL, 0), 0);
    assert_int_equal(dt_conv_cache_read(path, &got, &n), 0);
    assert_int_equal(n, 0);
    free(got);
    assert_int_equal(dt_conv_cache_read(fresh_path("missing"), &got, &n), 1);
}

// Every way a file can be damaged is refused, with the file (and line) named.
static void test_corrupt_refused(void **state) {
    (void)state;
    const char *good = fresh_path("good");
    write_all(good, 0, DT_CONV_GEMM);
    size_t n;
    char *b = slurp(good, &n);
    char *end = strstr(b, "\nend ");
    assert_non_null(end);
    size_t body = (size_t)(end - b) + 1;
    char *bodytext = strndup(b, body);
    char *first_nl = strchr(bodytext, '\n');
    struct {
        const char *what, *why;
        char *text;
        size_t len;
        int sign, count;
    } cases[10];
    int nc = 0;
    char *t;
    // one byte changed in an entry
    t = strdup(b);
    *strstr(t, "route=gemm") = 'R';
    cases[nc++] = (typeof(cases[0])){"flipped byte", "checksum", t, n, 0, 0};
    // cut in the middle
    cases[nc++] = (typeof(cases[0])){"truncated", "truncated", strndup(b, n / 2), n / 2, 0, 0};
    // cut just before the end line's newline
    cases[nc++] = (typeof(cases[0])){"no final newline", "truncated", strndup(b, n - 1), n - 1,
                                     0, 0};
    // empty
    cases[nc++] = (typeof(cases[0])){"empty", "truncated", strdup(""), 0, 0, 0};
    // other first line, checksum recomputed
    t = malloc(body + 64);
    snprintf(t, body + 64, "detector conv-route cache 2%s", first_nl);
    cases[nc++] = (typeof(cases[0])){"bad magic", ":1: not a detector", t, 0, 1, N_CONV};
    // a garbage line, checksum recomputed
    t = malloc(body + 64);
    snprintf(t, body + 64, "%sthis is not an entry\n", bodytext);
    cases[nc++] = (typeof(cases[0])){"garbage line", "malformed entry", t, 0, 1, N_CONV + 1};
    // fields out of order, checksum recomputed
    t = strdup(bodytext);
    char *h = strstr(t, " h="), *w = strstr(t, " w=");
    h[1] = 'w';
    w[1] = 'h';
    cases[nc++] = (typeof(cases[0])){"fields swapped", "malformed entry", t, 0, 1, N_CONV};
    // out of range, checksum recomputed
    t = strdup(bodytext);
    memcpy(strstr(t, "size=3"), "size=0", 6);
    cases[nc++] = (typeof(cases[0])){"size=0", "malformed entry", t, 0, 1, N_CONV};
    // the count of the end line wrong
    cases[nc++] = (typeof(cases[0])){"wrong count", "count", strdup(bodytext), 0, 1, N_CONV - 1};
    // bytes after the end line
    t = malloc(n + 32);
    memcpy(t, b, n);
    memcpy(t + n, "extra\n", 6);
    cases[nc++] = (typeof(cases[0])){"after end", "truncated", t, n + 6, 0, 0};

    for (int i = 0; i < nc; i++) {
        const char *path = fresh_path("corrupt");
        if (cases[i].sign) spit_signed(path, cases[i].text, cases[i].count);
        else spit(path, cases[i].text, cases[i].len);
        dt_conv_entry *e;
        int ne;
        int rc = dt_conv_cache_read(path, &e, &ne);
        printf("  %-16s -> %d: %s\n", cases[i].what, rc, rc ? dt_last_error() : "");
        assert_int_equal(rc, -1);
        assert_null(e);
        assert_true(tu_error_has(path, cases[i].why, NULL));

        // through a network: every available shape measured, the file rewritten valid
        use_cache(path);
        dt_network *net = build(DT_CONV_AUTO, 0);
        for (int k = 0; k < N_CONV; k++) {
            int r, hw;
            layer_route(net, k, &r, &hw);
            assert_int_equal(hw, k == GROUPED || k == DILATED ? DT_ROUTE_ONLY : DT_ROUTE_MEASURED);
        }
        dt_net_free(net);
        expect_valid_rebuilt(path, 0);
        free(cases[i].text);
    }
    free(bodytext);
    free(b);
}

// --- the key -------------------------------------------------------------------------

// Entries for another ISA, thread count, oneDNN version, CPU or training mode
// are not used; the layers measure.
static void test_other_key_ignored(void **state) {
    (void)state;
    for (int v = 0; v < 5; v++) {
        dt_conv_entry e[N_CONV];
        for (int i = 0; i < N_CONV; i++) {
            e[i] = entry(i, 0, DT_CONV_GEMM);
            if (v == 0) snprintf(e[i].m.isa, sizeof e[i].m.isa, "avx2");
            if (v == 0 && !strcmp(e[i].m.isa, entry(i, 0, 0).m.isa))
                snprintf(e[i].m.isa, sizeof e[i].m.isa, "sse41");
            if (v == 1) e[i].m.threads++;
            if (v == 2) snprintf(e[i].m.onednn, sizeof e[i].m.onednn, "1.0.0");
            if (v == 3) snprintf(e[i].m.cpu, sizeof e[i].m.cpu, "Other_CPU/1/2");
            if (v == 4) e[i].s.train = 1;
        }
        const char *path = fresh_path("otherkey");
        assert_int_equal(dt_conv_cache_write(path, e, N_CONV), 0);
        use_cache(path);
        dt_network *net = build(DT_CONV_AUTO, 0);
        for (int k = 0; k < N_CONV; k++)
            if (k != GROUPED && k != DILATED) {
                int r, h;
                layer_route(net, k, &r, &h);
                assert_int_equal(h, DT_ROUTE_MEASURED);
            }
        dt_net_free(net);
        // the foreign entries are kept beside the new ones
        dt_conv_entry *got;
        int n;
        assert_int_equal(dt_conv_cache_read(path, &got, &n), 0);
        assert_int_equal(n, N_CONV + 3);
        free(got);
    }
}

// An entry for this machine is obeyed, route by route and layer by layer.
static void test_entry_obeyed(void **state) {
    (void)state;
    for (int train = 0; train < 2; train++) {
        const int routes[2] = {DT_CONV_GEMM, DT_CONV_ONEDNN};
        for (int r = 0; r < 2; r++) {
            const char *path = fresh_path("obey");
            write_all(path, train, routes[r]);
            use_cache(path);
            dt_network *net = build(DT_CONV_AUTO, train);
            for (int k = 0; k < N_CONV; k++)
                if (k == GROUPED || k == DILATED) expect(net, k, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
                else expect(net, k, routes[r], DT_ROUTE_CACHED);
            dt_net_free(net);
        }
        // mixed: layer 0 gemm, layer 1 onednn, layer 4 gemm
        const char *path = fresh_path("obey_mixed");
        dt_conv_entry e[3] = {entry(0, train, DT_CONV_GEMM), entry(1, train, DT_CONV_ONEDNN),
                              entry(4, train, DT_CONV_GEMM)};
        assert_int_equal(dt_conv_cache_write(path, e, 3), 0);
        use_cache(path);
        dt_network *net = build(DT_CONV_DEFAULT, train);
        expect(net, 0, DT_CONV_GEMM, DT_ROUTE_CACHED);
        expect(net, 1, DT_CONV_ONEDNN, DT_ROUTE_CACHED);
        expect(net, 4, DT_CONV_GEMM, DT_ROUTE_CACHED);
        char line[512];
        assert_int_equal(dt_net_conv_routes_line(net, line, sizeof line), N_CONV);
        printf("  %s\n", line);
        assert_non_null(strstr(line, "conv routes: 3 onednn, 2 gemm (3 from the cache"));
        assert_non_null(strstr(line, "2 oneDNN only"));
        char col[16];
        dt_layer_conv_routes_text(&net->layers[0], col, sizeof col);
        assert_string_equal(col, "gemm");
        dt_layer_conv_routes_text(&net->layers[1], col, sizeof col);
        assert_string_equal(col, "onednn");
        dt_net_free(net);
    }
}

// DT_CONV and conv_route force the route whatever the cache says; the
// option beats the variable; an unknown DT_CONV is auto.
static void test_forced(void **state) {
    (void)state;
    const char *gemm_cache = fresh_path("forced_gemm");
    const char *onednn_cache = fresh_path("forced_onednn");
    write_all(gemm_cache, 0, DT_CONV_GEMM);
    write_all(onednn_cache, 0, DT_CONV_ONEDNN);
    struct {
        const char *cache, *env;
        int opt, route, how;
    } c[] = {
        {gemm_cache, NULL, DT_CONV_ONEDNN, DT_CONV_ONEDNN, DT_ROUTE_FORCED},
        {onednn_cache, NULL, DT_CONV_GEMM, DT_CONV_GEMM, DT_ROUTE_FORCED},
        {gemm_cache, "onednn", DT_CONV_DEFAULT, DT_CONV_ONEDNN, DT_ROUTE_FORCED},
        {onednn_cache, "gemm", DT_CONV_DEFAULT, DT_CONV_GEMM, DT_ROUTE_FORCED},
        {onednn_cache, "gemm", DT_CONV_AUTO, DT_CONV_ONEDNN, DT_ROUTE_CACHED},
        {gemm_cache, "onednn", DT_CONV_GEMM, DT_CONV_GEMM, DT_ROUTE_FORCED},
        {gemm_cache, "auto", DT_CONV_DEFAULT, DT_CONV_GEMM, DT_ROUTE_CACHED},
        {gemm_cache, "bogus", DT_CONV_DEFAULT, DT_CONV_GEMM, DT_ROUTE_CACHED},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (c[i].env) setenv("DT_CONV", c[i].env, 1);
        else unsetenv("DT_CONV");
        use_cache(c[i].cache);
        dt_network *net = build(c[i].opt, 0);
        for (int k = 0; k < N_CONV; k++)
            if (k == GROUPED || k == DILATED) expect(net, k, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
            else expect(net, k, c[i].route, c[i].how);
        dt_net_free(net);
    }
    unsetenv("DT_CONV");
}

// Groups and dilation: oneDNN, even when a valid entry for their exact shape
// says gemm and when DT_CONV=gemm; never measured.
static void test_unavailable_keeps_onednn(void **state) {
    (void)state;
    for (int train = 0; train < 2; train++) {
        const char *path = fresh_path("unavail");
        write_all(path, train, DT_CONV_GEMM); // includes the grouped and dilated shapes
        use_cache(path);
        int route, how;
        dt_conv_shape g = shape_of(GROUPED, train), d = shape_of(DILATED, train);
        assert_false(dt_conv_route_available(&g, DT_CONV_GEMM));
        assert_false(dt_conv_route_available(&d, DT_CONV_GEMM));
        assert_int_equal(dt_conv_route_find(&g, &route, &how), 0);
        assert_int_equal(dt_conv_route_find(&d, &route, &how), 0);
        for (int env = 0; env < 2; env++) {
            if (env) setenv("DT_CONV", "gemm", 1);
            dt_cli_env_load();
            dt_network *net = build(DT_CONV_DEFAULT, train);
            expect(net, GROUPED, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
            expect(net, DILATED, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
            dt_net_free(net);
            unsetenv("DT_CONV");
        }
        // measured from scratch: still never the GEMM for those two
        use_cache(fresh_path("unavail_measured"));
        dt_network *net = build(DT_CONV_AUTO, train);
        expect(net, GROUPED, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
        expect(net, DILATED, DT_CONV_ONEDNN, DT_ROUTE_ONLY);
        dt_net_free(net);
    }
}

// --- where the cache lives -----------------------------------------------------------

static void test_default_folder(void **state) {
    (void)state;
    char xdg[320], d[360], f[400];
    unsetenv("DT_CONV_CACHE");
    // XDG_CACHE_HOME: <xdg>/detector made 0700, the file there after a measurement
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    assert_int_equal(mkdir(xdg, 0755), 0);
    setenv("XDG_CACHE_HOME", xdg, 1);
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
    snprintf(d, sizeof d, "%s/detector", xdg);
    snprintf(f, sizeof f, "%s/conv_routes.txt", d);
    assert_string_equal(dt_conv_route_cache_path(), f);
    struct stat st;
    assert_int_equal(lstat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    dt_network *net = build(DT_CONV_AUTO, 0);
    dt_net_free(net);
    expect_valid_rebuilt(f, 0);

    // HOME when XDG_CACHE_HOME is unset or relative: <home>/.cache/detector
    char home[320];
    snprintf(home, sizeof home, "%s/home", dir);
    assert_int_equal(mkdir(home, 0700), 0);
    setenv("XDG_CACHE_HOME", "relative/ignored", 1);
    setenv("HOME", home, 1);
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
    snprintf(f, sizeof f, "%s/.cache/detector/conv_routes.txt", home);
    assert_string_equal(dt_conv_route_cache_path(), f);

    // refused: a symlink (to a good folder), a folder others can write,
    // another user's folder (only root can make one)
    char target[320];
    snprintf(xdg, sizeof xdg, "%s/xdg_link", dir);
    snprintf(target, sizeof target, "%s/xdg_link_target", dir);
    assert_int_equal(mkdir(xdg, 0700), 0);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(d, sizeof d, "%s/detector", xdg);
    assert_int_equal(symlink(target, d), 0);
    setenv("XDG_CACHE_HOME", xdg, 1);
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
    assert_null(dt_conv_route_cache_path());
    net = build(DT_CONV_AUTO, 0); // measures, writes nothing through the link
    dt_net_free(net);
    snprintf(f, sizeof f, "%s/conv_routes.txt", target);
    assert_int_equal(access(f, F_OK), -1);

    snprintf(xdg, sizeof xdg, "%s/xdg_open", dir);
    assert_int_equal(mkdir(xdg, 0700), 0);
    snprintf(d, sizeof d, "%s/detector", xdg);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(chmod(d, 0777), 0);
    setenv("XDG_CACHE_HOME", xdg, 1);
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
    assert_null(dt_conv_route_cache_path());

    if (geteuid() == 0) {
        snprintf(xdg, sizeof xdg, "%s/xdg_other", dir);
        assert_int_equal(mkdir(xdg, 0700), 0);
        snprintf(d, sizeof d, "%s/detector", xdg);
        assert_int_equal(mkdir(d, 0700), 0);
        assert_int_equal(chown(d, 12345, 12345), 0);
        setenv("XDG_CACHE_HOME", xdg, 1);
        dt_conv_route_reset();
        dt_cli_env_load(); // the command line's mapping of the variables
        assert_null(dt_conv_route_cache_path());
    } else {
        printf("  not root: the other-owner case needs a folder of another user\n");
    }

    // DT_CONV_CACHE=off: no file, still one measurement per shape
    setenv("DT_CONV_CACHE", "off", 1);
    dt_conv_route_reset();
    dt_cli_env_load(); // the command line's mapping of the variables
    assert_null(dt_conv_route_cache_path());
    net = build(DT_CONV_AUTO, 0);
    int shapes;
    double s;
    dt_conv_route_stats(&shapes, &s);
    assert_int_equal(shapes, 3);
    dt_net_free(net);
    net = build(DT_CONV_AUTO, 0); // the same shapes: remembered in the process
    int r, h;
    layer_route(net, 0, &r, &h);
    assert_int_equal(h, DT_ROUTE_MEASURED);
    dt_net_free(net);
    dt_conv_route_stats(&shapes, &s);
    assert_int_equal(shapes, 3);
}

// --- results do not depend on the route ----------------------------------------------

// Output, and in training every parameter gradient and the input gradient,
// of the same network under gemm, onednn, auto measured and auto from a
// mixed cache: equal within float rounding (the convolutions sum at most
// 16 * 9 products; 1e-5 of the largest value is ~100 ulps of float32).
static void test_auto_matches_forced(void **state) {
    (void)state;
    for (int train = 0; train < 2; train++) {
        const char *mixed = fresh_path("mixed");
        dt_conv_entry e[3] = {entry(0, train, DT_CONV_GEMM), entry(1, train, DT_CONV_ONEDNN),
                              entry(4, train, DT_CONV_GEMM)};
        assert_int_equal(dt_conv_cache_write(mixed, e, 3), 0);
        const char *caches[4] = {NULL, NULL, fresh_path("measured"), mixed};
        const int opts[4] = {DT_CONV_GEMM, DT_CONV_ONEDNN, DT_CONV_AUTO, DT_CONV_AUTO};
        float *ref_out = NULL, *ref_g = NULL, *ref_dx = NULL;
        size_t n_out = 0, n_g = 0, n_in = 0;
        for (int v = 0; v < 4; v++) {
            use_cache(caches[v] ? caches[v] : "off");
            dt_network *net = build(opts[v], train);
            for (int k = 0; k < N_CONV; k++) {
                if (k == GROUPED || k == DILATED) continue;
                int r, h;
                layer_route(net, k, &r, &h);
                if (v == 2) assert_int_equal(h, DT_ROUTE_MEASURED);
                if (v == 3) assert_int_equal(r, k == 1 ? DT_CONV_ONEDNN : DT_CONV_GEMM);
            }
            n_in = (size_t)net->batch * net->h * net->w * net->c;
            tu_fill_uniform(net->input, n_in, 17, -1, 1);
            dt_net_set_train(net, train);
            dt_net_forward(net);
            dt_layer *last = dt_net_last(net);
            n_out = last->outputs * net->batch;
            n_g = net->n_params;
            if (train) {
                tu_fill_uniform(last->delta, n_out, 23, -1, 1);
                dt_net_backward(net);
            }
            if (v == 0) {
                ref_out = malloc(n_out * sizeof *ref_out);
                memcpy(ref_out, dt_net_output(net), n_out * sizeof *ref_out);
                if (train) {
                    ref_g = malloc(n_g * sizeof *ref_g);
                    memcpy(ref_g, net->grads, n_g * sizeof *ref_g);
                    ref_dx = malloc(n_in * sizeof *ref_dx);
                    memcpy(ref_dx, net->input_delta, n_in * sizeof *ref_dx);
                }
            } else {
                char what[64];
                snprintf(what, sizeof what, "%s variant %d output", train ? "train" : "infer", v);
                assert_true(tu_check(what, dt_net_output(net), ref_out, n_out, 1e-5));
                if (train) {
                    snprintf(what, sizeof what, "train variant %d gradients", v);
                    assert_true(tu_check(what, net->grads, ref_g, n_g, 1e-5));
                    snprintf(what, sizeof what, "train variant %d input gradient", v);
                    assert_true(tu_check(what, net->input_delta, ref_dx, n_in, 1e-5));
                }
            }
            dt_net_free(net);
        }
        free(ref_out);
        free(ref_g);
        free(ref_dx);
    }
}

static int setup(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dt_conv_route_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return -1;
    unsetenv("DT_CONV");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (getenv("TU_KEEP")) return 0;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return tu_run(cmd, NULL) == 0 ? 0 : -1;
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_corrupt_refused),
        cmocka_unit_test(test_other_key_ignored),
        cmocka_unit_test(test_entry_obeyed),
        cmocka_unit_test(test_forced),
        cmocka_unit_test(test_unavailable_keeps_onednn),
        cmocka_unit_test(test_default_folder),
        cmocka_unit_test(test_auto_matches_forced),
    };
    return cmocka_run_group_tests_name("conv_route_cache", tests, setup, teardown);
}
