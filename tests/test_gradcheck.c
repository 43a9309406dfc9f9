// Finite-difference gradient checks for every layer type, on tiny networks
// built from cfg text. For a network whose last layer is not a loss the
// scalar is L = sum(y * r) with a fixed random r (seeded into the last
// layer's delta); for a loss layer L = net->loss. Each element of the input
// and of every trainable parameter is moved by +-h; the central difference
// (L(+h) - L(-h)) / 2h, accumulated in double over float evaluations, is the
// reference for dL/dx and each parameter gradient.
//
// Error: max |analytic - fd| / max(max |fd|, 1e-3); tolerance per case
// (1e-3 unless stated; h = 1e-2 unless stated). Kinks (ReLU, leaky, L1, max) are kept out of reach
// of h: inputs bounded away from 0, distinct max-pool inputs, L1 targets
// away from the predictions, and for a ReLU after a convolution a check that
// no pre-activation lies within a margin of 0. Dropout: the network's RNG is
// restored before every forward, so every evaluation draws the same mask.
// BatchNorm runs in training mode (batch statistics, gradient through them)
// and in inference mode (running statistics set to random values).
// A layer type that is not registered makes its case fail.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef enum {
    IN_UNIFORM = 0, // U[-1, 1)
    IN_AWAY0,       // |x| in [0.1, 1): no element near a kink at 0
    IN_DISTINCT,    // distinct values 0.05 apart, shuffled: no max-pool ties
} input_kind;

typedef enum {
    TRUTH_NONE = 0,
    TRUTH_CLASS,   // one class index per image in [0, outputs)
    TRUTH_UNIFORM, // U[-1, 1) per value
    TRUTH_AWAY,    // input +- [0.1, 0.5): L1 away from its kink (cost on the input)
} truth_kind;

typedef struct {
    const char *name;
    const char *cfg; // without [net]; NET() below adds it
    int b, h, w, c;  // input shape
    int train;
    input_kind in;
    truth_kind truth;
    double step, tol;
    // > 0: the last layer ends in ReLU; a linear twin of the cfg (last
    // "activation=relu" -> linear) must have every output at least this far from 0.
    double relu_margin;
} gc_case;

#define EPS_DEFAULT 1e-2
#define TOL_DEFAULT 1e-3

