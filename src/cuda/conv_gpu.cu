// cuDNN convolution for the GPU twins (see conv_gpu.h).
#include "cuda/conv_gpu.h"

#include <stdlib.h>

#include "cuda/kernels_gpu.h"

#ifdef DT_CUDNN

struct dt_gconv {
    int B, H, W, C, O, K, IG; // IG = C / groups
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd[3]; // forward, backward data, backward filter
    cudnnConvolutionFwdAlgo_t fa;
    cudnnConvolutionBwdDataAlgo_t da;
    cudnnConvolutionBwdFilterAlgo_t fwa;
    size_t fws, dws, fwws; // workspace bytes of each
    int chosen;            // algorithms chosen (first use: buffers exist then)
    int amp;               // dt_amp_mode: the tensors cuDNN sees are 16-bit
    size_t nx, ny;         // elements of x and y
    void *w;               // (O, K, K, IG) reordered filters (FP32, or 16-bit with amp)
    void *dw;              // (O, K, K, IG) filter gradient before the reorder back
    uint64_t wver;
    int wvalid;
};

static cudnnHandle_t handle(dt_network *net) { return net->gpu_state->dnn; }

dt_gconv *dt_gconv_create(dt_network *net, int B, int H, int W, int C, int O, int K, int stride,
                          int pad, int dilation, int groups, int OH, int OW) {
    dt_gconv *c = (dt_gconv *)dt_calloc(1, sizeof *c);
    c->B = B, c->H = H, c->W = W, c->C = C, c->O = O, c->K = K, c->IG = C / groups;
    c->amp = net->gpu_state->amp;
    c->nx = (size_t)B * H * W * C;
    c->ny = (size_t)B * OH * OW * O;
    // mixed precision: 16-bit data, FP32 accumulation (cuDNN's PSEUDO_HALF /
    // PSEUDO_BFLOAT16 configurations), tensor cores
    const cudnnDataType_t dt = c->amp == DT_AMP_FP16   ? CUDNN_DATA_HALF
                               : c->amp == DT_AMP_BF16 ? CUDNN_DATA_BFLOAT16
                                                       : CUDNN_DATA_FLOAT;
    DT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->xd));
    DT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&c->yd));
    DT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&c->wd));
    DT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NHWC, dt, B, C, H, W));
    DT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NHWC, dt, B, O, OH, OW));
    // NHWC filters are KRSC = OHWI: the layout cuDNN's NHWC kernels read
    DT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(c->wd, dt, CUDNN_TENSOR_NHWC, O, c->IG, K, K));
    const cudnnMathType_t math = c->amp                  ? CUDNN_TENSOR_OP_MATH
                                 : net->gpu_state->tf32 ? CUDNN_DEFAULT_MATH
                                                        : CUDNN_FMA_MATH;
    for (int i = 0; i < 3; i++) {
        DT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c->cd[i]));
        // cross-correlation, as PyTorch's Conv2d
        DT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(c->cd[i], pad, pad, stride, stride, dilation,
                                                       dilation, CUDNN_CROSS_CORRELATION,
                                                       CUDNN_DATA_FLOAT));
        DT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(c->cd[i], groups));
        DT_CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[i], math));
    }
    size_t nw = (size_t)O * c->IG * K * K * (c->amp ? sizeof(uint16_t) : sizeof(float));
    c->w = dt_gpu_alloc(nw, "reordered filters");
    if (net->with_grads) c->dw = dt_gpu_alloc(nw, "filter gradient");
    return c;
}

void dt_gconv_free(dt_gconv *c) {
    if (!c) return;
    cudnnDestroyTensorDescriptor(c->xd);
    cudnnDestroyTensorDescriptor(c->yd);
    cudnnDestroyFilterDescriptor(c->wd);
    for (int i = 0; i < 3; i++) cudnnDestroyConvolutionDescriptor(c->cd[i]);
    dt_gpu_free(c->w);
    dt_gpu_free(c->dw);
    free(c);
}

// A result is usable when it ran and fits the workspace limit; pass 0 also
// wants strict FP32 (CUDNN_FMA_MATH) unless TF32 or mixed precision is on
// (any_math), pass 1 takes any.
static int usable(cudnnStatus_t st, size_t mem, cudnnMathType_t m, size_t limit, int any_math,
                  int pass) {
    if (st != CUDNN_STATUS_SUCCESS || mem > limit) return 0;
    return any_math || pass || m == CUDNN_FMA_MATH;
}

static void warn_math(int layer, const char *dir) {
    dt_warn("layer %d: no strict-FP32 cuDNN %s algorithm; using one that may use TF32", layer,
            dir);
}

