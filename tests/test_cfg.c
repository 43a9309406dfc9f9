// cfg parsing and network building: every error names what a person needs
// to fix it (file, line, section, key), the syntax features work (CRLF,
// comments, repeated and empty sections, includes), and no garbled cfg
// crashes or allocates without bound (a fuzz pass over truncated and mutated
// variants of a valid cfg; run it under ASan too: make BUILD=build-tests-asan
// ASAN=1 OPENCV=0 build-tests-asan/tests/test_cfg). The reference for each
// message is the offending line of the cfg text itself.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define NET "[net]\nbatch=2\nheight=8\nwidth=8\nchannels=3\n" // 5 lines

// Builds cfg text; returns 1 if it fails (cfg or net) with a message that
// contains every given substring. Prints the message.
static int fails_with(const char *text, ...) {
    dt_clear_error();
    dt_cfg *cfg = dt_cfg_parse_string(text, "test.cfg");
    dt_network *net = NULL;
    if (cfg) {
        net = dt_net_from_cfg(cfg, "test.cfg", &(dt_net_opts){.with_grads = 1, .quiet = 1});
        if (!net)
            dt_cfg_free(cfg);
    }
    if (net) {
        printf("  expected an error, the cfg built a network:\n%s\n", text);
        dt_net_free(net);
        return 0;
    }
    const char *msg = tu_error();
    int ok = msg[0] != 0;
    if (!ok)
        printf("  failed with an empty error message\n");
    va_list ap;
    va_start(ap, text);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        if (!strstr(msg, s)) {
            printf("  message lacks '%s'\n", s);
            ok = 0;
        }
    va_end(ap);
    printf("  %s: %s\n", ok ? "ok" : "BAD", msg);
    return ok;
}

static void test_unknown_section(void **state) {
    assert_true(fails_with(NET "\n[convolutional]\nfilters=4\nsize=3\npad=1\n\n[maxpul]\nsize=2\n",
                           "test.cfg:12", "[maxpul]", "unknown section", "maxpool", NULL));
}

static void test_unknown_key(void **state) {
    assert_true(fails_with(NET "[maxpool]\nsize=2\nsizee=3\n", "test.cfg:8", "[maxpool]", "'sizee'",
                           "unknown key", NULL));
    // in [net] too
    assert_true(fails_with("[net]\nheight=8\nwidth=8\nbatchsize=3\n[maxpool]\n", "test.cfg:4",
                           "[net]", "'batchsize'", NULL));
}

static void test_bad_value(void **state) {
    assert_true(
        fails_with(NET "[maxpool]\nsize=abc\n", "test.cfg:7", "[maxpool]", "'size'", "abc", NULL));
    assert_true(fails_with(NET "[maxpool]\nsize=2x\n", "test.cfg:7", "'size'", "2x", NULL));
    assert_true(fails_with(NET "[dropout]\np=half\n", "test.cfg:7", "[dropout]", "'p'", NULL));
    assert_true(fails_with(NET "[activation]\nactivation=relux\n", "test.cfg:7", "[activation]",
                           "'activation'", "relux", NULL));
    assert_true(
        fails_with(NET "[route]\nlayers=-1,x\n", "test.cfg:7", "[route]", "'layers'", NULL));
    assert_true(fails_with("[net]\nheight=8\nwidth=8\nlearning_rate=nan\n[maxpool]\n", "test.cfg:4",
                           "[net]", "'learning_rate'", NULL));
}

static void test_out_of_range(void **state) {
    assert_true(
        fails_with(NET "[dropout]\np=1.5\n", "test.cfg:7", "[dropout]", "'p'", "range", NULL));
    assert_true(fails_with(NET "[maxpool]\nsize=0\n", "test.cfg:7", "[maxpool]", "'size'", NULL));
    assert_true(fails_with("[net]\nbatch=-1\nheight=8\nwidth=8\n[maxpool]\n", "test.cfg:2", "[net]",
                           "'batch'", NULL));
    assert_true(fails_with(NET "[convolutional]\nfilters=-4\nsize=3\n", "test.cfg:7",
                           "[convolutional]", "'filters'", NULL));
    assert_true(fails_with(NET "[maxpool]\nsize=99999999999\n", "test.cfg:7", "'size'", NULL));
    // a window larger than the input: the layer's output would be empty
    assert_true(
        fails_with(NET "[maxpool]\nsize=9\nstride=1\n", "test.cfg:7", "[maxpool]", "'size'", NULL));
}

