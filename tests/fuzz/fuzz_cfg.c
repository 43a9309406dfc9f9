// libFuzzer harness: the cfg parser (src/base/cfg.c) with its includes, and the
// typed getters every layer uses, on each key of what was parsed.
//
// The input is written as <tmp>/input.cfg and loaded with dt_cfg_load, so an
// `[include] file=X` in it resolves against the temporary folder, which holds
// a few fixed cfgs (a body, one with its own [net], a nested one, one in a
// sub-folder including ../, a cycle, a malformed one, one with a NUL byte).
// Bounded: inputs holding ".." or a '/' other than "sub/" are skipped, so an
// include can reach nothing outside that folder (no /dev/zero, no stdin).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cfg.h"
#include "base/common.h"
#include "util.h"

static void put(const char *name, const char *text) { fz_write(name, text, strlen(text)); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_init();
    put("body.cfg", "[convolutional]\nfilters=4\nsize=3\nactivation=relu\n[maxpool]\nsize=2\n");
    put("alone.cfg", "[net]\nwidth=8\nheight=8\n[convolutional]\nfilters=2 ; comment\n");
    put("nested.cfg", "[include]\nfile=body.cfg\n[route]\nlayers=-1,-2\n");
    put("twice.cfg", "[include]\nfile=nested.cfg\n[include]\nfile=alone.cfg\n");
    put("cycle.cfg", "[include]\nfile=cycle.cfg\n");
    put("bad.cfg", "[net\nwidth=1\n");
    fz_write("nul.cfg", "[net]\n\0width=1\n", 15);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", fz_tmpdir());
    if (mkdir(sub, 0700) != 0) abort();
    put("sub/deep.cfg", "[include]\nfile=../body.cfg\n[softmax]\n");
    return 0;
}

// An include can only name files inside the temporary folder.
static int bounded(const char *t) {
    if (strstr(t, "..")) return 0;
    for (const char *p = strchr(t, '/'); p; p = strchr(p + 1, '/'))
        if (p - t < 3 || memcmp(p - 3, "sub", 3) != 0) return 0;
    return 1;
}

static const char *const choices[] = {"relu", "leaky", "linear", "logistic", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *t = malloc(size + 1);
    memcpy(t, data, size);
    t[size] = 0;
    int ok = bounded(t);
    free(t);
    if (!ok) return 0;
    // Written with its NUL bytes, if any: the reader must refuse those.
    fz_write("input.cfg", data, size);
    char path[256];
    snprintf(path, sizeof path, "%s/input.cfg", fz_tmpdir());
    dt_cfg *c = dt_cfg_load(path);
    static int verbose = -1; // DT_FUZZ_VERBOSE=1: what each input parsed into
    if (verbose < 0) verbose = getenv("DT_FUZZ_VERBOSE") != NULL;
    if (!c) {
        if (verbose) fprintf(stderr, "refused: %s\n", dt_last_error());
        if (!dt_last_error()[0]) abort(); // a failure always says why
        return 0;
    }
    if (verbose)
        for (int i = 0; i < c->n_sec; i++)
            fprintf(stderr, "%s:%d: [%s] %d keys\n", c->sec[i].file, c->sec[i].line,
                    c->sec[i].name, c->sec[i].n_kv);
    for (int i = 0; i < c->n_sec; i++) {
        dt_cfg_section *s = &c->sec[i];
        if (!s->name || !s->name[0] || strcmp(s->name, "include") == 0) abort(); // spliced
        dt_cfg_check_unused(s);
        int iv, n;
        float fv;
        int iarr[8];
        float farr[8];
        dt_cfg_int_req(s, "no-such-key", 0, 10, &iv);
        for (int k = 0; k < s->n_kv; k++) {
            const char *key = s->kv[k].key;
            if (!dt_cfg_has(s, key) || dt_cfg_find(s, key) != &s->kv[k]) abort();
            dt_cfg_int(s, key, 0, -1000, 1000, &iv);
            dt_cfg_float(s, key, 0, -1e6f, 1e6f, &fv);
            dt_cfg_ints(s, key, iarr, 8, &n);
            if (n < 0 || n > 8) abort();
            dt_cfg_floats(s, key, farr, 8, &n);
            if (n < 0 || n > 8) abort();
            dt_cfg_choice(s, key, choices, 0, &iv);
            if (!dt_cfg_str(s, key)) abort();
        }
        if (dt_cfg_check_unused(s) != 0) abort(); // every key was asked for
    }
    dt_cfg_free(c);
    return 0;
}
