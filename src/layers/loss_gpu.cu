// GPU twins of the small loss heads: [softmax], [single], [multilabel] and
// [cost], on their CPU files' state (dt_head_args, layers/heads.h) and with
// their per-row / per-element math (layers/loss_rows.h). Forward: one thread
// per image computes its output row and its loss terms (double); the B terms
// come down (B x 16 bytes) and the host adds them in image order, as the CPU
// loop does. Backward: one thread per element. The output comes down with
// every forward of the last layer (the dispatch), so the metrics and `valid`
// read it on the host as on the CPU; a head that is not last brings it down
// itself.
#include <stdlib.h>

#include "cuda/layer_gpu.h"
#include "cuda/launch.h"
#include "layers/heads.h"
#include "layers/loss_rows.h"

// Per-image terms, 2 doubles each (the two parts of [single]'s loss; the
// others use the first), on the device and their copy on the host: the
// layer's GPU state, allocated on its first forward.
typedef struct {
    dt_gpu_priv h;
    double *dev, *host; // (B, 2)
} loss_gpu;

static void loss_gpu_destroy(void *self) {
    loss_gpu *p = (loss_gpu *)self;
    dt_gpu_free(p->dev);
    free(p->host);
    free(p);
}

static double *row_terms(dt_layer *l) {
    loss_gpu *p = (loss_gpu *)l->priv_gpu;
    if (!p) {
        p = (loss_gpu *)dt_gpu_priv_new(l, sizeof *p, loss_gpu_destroy);
        p->dev = (double *)dt_gpu_alloc(sizeof(double) * 2 * (size_t)l->batch, "loss terms");
        p->host = (double *)dt_malloc(sizeof(double) * 2 * (size_t)l->batch);
    }
    return p->dev;
}

// The B x 2 terms down, added in image order.
static void sum_terms(dt_layer *l, double *s0, double *s1) {
    const loss_gpu *p = (const loss_gpu *)l->priv_gpu;
    const int B = l->batch;
    DT_CUDA_CHECK(cudaMemcpy(p->host, p->dev, sizeof(double) * 2 * (size_t)B,
                             cudaMemcpyDeviceToHost));
    *s0 = *s1 = 0;
    for (int b = 0; b < B; b++) *s0 += p->host[2 * b], *s1 += p->host[2 * b + 1];
}

static void output_down_unless_last(dt_layer *l, dt_network *net) {
    if (l->index == net->n_layers - 1) return; // the dispatch brings it down
    const size_t n = l->outputs * net->batch;
    DT_CUDA_CHECK(cudaMemcpy(l->output, dt_dev(net, l->output), n * sizeof(float),
                             cudaMemcpyDeviceToHost));
}

static unsigned row_blocks(int B) { return (unsigned)((B + 127) / 128); }

// --- [softmax] ---------------------------------------------------------------------------------

__global__ static void k_softmax_fwd(const float *x, float *y, const float *truth, int ts, int B,
                                     int N, int rows, double *terms) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const int t = truth && b < rows ? dt_class_index(truth[(size_t)b * ts], N) : -1;
    terms[2 * b] = dt_softmax_ce_row(x + (size_t)b * N, y + (size_t)b * N, N, t);
    terms[2 * b + 1] = 0;
}

// Also [single]'s class part: row stride S, classes at offset off, the class
// target at truth offset toff.
__global__ static void k_ce_bwd(const float *y, const float *truth, int ts, int toff, float *dx,
                                int B, int S, int off, int N, int rows, float k, int accum) {
    GRID_LOOP(e, (size_t)B * N) {
        const int b = (int)(e / N), i = (int)(e % N);
        const int t = b < rows ? dt_class_index(truth[(size_t)b * ts + toff], N) : -1;
        const size_t at = (size_t)b * S + off + i;
        const float g = dt_softmax_ce_grad(y[at], i, t, k);
        dx[at] = accum ? dx[at] + g : g;
    }
}

extern "C" void dt_softmax_forward_gpu(dt_layer *l, dt_network *net) {
    dt_head_args a;
    dt_softmax_args(l, &a);
    const int B = l->batch, N = l->out_c;
    double *terms = row_terms(l), ce, unused;
    k_softmax_fwd<<<row_blocks(B), 128>>>(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output),
                                          dt_dev(net, net->truth), net->truth_size, B, N, a.rows,
                                          terms);
    DT_LAUNCH_CHECK("softmax forward");
    if (net->with_loss) { // predictions only: no terms, no loss
        sum_terms(l, &ce, &unused);
        net->loss += (float)(ce / a.rows);
    }
    output_down_unless_last(l, net);
}