static void test_missing_required(void **state) {
    assert_true(fails_with(NET "[convolutional]\nsize=3\npad=1\n", "test.cfg:6", "[convolutional]",
                           "filters", NULL));
    assert_true(fails_with(NET "[connected]\nactivation=relu\n", "test.cfg:6", "[connected]",
                           "output", NULL));
    assert_true(fails_with(NET "[route]\n", "test.cfg:6", "[route]", "layers", NULL));
    assert_true(fails_with(NET "[shortcut]\n", "test.cfg:6", "[shortcut]", "from", NULL));
    assert_true(
        fails_with("[net]\nbatch=1\nwidth=8\n[maxpool]\n", "test.cfg:1", "[net]", "height", NULL));
}

static void test_key_before_section(void **state) {
    assert_true(fails_with("batch=1\n" NET "[maxpool]\n", "test.cfg:1", "'batch'",
                           "before any section", NULL));
    assert_true(
        fails_with("# comment\n\n  size = 3\n" NET "[maxpool]\n", "test.cfg:3", "'size'", NULL));
}

static void test_bad_references(void **state) {
    assert_true(fails_with(NET "[maxpool]\n[route]\nlayers=-9\n", "test.cfg:8", "[route]",
                           "'layers'", "-9", "does not exist", NULL));
    assert_true(fails_with(NET "[maxpool]\n[maxpool]\nsize=1\n[shortcut]\nfrom=5\n", "test.cfg:10",
                           "[shortcut]", "'from'", "5", NULL));
    // a reference to itself / to the network input is not an earlier layer
    assert_true(fails_with(NET "[maxpool]\n[route]\nlayers=1\n", "test.cfg:8", "[route]", NULL));
    assert_true(fails_with(NET "[route]\nlayers=0\n", "test.cfg:7", "[route]", NULL));
    // shapes that cannot be combined
    assert_true(fails_with(NET "[activation]\n[maxpool]\n[route]\nlayers=-1,-2\n", "test.cfg:9",
                           "[route]", "'layers'", NULL));
    assert_true(
        fails_with(NET "[activation]\n[maxpool]\n[shortcut]\nfrom=-2\n", "[shortcut]", NULL));
}

// Shapes each within its key's range whose product is absurd: an error that
// names the section, not an allocation of terabytes (or an overflow).
static void test_huge_shapes(void **state) {
    assert_true(fails_with("[net]\nbatch=65536\nheight=32768\nwidth=32768\nchannels=3\n"
                           "[maxpool]\nsize=1\n",
                           "test.cfg", NULL));
    assert_true(fails_with("[net]\nbatch=1\nheight=32768\nwidth=32768\nchannels=32768\n"
                           "[maxpool]\nsize=1\n",
                           "test.cfg", NULL));
    assert_true(
        fails_with(NET "[connected]\noutput=268435456\n", "test.cfg:6", "[connected]", NULL));
    assert_true(fails_with(NET "[convolutional]\nfilters=65536\nsize=3\npad=1\n"
                               "[convolutional]\nfilters=65536\nsize=3\npad=1\n",
                           "test.cfg", NULL));
}

static void test_second_net(void **state) {
    assert_true(
        fails_with(NET "[maxpool]\n\n[net]\nbatch=1\n", "test.cfg:8", "[net]", "second", NULL));
}

static void test_first_not_net(void **state) {
    assert_true(fails_with("[maxpool]\nsize=2\n" NET, "test.cfg:1", "[maxpool]", "[net]", NULL));
    assert_true(fails_with("", "test.cfg", NULL));
    assert_true(fails_with("# only a comment\n", "test.cfg", NULL));
    assert_true(fails_with(NET, "test.cfg", "no layers", NULL));
}