// None chosen: either no candidate ran for these shapes and this format (a
// BF16/FP16 case cuDNN lacks), or none fits the workspace limit.
static void no_algorithm(const char *dir, int ran, int n, size_t lim, int amp) {
    const char *fmt = amp ? dt_amp_name(amp) : "fp32";
    if (!ran)
        dt_fatal("layer %d: cuDNN has no %s algorithm for this convolution with %s data (%d "
                 "candidates, none supported)%s",
                 dt_gpu_cur_layer, dir, fmt, n, amp ? "; try without -amp, or the other format" : "");
    dt_fatal("layer %d: no cuDNN %s algorithm (%s data) fits %.0f MiB of workspace (%d ran); set "
             "DT_GPU_WS_MB higher or use a smaller batch",
             dt_gpu_cur_layer, dir, fmt, lim / 1048576.0, ran);
}

// dt_gpu_opts.no_cudnn_find (DT_CUDNN_FIND=0): cuDNN's heuristics instead
static int use_find(const dt_network *net) { return !net->gpu_opts.no_cudnn_find; }

// How many of the n perf results ran (any of cuDNN's three result types).
template <typename T> static int ran_of(const T *r, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += r[i].status == CUDNN_STATUS_SUCCESS;
    return k;
}

// Chooses the three algorithms. Find runs each candidate once (like
// torch.backends.cudnn.benchmark); the heuristic is instant.
static void choose(dt_gconv *c, dt_network *net) {
    dt_gpu_net *g = net->gpu_state;
    const size_t lim = g->ws_limit;
    const int tf32 = g->tf32 || c->amp, find = use_find(net);
    enum { N = 16 };
    int n = 0, ok = 0;
    {
        cudnnConvolutionFwdAlgoPerf_t r[N];
        if (find)
            DT_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle(net), c->xd, c->wd, c->cd[0], c->yd, N, &n, r));
        else
            DT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle(net), c->xd, c->wd, c->cd[0], c->yd, N, &n, r));
        for (int pass = 0; pass < 2 && !ok; pass++)
            for (int i = 0; i < n && !ok; i++)
                if (usable(r[i].status, r[i].memory, r[i].mathType, lim, tf32, pass)) {
                    c->fa = r[i].algo, c->fws = r[i].memory, ok = 1;
                    DT_CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[0], r[i].mathType));
                    if (pass) warn_math(dt_gpu_cur_layer, "forward");
                }
        if (!ok) no_algorithm("forward", ran_of(r, n), n, lim, c->amp);
    }
    if (net->with_grads) {
        cudnnConvolutionBwdDataAlgoPerf_t r[N];
        ok = 0;
        if (find)
            DT_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(handle(net), c->wd, c->yd, c->cd[1], c->xd, N, &n, r));
        else
            DT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle(net), c->wd, c->yd, c->cd[1], c->xd, N, &n, r));
        for (int pass = 0; pass < 2 && !ok; pass++)
            for (int i = 0; i < n && !ok; i++)
                if (usable(r[i].status, r[i].memory, r[i].mathType, lim, tf32, pass)) {
                    c->da = r[i].algo, c->dws = r[i].memory, ok = 1;
                    DT_CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[1], r[i].mathType));
                    if (pass) warn_math(dt_gpu_cur_layer, "backward-data");
                }
        if (!ok) no_algorithm("backward-data", ran_of(r, n), n, lim, c->amp);
        cudnnConvolutionBwdFilterAlgoPerf_t q[N];
        ok = 0;
        if (find)
            DT_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(handle(net), c->xd, c->yd, c->cd[2], c->wd, N, &n, q));
        else
            DT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle(net), c->xd, c->yd, c->cd[2], c->wd, N, &n, q));
        for (int pass = 0; pass < 2 && !ok; pass++)
            for (int i = 0; i < n && !ok; i++)
                if (usable(q[i].status, q[i].memory, q[i].mathType, lim, tf32, pass)) {
                    c->fwa = q[i].algo, c->fwws = q[i].memory, ok = 1;
                    DT_CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd[2], q[i].mathType));
                    if (pass) warn_math(dt_gpu_cur_layer, "backward-filter");
                }
        if (!ok) no_algorithm("backward-filter", ran_of(q, n), n, lim, c->amp);
    }
    size_t need = c->fws > c->dws ? c->fws : c->dws;
    if (c->fwws > need) need = c->fwws;
    dt_gpu_workspace(net, need);
    c->chosen = 1;
    if (net->gpu_opts.verbose)
        dt_log("layer %d: cuDNN algorithms fwd %d (%zu B) bwd-data %d (%zu B) bwd-filter %d (%zu B)%s\n",
               dt_gpu_cur_layer, (int)c->fa, c->fws, (int)c->da, c->dws, (int)c->fwa, c->fwws,
               find ? " (find)" : " (heuristic)");
}

