// [dropout] in training mode, where PyTorch cannot be matched draw for draw:
// the fraction dropped is p within a statistical tolerance, kept values are
// x/(1-p), the gradient passes through exactly the kept positions with the
// same scale, the mask depends on the seed but not on the thread count, and
// inference is the identity.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

// 4 x 32 x 32 x 64 = 262144 elements: the dropped fraction has a standard
// deviation of sqrt(p(1-p)/n) < 0.001, so 0.005 is > 5 sigma.
#define FRAC_TOL 0.005

static dt_network *dropout_net(float p) {
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "[net]\nbatch=4\nheight=32\nwidth=32\nchannels=64\nseed=7\n\n[dropout]\np=%g\n",
             p);
    return tu_net_from_text(cfg, 1);
}

static size_t net_n(const dt_network *net) {
    return (size_t)net->batch * net->h * net->w * net->c;
}

static void check_train(float p) {
    dt_network *net = dropout_net(p);
    assert_non_null(net);
    size_t n = net_n(net);
    // inputs bounded away from 0, so that a zero output means "dropped"
    tu_fill_uniform(net->input, n, 11, 0.5f, 1.5f);
    dt_net_set_train(net, 1);
    dt_net_forward(net);
    const float *x = net->input, *y = dt_net_output(net);
    const float scale = 1.0f / (1.0f - p);
    size_t dropped = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 0) {
            dropped++;
        } else if (fabsf(y[i] - x[i] / (1.0f - p)) > 1e-6f * fabsf(y[i]) ||
                   y[i] != x[i] * scale) {
            if (bad++ < 5) printf("  y[%zu] = %.9g, x/(1-p) = %.9g\n", i, y[i], x[i] / (1 - p));
        }
    }
    double frac = (double)dropped / n;
    printf("  p=%.2f: dropped %.4f of %zu (tolerance %.3f)\n", p, frac, n, FRAC_TOL);
    assert_true(fabs(frac - p) < FRAC_TOL);
    assert_int_equal(bad, 0);

    // backward: dx = dy * mask / (1-p), at exactly the kept positions
    dt_layer *l = dt_net_last(net);
    tu_fill_uniform(l->delta, n, 12, -1.0f, 1.0f);
    float *dy = malloc(n * sizeof(float));
    memcpy(dy, l->delta, n * sizeof(float));
    dt_net_backward(net);
    const float *dx = net->input_delta;
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = y[i] == 0 ? 0.0f : dy[i] * scale;
        if (dx[i] != want && bad++ < 5)
            printf("  dx[%zu] = %.9g, want %.9g (y %.9g)\n", i, dx[i], want, y[i]);
    }
    assert_int_equal(bad, 0);
    free(dy);
    dt_net_free(net);
}

static void test_train_p05(void **state) { check_train(0.5f); }
static void test_train_p025(void **state) { check_train(0.25f); }
static void test_train_p01(void **state) { check_train(0.1f); }

// A new mask every forward; the same seed gives the same masks whatever the
// number of threads.
static void test_masks_seeded(void **state) {
    dt_network *net = dropout_net(0.5f);
    assert_non_null(net);
    size_t n = net_n(net);
    tu_fill_uniform(net->input, n, 11, 0.5f, 1.5f);
    dt_net_set_train(net, 1);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    int threads = omp_get_max_threads();

    dt_rng_seed(&net->rng, 99);
    omp_set_num_threads(1);
    dt_net_forward(net);
    memcpy(a, dt_net_output(net), n * sizeof(float));
    dt_net_forward(net);
    assert_true(memcmp(a, dt_net_output(net), n * sizeof(float)) != 0);

    dt_rng_seed(&net->rng, 99);
    omp_set_num_threads(threads > 1 ? threads : 2);
    dt_net_forward(net);
    memcpy(b, dt_net_output(net), n * sizeof(float));
    omp_set_num_threads(threads);
    assert_memory_equal(a, b, n * sizeof(float));
    free(a);
    free(b);
    dt_net_free(net);
}

// Inference: the identity, forward and backward, whatever p.
static void test_eval_identity(void **state) {
    dt_network *net = dropout_net(0.7f);
    assert_non_null(net);
    size_t n = net_n(net);
    tu_fill_uniform(net->input, n, 13, -2.0f, 2.0f);
    dt_net_set_train(net, 0);
    dt_net_forward(net);
    assert_memory_equal(net->input, dt_net_output(net), n * sizeof(float));
    dt_layer *l = dt_net_last(net);
    tu_fill_uniform(l->delta, n, 14, -1.0f, 1.0f);
    dt_net_backward(net);
    assert_memory_equal(l->delta, net->input_delta, n * sizeof(float));
    dt_net_free(net);
}

static void check_bad_p(const char *p) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "[net]\nheight=2\nwidth=2\nchannels=1\n\n[dropout]\np=%s\n", p);
    dt_cfg *c = dt_cfg_parse_string(cfg, "bad.cfg");
    assert_non_null(c);
    dt_net_opts o = {.with_grads = 1, .quiet = 1};
    dt_network *net = dt_net_from_cfg(c, "bad.cfg", &o);
    assert_null(net);
    dt_cfg_free(c);
    assert_true(tu_error_has("bad.cfg:7", "[dropout]", "'p'", NULL));
}

static void test_bad_p(void **state) {
    check_bad_p("1");
    check_bad_p("1.5");
    check_bad_p("-0.1");
    check_bad_p("half");
}

int main(void) {
    dt_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_p05),    cmocka_unit_test(test_train_p025),
        cmocka_unit_test(test_train_p01),    cmocka_unit_test(test_masks_seeded),
        cmocka_unit_test(test_eval_identity), cmocka_unit_test(test_bad_p),
    };
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
