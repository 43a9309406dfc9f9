// PyTorch parity: one cmocka test per case in tests/ref/index.txt (written by
// scripts/make_refs.py from scripts/refs/*.py). Each case is a cfg plus an
// archive of tensors: parameters are loaded, x (and truth) fed, forward and
// backward run, and y / loss / running statistics / dx / every parameter
// gradient compared with PyTorch at the case's tolerance (max abs error over
// max |reference|). A cfg that does not build fails the case. A case with a
// convolution runs three times: on the default route and forced onto each CPU
// route (<case>@gemm, <case>@onednn), so that every route is judged against
// float64 on the machine the test runs on (docs/CPU.md).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct {
    char name[128];  // the case's files: tests/ref/<name>.cfg, .bin
    char label[160]; // the test's name: <name>, or <name>@<route> for a forced route
    int train;
    double tol;
    int route; // dt_conv_route
} parity_case;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

// "L12.weights.grad" -> layer 12, param "weights", suffix ".grad".
static int split_name(const char *name, int *layer, char *param, size_t pn, const char **suffix) {
    if (name[0] != 'L')
        return -1;
    char *end;
    long i = strtol(name + 1, &end, 10);
    if (end == name + 1 || *end != '.')
        return -1;
    const char *p = end + 1;
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len == 0 || len >= pn)
        return -1;
    memcpy(param, p, len);
    param[len] = 0;
    *layer = (int)i;
    *suffix = dot ? dot : "";
    return 0;
}

static int shape_matches(const dt_param *p, const tu_tensor *t) {
    if (p->n != t->n)
        return 0;
    if (p->ndims != t->ndims)
        return 1; // same count, other rank (e.g. bias (C) vs (1, C))
    for (int d = 0; d < t->ndims; d++)
        if (p->dims[d] != t->dims[d])
            return 0;
    return 1;
}

static void describe_shape(const tu_tensor *t, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (int d = 0; d < t->ndims && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, d ? "x%d" : "%d", t->dims[d]);
    if (t->ndims == 0)
        snprintf(buf, n, "scalar");
}