static void refresh_w(dt_gconv *c, const float *w_oihw, uint64_t ver) {
    if (c->wvalid && c->wver == ver) return;
    if (c->amp)
        dt_oihw_to_ohwi_lowp_gpu(w_oihw, (uint16_t *)c->w, c->O, c->IG, c->K, c->amp);
    else
        dt_oihw_to_ohwi_gpu(w_oihw, (float *)c->w, c->O, c->IG, c->K);
    c->wver = ver;
    c->wvalid = 1;
}

void dt_gconv_forward(dt_gconv *c, dt_network *net, const float *x, const float *w_oihw,
                      uint64_t ver, float *y) {
    if (!c->chosen) choose(c, net);
    refresh_w(c, w_oihw, ver);
    const float one = 1, zero = 0;
    if (c->amp) { // 16-bit in and out, then widened into y
        const uint16_t *xh = dt_gpu_lowp_of(net, 0, x, c->nx);
        uint16_t *yh = dt_gpu_lowp(net, 1, c->ny);
        DT_CUDNN_CHECK(cudnnConvolutionForward(handle(net), &one, c->xd, xh, c->wd, c->w, c->cd[0],
                                               c->fa, net->gpu_state->ws, c->fws, &zero, c->yd, yh));
        dt_from_lowp_gpu(yh, y, c->ny, c->amp, 0);
        return;
    }
    DT_CUDNN_CHECK(cudnnConvolutionForward(handle(net), &one, c->xd, x, c->wd, c->w, c->cd[0], c->fa,
                                           net->gpu_state->ws, c->fws, &zero, c->yd, y));
}

void dt_gconv_backward_filter(dt_gconv *c, dt_network *net, const float *x, const float *dy,
                              float *dw_oihw) {
    const float one = 1, zero = 0;
    if (c->amp) { // a 16-bit filter gradient (as autocast's), widened in the reorder
        const uint16_t *xh = dt_gpu_lowp_of(net, 0, x, c->nx);
        const uint16_t *dyh = dt_gpu_lowp_of(net, 1, dy, c->ny);
        DT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle(net), &one, c->xd, xh, c->yd, dyh,
                                                      c->cd[2], c->fwa, net->gpu_state->ws,
                                                      c->fwws, &zero, c->wd, c->dw));
        dt_ohwi_lowp_to_oihw_gpu((const uint16_t *)c->dw, dw_oihw, c->O, c->IG, c->K, c->amp);
        return;
    }
    DT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle(net), &one, c->xd, x, c->yd, dy, c->cd[2],
                                                  c->fwa, net->gpu_state->ws, c->fwws, &zero,
                                                  c->wd, c->dw));
    dt_ohwi_to_oihw_gpu((const float *)c->dw, dw_oihw, c->O, c->IG, c->K);
}

void dt_gconv_backward_data(dt_gconv *c, dt_network *net, const float *dy, const float *w_oihw,
                            uint64_t ver, float *dx, int accum) {
    refresh_w(c, w_oihw, ver);
    const float one = 1, beta = accum ? 1.0f : 0.0f;
    if (c->amp) { // 16-bit dx, widened and added (accum) into FP32
        const float zero = 0;
        const uint16_t *dyh = dt_gpu_lowp_of(net, 1, dy, c->ny);
        uint16_t *dxh = dt_gpu_lowp(net, 2, c->nx);
        DT_CUDNN_CHECK(cudnnConvolutionBackwardData(handle(net), &one, c->wd, c->w, c->yd, dyh,
                                                    c->cd[1], c->da, net->gpu_state->ws, c->dws,
                                                    &zero, c->xd, dxh));
        dt_from_lowp_gpu(dxh, dx, c->nx, c->amp, accum);
        return;
    }
    DT_CUDNN_CHECK(cudnnConvolutionBackwardData(handle(net), &one, c->wd, c->w, c->yd, dy, c->cd[1],
                                                c->da, net->gpu_state->ws, c->dws, &beta, c->xd,
                                                dx));
}

#else // GPU=1 without CUDNN=1: the conv layers stay on the host (their twins check)

dt_gconv *dt_gconv_create(dt_network *net, int B, int H, int W, int C, int O, int K, int stride,
                          int pad, int dilation, int groups, int OH, int OW) {
    return NULL;
}
void dt_gconv_free(dt_gconv *c) {}
void dt_gconv_forward(dt_gconv *c, dt_network *net, const float *x, const float *w_oihw,
                      uint64_t ver, float *y) {}
void dt_gconv_backward_filter(dt_gconv *c, dt_network *net, const float *x, const float *dy,
                              float *dw_oihw) {}
void dt_gconv_backward_data(dt_gconv *c, dt_network *net, const float *dy, const float *w_oihw,
                            uint64_t ver, float *dx, int accum) {}
#endif