// clang-format off
static const gc_case cases[] = {
    // activation: every type, inputs away from the kinks at 0
    {.name = "activation_linear", .cfg = "[activation]\nactivation=linear\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_AWAY0},
    {.name = "activation_relu", .cfg = "[activation]\nactivation=relu\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_AWAY0},
    {.name = "activation_leaky", .cfg = "[activation]\nactivation=leaky\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_AWAY0},
    {.name = "activation_tanh", .cfg = "[activation]\nactivation=tanh\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "activation_sigmoid", .cfg = "[activation]\nactivation=sigmoid\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    // convolutional
    {.name = "conv_bias_linear",
     .cfg = "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nbias=1\nactivation=linear\n",
     .b = 2, .h = 5, .w = 5, .c = 3, .train = 1, .in = IN_UNIFORM},
    {.name = "conv_nobias_tanh_s2",
     .cfg = "[convolutional]\nfilters=3\nsize=3\nstride=2\npad=1\nbias=0\nactivation=tanh\n",
     .b = 2, .h = 5, .w = 6, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "conv_bias_sigmoid_5x5_nopad",
     .cfg = "[convolutional]\nfilters=2\nsize=5\nstride=1\npad=0\nbias=1\n"
            "activation=sigmoid\n",
     .b = 1, .h = 6, .w = 7, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "conv_bn_train_relu",
     .cfg = "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nbias=0\nbatch_normalize=1\n"
            "activation=relu\n",
     .b = 2, .h = 3, .w = 3, .c = 3, .train = 1, .in = IN_UNIFORM,
     .step = 1e-3, .relu_margin = 0.05},
    {.name = "conv_bn_train_linear_1x1_s2",
     .cfg = "[convolutional]\nfilters=4\nsize=1\nstride=2\npad=0\nbias=0\nbatch_normalize=1\n"
            "activation=linear\n",
     .b = 3, .h = 4, .w = 4, .c = 3, .train = 1, .in = IN_UNIFORM},
    {.name = "conv_bn_eval_tanh",
     .cfg = "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nbias=0\nbatch_normalize=1\n"
            "activation=tanh\n",
     .b = 2, .h = 4, .w = 4, .c = 2, .train = 0, .in = IN_UNIFORM},
    // batchnorm (BN2d on HxW, BN1d on 1x1xN)
    {.name = "batchnorm_train_linear", .cfg = "[batchnorm]\n",
     .b = 2, .h = 3, .w = 3, .c = 3, .train = 1, .in = IN_UNIFORM},
    {.name = "batchnorm_train_tanh", .cfg = "[batchnorm]\nactivation=tanh\n",
     .b = 2, .h = 2, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "batchnorm_train_relu", .cfg = "[batchnorm]\nactivation=relu\n",
     .b = 2, .h = 2, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM,
     .step = 1e-3, .relu_margin = 0.01},
    {.name = "batchnorm_eval_linear", .cfg = "[batchnorm]\n",
     .b = 2, .h = 3, .w = 3, .c = 3, .train = 0, .in = IN_UNIFORM},
    {.name = "batchnorm1d_train", .cfg = "[batchnorm]\n",
     .b = 4, .h = 1, .w = 1, .c = 5, .train = 1, .in = IN_UNIFORM},
    // dropout: a fixed mask (the RNG is restored before every forward)
    {.name = "dropout_train", .cfg = "[dropout]\np=0.5\n",
     .b = 2, .h = 3, .w = 3, .c = 4, .train = 1, .in = IN_UNIFORM},
    {.name = "dropout_eval", .cfg = "[dropout]\np=0.5\n",
     .b = 2, .h = 3, .w = 3, .c = 4, .train = 0, .in = IN_UNIFORM},
    // pooling
    {.name = "maxpool_2x2_s2", .cfg = "[maxpool]\nsize=2\nstride=2\n",
     .b = 2, .h = 4, .w = 4, .c = 2, .train = 1, .in = IN_DISTINCT},
    {.name = "maxpool_3x3_s2_pad1", .cfg = "[maxpool]\nsize=3\nstride=2\npad=1\n",
     .b = 2, .h = 5, .w = 5, .c = 2, .train = 1, .in = IN_DISTINCT},
    {.name = "avgpool_global", .cfg = "[avgpool]\n",
     .b = 2, .h = 3, .w = 4, .c = 3, .train = 1, .in = IN_UNIFORM},
    {.name = "avgpool_2x2_s2", .cfg = "[avgpool]\nsize=2\nstride=2\n",
     .b = 2, .h = 4, .w = 4, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "avgpool_3x3_s1_pad1", .cfg = "[avgpool]\nsize=3\nstride=1\npad=1\n",
     .b = 1, .h = 4, .w = 5, .c = 2, .train = 1, .in = IN_UNIFORM},
    // wiring: the input's gradient arrives by two paths
    {.name = "shortcut_tanh",
     .cfg = "[activation]\nactivation=tanh\n[activation]\nactivation=sigmoid\n[shortcut]\n"
            "from=-2\nactivation=tanh\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "shortcut_relu",
     .cfg = "[activation]\nactivation=tanh\n[activation]\nactivation=sigmoid\n[shortcut]\n"
            "from=-2\nactivation=relu\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM,
     .step = 1e-3, .relu_margin = 0.01},
    {.name = "route_one_input",
     .cfg = "[activation]\nactivation=tanh\n[activation]\nactivation=sigmoid\n[route]\n"
            "layers=-2\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "route_two_inputs", .cfg =
         "[activation]\nactivation=tanh\n[activation]\nactivation=sigmoid\n[route]\nlayers=-1,-2\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "route_sum_dup", .cfg =
         "[activation]\nactivation=tanh\n[activation]\nactivation=sigmoid\n[route]\nlayers=-1,0,-1\n"
         "mode=sum\n",
     .b = 2, .h = 3, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    // upsample: the nearest block sums, the bilinear weights (factor 3, odd sizes)
    {.name = "upsample_nearest_x2", .cfg = "[activation]\nactivation=tanh\n[upsample]\n",
     .b = 2, .h = 3, .w = 2, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "upsample_bilinear_x3",
     .cfg = "[activation]\nactivation=tanh\n[upsample]\nstride=3\nmode=bilinear\n",
     .b = 2, .h = 3, .w = 4, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "flatten", .cfg = "[activation]\nactivation=tanh\n[flatten]\n",
     .b = 2, .h = 3, .w = 2, .c = 3, .train = 1, .in = IN_UNIFORM},
    // connected
    {.name = "connected_bias_tanh", .cfg = "[connected]\noutput=5\nactivation=tanh\n",
     .b = 3, .h = 1, .w = 1, .c = 7, .train = 1, .in = IN_UNIFORM},
    {.name = "connected_nobias_linear_4d",
     .cfg = "[connected]\noutput=4\nbias=0\nactivation=linear\n",
     .b = 2, .h = 2, .w = 3, .c = 2, .train = 1, .in = IN_UNIFORM},
    {.name = "flatten_connected", .cfg = "[flatten]\n[connected]\noutput=3\nactivation=sigmoid\n",
     .b = 2, .h = 2, .w = 2, .c = 3, .train = 1, .in = IN_UNIFORM},
    // losses: L = net->loss
    {.name = "softmax_ce", .cfg = "[softmax]\n",
     .b = 3, .h = 1, .w = 1, .c = 6, .train = 1, .in = IN_UNIFORM, .truth = TRUTH_CLASS},
    {.name = "connected_softmax_ce", .cfg = "[connected]\noutput=4\n[softmax]\n",
     .b = 3, .h = 2, .w = 2, .c = 2, .train = 1, .in = IN_UNIFORM, .truth = TRUTH_CLASS},
    {.name = "cost_l2", .cfg = "[cost]\ntype=l2\n",
     .b = 2, .h = 2, .w = 2, .c = 3, .train = 1, .in = IN_UNIFORM, .truth = TRUTH_UNIFORM},
    {.name = "cost_l1", .cfg = "[cost]\ntype=l1\n",
     .b = 2, .h = 2, .w = 2, .c = 3, .train = 1, .in = IN_UNIFORM, .truth = TRUTH_AWAY},
    {.name = "connected_cost_l2", .cfg = "[connected]\noutput=4\n[cost]\ntype=l2\n",
     .b = 2, .h = 1, .w = 1, .c = 5, .train = 1, .in = IN_UNIFORM, .truth = TRUTH_UNIFORM},
};
// clang-format on

static char *make_cfg(const gc_case *k, const char *body) {
    size_t n = strlen(body) + 256;
    char *s = malloc(n);
    snprintf(s, n, "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n\n%s", k->b, k->h, k->w,
             k->c, body);
    return s;
}

static void fill_input(const gc_case *k, float *x, size_t n) {
    dt_rng r;
    dt_rng_seed(&r, 1000 + strlen(k->name));
    if (k->in == IN_DISTINCT) {
        for (size_t i = 0; i < n; i++)
            x[i] = ((float)i - (float)n / 2) * 0.05f;
        for (size_t i = n - 1; i > 0; i--) { // Fisher-Yates
            size_t j = dt_rng_u64(&r) % (i + 1);
            float t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = dt_rng_range(&r, -1, 1);
        if (k->in == IN_AWAY0)
            v = (v < 0 ? -0.1f : 0.1f) + 0.9f * v;
        x[i] = v;
    }
}

// Parameters by role: BN scale and variance positive, others centred.
static void fill_params(dt_network *net) {
    dt_rng r;
    dt_rng_seed(&r, 77);
    for (int i = 0; i < net->n_layers; i++)
        for (int p = 0; p < net->layers[i].n_params; p++) {
            dt_param *q = &net->layers[i].params[p];
            float lo = -0.5f, hi = 0.5f;
            if (!strcmp(q->name, "scale") || !strcmp(q->name, "var"))
                lo = 0.5f, hi = 1.5f;
            if (!strcmp(q->name, "mean") || !strcmp(q->name, "shift") || !strcmp(q->name, "bias"))
                lo = -0.3f, hi = 0.3f;
            for (size_t j = 0; j < q->n; j++)
                q->w[j] = dt_rng_range(&r, lo, hi);
        }
    dt_net_weights_changed(net);
}

static void fill_truth(const gc_case *k, dt_network *net) {
    dt_rng r;
    dt_rng_seed(&r, 4242);
    dt_layer *last = dt_net_last(net);
    size_t ts = (size_t)net->truth_size;
    for (int b = 0; b < net->batch; b++) {
        float *t = net->truth + (size_t)b * ts;
        if (k->truth == TRUTH_CLASS) {
            t[0] = (float)(dt_rng_u64(&r) % last->outputs);
        } else {
            const float *x = dt_layer_in(net, last, 0) + (size_t)b * last->inputs;
            for (size_t j = 0; j < last->inputs && j < ts; j++) {
                float v = dt_rng_range(&r, -1, 1);
                if (k->truth == TRUTH_AWAY)
                    v = x[j] + (v < 0 ? -0.1f : 0.1f) + 0.4f * v;
                t[j] = v;
            }
        }
    }
}

typedef struct {
    dt_network *net;
    dt_rng rng0; // restored before every forward: dropout masks repeat
    double *r;   // (B * outputs of the last layer) weights of L = sum(y * r)
} gc_ctx;

static double eval_loss(gc_ctx *g) {
    dt_network *net = g->net;
    net->rng = g->rng0;
    dt_net_forward(net);
    dt_layer *last = dt_net_last(net);
    if (last->is_loss)
        return net->loss;
    double L = 0;
    size_t n = last->outputs * (size_t)net->batch;
    for (size_t i = 0; i < n; i++)
        L += (double)last->output[i] * g->r[i];
    return L;
}

static double fd_at(gc_ctx *g, float *v, double h) {
    float v0 = *v;
    *v = (float)(v0 + h);
    double hp = (double)*v - v0; // the step float actually took
    dt_net_weights_changed(g->net);
    double lp = eval_loss(g);
    *v = (float)(v0 - h);
    double hm = v0 - (double)*v;
    dt_net_weights_changed(g->net);
    double lm = eval_loss(g);
    *v = v0;
    dt_net_weights_changed(g->net);
    return (lp - lm) / (hp + hm);
}

static int check(const char *what, const float *analytic, const double *fd, size_t n, double tol) {
    double maxw = 1e-3, maxd = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(analytic[i])) {
            maxd = INFINITY;
            worst = i;
            break;
        }
        double d = fabs(analytic[i] - fd[i]);
        if (d > maxd)
            maxd = d, worst = i;
        if (fabs(fd[i]) > maxw)
            maxw = fabs(fd[i]);
    }
    double e = maxd / maxw;
    int ok = e <= tol;
    printf("  %-28s err %.3e tol %.1e (n=%zu, worst [%zu] analytic %.6g fd %.6g) %s\n", what, e,
           tol, n, worst, n ? analytic[worst] : 0.0, n ? fd[worst] : 0.0, ok ? "PASS" : "FAIL");
    return ok;
}

// The smallest |output| of the linear twin of a ReLU case: how far the
// pre-activations are from the kink.
static double relu_preact_margin(const gc_case *k, const dt_network *net) {
    char *body = strdup(k->cfg);
    char *at = NULL;
    for (char *p = strstr(body, "activation=relu"); p; p = strstr(p + 1, "activation=relu"))
        at = p;
    if (!at) {
        free(body);
        return 0;
    }
    memcpy(at, "activation=line", 15); // same length: "relu" -> "linear" needs 2 more
    char *tmp = malloc(strlen(body) + 4);
    size_t off = (size_t)(at - body) + 15;
    memcpy(tmp, body, off);
    strcpy(tmp + off, "ar");
    strcat(tmp, at + strlen("activation=relu"));
    free(body);
    char *cfg = make_cfg(k, tmp);
    free(tmp);
    dt_network *twin = tu_net_from_text(cfg, 1);
    free(cfg);
    if (!twin)
        return 0;
    memcpy(twin->params, net->params, net->n_params * sizeof(float));
    memcpy(twin->input, net->input, (size_t)net->batch * net->h * net->w * net->c * 4);
    dt_net_weights_changed(twin);
    dt_net_set_train(twin, k->train);
    dt_net_forward(twin);
    dt_layer *last = dt_net_last(twin);
    double m = INFINITY;
    for (size_t i = 0; i < last->outputs * (size_t)twin->batch; i++)
        if (fabs(last->output[i]) < m)
            m = fabs(last->output[i]);
    dt_net_free(twin);
    return m;
}

static int run_case(const gc_case *k) {
    const double h = k->step > 0 ? k->step : EPS_DEFAULT;
    const double tol = k->tol > 0 ? k->tol : TOL_DEFAULT;
    printf("case %s (train=%d, h %.0e, tol %.0e)\n", k->name, k->train, h, tol);
    char *cfg = make_cfg(k, k->cfg);
    dt_network *net = tu_net_from_text(cfg, 1);
    free(cfg);
    if (!net) {
        printf("  FAIL: the network does not build (layer type not registered?)\n");
        return 1;
    }
    int fails = 0;
    const size_t in_n = (size_t)net->batch * net->h * net->w * net->c;
    dt_layer *last = dt_net_last(net);
    const size_t out_n = last->outputs * (size_t)net->batch;
    gc_ctx g = {.net = net, .r = calloc(out_n, sizeof(double))};
    dt_rng rr;
    dt_rng_seed(&rr, 31337);
    for (size_t i = 0; i < out_n; i++)
        g.r[i] = dt_rng_range(&rr, -1, 1);

    fill_input(k, net->input, in_n);
    fill_params(net);
    dt_net_set_train(net, k->train);
    dt_rng_seed(&net->rng, 99);
    g.rng0 = net->rng;
    if (k->truth != TRUTH_NONE) {
        if (net->truth_size <= 0) {
            printf("  FAIL: the loss layer declared no truth_size\n");
            fails++;
            goto done;
        }
        eval_loss(&g); // the forward fills the loss layer's input (TRUTH_AWAY)
        fill_truth(k, net);
    }
    if (k->relu_margin > 0) {
        double m = relu_preact_margin(k, net);
        printf("  ReLU pre-activations at least %.3g from 0 (need %.3g)\n", m, k->relu_margin);
        if (!(m >= k->relu_margin)) {
            printf("  FAIL: test setup puts a pre-activation near the ReLU kink\n");
            fails++;
            goto done;
        }
    }

    // analytic gradients
    double L0 = eval_loss(&g);
    if (!last->is_loss)
        for (size_t i = 0; i < out_n; i++)
            last->delta[i] = (float)g.r[i];
    dt_net_backward(net);
    printf("  L = %.6g\n", L0);
    float *dx = malloc(in_n * sizeof(float));
    memcpy(dx, net->input_delta, in_n * sizeof(float));
    float *grads = malloc(net->n_params * sizeof(float) + 4);
    memcpy(grads, net->grads, net->n_params * sizeof(float));

    // finite differences: input
    double *fd = malloc(sizeof(double) * (in_n > net->n_params ? in_n : net->n_params + 1));
    for (size_t i = 0; i < in_n; i++)
        fd[i] = fd_at(&g, &net->input[i], h);
    if (!check("dx", dx, fd, in_n, tol))
        fails++;

    // every trainable parameter
    int n_checked = 0;
    for (int li = 0; li < net->n_layers; li++)
        for (int pi = 0; pi < net->layers[li].n_params; pi++) {
            dt_param *q = &net->layers[li].params[pi];
            if (!q->trainable)
                continue;
            for (size_t j = 0; j < q->n; j++)
                fd[j] = fd_at(&g, &q->w[j], h);
            char what[64];
            snprintf(what, sizeof what, "L%d.%s.grad", li, q->name);
            if (!check(what, grads + q->offset, fd, q->n, tol))
                fails++;
            n_checked++;
        }
    printf("  %d parameter tensors checked\n", n_checked);
    free(fd);
    free(grads);
    free(dx);
done:
    printf("  %s: %s\n", k->name, fails ? "FAIL" : "PASS");
    fflush(stdout);
    free(g.r);
    dt_net_free(net);
    return fails;
}

static void test_case(void **state) {
    const gc_case *k = *state;
    assert_int_equal(run_case(k), 0);
}

int main(void) {
    dt_set_verbosity(0);
    const size_t n = sizeof cases / sizeof cases[0];
    struct CMUnitTest tests[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < n; i++) {
        memset(&tests[i], 0, sizeof tests[i]);
        tests[i].name = cases[i].name;
        tests[i].test_func = test_case;
        tests[i].initial_state = (void *)&cases[i];
    }
    return _cmocka_run_group_tests("gradcheck", tests, n, NULL, NULL);
}