extern "C" void dt_softmax_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_head_args a;
    dt_softmax_args(l, &a);
    const int B = l->batch, N = l->out_c;
    k_ce_bwd<<<blocks_for((size_t)B * N), NT>>>(dt_dev(net, l->output), dt_dev(net, net->truth),
                                                net->truth_size, 0, dx, B, N, 0, N, a.rows,
                                                1.0f / a.rows, l->in_accum[0]);
    DT_LAUNCH_CHECK("softmax backward");
}

// --- [single] ----------------------------------------------------------------------------------

__global__ static void k_single_fwd(const float *x, float *y, const float *truth, int ts, int B,
                                    int C, int rows, float sw, float sh, double *terms) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const int N = C + 4;
    const float *xb = x + (size_t)b * N, *tb = truth ? truth + (size_t)b * ts : NULL;
    float *yb = y + (size_t)b * N;
    const float size[4] = {sw, sh, sw, sh};
    double l1 = 0;
    for (int i = 0; i < 4; i++) {
        if (!tb) { // predictions only
            yb[i] = dt_single_box_y(xb[i]);
            continue;
        }
        const float e = dt_single_box_fwd(xb[i], tb[i], size[i], &yb[i]);
        if (b < rows) l1 += e;
    }
    const int t = tb && b < rows ? dt_class_index(tb[4], C) : -1;
    terms[2 * b] = l1;
    terms[2 * b + 1] = dt_softmax_ce_row(xb + 4, yb + 4, C, t);
}

__global__ static void k_single_box_bwd(const float *y, const float *truth, int ts, float *dx,
                                        int B, int N, int rows, float sw, float sh, float k,
                                        int accum) {
    GRID_LOOP(e, (size_t)B * 4) {
        const int b = (int)(e / 4), i = (int)(e % 4);
        const size_t at = (size_t)b * N + i;
        const float s = (i & 1) ? sh : sw;
        const float g = b < rows ? dt_single_box_grad(y[at], truth[(size_t)b * ts + i], s, k) : 0.0f;
        dx[at] = accum ? dx[at] + g : g;
    }
}

extern "C" void dt_single_forward_gpu(dt_layer *l, dt_network *net) {
    dt_head_args a;
    dt_single_args(l, &a);
    const int B = l->batch;
    double *terms = row_terms(l), l1, ce;
    k_single_fwd<<<row_blocks(B), 128>>>(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output),
                                         dt_dev(net, net->truth), net->truth_size, B, a.classes,
                                         a.rows, (float)net->w, (float)net->h, terms);
    DT_LAUNCH_CHECK("single forward");
    if (net->with_loss) { // predictions only: no terms, no loss
        sum_terms(l, &l1, &ce);
        net->loss += (float)(l1 / (4.0 * a.rows) + a.weight * (ce / a.rows));
    }
    output_down_unless_last(l, net);
}

extern "C" void dt_single_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_head_args a;
    dt_single_args(l, &a);
    const int B = l->batch, C = a.classes, N = C + 4, accum = l->in_accum[0];
    const float *y = dt_dev(net, l->output), *truth = dt_dev(net, net->truth);
    k_single_box_bwd<<<blocks_for((size_t)B * 4), NT>>>(y, truth, net->truth_size, dx, B, N,
                                                        a.rows, (float)net->w, (float)net->h,
                                                        1.0f / (4.0f * a.rows), accum);
    DT_LAUNCH_CHECK("single box backward");
    k_ce_bwd<<<blocks_for((size_t)B * C), NT>>>(y, truth, net->truth_size, 4, dx, B, N, 4, C,
                                                a.rows, a.weight / a.rows, accum);
    DT_LAUNCH_CHECK("single class backward");
}

// --- [multilabel] ------------------------------------------------------------------------------

__global__ static void k_multilabel_fwd(const float *x, float *y, const float *truth, int ts,
                                        int B, int C, int rows, double *terms) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *xb = x + (size_t)b * C, *tb = truth ? truth + (size_t)b * ts : NULL;
    float *yb = y + (size_t)b * C;
    double s = 0;
    for (int i = 0; i < C; i++) {
        yb[i] = dt_sigmoid(xb[i]);
        if (tb && b < rows) s += dt_bce_logit(xb[i], tb[i]);
    }
    terms[2 * b] = s;
    terms[2 * b + 1] = 0;
}

