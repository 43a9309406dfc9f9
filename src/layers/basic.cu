// GPU twins of the layers without a convolution: [activation], [batchnorm],
// [dropout], [maxpool], [avgpool], [shortcut], [route], [upsample], [flatten]
// and [connected] (cuBLAS SGEMM). Each mirrors its CPU file step by step; the
// kernels are in cuda/kernels_gpu.cu and cuda/kernels_layout.cu. Their
// parsed keys are the CPU file's private struct (layers/basic_priv.h).
#include "cuda/layer_gpu.h"
#include "layers/basic_priv.h"

static size_t n_out(const dt_layer *l) { return l->outputs * (size_t)l->batch; }

// --- [activation] ----------------------------------------------------------------------------

extern "C" void dt_activation_forward_gpu(dt_layer *l, dt_network *net) {
    const dt_act a = ((const activation_priv *)l->priv)->act;
    float *y = dt_dev(net, l->output);
    dt_copy_gpu(dt_layer_in_gpu(net, l, 0), y, n_out(l));
    dt_act_forward_gpu(a, y, n_out(l));
}

extern "C" void dt_activation_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    float *dy = dt_dev(net, l->delta);
    dt_act_backward_gpu(((const activation_priv *)l->priv)->act, dt_dev(net, l->output), dy, dy,
                        n_out(l));
    dt_add_gpu(dy, dx, n_out(l), l->in_accum[0]);
}

// --- [batchnorm] -----------------------------------------------------------------------------

typedef struct {
    dt_gpu_priv h;
    const batchnorm_priv *cpu; // act, momentum, eps
    float *save_mean, *save_inv; // (C)
    int trained;
} bn_gpu;

static void bn_gpu_destroy(void *self) {
    bn_gpu *p = (bn_gpu *)self;
    dt_gpu_free(p->save_mean);
    dt_gpu_free(p->save_inv);
    free(p);
}

static bn_gpu *bn_get(dt_layer *l) {
    if (l->priv_gpu) return (bn_gpu *)l->priv_gpu;
    bn_gpu *p = (bn_gpu *)dt_gpu_priv_new(l, sizeof *p, bn_gpu_destroy);
    p->cpu = (const batchnorm_priv *)l->priv;
    p->save_mean = dt_gpu_floats(l->c, "BN statistics");
    p->save_inv = dt_gpu_floats(l->c, "BN statistics");
    return p;
}

enum { P_SCALE, P_SHIFT, P_MEAN, P_VAR };

extern "C" void dt_batchnorm_forward_gpu(dt_layer *l, dt_network *net) {
    bn_gpu *p = bn_get(l);
    const float *x = dt_layer_in_gpu(net, l, 0);
    float *y = dt_dev(net, l->output);
    size_t M = (size_t)l->batch * l->h * l->w;
    p->trained = dt_layer_training(net, l);
    if (p->trained)
        dt_bn_forward_train_gpu(x, y, M, l->c, dt_gpu_w(net, l, P_SCALE), dt_gpu_w(net, l, P_SHIFT),
                                dt_gpu_w(net, l, P_MEAN), dt_gpu_w(net, l, P_VAR), p->cpu->momentum,
                                p->cpu->eps, p->save_mean, p->save_inv, p->cpu->act);
    else
        dt_bn_forward_infer_gpu(x, y, M, l->c, dt_gpu_w(net, l, P_SCALE), dt_gpu_w(net, l, P_SHIFT),
                                dt_gpu_w(net, l, P_MEAN), dt_gpu_w(net, l, P_VAR), p->cpu->eps,
                                p->save_mean, p->save_inv, p->cpu->act);
}

extern "C" void dt_batchnorm_backward_gpu(dt_layer *l, dt_network *net) {
    bn_gpu *p = bn_get(l);
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    float *dscale = l->frozen ? NULL : dt_gpu_g(net, l, P_SCALE);
    float *dshift = l->frozen ? NULL : dt_gpu_g(net, l, P_SHIFT);
    if (!dx && !dscale) return;
    size_t M = (size_t)l->batch * l->h * l->w;
    dt_bn_backward_gpu(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output), dt_dev(net, l->delta),
                       dx, M, l->c, dt_gpu_w(net, l, P_SCALE), p->save_mean, p->save_inv, dscale,
                       dshift, p->cpu->act, p->trained, l->in_accum[0]);
}

// --- [dropout] -------------------------------------------------------------------------------

