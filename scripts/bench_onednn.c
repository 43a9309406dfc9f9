// oneDNN 2.x against 3.x on ResNet34's convolution shapes, standalone (not
// linked into the library): built once per oneDNN by scripts/bench_onednn.sh,
// against 2.x's API (dnnl_*_desc_init) or 3.x's (dnnl_*_primitive_desc_create).
//
// Per shape (batch 16, 224x224 input, NHWC activations, weights in the layout
// oneDNN picks, no bias, as src/layers/convolutional.c sets it up) it times the
// forward (inference and training), backward-data and backward-weights
// convolutions, and dnnl_sgemm on the im2col GEMMs that our default route runs
// in chunks of 1024-2048 rows (forward: Y = col x W^T; backward weights:
// dW += dY^T x col). Times are the best of reps: the machine is shared, and
// interference only adds.
//
// usage: bench_onednn [reps=5] [conv|sgemm|all=all]
// Prints one line per shape and op: "op shape ms GFLOP/s", then weighted
// totals for ResNet34 (each shape times how often the body uses it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oneapi/dnnl/dnnl.h"

#if DNNL_VERSION_MAJOR >= 3
#define V3 1
typedef const_dnnl_memory_desc_t cmd_t; // 3.x: descriptors are opaque handles
#define MDARG(m) (m)
#else
#define V3 0
typedef const dnnl_memory_desc_t *cmd_t; // 2.x: descriptors are structs
#define MDARG(m) (&(m))
#endif

#define CHECK(call)                                                                      \
    do {                                                                                 \
        dnnl_status_t st_ = (call);                                                      \
        if (st_ != dnnl_success) {                                                       \
            fprintf(stderr, "%s:%d: %s failed: status %d\n", __FILE__, __LINE__, #call,  \
                    (int)st_);                                                           \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

typedef struct {
    int c, hw, filters, size, stride, pad, count;
    const char *cls;
} shape;

// ResNet34: stem, layer1..layer4 (first conv of a stage has stride 2), and
// the three 1x1 stride-2 projection shortcuts (tests/bench_conv.c's list).
static const shape shapes[] = {
    {3, 224, 64, 7, 2, 3, 1, "7x7s2"},    {64, 56, 64, 3, 1, 1, 6, "3x3s1"},
    {64, 56, 128, 3, 2, 1, 1, "3x3s2"},   {128, 28, 128, 3, 1, 1, 7, "3x3s1"},
    {64, 56, 128, 1, 2, 0, 1, "1x1s2"},   {128, 28, 256, 3, 2, 1, 1, "3x3s2"},
    {256, 14, 256, 3, 1, 1, 11, "3x3s1"}, {128, 28, 256, 1, 2, 0, 1, "1x1s2"},
    {256, 14, 512, 3, 2, 1, 1, "3x3s2"},  {512, 7, 512, 3, 1, 1, 5, "3x3s1"},
    {256, 14, 512, 1, 2, 0, 1, "1x1s2"},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
#define BATCH 16

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned rng = 12345u;
static float frand(void) { // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 23) - 1.0f;
}
static float *alloc_rand(size_t n) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static void mdesc(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
#if V3
    CHECK(dnnl_memory_desc_create_with_tag(md, nd, dims, dnnl_f32, tag));
#else
    CHECK(dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag));
#endif
}

// A memory object of the descriptor a primitive chose, filled with random data.
static dnnl_memory_t mem_for(const_dnnl_primitive_desc_t pd, dnnl_query_t q) {
    cmd_t md = dnnl_primitive_desc_query_md(pd, q, 0);
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, alloc_rand(n ? n : 1)));
    return m;
}

static void free_mem(dnnl_memory_t m) {
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    dnnl_memory_destroy(m);
    free(p);
}

// Best time of reps runs (after one warm-up) of a primitive.
static double time_prim(const_dnnl_primitive_desc_t pd, int nargs, const dnnl_exec_arg_t *args,
                        int reps) {
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        CHECK(dnnl_primitive_execute(prim, strm, nargs, args));
        CHECK(dnnl_stream_wait(strm));
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    dnnl_primitive_destroy(prim);
    return best;
}

typedef struct {
    double fwd_inf, fwd_train, bwd_data, bwd_weights; // seconds
} conv_times;