__global__ static void k_multilabel_bwd(const float *y, const float *truth, int ts, float *dx,
                                        int B, int C, int rows, float k, int accum) {
    GRID_LOOP(e, (size_t)B * C) {
        const int b = (int)(e / C), i = (int)(e % C);
        const float g = b < rows ? dt_multilabel_grad(y[e], truth[(size_t)b * ts + i], k) : 0.0f;
        dx[e] = accum ? dx[e] + g : g;
    }
}

extern "C" void dt_multilabel_forward_gpu(dt_layer *l, dt_network *net) {
    dt_head_args a;
    dt_multilabel_args(l, &a);
    const int B = l->batch, C = a.classes;
    double *terms = row_terms(l), s, unused;
    k_multilabel_fwd<<<row_blocks(B), 128>>>(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output),
                                             dt_dev(net, net->truth), net->truth_size, B, C,
                                             a.rows, terms);
    DT_LAUNCH_CHECK("multilabel forward");
    if (net->with_loss) { // predictions only: no terms, no loss
        sum_terms(l, &s, &unused);
        net->loss += (float)(s / ((double)a.rows * C));
    }
    output_down_unless_last(l, net);
}

extern "C" void dt_multilabel_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_head_args a;
    dt_multilabel_args(l, &a);
    const int B = l->batch, C = a.classes;
    k_multilabel_bwd<<<blocks_for((size_t)B * C), NT>>>(
        dt_dev(net, l->output), dt_dev(net, net->truth), net->truth_size, dx, B, C, a.rows,
        1.0f / ((float)a.rows * C), l->in_accum[0]);
    DT_LAUNCH_CHECK("multilabel backward");
}

// --- [cost] ------------------------------------------------------------------------------------

__global__ static void k_cost_fwd(const float *x, float *y, const float *truth, int ts, int B,
                                  int N, int rows, int l1, double *terms) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const float *xb = x + (size_t)b * N, *tb = truth ? truth + (size_t)b * ts : NULL;
    float *yb = y + (size_t)b * N;
    float s = 0; // per image in float, the batch in double (as the CPU)
    for (int i = 0; i < N; i++) {
        yb[i] = xb[i];
        if (tb && b < rows) s += dt_cost_term(xb[i], tb[i], l1);
    }
    terms[2 * b] = s;
    terms[2 * b + 1] = 0;
}

__global__ static void k_cost_bwd(const float *x, const float *truth, int ts, float *dx, int B,
                                  int N, int rows, int l1, float k, int accum) {
    GRID_LOOP(e, (size_t)B * N) {
        const int b = (int)(e / N), i = (int)(e % N);
        const float g = b < rows ? dt_cost_grad(x[e], truth[(size_t)b * ts + i], l1, k) : 0.0f;
        dx[e] = accum ? dx[e] + g : g;
    }
}

extern "C" void dt_cost_forward_gpu(dt_layer *l, dt_network *net) {
    dt_head_args a;
    dt_cost_args(l, &a);
    const int B = l->batch, N = (int)l->inputs;
    double *terms = row_terms(l), s, unused;
    k_cost_fwd<<<row_blocks(B), 128>>>(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output),
                                       dt_dev(net, net->truth), net->truth_size, B, N, a.rows,
                                       a.l1, terms);
    DT_LAUNCH_CHECK("cost forward");
    if (net->with_loss) { // predictions only: no terms, no loss
        sum_terms(l, &s, &unused);
        net->loss += (float)(s / ((double)a.rows * N));
    }
    output_down_unless_last(l, net);
}

extern "C" void dt_cost_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_head_args a;
    dt_cost_args(l, &a);
    const int B = l->batch, N = (int)l->inputs;
    k_cost_bwd<<<blocks_for((size_t)B * N), NT>>>(dt_dev(net, l->output), dt_dev(net, net->truth),
                                                  net->truth_size, dx, B, N, a.rows, a.l1,
                                                  (a.l1 ? 1.0f : 2.0f) / ((float)a.rows * N),
                                                  l->in_accum[0]);
    DT_LAUNCH_CHECK("cost backward");
}