typedef struct {
    dt_gpu_priv h;
    float p;
    float *mask; // (B, H, W, C) NULL without gradients
    int trained;
} dropout_gpu;

static void dropout_gpu_destroy(void *self) {
    dropout_gpu *p = (dropout_gpu *)self;
    dt_gpu_free(p->mask);
    free(p);
}

static dropout_gpu *dropout_get(dt_layer *l, dt_network *net) {
    if (l->priv_gpu) return (dropout_gpu *)l->priv_gpu;
    dropout_gpu *p = (dropout_gpu *)dt_gpu_priv_new(l, sizeof *p, dropout_gpu_destroy);
    p->p = ((const dropout_priv *)l->priv)->p;
    if (net->with_grads) p->mask = dt_gpu_floats(n_out(l), "dropout mask");
    return p;
}

extern "C" void dt_dropout_forward_gpu(dt_layer *l, dt_network *net) {
    dropout_gpu *p = dropout_get(l, net);
    const float *x = dt_layer_in_gpu(net, l, 0);
    float *y = dt_dev(net, l->output);
    p->trained = net->train && p->p > 0 && p->mask;
    if (!p->trained) {
        dt_copy_gpu(x, y, n_out(l));
        return;
    }
    dt_dropout_gpu(x, y, p->mask, n_out(l), p->p, dt_rng_u64(&net->rng));
}

extern "C" void dt_dropout_backward_gpu(dt_layer *l, dt_network *net) {
    dropout_gpu *p = dropout_get(l, net);
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    const float *dy = dt_dev(net, l->delta);
    if (!p->trained)
        dt_add_gpu(dy, dx, n_out(l), l->in_accum[0]);
    else
        dt_mul_gpu(dy, p->mask, dx, n_out(l), l->in_accum[0]);
}

// --- [maxpool] / [avgpool] ---------------------------------------------------------------------

typedef struct {
    dt_gpu_priv h;
    int *argmax; // (B, OH, OW, C) with gradients
} maxpool_gpu;

static void maxpool_gpu_destroy(void *self) {
    maxpool_gpu *p = (maxpool_gpu *)self;
    dt_gpu_free(p->argmax);
    free(p);
}

static maxpool_gpu *maxpool_get(dt_layer *l, dt_network *net) {
    if (l->priv_gpu) return (maxpool_gpu *)l->priv_gpu;
    maxpool_gpu *p = (maxpool_gpu *)dt_gpu_priv_new(l, sizeof *p, maxpool_gpu_destroy);
    if (net->with_grads) p->argmax = (int *)dt_gpu_alloc(n_out(l) * sizeof(int), "maxpool argmax");
    return p;
}

extern "C" void dt_maxpool_forward_gpu(dt_layer *l, dt_network *net) {
    const maxpool_priv *c = (const maxpool_priv *)l->priv;
    dt_pool_max_forward_gpu(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output),
                            maxpool_get(l, net)->argmax, l->batch, l->h, l->w, l->c, l->out_h,
                            l->out_w, c->size, c->stride, c->pad);
}

extern "C" void dt_maxpool_backward_gpu(dt_layer *l, dt_network *net) {
    const maxpool_priv *c = (const maxpool_priv *)l->priv;
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_pool_max_backward_gpu(dt_dev(net, l->delta), maxpool_get(l, net)->argmax, dx, l->batch,
                             l->h, l->w, l->c, l->out_h, l->out_w, c->size, c->stride, c->pad,
                             l->in_accum[0]);
}

extern "C" void dt_avgpool_forward_gpu(dt_layer *l, dt_network *net) {
    const avgpool_priv *p = (const avgpool_priv *)l->priv;
    dt_pool_avg_forward_gpu(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output), l->batch, l->h,
                           l->w, l->c, l->out_h, l->out_w, p->size, p->stride, p->pad, p->global);
}

extern "C" void dt_avgpool_backward_gpu(dt_layer *l, dt_network *net) {
    const avgpool_priv *p = (const avgpool_priv *)l->priv;
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_pool_avg_backward_gpu(dt_dev(net, l->delta), dx, l->batch, l->h, l->w, l->c, l->out_h,
                            l->out_w, p->size, p->stride, p->pad, p->global, l->in_accum[0]);
}

// --- [shortcut] ------------------------------------------------------------------------------

extern "C" void dt_shortcut_forward_gpu(dt_layer *l, dt_network *net) {
    dt_residual_forward_gpu(dt_layer_in_gpu(net, l, 0), dt_layer_in_gpu(net, l, 1),
                            dt_dev(net, l->output), n_out(l), ((const shortcut_priv *)l->priv)->act);
}