static void test_syntax_errors(void **state) {
    assert_true(fails_with(NET "[maxpool\nsize=2\n", "test.cfg:6", NULL));
    assert_true(fails_with(NET "[]\n", "test.cfg:6", NULL));
    assert_true(fails_with(NET "[maxpool]\nsize 2\n", "test.cfg:7", NULL));
    assert_true(
        fails_with(NET "[maxpool]\nsize=2\nsize=3\n", "test.cfg:8", "'size'", "twice", NULL));
}

static dt_cfg *load_file(const char *path) {
    dt_clear_error();
    dt_cfg *c = dt_cfg_load(path);
    if (!c)
        printf("  load: %s\n", tu_error());
    return c;
}

static void test_include_missing(void **state) {
    char *main_path =
        tu_write_file("inc_missing.cfg", NET "[maxpool]\n\n[include]\nfile=nope_missing.cfg\n", -1);
    dt_cfg *c = load_file(main_path);
    assert_null(c);
    assert_true(tu_error_has("inc_missing.cfg:9", "[include]", "nope_missing.cfg", NULL));
    free(main_path);
}

static void test_include_error_inside(void **state) {
    char *inc = tu_write_file("inc_bad_body.cfg", "[maxpool]\nsize=2\n\n[dropout]\np=2\n", -1);
    char *main_path =
        tu_write_file("inc_bad_main.cfg", NET "[include]\nfile=inc_bad_body.cfg\n", -1);
    dt_cfg *c = load_file(main_path);
    if (c) {
        dt_network *net =
            dt_net_from_cfg(c, main_path, &(dt_net_opts){.with_grads = 1, .quiet = 1});
        assert_null(net);
        dt_cfg_free(c);
    }
    assert_true(tu_error_has("inc_bad_body.cfg:5", "[dropout]", "'p'", NULL));
    // a syntax error inside an include also names the included file
    char *inc2 = tu_write_file("inc_bad_syntax.cfg", "[maxpool]\nsize=2\nwhat is this\n", -1);
    char *main2 =
        tu_write_file("inc_bad_main2.cfg", NET "[include]\nfile=inc_bad_syntax.cfg\n", -1);
    assert_null(load_file(main2));
    assert_true(tu_error_has("inc_bad_syntax.cfg:3", NULL));
    // an include of itself stops
    char *self = tu_write_file("inc_self.cfg", NET "[include]\nfile=inc_self.cfg\n", -1);
    dt_cfg *cs = load_file(self);
    assert_null(cs);
    assert_true(tu_error_has("inc_self.cfg", "[include]", NULL));
    free(inc);
    free(main_path);
    free(inc2);
    free(main2);
    free(self);
}

static void test_include_splices(void **state) {
    char *inc = tu_write_file("inc_body.cfg",
                              "[net]\nbatch=64\nheight=224\nwidth=224\n\n"
                              "[convolutional]\nfilters=4\nsize=3\npad=1\n\n[maxpool]\n",
                              -1);
    char *main_path = tu_write_file(
        "inc_main.cfg", NET "[include]\nfile=inc_body.cfg\n\n[avgpool]\n\n[connected]\noutput=3\n",
        -1);
    dt_cfg *c = load_file(main_path);
    assert_non_null(c);
    dt_network *net = dt_net_from_cfg(c, main_path, &(dt_net_opts){.with_grads = 1, .quiet = 1});
    if (!net)
        printf("  %s\n", tu_error());
    assert_non_null(net);
    const char *want[] = {"convolutional", "maxpool", "avgpool", "connected"};
    assert_int_equal(net->n_layers, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(net->layers[i].ops->name, want[i]);
    // the including file's [net] counts
    assert_int_equal(net->batch, 2);
    assert_int_equal(net->h, 8);
    assert_int_equal(net->layers[1].out_h, 4);
    assert_string_equal(net->layers[0].sec->file, inc);
    assert_int_equal(net->layers[0].sec->line, 6);
    dt_net_free(net);
    free(inc);
    free(main_path);
}

// An include (or the cfg itself) that is not a regular file is an error
// naming the including file and line: a folder used to include nothing (and
// exit 0), /dev/zero read without end, a FIFO would block on open.
static void test_include_not_regular(void **state) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/inc_a_folder", tu_tmpdir());
    mkdir(dir, 0755);
    char *m1 =
        tu_write_file("inc_folder.cfg", NET "[maxpool]\n\n[include]\nfile=inc_a_folder\n", -1);
    assert_null(load_file(m1));
    assert_true(tu_error_has("inc_folder.cfg:9", "[include]", "'file'", "inc_a_folder",
                             "a directory", NULL));
    char *m2 = tu_write_file("inc_empty.cfg", NET "[include]\nfile=\n", -1);
    assert_null(load_file(m2));
    assert_true(tu_error_has("inc_empty.cfg:7", "[include]", "a directory", NULL));
    char *m3 = tu_write_file("inc_zero.cfg", NET "[include]\nfile=/dev/zero\n", -1);
    assert_null(load_file(m3));
    assert_true(tu_error_has("inc_zero.cfg:7", "[include]", "/dev/zero", "a device", NULL));
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/inc_fifo", tu_tmpdir());
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    char *m4 = tu_write_file("inc_fifo.cfg", NET "[include]\nfile=inc_fifo\n", -1);
    assert_null(load_file(m4));
    assert_true(tu_error_has("inc_fifo.cfg:7", "inc_fifo", "a pipe", NULL));
    // the cfg itself
    assert_null(load_file(dir));
    assert_true(tu_error_has("inc_a_folder", "a directory", NULL));
    assert_null(load_file("/dev/zero"));
    assert_true(tu_error_has("/dev/zero", "a device", NULL));
    unlink(fifo);
    free(m1);
    free(m2);
    free(m3);
    free(m4);
}

