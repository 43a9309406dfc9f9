// Times [convolutional] on ResNet34's 11 conv shapes (batch 16, 224x224),
// each weighted by how often ResNet34 uses it, and prints img/s for
// inference (forward, eval mode) and training (forward_training + backward
// weights + backward data, the weights reordered every step as after an
// optimizer update). Built and run by scripts/bench_conv.sh.
//
// usage: bench_conv [threads=2] [reps=5] [mode=conv|layer]; times are the best of reps
//   conv:  bias=0, no BN, linear: convolution time only (the figure docs/BENCHMARKS.md compares)
//   layer: bias=0, batch_normalize=1, relu: the layer as ResNet34 uses it
//          (inference folds BN; training adds the fused BN + ReLU passes)
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/network.h"

typedef struct {
    int c, hw, filters, size, stride, pad, count;
} shape;

// ResNet34: stem, layer1..layer4 (first conv of a stage has stride 2), and
// the three 1x1 stride-2 projection shortcuts.
static const shape shapes[] = {
    {3, 224, 64, 7, 2, 3, 1},    {64, 56, 64, 3, 1, 1, 6},    {64, 56, 128, 3, 2, 1, 1},
    {128, 28, 128, 3, 1, 1, 7},  {64, 56, 128, 1, 2, 0, 1},   {128, 28, 256, 3, 2, 1, 1},
    {256, 14, 256, 3, 1, 1, 11}, {128, 28, 256, 1, 2, 0, 1},  {256, 14, 512, 3, 2, 1, 1},
    {512, 7, 512, 3, 1, 1, 5},   {256, 14, 512, 1, 2, 0, 1},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
#define BATCH 16

static dt_network *build(const shape *s, int layer_mode, int grads) {
    char text[512];
    snprintf(text, sizeof text,
             "[net]\nbatch=%d\nheight=%d\nwidth=%d\nchannels=%d\n\n"
             "[convolutional]\nfilters=%d\nsize=%d\nstride=%d\npad=%d\nbias=0\n"
             "batch_normalize=%d\nactivation=%s\n",
             BATCH, s->hw, s->hw, s->c, s->filters, s->size, s->stride, s->pad, layer_mode,
             layer_mode ? "relu" : "linear");
    dt_cfg *cfg = dt_cfg_parse_string(text, "bench_conv");
    if (!cfg) return NULL;
    // the stem's input is the image: no backward data there, as in a network
    dt_net_opts o = {.with_grads = grads, .quiet = 1, .with_input_delta = grads && s->c != 3};
    dt_network *net = dt_net_from_cfg(cfg, "bench_conv", &o);
    if (!net) {
        dt_cfg_free(cfg);
        return NULL;
    }
    size_t n = (size_t)net->batch * net->h * net->w * net->c;
    dt_rng r;
    dt_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) net->input[i] = dt_rng_range(&r, -1, 1);
    dt_layer *l = dt_net_last(net);
    if (grads)
        for (size_t i = 0; i < l->outputs * BATCH; i++) l->delta[i] = dt_rng_range(&r, -1, 1);
    return net;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The minimum over reps: the machine is shared, and interference only adds.
static double best(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[0];
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int layer_mode = argc > 3 && strcmp(argv[3], "layer") == 0;
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_conv [threads] [reps] [conv|layer]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    dt_set_verbosity(0);
    printf("bench_conv: ResNet34 conv shapes, batch %d, %d threads, best of %d reps, mode %s\n",
           BATCH, threads, reps, layer_mode ? "layer (BN + ReLU)" : "conv only");
    printf("%-22s %5s %10s %10s %10s %10s\n", "shape (CxHW->O k/s)", "count", "infer ms",
           "fwd-tr ms", "bwd ms", "GFLOP/s tr");
    double tot_inf = 0, tot_tr = 0, flops = 0;
    double *t = malloc(sizeof(double) * reps), *tf = malloc(sizeof(double) * reps);
    for (int k = 0; k < N_SHAPES; k++) {
        const shape *s = &shapes[k];
        // inference: a network without gradients, as `detector detect` builds
        dt_network *net = build(s, layer_mode, 0);
        if (!net) {
            fprintf(stderr, "bench_conv: %s\n", dt_last_error());
            return 1;
        }
        dt_net_forward(net); // warm-up (weights reorder, page faults)
        for (int r = 0; r < reps; r++) {
            double t0 = dt_now();
            dt_net_forward(net);
            t[r] = dt_now() - t0;
        }
        double inf = best(t, reps);
        double fl = dt_net_last(net)->flops;
        dt_net_free(net);

        net = build(s, layer_mode, 1);
        if (!net) {
            fprintf(stderr, "bench_conv: %s\n", dt_last_error());
            return 1;
        }
        dt_net_set_train(net, 1);
        for (int r = -1; r < reps; r++) { // r = -1: warm-up
            dt_net_weights_changed(net);       // as after an optimizer step
            double t0 = dt_now();
            dt_net_forward(net);
            double t1 = dt_now();
            dt_net_backward(net);
            double t2 = dt_now();
            if (r >= 0) {
                tf[r] = t1 - t0;
                t[r] = t2 - t1;
            }
        }
        double fwd = best(tf, reps), bwd = best(t, reps);
        dt_net_free(net);
        char name[64];
        snprintf(name, sizeof name, "%dx%d->%d %d/%d", s->c, s->hw, s->filters, s->size,
                 s->stride);
        // a training step is ~3x the forward FLOPs (the stem skips backward data)
        double trf = fl * BATCH * (s->c == 3 ? 2 : 3);
        printf("%-22s %5d %10.2f %10.2f %10.2f %10.1f\n", name, s->count, inf * 1e3,
               fwd * 1e3, bwd * 1e3, trf / (fwd + bwd) / 1e9);
        tot_inf += s->count * inf;
        tot_tr += s->count * (fwd + bwd);
        flops += s->count * fl;
    }
    printf("ResNet34 convs: %.3f GFLOP forward per image\n", flops / 1e9);
    printf("inference: %.1f img/s (%.1f ms per batch of %d)\n", BATCH / tot_inf, tot_inf * 1e3,
           BATCH);
    printf("training:  %.1f img/s (%.1f ms per batch of %d)\n", BATCH / tot_tr, tot_tr * 1e3,
           BATCH);
    free(t);
    free(tf);
    return 0;
}