extern "C" void dt_shortcut_backward_gpu(dt_layer *l, dt_network *net) {
    const dt_act a = ((const shortcut_priv *)l->priv)->act;
    const size_t n = n_out(l);
    float *y = dt_dev(net, l->output), *dy = dt_dev(net, l->delta);
    if (a != DT_ACT_RELU && a != DT_ACT_LINEAR) dt_act_backward_gpu(a, y, dy, dy, n);
    for (int k = 0; k < 2; k++) {
        float *dx = dt_layer_in_delta_gpu(net, l, k);
        if (!dx) continue;
        if (a != DT_ACT_RELU)
            dt_add_gpu(dy, dx, n, l->in_accum[k]);
        else
            dt_residual_backward_gpu(y, dy, dx, n, 1, l->in_accum[k]);
    }
}

// --- [route] ---------------------------------------------------------------------------------

static int route_sums(const dt_layer *l) {
    return ((const route_priv *)l->priv)->mode == DT_ROUTE_SUM;
}

extern "C" void dt_route_forward_gpu(dt_layer *l, dt_network *net) {
    float *y = dt_dev(net, l->output);
    if (l->n_in == 1 || route_sums(l)) { // sum: ((in0 + in1) + in2) + ..., as the CPU
        dt_copy_gpu(dt_layer_in_gpu(net, l, 0), y, n_out(l));
        for (int i = 1; i < l->n_in; i++) dt_add_gpu(dt_layer_in_gpu(net, l, i), y, n_out(l), 1);
        return;
    }
    const size_t rows = (size_t)l->batch * l->out_h * l->out_w;
    for (int i = 0, off = 0; i < l->n_in; i++) {
        int h, w, c;
        dt_layer_in_shape(net, l, i, &h, &w, &c);
        dt_slice_put_gpu(dt_layer_in_gpu(net, l, i), y, rows, c, l->out_c, off);
        off += c;
    }
}

extern "C" void dt_route_backward_gpu(dt_layer *l, dt_network *net) {
    const size_t rows = (size_t)l->batch * l->out_h * l->out_w;
    const float *dy = dt_dev(net, l->delta);
    for (int i = 0, off = 0; i < l->n_in; i++) {
        int h, w, c;
        dt_layer_in_shape(net, l, i, &h, &w, &c);
        float *dx = dt_layer_in_delta_gpu(net, l, i);
        if (dx) {
            if (l->n_in == 1 || route_sums(l))
                dt_add_gpu(dy, dx, rows * c, l->in_accum[i]);
            else
                dt_slice_get_gpu(dy, dx, rows, c, l->out_c, off, l->in_accum[i]);
        }
        off += c;
    }
}

// --- [upsample] ------------------------------------------------------------------------------

extern "C" void dt_upsample_forward_gpu(dt_layer *l, dt_network *net) {
    const upsample_priv *p = (const upsample_priv *)l->priv;
    dt_upsample_forward_k_gpu(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output), l->batch, l->h,
                              l->w, l->c, p->stride, p->mode == DT_UPSAMPLE_BILINEAR);
}

extern "C" void dt_upsample_backward_gpu(dt_layer *l, dt_network *net) {
    const upsample_priv *p = (const upsample_priv *)l->priv;
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_upsample_backward_k_gpu(dt_dev(net, l->delta), dx, l->batch, l->h, l->w, l->c, p->stride,
                               p->mode == DT_UPSAMPLE_BILINEAR, l->in_accum[0]);
}

// --- [flatten] -------------------------------------------------------------------------------

extern "C" void dt_flatten_forward_gpu(dt_layer *l, dt_network *net) {
    dt_transpose_gpu(dt_layer_in_gpu(net, l, 0), dt_dev(net, l->output), l->batch, l->h * l->w,
                     l->c, 0, 0);
}

extern "C" void dt_flatten_backward_gpu(dt_layer *l, dt_network *net) {
    float *dx = dt_layer_in_delta_gpu(net, l, 0);
    if (!dx) return;
    dt_transpose_gpu(dt_dev(net, l->delta), dx, l->batch, l->h * l->w, l->c, 1, l->in_accum[0]);
}

// --- [connected]: y = act(x W^T + b), row-major, through column-major cuBLAS ------------------
// Row-major X (B, in) is column-major X^T (in x B); so Y^T = W X^T is
// gemm(T, N) on W's (in x out) column-major view, and so on below.