static conv_times bench_conv(const shape *s, int reps) {
    const int OH = (s->hw + 2 * s->pad - s->size) / s->stride + 1;
    dnnl_dims_t sd = {BATCH, s->c, s->hw, s->hw}, dd = {BATCH, s->filters, OH, OH};
    dnnl_dims_t wd = {s->filters, s->c, s->size, s->size};
    dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
    dnnl_memory_desc_t src, dst, wany;
    mdesc(&src, 4, sd, dnnl_nhwc);
    mdesc(&dst, 4, dd, dnnl_nhwc);
    mdesc(&wany, 4, wd, dnnl_format_tag_any);
    const dnnl_alg_kind_t alg = dnnl_convolution_direct;
    dnnl_primitive_desc_t fwd[2], bd, bw;
    const dnnl_prop_kind_t props[2] = {dnnl_forward_inference, dnnl_forward_training};
#if V3
    dnnl_dims_t dil = {0, 0};
    for (int i = 0; i < 2; i++)
        CHECK(dnnl_convolution_forward_primitive_desc_create(&fwd[i], eng, props[i], alg, src,
                                                             wany, NULL, dst, strides, dil, pad,
                                                             pad, NULL));
    CHECK(dnnl_convolution_backward_data_primitive_desc_create(
        &bd, eng, alg, src, wany, dst, strides, dil, pad, pad, fwd[1], NULL));
    CHECK(dnnl_convolution_backward_weights_primitive_desc_create(
        &bw, eng, alg, src, wany, NULL, dst, strides, dil, pad, pad, fwd[1], NULL));
#else
    dnnl_convolution_desc_t cd;
    for (int i = 0; i < 2; i++) {
        CHECK(dnnl_convolution_forward_desc_init(&cd, props[i], alg, &src, &wany, NULL, &dst,
                                                 strides, pad, pad));
        CHECK(dnnl_primitive_desc_create(&fwd[i], &cd, NULL, eng, NULL));
    }
    CHECK(dnnl_convolution_backward_data_desc_init(&cd, alg, &src, &wany, &dst, strides, pad,
                                                   pad));
    CHECK(dnnl_primitive_desc_create(&bd, &cd, NULL, eng, fwd[1]));
    CHECK(dnnl_convolution_backward_weights_desc_init(&cd, alg, &src, &wany, NULL, &dst, strides,
                                                      pad, pad));
    CHECK(dnnl_primitive_desc_create(&bw, &cd, NULL, eng, fwd[1]));
#endif
    conv_times t;
    double *slot[2] = {&t.fwd_inf, &t.fwd_train};
    for (int i = 0; i < 2; i++) {
        dnnl_memory_t x = mem_for(fwd[i], dnnl_query_src_md),
                      w = mem_for(fwd[i], dnnl_query_weights_md),
                      y = mem_for(fwd[i], dnnl_query_dst_md);
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}};
        *slot[i] = time_prim(fwd[i], 3, a, reps);
        free_mem(x), free_mem(w), free_mem(y);
    }
    {
        dnnl_memory_t dx = mem_for(bd, dnnl_query_diff_src_md),
                      w = mem_for(bd, dnnl_query_weights_md),
                      dy = mem_for(bd, dnnl_query_diff_dst_md);
        dnnl_exec_arg_t a[3] = {
            {DNNL_ARG_DIFF_SRC, dx}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_DST, dy}};
        t.bwd_data = time_prim(bd, 3, a, reps);
        free_mem(dx), free_mem(w), free_mem(dy);
    }
    {
        dnnl_memory_t x = mem_for(bw, dnnl_query_src_md),
                      dw = mem_for(bw, dnnl_query_diff_weights_md),
                      dy = mem_for(bw, dnnl_query_diff_dst_md);
        dnnl_exec_arg_t a[3] = {
            {DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_DST, dy}};
        t.bwd_weights = time_prim(bw, 3, a, reps);
        free_mem(x), free_mem(dw), free_mem(dy);
    }
    for (int i = 0; i < 2; i++) dnnl_primitive_desc_destroy(fwd[i]);
    dnnl_primitive_desc_destroy(bd);
    dnnl_primitive_desc_destroy(bw);
#if V3
    dnnl_memory_desc_destroy(src), dnnl_memory_desc_destroy(dst), dnnl_memory_desc_destroy(wany);
#endif
    return t;
}

typedef struct {
    double fwd, bwd_weights; // seconds
} gemm_times;