// Size caps: one file, the number of files a load reads (an include fan-out:
// 8 levels of 30 includes each would be 30^7 files), and their total bytes.
static void test_include_limits(void **state) {
    // a file one byte over the cap; and the same text held in memory
    size_t big = (size_t)DT_CFG_MAX_FILE_BYTES + 1;
    char *text = malloc(big + 1);
    memset(text, '#', big);
    memcpy(text, NET, strlen(NET));
    text[strlen(NET)] = '#';
    text[big] = 0;
    char *f_big = tu_write_file("too_big.cfg", text, big);
    assert_null(load_file(f_big));
    assert_true(tu_error_has("too_big.cfg", "too large", "1048576", NULL));
    dt_clear_error();
    assert_null(dt_cfg_parse_string(text, "mem.cfg"));
    assert_true(tu_error_has("mem.cfg", "too large", NULL));
    // at the cap it loads (one comment line of a megabyte: no line limit)
    text[big - 1] = 0;
    char *f_max = tu_write_file("at_cap.cfg", text, big - 1);
    dt_cfg *c = load_file(f_max);
    assert_non_null(c);
    assert_int_equal(c->n_sec, 1);
    dt_cfg_free(c);
    free(text);

    // fan-out: l0 includes l1 30 times, ..., l6 includes l7 30 times
    char name[64];
    for (int lvl = 0; lvl < 8; lvl++) {
        char body[2048] = "[maxpool]\nsize=1\nstride=1\n";
        for (int k = 0; lvl < 7 && k < 30; k++) {
            char inc[64];
            snprintf(inc, sizeof inc, "[include]\nfile=fan_l%d.cfg\n", lvl + 1);
            strcat(body, inc);
        }
        snprintf(name, sizeof name, "fan_l%d.cfg", lvl);
        free(tu_write_file(name, body, -1));
    }
    char *fan = tu_write_file("fan_main.cfg", NET "[include]\nfile=fan_l0.cfg\n", -1);
    assert_null(load_file(fan));
    assert_true(tu_error_has("fan_l", ".cfg:", "[include]", "more than 256 cfg files",
                             "fan-out", NULL));
    // 200 files are fine (the cfg, 1 + 199 includes of an empty body)
    free(tu_write_file("fan_leaf.cfg", "# nothing\n", -1));
    char *many = malloc(200 * 40 + 256);
    strcpy(many, NET "[maxpool]\n");
    for (int k = 0; k < 199; k++)
        strcat(many, "[include]\nfile=fan_leaf.cfg\n");
    char *f_many = tu_write_file("fan_many.cfg", many, -1);
    c = load_file(f_many);
    assert_non_null(c);
    assert_int_equal(c->n_files, 200);
    assert_int_equal(c->n_sec, 2);
    dt_cfg_free(c);
    free(many);

    // total bytes: a 0.9 MiB body included 10 times
    size_t nb = 900 * 1024;
    char *body = malloc(nb + 1);
    memset(body, '#', nb);
    body[nb - 1] = '\n';
    body[nb] = 0;
    free(tu_write_file("bulk_body.cfg", body, nb));
    free(body);
    char *bulk = tu_write_file("bulk_main.cfg",
                               NET "[include]\nfile=bulk_body.cfg\n[include]\nfile=bulk_body.cfg\n"
                                   "[include]\nfile=bulk_body.cfg\n[include]\nfile=bulk_body.cfg\n"
                                   "[include]\nfile=bulk_body.cfg\n[include]\nfile=bulk_body.cfg\n"
                                   "[include]\nfile=bulk_body.cfg\n[include]\nfile=bulk_body.cfg\n"
                                   "[include]\nfile=bulk_body.cfg\n[include]\nfile=bulk_body.cfg\n",
                               -1);
    assert_null(load_file(bulk));
    assert_true(tu_error_has("bulk_main.cfg:", "[include]", "bulk_body.cfg",
                             "bytes of cfg text", NULL));
    free(f_big);
    free(f_max);
    free(fan);
    free(f_many);
    free(bulk);
}