// Mixed precision: the GEMMs read 16-bit copies of x, dZ and W (the FP32
// master weights, copied when l->wver moves) and write FP32 (cublasGemmEx,
// FP32 accumulation). The copy of W is the layer's GPU state.
typedef struct {
    dt_gpu_priv h;
    uint16_t *w; // (out, in) 16-bit copy of the weights
    uint64_t wver;
    int wvalid;
} connected_gpu;

static void connected_gpu_destroy(void *self) {
    connected_gpu *p = (connected_gpu *)self;
    dt_gpu_free(p->w);
    free(p);
}

static const uint16_t *connected_lowp_w(dt_layer *l, dt_network *net, int pw) {
    connected_gpu *p = (connected_gpu *)l->priv_gpu;
    const size_t n = l->params[pw].n;
    if (!p) {
        p = (connected_gpu *)dt_gpu_priv_new(l, sizeof *p, connected_gpu_destroy);
        p->w = (uint16_t *)dt_gpu_alloc(n * sizeof(uint16_t), "16-bit weights");
    }
    if (!p->wvalid || p->wver != l->wver) {
        dt_to_lowp_gpu(dt_gpu_w(net, l, pw), p->w, n, net->gpu_state->amp);
        p->wver = l->wver;
        p->wvalid = 1;
    }
    return p->w;
}

// C (m x n, FP32, column-major) = alpha op(A) op(B) + beta C, A and B FP32 or
// (amp) their 16-bit copies.
static void gemm(dt_network *net, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                 const void *A, int lda, const void *B, int ldb, float beta, float *C, int ldc) {
    cublasHandle_t h = net->gpu_state->blas;
    const float one = 1;
    const int amp = net->gpu_state->amp;
    if (!amp) {
        DT_CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &one, (const float *)A, lda,
                                    (const float *)B, ldb, &beta, C, ldc));
        return;
    }
    const cudaDataType_t t = amp == DT_AMP_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    DT_CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &one, A, t, lda, B, t, ldb, &beta, C,
                                 CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

extern "C" void dt_connected_forward_gpu(dt_layer *l, dt_network *net) {
    const int B = l->batch, in = (int)l->inputs, out = l->out_c;
    const connected_priv *c = (const connected_priv *)l->priv;
    const int pw = c->pw, pb = c->pb;
    const int amp = net->gpu_state->amp;
    const float *x = dt_layer_in_gpu(net, l, 0);
    float *y = dt_dev(net, l->output); // (B, out)
    const void *W = amp ? (const void *)connected_lowp_w(l, net, pw) : dt_gpu_w(net, l, pw);
    const void *X = amp ? (const void *)dt_gpu_lowp_of(net, 0, x, (size_t)B * in) : x;
    gemm(net, CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, W, in, X, in, 0.0f, y, out);
    dt_bias_act_gpu(y, dt_gpu_w(net, l, pb), (size_t)B, out, c->act);
}

extern "C" void dt_connected_backward_gpu(dt_layer *l, dt_network *net) {
    const int B = l->batch, in = (int)l->inputs, out = l->out_c;
    const connected_priv *c = (const connected_priv *)l->priv;
    const int pw = c->pw, pb = c->pb;
    const int amp = net->gpu_state->amp;
    float *dz = dt_dev(net, l->delta); // (B, out), ours
    dt_act_backward_gpu(c->act, dt_dev(net, l->output), dz, dz, (size_t)B * out);
    const float *x = dt_layer_in_gpu(net, l, 0);
    const void *DZ = amp ? (const void *)dt_gpu_lowp_of(net, 1, dz, (size_t)B * out) : dz;
    if (!l->frozen) {
        // dW^T (in x out) = X^T (in x B) . dZ (B x out)
        const void *X = amp ? (const void *)dt_gpu_lowp_of(net, 0, x, (size_t)B * in) : x;
        gemm(net, CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, X, in, DZ, out, 0.0f,
             dt_gpu_g(net, l, pw), in);
        if (pb >= 0) dt_channel_sum_gpu(dz, (size_t)B, out, dt_gpu_g(net, l, pb));
    }
    float *dx = dt_layer_in_delta_gpu(net, l, 0); // (B, in)
    if (dx) {
        const void *W = amp ? (const void *)connected_lowp_w(l, net, pw) : dt_gpu_w(net, l, pw);
        gemm(net, CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, W, in, DZ, out,
             l->in_accum[0] ? 1.0f : 0.0f, dx, in);
    }
}