// The GEMMs of the im2col route, chunked as src/layers/convolutional.c does:
// about 4M floats of col a chunk, 1024-2048 rows.
static gemm_times bench_sgemm(const shape *s, int reps) {
    const int OH = (s->hw + 2 * s->pad - s->size) / s->stride + 1;
    const dnnl_dim_t O = s->filters, cols = (dnnl_dim_t)s->c * s->size * s->size;
    const dnnl_dim_t P = (dnnl_dim_t)BATCH * OH * OH;
    dnnl_dim_t rows = ((dnnl_dim_t)4 << 20) / cols;
    if (rows < 1024) rows = 1024;
    if (rows > 2048) rows = 2048;
    if (rows > P) rows = P;
    float *col = alloc_rand((size_t)(rows * cols)); // one chunk, reused: as the route does
    float *w = alloc_rand((size_t)(O * cols)), *dw = alloc_rand((size_t)(O * cols));
    float *y = alloc_rand((size_t)(P * O)); // (P, O): output / its gradient
    gemm_times t = {1e30, 1e30};
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        for (dnnl_dim_t r0 = 0; r0 < P; r0 += rows) {
            dnnl_dim_t n = P - r0 < rows ? P - r0 : rows;
            CHECK(dnnl_sgemm('N', 'T', n, O, cols, 1.0f, col, cols, w, cols, 0.0f, y + r0 * O, O));
        }
        double t1 = now();
        for (dnnl_dim_t r0 = 0; r0 < P; r0 += rows) {
            dnnl_dim_t n = P - r0 < rows ? P - r0 : rows;
            CHECK(dnnl_sgemm('T', 'N', O, cols, n, 1.0f, y + r0 * O, O, col, cols,
                             r0 ? 1.0f : 0.0f, dw, cols));
        }
        double t2 = now();
        if (r > 0 && t1 - t0 < t.fwd) t.fwd = t1 - t0;
        if (r > 0 && t2 - t1 < t.bwd_weights) t.bwd_weights = t2 - t1;
    }
    free(col), free(w), free(dw), free(y);
    return t;
}

static double gflop(const shape *s) { // one direction of one conv, the whole batch
    const int OH = (s->hw + 2 * s->pad - s->size) / s->stride + 1;
    return 2.0 * BATCH * OH * OH * s->filters * s->c * s->size * s->size / 1e9;
}

static void line(const char *op, int i, double sec) {
    const shape *s = &shapes[i];
    printf("%-12s %2d %-6s c%-3d hw%-3d o%-3d x%-2d %9.3f ms %7.1f GFLOP/s\n", op, i, s->cls,
           s->c, s->hw, s->filters, s->count, sec * 1e3, gflop(s) / sec);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    const char *what = argc > 2 ? argv[2] : "all";
    int do_conv = strcmp(what, "sgemm") != 0, do_gemm = strcmp(what, "conv") != 0;
    if (reps < 1 || (!do_conv && !do_gemm && strcmp(what, "all") != 0)) {
        fprintf(stderr, "usage: bench_onednn [reps] [conv|sgemm|all]\n");
        return 2;
    }
    const dnnl_version_t *v = dnnl_version();
    printf("oneDNN %d.%d.%d (%s), cpu runtime %u\n", v->major, v->minor, v->patch, v->hash,
           v->cpu_runtime);
    if (do_conv) {
        if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) {
            // PyPI's newest oneDNN is built for SYCL: its CPU engine needs a
            // SYCL CPU device, which no PyPI wheel provides
            printf("no CPU engine: convolutions not timed\n");
            do_conv = 0;
        } else {
            CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
        }
    }
    double inf = 0, train = 0, g_inf = 0, g_train = 0;
    for (int i = 0; i < N_SHAPES; i++) {
        const shape *s = &shapes[i];
        if (do_conv) {
            conv_times t = bench_conv(s, reps);
            line("conv_fwd_inf", i, t.fwd_inf);
            line("conv_fwd_trn", i, t.fwd_train);
            line("conv_bwd_dat", i, t.bwd_data);
            line("conv_bwd_wei", i, t.bwd_weights);
            inf += s->count * t.fwd_inf;
            // the stem's input is the image: no backward data there
            train += s->count * (t.fwd_train + t.bwd_weights + (s->c != 3 ? t.bwd_data : 0));
        }
        if (do_gemm) {
            gemm_times g = bench_sgemm(s, reps);
            line("sgemm_fwd", i, g.fwd);
            line("sgemm_bwd_w", i, g.bwd_weights);
            g_inf += s->count * g.fwd;
            g_train += s->count * (g.fwd + g.bwd_weights);
        }
    }
    if (do_conv)
        printf("total conv: inference %.1f img/s, training (fwd+bwd data+bwd weights) %.1f img/s\n",
               BATCH / inf, BATCH / train);
    if (do_gemm)
        printf("total sgemm: forward %.1f img/s, forward+backward weights %.1f img/s\n",
               BATCH / g_inf, BATCH / g_train);
    if (eng) {
        dnnl_stream_destroy(strm);
        dnnl_engine_destroy(eng);
    }
    return 0;
}