// Lines have no length limit (inih's 200-byte buffer used to stop a parse at
// 197 characters naming no key): a long value reaches its getter, whose
// error names file, line, section and key; an include path of ~3000
// characters (deep folders) is followed.
static void test_long_lines(void **state) {
    char *text = malloc(20000);
    char digits[5001];
    memset(digits, '9', 5000);
    digits[5000] = 0;
    snprintf(text, 20000, NET "[convolutional]\nfilters=%s\nsize=3\n", digits);
    assert_true(fails_with(text, "test.cfg:7", "[convolutional]", "'filters'",
                           "(5000 characters)", NULL));
    // a long comment and a long, valid value
    char pad[4001];
    memset(pad, ' ', 4000);
    pad[4000] = 0;
    snprintf(text, 20000, "# %s%s\n" NET "[maxpool]\nsize=2%s\nstride=2 ; %s\n", digits, digits,
             pad, digits);
    dt_cfg *c = dt_cfg_parse_string(text, "test.cfg");
    if (!c)
        printf("  %s\n", tu_error());
    assert_non_null(c);
    assert_int_equal(c->n_sec, 2);
    assert_string_equal(dt_cfg_find(&c->sec[1], "size")->value, "2");
    assert_string_equal(dt_cfg_find(&c->sec[1], "stride")->value, "2");
    assert_int_equal(dt_cfg_find(&c->sec[1], "stride")->line, 9);
    dt_cfg_free(c);
    // a section name over the limit is named as such
    char sec[200];
    memset(sec, 'a', 150);
    sec[150] = 0;
    snprintf(text, 20000, NET "[%s]\n", sec);
    assert_true(fails_with(text, "test.cfg:6", "section name longer than 127", NULL));

    // a deep include path: 12 folders of 250 characters
    char rel[4096] = "", dir[8192];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    for (int i = 0; i < 12; i++) {
        char comp[251];
        memset(comp, 'a' + i, 250);
        comp[250] = 0;
        strcat(rel, comp);
        strcat(rel, "/");
        strcat(dir, "/");
        strcat(dir, comp);
        mkdir(dir, 0755);
    }
    strcat(rel, "deep.cfg");
    assert_true(strlen(rel) > 3000);
    char path[8192];
    snprintf(path, sizeof path, "%s/deep.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[maxpool]\nsize=2\n", f);
    fclose(f);
    snprintf(text, 20000, NET "[include]\nfile=%s\n", rel);
    char *m = tu_write_file("deep_main.cfg", text, -1);
    c = load_file(m);
    assert_non_null(c);
    assert_int_equal(c->n_sec, 2);
    assert_string_equal(c->sec[1].name, "maxpool");
    assert_string_equal(c->sec[1].file + strlen(c->sec[1].file) - strlen(rel), rel);
    dt_cfg_free(c);
    free(m);
    free(text);
}