// Runs one case; returns the number of failed checks (setup errors count).
static int run_case(const parity_case *pc) {
    char path[512];
    int fails = 0;
    printf("case %s (train=%d, tol %.1e)\n", pc->label, pc->train, pc->tol);
    snprintf(path, sizeof path, "%s/%s.cfg", tu_ref_dir(), pc->name);
    char *text = slurp(path);
    if (!text) {
        printf("  cannot read %s\n", path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.bin", tu_ref_dir(), pc->name);
    tu_archive *a = tu_load(path);
    if (!a) {
        free(text);
        return 1;
    }
    dt_cfg *cfg = dt_cfg_parse_string(text, pc->name);
    free(text);
    if (!cfg) {
        printf("  FAIL cfg does not parse: %s\n", tu_error());
        tu_free(a);
        return 1;
    }
    dt_net_opts o = {.with_grads = 1, .with_input_delta = 1, .quiet = 1,
                     .conv_route = pc->route};
    dt_network *net = dt_net_from_cfg(cfg, pc->name, &o);
    if (!net) {
        printf("  FAIL network does not build: %s\n", tu_error());
        dt_cfg_free(cfg);
        tu_free(a);
        return 1;
    }
    const size_t in_n = (size_t)net->batch * net->h * net->w * net->c;
    dt_layer *last = dt_net_last(net);
    char *used = calloc((size_t)a->n, 1);
    int want_backward = 0;

    // 1. inputs and parameters
    for (int i = 0; i < a->n; i++) {
        tu_tensor *t = &a->t[i];
        int li;
        char pname[DT_NAME_LEN + 8], shape[64];
        const char *suffix;
        describe_shape(t, shape, sizeof shape);
        if (strcmp(t->name, "x") == 0) {
            used[i] = 1;
            if (t->n != in_n) {
                printf("  FAIL x has %zu values (%s), the network input %zu\n", t->n, shape, in_n);
                fails++;
                continue;
            }
            memcpy(net->input, t->data, in_n * sizeof(float));
        } else if (strcmp(t->name, "truth") == 0) {
            used[i] = 1;
            size_t cap = (size_t)net->batch * (net->truth_size > 0 ? net->truth_size : 0);
            if (t->n != cap) {
                printf("  FAIL truth has %zu values (%s), the network expects %zu "
                       "(batch %d x truth_size %d)\n",
                       t->n, shape, cap, net->batch, net->truth_size);
                fails++;
                continue;
            }
            memcpy(net->truth, t->data, t->n * sizeof(float));
        } else if (strcmp(t->name, "dy") == 0 || strcmp(t->name, "dx") == 0) {
            want_backward = 1;
        } else if (strcmp(t->name, "y") == 0 || strcmp(t->name, "loss") == 0) {
            // compared below
        } else if (split_name(t->name, &li, pname, sizeof pname, &suffix) == 0) {
            if (li < 0 || li >= net->n_layers) {
                printf("  FAIL %s: the network has layers 0..%d\n", t->name, net->n_layers - 1);
                fails++;
                used[i] = 1;
                continue;
            }
            if (strcmp(suffix, ".grad") == 0)
                want_backward = 1;
            if (strcmp(pname, "y") == 0 && !*suffix)
                continue; // a layer's output: below
            dt_param *p = tu_param(&net->layers[li], pname);
            if (!p) {
                printf("  FAIL %s: layer %d (%s) has no parameter '%s'\n", t->name, li,
                       net->layers[li].ops->name, pname);
                fails++;
                used[i] = 1;
                continue;
            }
            if (!shape_matches(p, t)) {
                printf("  FAIL %s: reference shape %s, parameter has %zu values (%dx%dx%dx%d)\n",
                       t->name, shape, p->n, p->dims[0], p->dims[1], p->dims[2], p->dims[3]);
                fails++;
                used[i] = 1;
                continue;
            }
            if (!*suffix) {
                memcpy(p->w, t->data, p->n * sizeof(float));
                used[i] = 1;
            }
        }
    }
    dt_net_weights_changed(net);
    if (fails)
        goto done;

    // 2. forward
    dt_net_set_train(net, pc->train);
    dt_net_forward(net);
    for (int i = 0; i < a->n; i++) {
        tu_tensor *t = &a->t[i];
        int li;
        char pname[DT_NAME_LEN + 8];
        const char *suffix;
        if (strcmp(t->name, "y") == 0) {
            used[i] = 1;
            size_t n = last->outputs * (size_t)net->batch;
            if (t->n != n) {
                printf("  FAIL y has %zu values, the last layer outputs %zu\n", t->n, n);
                fails++;
            } else if (!tu_check("y", last->output, t->data, n, pc->tol)) {
                fails++;
            }
        } else if (strcmp(t->name, "loss") == 0) {
            used[i] = 1;
            if (!last->is_loss) {
                printf("  FAIL the reference has a loss, the last layer (%s) is not a loss\n",
                       last->ops->name);
                fails++;
            } else if (!tu_check("loss", &net->loss, t->data, 1, pc->tol)) {
                fails++;
            }
        } else if (split_name(t->name, &li, pname, sizeof pname, &suffix) == 0 && !used[i]) {
            if (strcmp(pname, "y") == 0 && !*suffix) {
                used[i] = 1;
                dt_layer *l = &net->layers[li];
                size_t n = l->outputs * (size_t)net->batch;
                if (t->n != n) {
                    printf("  FAIL %s has %zu values, layer %d outputs %zu\n", t->name, t->n, li,
                           n);
                    fails++;
                } else if (!tu_check(t->name, l->output, t->data, n, pc->tol)) {
                    fails++;
                }
            } else if (strcmp(suffix, ".after") == 0) {
                used[i] = 1;
                dt_param *p = tu_param(&net->layers[li], pname);
                if (!tu_check(t->name, p->w, t->data, p->n, pc->tol))
                    fails++;
            }
        }
    }

    // 3. backward
    if (want_backward) {
        tu_tensor *dy = tu_get(a, "dy");
        if (dy) {
            used[dy - a->t] = 1;
            size_t n = last->outputs * (size_t)net->batch;
            if (dy->n != n) {
                printf("  FAIL dy has %zu values, the last layer outputs %zu\n", dy->n, n);
                fails++;
                goto done;
            }
            memcpy(last->delta, dy->data, n * sizeof(float));
        } else if (!last->is_loss) {
            printf("  FAIL gradients to compare but no dy and the last layer (%s) is not a "
                   "loss\n",
                   last->ops->name);
            fails++;
            goto done;
        }
        dt_net_backward(net);
        for (int i = 0; i < a->n; i++) {
            tu_tensor *t = &a->t[i];
            int li;
            char pname[DT_NAME_LEN + 8];
            const char *suffix;
            if (strcmp(t->name, "dx") == 0) {
                used[i] = 1;
                if (t->n != in_n) {
                    printf("  FAIL dx has %zu values, the input %zu\n", t->n, in_n);
                    fails++;
                } else if (!tu_check("dx", net->input_delta, t->data, in_n, pc->tol)) {
                    fails++;
                }
            } else if (split_name(t->name, &li, pname, sizeof pname, &suffix) == 0 &&
                       strcmp(suffix, ".grad") == 0 && !used[i]) {
                used[i] = 1;
                dt_param *p = tu_param(&net->layers[li], pname);
                if (!p->trainable) {
                    printf("  FAIL %s: parameter is not trainable (no gradient)\n", t->name);
                    fails++;
                } else if (!tu_check(t->name, p->g, t->data, p->n, pc->tol)) {
                    fails++;
                }
            }
        }
    }
    for (int i = 0; i < a->n; i++)
        if (!used[i]) {
            printf("  FAIL tensor '%s' in the archive was not used (unknown name?)\n",
                   a->t[i].name);
            fails++;
        }
done:
    printf("  %s: %s\n", pc->label, fails ? "FAIL" : "PASS");
    fflush(stdout);
    free(used);
    dt_net_free(net);
    tu_free(a);
    return fails;
}

static void test_case(void **state) {
    const parity_case *pc = *state;
    assert_int_equal(run_case(pc), 0);
}

static void test_no_index(void **state) {
    (void)state;
    printf("no %s/index.txt: run `python3 scripts/make_refs.py %s` first\n", tu_ref_dir(),
           tu_ref_dir());
    fail();
}

int main(void) {
    dt_set_verbosity(0);
    char path[512];
    snprintf(path, sizeof path, "%s/index.txt", tu_ref_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_no_index)};
        return cmocka_run_group_tests_name("parity", t, NULL, NULL);
    }
    // A case with a convolution runs once more per forced route: every CPU
    // route is checked against float64 on this machine (docs/CPU.md).
    static const struct {
        int route;
        const char *name;
    } routes[] = {{DT_CONV_GEMM, "gemm"}, {DT_CONV_ONEDNN, "onednn"}};
    const int n_routes = (int)(sizeof routes / sizeof routes[0]);
    int n = 0, cap = 64;
    parity_case *cases = calloc((size_t)cap, sizeof *cases);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        parity_case c = {0};
        if (sscanf(line, "%127s %d %lf", c.name, &c.train, &c.tol) != 3)
            continue;
        snprintf(path, sizeof path, "%s/%s.cfg", tu_ref_dir(), c.name);
        char *text = slurp(path);
        int conv = text && (strstr(text, "[convolutional]") || strstr(text, "[stdconv]") ||
                            strstr(text, "[outconv]"));
        free(text);
        for (int r = -1; r < (conv ? n_routes : 0); r++) {
            if (n == cap)
                cases = realloc(cases, sizeof *cases * (size_t)(cap *= 2));
            parity_case *d = &cases[n++];
            *d = c;
            d->route = r < 0 ? DT_CONV_DEFAULT : routes[r].route;
            if (r < 0)
                snprintf(d->label, sizeof d->label, "%s", c.name);
            else
                snprintf(d->label, sizeof d->label, "%s@%s", c.name, routes[r].name);
        }
    }
    fclose(f);
    struct CMUnitTest *tests = calloc((size_t)(n ? n : 1), sizeof *tests);
    for (int i = 0; i < n; i++) {
        tests[i].name = cases[i].label;
        tests[i].test_func = test_case;
        tests[i].initial_state = &cases[i];
    }
    if (n == 0) {
        tests[0].name = "test_no_index";
        tests[0].test_func = test_no_index;
        n = 1;
    }
    int rc = _cmocka_run_group_tests("parity", tests, (size_t)n, NULL, NULL);
    free(tests);
    free(cases);
    return rc;
}