static const char *const syntax_cfg = "# a comment\n"
                                      "; another comment\n"
                                      "[net]\n"
                                      "batch=2 # inline comment\n"
                                      "height = 8\n"
                                      "width=8 ; inline\n"
                                      "channels=3\n"
                                      "\n"
                                      "[convolutional]\n"
                                      "filters=4\n"
                                      "size=3\n"
                                      "pad=1\n"
                                      "  activation = relu\n"
                                      "[flatten]\n"
                                      "[maxpool]\n"
                                      "size=1\n"
                                      "[flatten]\n"
                                      "\n"
                                      "[connected]\n"
                                      "output=3\n"
                                      "[connected]\n"
                                      "output=2\n";

static void compare_cfgs(const dt_cfg *a, const dt_cfg *b) {
    assert_int_equal(a->n_sec, b->n_sec);
    for (int i = 0; i < a->n_sec; i++) {
        assert_string_equal(a->sec[i].name, b->sec[i].name);
        assert_int_equal(a->sec[i].line, b->sec[i].line);
        assert_int_equal(a->sec[i].n_kv, b->sec[i].n_kv);
        for (int k = 0; k < a->sec[i].n_kv; k++) {
            assert_string_equal(a->sec[i].kv[k].key, b->sec[i].kv[k].key);
            assert_string_equal(a->sec[i].kv[k].value, b->sec[i].kv[k].value);
            assert_int_equal(a->sec[i].kv[k].line, b->sec[i].kv[k].line);
        }
    }
}

static void test_syntax_features(void **state) {
    dt_cfg *c = dt_cfg_parse_string(syntax_cfg, "test.cfg");
    if (!c)
        printf("  %s\n", tu_error());
    assert_non_null(c);
    // sections in order, empty ones kept, comments gone
    const char *names[] = {"net",     "convolutional", "flatten",  "maxpool",
                           "flatten", "connected",     "connected"};
    const int lines[] = {3, 9, 14, 15, 17, 19, 21};
    assert_int_equal(c->n_sec, 7);
    for (int i = 0; i < 7; i++) {
        assert_string_equal(c->sec[i].name, names[i]);
        assert_int_equal(c->sec[i].line, lines[i]);
    }
    assert_int_equal(c->sec[2].n_kv, 0);
    assert_string_equal(dt_cfg_find(&c->sec[0], "batch")->value, "2");
    assert_string_equal(dt_cfg_find(&c->sec[0], "width")->value, "8");
    assert_string_equal(dt_cfg_find(&c->sec[1], "activation")->value, "relu");
    assert_int_equal(dt_cfg_find(&c->sec[1], "activation")->line, 13);

    // CRLF parses identically
    size_t n = strlen(syntax_cfg);
    char *crlf = malloc(2 * n + 1), *o = crlf;
    for (const char *p = syntax_cfg; *p; p++) {
        if (*p == '\n')
            *o++ = '\r';
        *o++ = *p;
    }
    *o = 0;
    dt_cfg *c2 = dt_cfg_parse_string(crlf, "test.cfg");
    if (!c2)
        printf("  CRLF: %s\n", tu_error());
    assert_non_null(c2);
    compare_cfgs(c, c2);
    // and from a file, with a UTF-8 BOM and no final newline
    char *bom = malloc(strlen(crlf) + 4);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, crlf, strlen(crlf) - 2);
    bom[3 + strlen(crlf) - 2] = 0;
    char *path = tu_write_file("bom.cfg", bom, -1);
    dt_cfg *c3 = load_file(path);
    assert_non_null(c3);
    assert_int_equal(c3->n_sec, c->n_sec);
    assert_string_equal(c3->sec[0].name, "net");
    assert_string_equal(dt_cfg_find(&c3->sec[6], "output")->value, "2");
    dt_cfg_free(c3);
    free(path);
    free(bom);

    // both build the same network: 5 layers, repeated and empty sections kept
    dt_net_opts opt = {.with_grads = 1, .quiet = 1};
    dt_network *a = dt_net_from_cfg(c, "lf", &opt);
    dt_network *b = dt_net_from_cfg(c2, "crlf", &opt);
    if (!a || !b)
        printf("  %s\n", tu_error());
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->n_layers, 6);
    assert_int_equal(b->n_layers, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(a->layers[i].ops->name, names[i + 1]);
        assert_int_equal(a->layers[i].outputs, b->layers[i].outputs);
    }
    assert_int_equal(a->layers[1].outputs, 8 * 8 * 4); // [flatten] of 8x8x4
    assert_int_equal(a->layers[5].outputs, 2);
    assert_int_equal(a->n_params, b->n_params);
    free(crlf);
    dt_net_free(a);
    dt_net_free(b);
}

// --- fuzz -------------------------------------------------------------------------

static const char *const fuzz_base = "[net]\n"
                                     "batch=2\n"
                                     "height=16\n"
                                     "width=16\n"
                                     "channels=3\n"
                                     "[convolutional]\n"
                                     "filters=8\n"
                                     "size=3\n"
                                     "stride=1\n"
                                     "pad=1\n"
                                     "batch_normalize=1\n"
                                     "bias=0\n"
                                     "activation=relu\n"
                                     "[maxpool]\n"
                                     "size=2\n"
                                     "stride=2\n"
                                     "[convolutional]\n"
                                     "filters=8\n"
                                     "size=3\n"
                                     "pad=1\n"
                                     "activation=leaky\n"
                                     "[shortcut]\n"
                                     "from=-2\n"
                                     "activation=linear\n"
                                     "[route]\n"
                                     "layers=-1,-3\n"
                                     "[dropout]\n"
                                     "p=0.25\n"
                                     "[avgpool]\n"
                                     "size=2\n"
                                     "[batchnorm]\n"
                                     "[flatten]\n"
                                     "[connected]\n"
                                     "output=10\n"
                                     "activation=tanh\n"
                                     "[softmax]\n";

typedef struct {
    int ok, err, bad;
} fuzz_stats;

static int verbose_fuzz;

// Parse + build; success or a non-empty error message are both fine.
// dt_net_opts.max_mem_gb of the fuzz (what DT_MAX_MEM_GB gives on the command line)
static double fuzz_mem_gb;

static void fuzz_one(const char *text, fuzz_stats *st, const char *what) {
    double t0 = dt_now();
    dt_clear_error();
    dt_cfg *cfg = dt_cfg_parse_string(text, "fuzz.cfg");
    dt_network *net = NULL;
    if (cfg) {
        net = dt_net_from_cfg(cfg, "fuzz.cfg",
                             &(dt_net_opts){.with_grads = 1, .quiet = 1, .max_mem_gb = fuzz_mem_gb});
        if (!net)
            dt_cfg_free(cfg);
    }
    if (net) {
        st->ok++;
        double t1 = dt_now();
        if (verbose_fuzz)
            printf("  %s: built in %.3f s\n", what, t1 - t0);
        // a network that builds must also run (the small ones: time)
        if (net->n_act < ((size_t)16 << 20)) {
            dt_net_forward(net);
            dt_net_backward(net);
        }
        dt_net_free(net);
        if (verbose_fuzz)
            printf("  %s: built and ran in %.3f s\n", what, dt_now() - t0);
        return;
    }
    const char *msg = tu_error();
    if (!msg[0]) {
        st->bad++;
        printf("  %s: failed without a message:\n%s\n", what, text);
    } else {
        st->err++;
        if (verbose_fuzz)
            printf("  %s: %s\n", what, msg);
    }
}

// lines of `s`, as offsets (start of each line)
static int split_lines(const char *s, int *start, int max) {
    int n = 0;
    for (int i = 0; s[i] && n < max; i++)
        if (i == 0 || s[i - 1] == '\n')
            start[n++] = i;
    return n;
}

static void test_fuzz(void **state) {
    verbose_fuzz = getenv("TU_FUZZ_VERBOSE") != NULL;
    // A garbled cfg must not allocate without bound: cap the address space at
    // 8 GiB (skipped under ASan, which reserves far more). Nothing needs more.
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)8 << 30;
    if (old.rlim_max == RLIM_INFINITY || old.rlim_max > lim.rlim_cur)
        setrlimit(RLIMIT_AS, &lim);
#endif
    // and the engine must refuse what would not fit (an error, not a crash)
    fuzz_mem_gb = 1;
    fuzz_stats st = {0};
    const size_t n = strlen(fuzz_base);
    char *buf = malloc(2 * n + 256);

    // the base builds
    fuzz_one(fuzz_base, &st, "base");
    assert_int_equal(st.ok, 1);

    // every prefix
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, fuzz_base, k);
        buf[k] = 0;
        fuzz_one(buf, &st, "prefix");
    }

    dt_rng r;
    dt_rng_seed(&r, 2024);
    int start[128];
    const int nl = split_lines(fuzz_base, start, 128);
    static const char *const numbers[] = {
        "0",          "-1",          "1",    "99999999999", "-99999999999", "65536",
        "2147483647", "-2147483648", "1e30", "nan",         "inf",          "3.5",
        "",           "0x10",        "-0",   "40000",       "1,2,3",        "-100"};
    const int n_numbers = sizeof numbers / sizeof numbers[0];
    for (int it = 0; it < 2000; it++) {
        int kind = (int)(dt_rng_u64(&r) % 5);
        char what[32];
        if (kind == 0) { // random byte flips
            memcpy(buf, fuzz_base, n + 1);
            int flips = 1 + (int)(dt_rng_u64(&r) % 4);
            for (int f = 0; f < flips; f++) {
                size_t at = dt_rng_u64(&r) % n;
                unsigned char c = (unsigned char)(dt_rng_u64(&r) % 255 + 1); // no NUL
                buf[at] = (char)c;
            }
            snprintf(what, sizeof what, "flip#%d", it);
        } else if (kind == 1 || kind == 2) { // delete or duplicate a line
            int li = (int)(dt_rng_u64(&r) % (uint64_t)nl);
            int a = start[li], b = li + 1 < nl ? start[li + 1] : (int)n;
            size_t o = 0;
            memcpy(buf, fuzz_base, (size_t)b);
            o = (size_t)b;
            if (kind == 1)
                o = (size_t)a;
            else {
                memcpy(buf + o, fuzz_base + a, (size_t)(b - a));
                o += (size_t)(b - a);
            }
            memcpy(buf + o, fuzz_base + b, n - (size_t)b + 1);
            snprintf(what, sizeof what, "%s#%d", kind == 1 ? "delete" : "dup", it);
        } else { // a value replaced by a random or extreme number
            int li;
            const char *eq;
            do {
                li = (int)(dt_rng_u64(&r) % (uint64_t)nl);
                eq = memchr(fuzz_base + start[li], '=',
                            (size_t)((li + 1 < nl ? start[li + 1] : (int)n) - start[li]));
            } while (!eq);
            int a = (int)(eq - fuzz_base) + 1;
            int b = li + 1 < nl ? start[li + 1] - 1 : (int)n - 1; // the '\n'
            char num[32];
            if (kind == 3)
                snprintf(num, sizeof num, "%s", numbers[dt_rng_u64(&r) % (uint64_t)n_numbers]);
            else
                snprintf(num, sizeof num, "%d", (int)(dt_rng_u64(&r) % 200) - 20);
            memcpy(buf, fuzz_base, (size_t)a);
            size_t o = (size_t)a;
            memcpy(buf + o, num, strlen(num));
            o += strlen(num);
            memcpy(buf + o, fuzz_base + b, n - (size_t)b + 1);
            snprintf(what, sizeof what, "number#%d", it);
        }
        fuzz_one(buf, &st, what);
    }
    free(buf);
#if !defined(__SANITIZE_ADDRESS__)
    setrlimit(RLIMIT_AS, &old);
#endif
    fuzz_mem_gb = 0;
    printf("  fuzz: %d variants built, %d rejected with a message, %d without\n", st.ok, st.err,
           st.bad);
    assert_int_equal(st.bad, 0);
    assert_true(st.ok > 10);   // the mutations are not all fatal ...
    assert_true(st.err > 100); // ... nor all harmless
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_bad_value),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_key_before_section),
        cmocka_unit_test(test_bad_references),
        cmocka_unit_test(test_huge_shapes),
        cmocka_unit_test(test_second_net),
        cmocka_unit_test(test_first_not_net),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_include_missing),
        cmocka_unit_test(test_include_error_inside),
        cmocka_unit_test(test_include_splices),
        cmocka_unit_test(test_include_not_regular),
        cmocka_unit_test(test_include_limits),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_syntax_features),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
