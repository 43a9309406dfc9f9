// [convolutional]: 2-D convolution (+ bias) -> [batch norm] -> activation on
// NHWC activations: oneDNN's primitives, or im2col + oneDNN's sgemm, do the
// convolution (which one: "Which route" below) and kernels.c the fused BN +
// activation.
//
// Keys:
//   filters=N          output channels (required)
//   size=K             kernel K x K (required, 1..15)
//   stride=1
//   pad=0              explicit zero padding in pixels on every side, as
//                      PyTorch's Conv2d(padding=). NOT Darknet's pad=1
//                      meaning "size/2": ResNet's 7x7 stem is pad=3.
//   dilation=1, groups=1 (groups must divide channels and filters)
//   bias=1             0: no conv bias (torchvision's convs before a BN)
//   batch_normalize=0, momentum=0.1, eps=1e-5 (PyTorch's BatchNorm2d)
//   activation=linear  linear, relu, leaky (0.1), tanh, sigmoid
//   init=pytorch       initial weights: pytorch = Conv2d's default,
//                      U(+-1/sqrt(fan_in)) (bias the same); kaiming_fan_out =
//                      torchvision's ResNet convs, N(0, 2 / fan_out) with
//                      fan_out = filters * size * size (kaiming_normal_,
//                      mode fan_out, relu), bias 0. Only a from-scratch run
//                      sees it: loaded weights replace it.
// Output: floor((H + 2 pad - dilation (size - 1) - 1) / stride) + 1.
//
// Parameters (weights-file order): bias (O) if bias=1; scale, shift, mean,
// var (O) if batch_normalize=1; weights (O, I/groups, K, K) as PyTorch.
//
// Routes:
//   no BN:          one primitive, conv + bias + activation (eltwise post-op).
//   BN, training:   conv (+ bias) -> xbuf; BN (batch stats) + activation
//                   fused in one pass into output.
//   BN, inference (eval, or a frozen layer): BN folded into the weights and
//                   bias from the running statistics, so the layer is one
//                   primitive with the activation as post-op. Folded weights
//                   are cached by the layer's weights version l->wver.
// Weights are reordered from OIHW to each primitive's preferred layout only
// when l->wver moved (an optimizer step that trained this layer, a load).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/conv_route.h"
#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/conv_priv.h"
#include "engine/onednn.h"

// Ask backward-weights for an OIHW diff directly instead of its preferred
// layout + a reorder. Measured: oneDNN 2.6 has no optimised kernel for an OIHW
// diff on NHWC data and falls back to ref:any (minutes for the stem), so 0.
#ifndef CONV_BWD_WEIGHTS_OIHW
#define CONV_BWD_WEIGHTS_OIHW 0
#endif

// Weights in one primitive's layout, refreshed from an OIHW source when the
// parameters changed. `buf` is NULL when the primitive takes OIHW as it is.
typedef struct {
    float *buf;
    dnnl_memory_t mem; // what the primitive reads: buf, or the source itself
    dt_dnnl_reorder reorder;
    uint64_t ver;
    int valid;
} conv_wcache;

// One forward primitive and its fixed memory objects.
typedef struct {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, bias, dst, scratch;
    conv_wcache w;
} conv_fwd;

enum { CONV_INIT_PYTORCH, CONV_INIT_KAIMING_FAN_OUT };
static const char *const init_names[] = {"pytorch", "kaiming_fan_out", NULL};

typedef struct {
    dt_conv_args a; // first: the GPU twin reads it (layers/conv_priv.h)

    float *xbuf;        // (B, out_h, out_w, O) conv output before BN; BN backward
                        // writes dL/dxbuf over it, which is then diff_dst
    float *save_mean;   // (O) batch (or running) statistics for backward
    float *save_invstd; // (O)
    float *fold_w;      // (O, I/G, K, K) weights * scale / sqrt(var + eps)
    float *fold_b;      // (O) folded bias
    uint64_t fold_ver;
    int fold_valid;  // cleared by a training forward (running stats moved)
    int last_folded; // the last forward took the folded route (no xbuf)

    dnnl_memory_desc_t src_md, dst_md, wuser_md, bias_md; // our layouts
    conv_fwd train; // BN only: conv (+ bias) -> xbuf, forward_training
    conv_fwd main;  // no BN: conv + bias + act; BN: folded conv + act
    conv_fwd *hint; // the forward_training pd the backward pds follow

    dnnl_primitive_desc_t bd_pd; // backward data
    dnnl_primitive_t bd_prim;
    dnnl_memory_t bd_ddst, bd_dsrc, bd_scratch;
    conv_wcache bd_w_own;
    conv_wcache *bd_w; // &bd_w_own, or the hint's cache when the layouts agree

    // Forward and backward weights as im2col + one GEMM per chunk of output
    // pixels (gemm), or oneDNN's primitives. See "Which route" below.
    int gemm;
    int how;  // dt_route_how: how the route was chosen
    int tune; // time both routes in setup (auto, the shape not known yet)
    dt_conv_shape shape;
    size_t col_rows; // output pixels per chunk; the chunk's im2col sits in the workspace
    dnnl_primitive_desc_t bw_pd; // backward weights
    dnnl_primitive_t bw_prim;
    dnnl_memory_t bw_src, bw_ddst, bw_dw, bw_db, bw_scratch;
    float *dw_buf; // diff weights in the primitive's layout (NULL: OIHW direct)
    dt_dnnl_reorder dw_reorder;

    size_t accum_n;   // floats of workspace for an accumulated input delta
    size_t scratch_n; // floats of workspace for oneDNN's scratchpad (after accum)
} conv_priv;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

// --- the forward and backward weights as im2col + GEMM -------------------------------
//
// With col (P, C*K*K) the im2col of the input, P = B * out_h * out_w:
//   forward:          Y (P, O) = col x W^T, then + bias and the activation
//   backward weights: dW (O, C*K*K) = dY^T (P, O)^T x col
// summed over chunks of col_rows output pixels whose col stays in the
// workspace. col's columns are in (c, kh, kw) order, the rows of our OIHW
// weights, so neither needs a reorder. Backward data is oneDNN's on both
// routes.
//
// Which route: neither wins everywhere. On AVX2 (2 Zen 3 cores) oneDNN 2.6's
// direct NHWC kernels ran ResNet34's 3x3 shapes at ~75 GFLOP/s forward and
// 40-65 backward-weights, its sgemm at 110-138, so the GEMM won; on AVX-512
// (Zen 5) the direct kernels win every ResNet34 shape. So the route is
// measured, per shape, on the machine that runs it (docs/CONV_ROUTES.md):
// under auto, setup times both routes on the layer's own buffers (the work
// the route changes: the forward for an inference network, forward +
// backward weights for a training one), keeps the faster, and conv_route.c
// remembers it per machine in the cache file, so a shape is timed once per
// machine, thread count and oneDNN version. dt_net_opts.conv_route (the
// command line's DT_CONV=gemm|onednn) forces one. Groups and dilation keep oneDNN.

// Decides at parse: forced, only oneDNN, known (this process or the cache
// file), or to be measured in setup (p->tune; p->gemm = 0 until then, so
// that every oneDNN primitive is described).
static void choose_route(const dt_layer *l, conv_priv *p, const dt_network *net) {
    p->shape = (dt_conv_shape){.batch = l->batch, .h = l->h, .w = l->w, .c = l->c,
                               .filters = p->a.filters, .size = p->a.size, .stride = p->a.stride,
                               .pad = p->a.pad, .dilation = p->a.dilation, .groups = p->a.groups,
                               .train = net->with_grads};
    p->gemm = p->tune = 0;
    const int mode = dt_conv_mode(net->conv_route);
    if (!dt_conv_route_available(&p->shape, DT_CONV_GEMM)) {
        p->how = DT_ROUTE_ONLY;
        return;
    }
    if (mode != DT_CONV_AUTO) {
        p->gemm = mode == DT_CONV_GEMM;
        p->how = DT_ROUTE_FORCED;
        return;
    }
#ifdef DT_GPU
    // dt_net_load will move the network onto a GPU (dt_net_opts.gpu): the
    // convolutions run there, the CPU routes never (measuring them would
    // only delay the start)
    if (net->gpu_wanted) {
        p->how = DT_ROUTE_GPU;
        return;
    }
#endif
    int route, how;
    if (dt_conv_route_find(&p->shape, &route, &how)) {
        p->gemm = route == DT_CONV_GEMM;
        p->how = how;
        return;
    }
    p->tune = 1;
    p->how = DT_ROUTE_MEASURED;
}

// Rows [r0, r1) of the im2col of the NHWC input: row r = (b, oh, ow), column
// c * K * K + kh * K + kw; zeros where the kernel reads the padding.
static void im2col_rows(const dt_layer *l, const conv_priv *p, const float *x, size_t r0,
                        size_t r1, float *col) {
    const int H = l->h, W = l->w, C = l->c, K = p->a.size, S = p->a.stride, pad = p->a.pad;
    const int OH = l->out_h, OW = l->out_w, KK = K * K;
    const size_t cols = (size_t)C * KK;
#pragma omp parallel for schedule(static)
    for (long long r = (long long)r0; r < (long long)r1; r++) {
        const int ow = (int)(r % OW), oh = (int)(r / OW % OH);
        const size_t b = (size_t)r / ((size_t)OW * OH);
        float *row = col + (size_t)(r - (long long)r0) * cols;
        for (int kh = 0; kh < K; kh++) {
            const int ih = oh * S - pad + kh;
            for (int kw = 0; kw < K; kw++) {
                const int iw = ow * S - pad + kw;
                float *d = row + kh * K + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                    for (int c = 0; c < C; c++) d[(size_t)c * KK] = 0;
                    continue;
                }
                const float *s = x + ((b * H + (size_t)ih) * W + (size_t)iw) * C;
                for (int c = 0; c < C; c++) d[(size_t)c * KK] = s[c];
            }
        }
    }
}

// out (P, O) = conv(input, w) (+ b), then act; w in OIHW. Stops after the
// chunk that passes `deadline` (dt_now() seconds; INFINITY: never), which
// only the route measurement sets: 0 when it stopped, else 1.
static int gemm_fwd(const dt_layer *l, const conv_priv *p, dt_network *net, const float *w,
                    const float *b, dt_act act, float *out, double deadline) {
    const size_t O = (size_t)p->a.filters, cols = (size_t)l->c * p->a.size * p->a.size;
    const size_t P = (size_t)l->batch * l->out_h * l->out_w;
    const float *x = dt_layer_in(net, l, 0);
    float *col = net->workspace + p->accum_n;
    for (size_t r0 = 0; r0 < P; r0 += p->col_rows) {
        const size_t r1 = r0 + p->col_rows < P ? r0 + p->col_rows : P, n = r1 - r0;
        float *y = out + r0 * O;
        im2col_rows(l, p, x, r0, r1, col);
        dt_dnnl_sgemm('N', 'T', n, O, cols, col, cols, w, cols, 0.0f, y, O, l->index);
        if (b) dt_add_bias(y, b, n, O);
        dt_act_forward(act, y, n * O);
        if (deadline < INFINITY && dt_now() > deadline) return 0;
    }
    return 1;
}

// dW (and dB) from dy; `deadline` as gemm_fwd's.
static int bw_gemm_run(dt_layer *l, conv_priv *p, dt_network *net, const float *dy,
                       double deadline) {
    const size_t O = (size_t)p->a.filters, cols = (size_t)l->c * p->a.size * p->a.size;
    const size_t P = (size_t)l->batch * l->out_h * l->out_w;
    const float *x = dt_layer_in(net, l, 0);
    float *col = net->workspace + p->accum_n, *dw = l->params[p->a.pw].g;
    for (size_t r0 = 0; r0 < P; r0 += p->col_rows) {
        const size_t r1 = r0 + p->col_rows < P ? r0 + p->col_rows : P;
        im2col_rows(l, p, x, r0, r1, col);
        // row-major: dW (O x cols) (+)= dY[r0:r1]^T (O x rows) * col (rows x cols)
        dt_dnnl_sgemm('T', 'N', O, cols, r1 - r0, dy + r0 * O, O, col, cols, r0 ? 1.0f : 0.0f,
                      dw, cols, l->index);
        if (deadline < INFINITY && dt_now() > deadline) return 0;
    }
    if (p->a.bias) dt_channel_sum(dy, P, O, l->params[p->a.pb].g); // dB
    return 1;
}

// --- primitive descriptors (parse) ------------------------------------------------

// User scratchpad (in net->workspace) and the activation as eltwise post-op.
static int make_attr(dnnl_primitive_attr_t *attr, dt_act act, int layer) {
    DT_DNNL_TRY(dnnl_primitive_attr_create(attr), layer);
    dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && act != DT_ACT_LINEAR) {
        dnnl_alg_kind_t alg = act == DT_ACT_TANH      ? dnnl_eltwise_tanh
                              : act == DT_ACT_SIGMOID ? dnnl_eltwise_logistic
                                                      : dnnl_eltwise_relu;
        float alpha = act == DT_ACT_LEAKY ? DT_LEAKY_SLOPE : 0.0f;
        dnnl_post_ops_t po;
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success) {
            st = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f);
            if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    if (st != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        dt_error("layer %d: oneDNN attribute setup (scratchpad, post-op) failed: %s", layer,
                 dnnl_status2str(st));
        return -1;
    }
    return 0;
}

static int create_pd(dnnl_primitive_desc_t *pd, const dnnl_convolution_desc_t *cd,
                     dt_act act, const_dnnl_primitive_desc_t hint, int layer,
                     const char *what) {
    dnnl_primitive_attr_t attr;
    if (make_attr(&attr, act, layer) != 0) return -1;
    dnnl_status_t st = dnnl_primitive_desc_create(pd, cd, attr, dt_dnnl_engine(), hint);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        *pd = NULL;
        dt_error("layer %d: oneDNN dnnl_primitive_desc_create(%s) failed: %s", layer, what,
                 dnnl_status2str(st));
        return -1;
    }
    return 0;
}

// Geometry shared by every descriptor of the layer.
typedef struct {
    dnnl_dims_t strides, dilates, pad;
    dnnl_memory_desc_t wany;
} conv_geom;

static int geom(const dt_layer *l, const conv_priv *p, conv_geom *g) {
    for (int i = 0; i < 2; i++) {
        g->strides[i] = p->a.stride;
        g->dilates[i] = p->a.dilation - 1; // oneDNN counts the gaps
        g->pad[i] = p->a.pad;
    }
    int G = p->a.groups, O = p->a.filters, I = l->c, K = p->a.size;
    if (G == 1) {
        dnnl_dim_t d[4] = {O, I, K, K};
        return dt_dnnl_md(&g->wany, 4, d, dnnl_format_tag_any, l->index);
    }
    dnnl_dim_t d[5] = {G, O / G, I / G, K, K};
    return dt_dnnl_md(&g->wany, 5, d, dnnl_format_tag_any, l->index);
}

static int fwd_pd(const dt_layer *l, conv_priv *p, const conv_geom *g, dnnl_prop_kind_t prop,
                  int with_bias, dt_act act, dnnl_primitive_desc_t *pd) {
    dnnl_convolution_desc_t cd;
    DT_DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(
                    &cd, prop, dnnl_convolution_direct, &p->src_md, &g->wany,
                    with_bias ? &p->bias_md : NULL, &p->dst_md, g->strides, g->dilates, g->pad,
                    g->pad),
                l->index);
    return create_pd(pd, &cd, act, NULL, l->index, "convolution forward");
}

static int make_pds(dt_layer *l, conv_priv *p, dt_network *net) {
    if (!dt_dnnl_engine()) return -1;
    int B = l->batch, O = p->a.filters, G = p->a.groups, K = p->a.size;
    dnnl_dim_t sd[4] = {B, l->c, l->h, l->w}, dd[4] = {B, O, l->out_h, l->out_w};
    dnnl_dim_t bd[1] = {O};
    if (dt_dnnl_md(&p->src_md, 4, sd, dnnl_nhwc, l->index) ||
        dt_dnnl_md(&p->dst_md, 4, dd, dnnl_nhwc, l->index) ||
        dt_dnnl_md(&p->bias_md, 1, bd, dnnl_x, l->index))
        return -1;
    if (G == 1) {
        dnnl_dim_t wd[4] = {O, l->c, K, K};
        if (dt_dnnl_md(&p->wuser_md, 4, wd, dnnl_oihw, l->index)) return -1;
    } else { // PyTorch's (O, I/G, K, K) is exactly goihw in memory
        dnnl_dim_t wd[5] = {G, O / G, l->c / G, K, K};
        if (dt_dnnl_md(&p->wuser_md, 5, wd, dnnl_goihw, l->index)) return -1;
    }
    conv_geom g;
    if (geom(l, p, &g) != 0) return -1;
    int grads = net->with_grads;
    if (p->a.bn) {
        // folded inference always has a bias (shift - mean * scale / std)
        if (fwd_pd(l, p, &g, dnnl_forward_inference, 1, p->a.act, &p->main.pd)) return -1;
        if (grads && fwd_pd(l, p, &g, dnnl_forward_training, p->a.bias, DT_ACT_LINEAR,
                            &p->train.pd))
            return -1;
        p->hint = &p->train;
    } else {
        // A conv keeps no training workspace, so one pd serves train and eval.
        if (fwd_pd(l, p, &g, grads ? dnnl_forward_training : dnnl_forward_inference, p->a.bias,
                   p->a.act, &p->main.pd))
            return -1;
        p->hint = &p->main;
    }
    size_t scratch = dt_dnnl_scratch_floats(p->main.pd);
    choose_route(l, p, net);
    if (p->gemm || p->tune) {
        // about 4M floats of im2col a chunk (16 MiB), and 1024-2048 rows,
        // where the GEMM's long dimension keeps it near its peak
        const size_t cols = (size_t)l->c * p->a.size * p->a.size;
        const size_t P = (size_t)B * l->out_h * l->out_w;
        size_t rows = ((size_t)4 << 20) / cols;
        if (rows < 1024) rows = 1024;
        if (rows > 2048) rows = 2048;
        p->col_rows = rows < P ? rows : P;
        if (p->col_rows * cols > scratch) scratch = p->col_rows * cols;
    }
    if (grads) {
        if (p->train.pd && dt_dnnl_scratch_floats(p->train.pd) > scratch)
            scratch = dt_dnnl_scratch_floats(p->train.pd);
        dnnl_convolution_desc_t cd;
        DT_DNNL_TRY(dnnl_dilated_convolution_backward_data_desc_init(
                        &cd, dnnl_convolution_direct, &p->src_md, &g.wany, &p->dst_md,
                        g.strides, g.dilates, g.pad, g.pad),
                    l->index);
        if (create_pd(&p->bd_pd, &cd, DT_ACT_LINEAR, p->hint->pd, l->index,
                      "convolution backward data"))
            return -1;
        size_t s1 = dt_dnnl_scratch_floats(p->bd_pd), s2 = 0;
        if (!p->gemm) {
            const dnnl_memory_desc_t *dw = CONV_BWD_WEIGHTS_OIHW ? &p->wuser_md : &g.wany;
            DT_DNNL_TRY(dnnl_dilated_convolution_backward_weights_desc_init(
                            &cd, dnnl_convolution_direct, &p->src_md, dw,
                            p->a.bias ? &p->bias_md : NULL, &p->dst_md, g.strides, g.dilates,
                            g.pad, g.pad),
                        l->index);
            if (create_pd(&p->bw_pd, &cd, DT_ACT_LINEAR, p->hint->pd, l->index,
                          "convolution backward weights"))
                return -1;
            s2 = dt_dnnl_scratch_floats(p->bw_pd);
        }
        if (s1 > scratch) scratch = s1;
        if (s2 > scratch) scratch = s2;
        // backward data overwrites its output: an accumulated input delta is
        // computed here first and then added
        p->accum_n = round16(l->inputs * (size_t)B);
    }
    p->scratch_n = round16(scratch);
    dt_net_need_workspace(net, p->accum_n + p->scratch_n);
    return 0;
}

// --- parse ---------------------------------------------------------------------------

static int conv_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    conv_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    p->a.pb = p->a.ps = p->a.pt = p->a.pm = p->a.pv = p->a.pw = -1;
    if (dt_cfg_int_req(s, "filters", 1, 1 << 16, &p->a.filters) ||
        dt_cfg_int_req(s, "size", 1, 15, &p->a.size) ||
        dt_cfg_int(s, "stride", 1, 1, 64, &p->a.stride) ||
        dt_cfg_int(s, "pad", 0, 0, 64, &p->a.pad) ||
        dt_cfg_int(s, "dilation", 1, 1, 64, &p->a.dilation) ||
        dt_cfg_int(s, "groups", 1, 1, 1 << 16, &p->a.groups) ||
        dt_cfg_int(s, "bias", 1, 0, 1, &p->a.bias) ||
        dt_cfg_int(s, "batch_normalize", 0, 0, 1, &p->a.bn) ||
        dt_cfg_float(s, "momentum", 0.1f, 0, 1, &p->a.momentum) ||
        dt_cfg_float(s, "eps", 1e-5f, 1e-12f, 1, &p->a.eps) ||
        dt_cfg_choice(s, "init", init_names, CONV_INIT_PYTORCH, &p->a.init) ||
        dt_act_parse(s, DT_ACT_LINEAR, &p->a.act))
        return -1;
    if (l->c % p->a.groups || p->a.filters % p->a.groups) {
        dt_cfg_error_key(s, dt_cfg_find(s, "groups"),
                         "%d groups must divide the input channels (%d) and filters (%d)",
                         p->a.groups, l->c, p->a.filters);
        return -1;
    }
    int extent = p->a.dilation * (p->a.size - 1) + 1;
    if (l->h + 2 * p->a.pad < extent || l->w + 2 * p->a.pad < extent) {
        dt_cfg_error_key(s, dt_cfg_find(s, "size"),
                         "the kernel spans %d pixels but the padded input is only %d x %d "
                         "(input %d x %d, pad=%d, dilation=%d)",
                         extent, l->h + 2 * p->a.pad, l->w + 2 * p->a.pad, l->h, l->w, p->a.pad,
                         p->a.dilation);
        return -1;
    }
    l->out_h = (l->h + 2 * p->a.pad - extent) / p->a.stride + 1;
    l->out_w = (l->w + 2 * p->a.pad - extent) / p->a.stride + 1;
    l->out_c = p->a.filters;
    int O = p->a.filters, IG = l->c / p->a.groups, K = p->a.size;
    l->flops = 2.0 * O * l->out_h * l->out_w * IG * K * K;

    if (p->a.bias) p->a.pb = l->n_params, dt_layer_add_param(l, "bias", 1, 1, O, 0, 0, 0);
    if (p->a.bn) {
        p->a.ps = l->n_params, dt_layer_add_param(l, "scale", 1, 1, O, 0, 0, 0);
        p->a.pt = l->n_params, dt_layer_add_param(l, "shift", 1, 1, O, 0, 0, 0);
        p->a.pm = l->n_params, dt_layer_add_param(l, "mean", 0, 1, O, 0, 0, 0);
        p->a.pv = l->n_params, dt_layer_add_param(l, "var", 0, 1, O, 0, 0, 0);
    }
    p->a.pw = l->n_params, dt_layer_add_param(l, "weights", 1, 4, O, IG, K, K);

    size_t M = (size_t)l->batch * l->out_h * l->out_w;
    if (p->a.bn && net->with_grads) {
        dt_layer_add_buffer(net, &p->xbuf, M * O);
        dt_layer_add_buffer(net, &p->save_mean, O);
        dt_layer_add_buffer(net, &p->save_invstd, O);
    }
    return make_pds(l, p, net);
}

// --- setup: primitives and memory objects, all created once ------------------------

static int wcache_init(conv_wcache *c, const dt_layer *l, const conv_priv *p,
                       const_dnnl_primitive_desc_t pd, dnnl_query_t q, float *src) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q, 0);
    c->valid = 0;
    if (dnnl_memory_desc_equal(md, &p->wuser_md)) return dt_dnnl_mem(&c->mem, md, src, l->index);
    c->buf = dt_alloc_floats(dnnl_memory_desc_get_size(md) / sizeof(float));
    if (dt_dnnl_reorder_init(&c->reorder, &p->wuser_md, src, md, c->buf, l->index)) return -1;
    return dt_dnnl_mem(&c->mem, md, c->buf, l->index);
}

static void wcache_refresh(conv_wcache *c, uint64_t ver, int layer) {
    if (c->valid && c->ver == ver) return;
    if (c->buf) dt_dnnl_reorder_run(&c->reorder, layer);
    c->ver = ver;
    c->valid = 1;
}

static int scratch_mem(dnnl_memory_t *m, const dt_layer *l, const conv_priv *p,
                       const_dnnl_primitive_desc_t pd, dt_network *net) {
    *m = NULL;
    if (dt_dnnl_scratch_floats(pd) == 0) return 0;
    return dt_dnnl_mem(m, dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
                       net->workspace + p->accum_n, l->index);
}

static int fwd_setup(conv_fwd *f, dt_layer *l, conv_priv *p, dt_network *net, float *w,
                     float *bias, float *dst) {
    DT_DNNL_TRY(dnnl_primitive_create(&f->prim, f->pd), l->index);
    if (wcache_init(&f->w, l, p, f->pd, dnnl_query_weights_md, w) ||
        dt_dnnl_mem(&f->src, &p->src_md, dt_layer_in(net, l, 0), l->index) ||
        dt_dnnl_mem(&f->dst, &p->dst_md, dst, l->index) ||
        (bias && dt_dnnl_mem(&f->bias, &p->bias_md, bias, l->index)) ||
        scratch_mem(&f->scratch, l, p, f->pd, net))
        return -1;
    return 0;
}

static int setup_prims(dt_layer *l, dt_network *net) {
    conv_priv *p = l->priv;
    float *w = l->params[p->a.pw].w;
    float *b = p->a.bias ? l->params[p->a.pb].w : NULL;
    // Under the GEMM the main primitive never runs; it is set up only where
    // its weight cache serves backward data (no BN, with gradients: it is
    // the hint). Elsewhere it would JIT a kernel and hold an unused copy of
    // the weights in its layout.
    const int main_used = !p->gemm || (!p->a.bn && net->with_grads);
    if (p->a.bn) {
        size_t nw = l->params[p->a.pw].n;
        p->fold_w = dt_alloc_floats(nw);
        p->fold_b = dt_alloc_floats((size_t)p->a.filters);
        if (main_used && fwd_setup(&p->main, l, p, net, p->fold_w, p->fold_b, l->output))
            return -1;
        if (p->train.pd && fwd_setup(&p->train, l, p, net, w, b, p->xbuf)) return -1;
    } else if (main_used && fwd_setup(&p->main, l, p, net, w, b, l->output)) {
        return -1;
    }
    if (!net->with_grads) return 0;

    float *ddst = p->a.bn ? p->xbuf : l->delta;
    // backward data
    DT_DNNL_TRY(dnnl_primitive_create(&p->bd_prim, p->bd_pd), l->index);
    const dnnl_memory_desc_t *bdw = dnnl_primitive_desc_query_md(p->bd_pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *hw =
        dnnl_primitive_desc_query_md(p->hint->pd, dnnl_query_weights_md, 0);
    if (dnnl_memory_desc_equal(bdw, hw)) {
        p->bd_w = &p->hint->w; // same layout, same source: reorder once per step
    } else {
        p->bd_w = &p->bd_w_own;
        if (wcache_init(p->bd_w, l, p, p->bd_pd, dnnl_query_weights_md, w)) return -1;
    }
    // the input delta pointer is fixed; dt_layer_in_delta decides at run
    // time whether it is needed (it changes with freezing)
    int in = l->in[0];
    float *in_delta = in < 0 ? net->input_delta : net->layers[in].delta;
    float *dsrc = l->in_accum[0] ? net->workspace : in_delta;
    if (dt_dnnl_mem(&p->bd_ddst, &p->dst_md, ddst, l->index) ||
        dt_dnnl_mem(&p->bd_dsrc, &p->src_md, dsrc, l->index) ||
        scratch_mem(&p->bd_scratch, l, p, p->bd_pd, net))
        return -1;
    if (p->gemm) return 0;
    // backward weights
    DT_DNNL_TRY(dnnl_primitive_create(&p->bw_prim, p->bw_pd), l->index);
    const dnnl_memory_desc_t *dw =
        dnnl_primitive_desc_query_md(p->bw_pd, dnnl_query_diff_weights_md, 0);
    float *wg = l->params[p->a.pw].g;
    if (dnnl_memory_desc_equal(dw, &p->wuser_md)) {
        if (dt_dnnl_mem(&p->bw_dw, dw, wg, l->index)) return -1;
    } else {
        p->dw_buf = dt_alloc_floats(dnnl_memory_desc_get_size(dw) / sizeof(float));
        if (dt_dnnl_mem(&p->bw_dw, dw, p->dw_buf, l->index) ||
            dt_dnnl_reorder_init(&p->dw_reorder, dw, p->dw_buf, &p->wuser_md, wg, l->index))
            return -1;
    }
    if (dt_dnnl_mem(&p->bw_src, &p->src_md, dt_layer_in(net, l, 0), l->index) ||
        dt_dnnl_mem(&p->bw_ddst, &p->dst_md, ddst, l->index) ||
        (p->a.bias && dt_dnnl_mem(&p->bw_db, &p->bias_md, l->params[p->a.pb].g, l->index)) ||
        scratch_mem(&p->bw_scratch, l, p, p->bw_pd, net))
        return -1;
    return 0;
}

// --- forward -------------------------------------------------------------------------

static void fwd_run(conv_fwd *f, const dt_layer *l, uint64_t ver) {
    wcache_refresh(&f->w, ver, l->index);
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, f->src}, {DNNL_ARG_WEIGHTS, f->w.mem},
                            {DNNL_ARG_DST, f->dst}};
    int n = 3;
    if (f->bias) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, f->bias};
    if (f->scratch) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, f->scratch};
    dt_dnnl_exec(f->prim, n, a, l->index, "convolution forward");
}

// fold_w = w * a, fold_b = (bias - mean) * a + shift, a = scale / sqrt(var + eps),
// the same float arithmetic as dt_bn_forward_infer.
static void fold_bn(dt_layer *l, conv_priv *p) {
    const float *w = l->params[p->a.pw].w, *scale = l->params[p->a.ps].w;
    const float *shift = l->params[p->a.pt].w, *mean = l->params[p->a.pm].w;
    const float *var = l->params[p->a.pv].w;
    const float *bias = p->a.bias ? l->params[p->a.pb].w : NULL;
    size_t per = l->params[p->a.pw].n / p->a.filters;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < p->a.filters; o++) {
        float a = scale[o] * (1.0f / sqrtf(var[o] + p->a.eps));
        const float *wo = w + o * per;
        float *fo = p->fold_w + o * per;
        for (size_t i = 0; i < per; i++) fo[i] = wo[i] * a;
        p->fold_b[o] = (shift[o] - mean[o] * a) + (bias ? bias[o] * a : 0.0f);
    }
}

// The conv (+ bias) of the raw weights into `out`, then act: oneDNN's
// forward_training primitive f, or the GEMM.
static void conv_raw(dt_layer *l, conv_priv *p, dt_network *net, conv_fwd *f, dt_act act,
                     float *out) {
    if (!p->gemm) {
        fwd_run(f, l, l->wver);
        return;
    }
    gemm_fwd(l, p, net, l->params[p->a.pw].w, p->a.bias ? l->params[p->a.pb].w : NULL, act, out,
             INFINITY);
}

static void conv_forward(dt_layer *l, dt_network *net) {
    conv_priv *p = l->priv;
    uint64_t ver = l->wver;
    if (!p->a.bn) {
        conv_raw(l, p, net, &p->main, p->a.act, l->output);
        return;
    }
    if (dt_layer_training(net, l)) {
        conv_raw(l, p, net, &p->train, DT_ACT_LINEAR, p->xbuf);
        size_t M = (size_t)l->batch * l->out_h * l->out_w;
        dt_bn_forward_train_sync(p->xbuf, l->output, M, p->a.filters, l->params[p->a.ps].w,
                            l->params[p->a.pt].w, l->params[p->a.pm].w, l->params[p->a.pv].w,
                            p->a.momentum, p->a.eps, p->save_mean, p->save_invstd, p->a.act,
                            dt_net_bn_sync(net));
        p->fold_valid = 0; // the running statistics moved
        p->last_folded = 0;
        return;
    }
    if (!p->fold_valid || p->fold_ver != ver) {
        fold_bn(l, p);
        p->fold_ver = ver;
        p->fold_valid = 1;
        p->main.w.valid = 0; // reorder the new folded weights
    }
    if (p->gemm) gemm_fwd(l, p, net, p->fold_w, p->fold_b, p->a.act, l->output, INFINITY);
    else fwd_run(&p->main, l, ver);
    p->last_folded = 1;
}

// --- backward ------------------------------------------------------------------------

// dW (and dB) by oneDNN's backward-weights primitive, reordered to OIHW.
static void bw_onednn_run(const dt_layer *l, conv_priv *p) {
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, p->bw_src},
                            {DNNL_ARG_DIFF_DST, p->bw_ddst},
                            {DNNL_ARG_DIFF_WEIGHTS, p->bw_dw}};
    int n = 3;
    if (p->bw_db) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, p->bw_db};
    if (p->bw_scratch) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->bw_scratch};
    dt_dnnl_exec(p->bw_prim, n, a, l->index, "convolution backward weights");
    if (p->dw_buf) dt_dnnl_reorder_run(&p->dw_reorder, l->index);
}

static void conv_backward(dt_layer *l, dt_network *net) {
    conv_priv *p = l->priv;
    float *dx = dt_layer_in_delta(net, l, 0);
    if (l->frozen && !dx) return;
    uint64_t ver = l->wver;
    size_t M = (size_t)l->batch * l->out_h * l->out_w;
    if (p->a.bn) {
        int training = dt_layer_training(net, l);
        if (p->last_folded) {
            // Inference forward kept no pre-BN activations: recompute them
            // (only tests and a trainable layer before a frozen one get here).
            conv_raw(l, p, net, &p->train, DT_ACT_LINEAR, p->xbuf);
            const float *mean = l->params[p->a.pm].w, *var = l->params[p->a.pv].w;
            for (int c = 0; c < p->a.filters; c++) {
                p->save_mean[c] = mean[c];
                p->save_invstd[c] = 1.0f / sqrtf(var[c] + p->a.eps);
            }
            training = 0;
        }
        float *dscale = l->frozen ? NULL : l->params[p->a.ps].g;
        float *dshift = l->frozen ? NULL : l->params[p->a.pt].g;
        // dL/dxbuf overwrites xbuf (read element by element first), and
        // becomes diff_dst of the convolution
        dt_bn_backward_sync(p->xbuf, l->output, l->delta, p->xbuf, M, p->a.filters,
                       l->params[p->a.ps].w, p->save_mean, p->save_invstd, dscale, dshift,
                       p->a.act, training, 0, dt_net_bn_sync(net));
    } else {
        dt_act_backward(p->a.act, l->output, l->delta, l->delta, M * p->a.filters);
    }
    if (!l->frozen && p->gemm) bw_gemm_run(l, p, net, p->a.bn ? p->xbuf : l->delta, INFINITY);
    else if (!l->frozen) bw_onednn_run(l, p);
    if (dx) {
        wcache_refresh(p->bd_w, ver, l->index);
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, p->bd_ddst},
                                {DNNL_ARG_WEIGHTS, p->bd_w->mem},
                                {DNNL_ARG_DIFF_SRC, p->bd_dsrc}};
        int n = 3;
        if (p->bd_scratch) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->bd_scratch};
        dt_dnnl_exec(p->bd_prim, n, a, l->index, "convolution backward data");
        if (l->in_accum[0]) dt_add(net->workspace, dx, l->inputs * (size_t)l->batch, 1);
    }
}

// --- the route measured: setup under auto ---------------------------------------------

// One run of the work the route changes, on the layer's own buffers: the
// forward of an inference network (BN folded: the folded weights), the
// forward + backward weights of a training one (backward data is oneDNN's on
// both routes, so it is left out). Weight reorders are left out too: both
// routes pay one per training step (the GEMM in backward data's refresh).
// The GEMM stops at `deadline` (then it has lost). Seconds.
static double route_run(dt_layer *l, conv_priv *p, dt_network *net, int gemm, double deadline) {
    const float *w = l->params[p->a.pw].w, *b = p->a.bias ? l->params[p->a.pb].w : NULL;
    const double t0 = dt_now();
    if (!net->with_grads) {
        if (gemm) gemm_fwd(l, p, net, p->a.bn ? p->fold_w : w, p->a.bn ? p->fold_b : b, p->a.act,
                           l->output, deadline);
        else fwd_run(&p->main, l, l->wver);
    } else if (gemm) {
        if (gemm_fwd(l, p, net, w, b, p->a.bn ? DT_ACT_LINEAR : p->a.act,
                     p->a.bn ? p->xbuf : l->output, deadline))
            bw_gemm_run(l, p, net, p->a.bn ? p->xbuf : l->delta, deadline);
    } else {
        fwd_run(p->a.bn ? &p->train : &p->main, l, l->wver);
        bw_onednn_run(l, p);
    }
    return dt_now() - t0;
}

// A forward primitive's executable parts freed, its descriptor kept: the
// state setup leaves when the GEMM route does not need it.
static void fwd_release(conv_fwd *f);

// The GEMM won: free what only the oneDNN route runs, leaving the state a
// GEMM layer's setup builds.
static void drop_onednn_only(conv_priv *p, const dt_network *net) {
    if (p->a.bn || !net->with_grads) fwd_release(&p->main); // not backward data's hint
    dt_dnnl_reorder_free(&p->dw_reorder);
    if (p->bw_prim) dnnl_primitive_destroy(p->bw_prim);
    if (p->bw_pd) dnnl_primitive_desc_destroy(p->bw_pd);
    dnnl_memory_t m[5] = {p->bw_src, p->bw_ddst, p->bw_dw, p->bw_db, p->bw_scratch};
    for (int i = 0; i < 5; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    free(p->dw_buf);
    p->bw_prim = NULL;
    p->bw_pd = NULL;
    p->bw_src = p->bw_ddst = p->bw_dw = p->bw_db = p->bw_scratch = NULL;
    p->dw_buf = NULL;
}

// Times both routes, keeps the faster and records it (conv_route.c): one
// untimed warm-up run each (first runs pay weight reorders, page faults and
// oneDNN's lazy set-up, and a loaded machine can stall any single run: they
// never decide), then two timed runs each, alternating, three more each when
// the two are within 25%, and the minimum of the timed runs counts. The GEMM
// (chunked) is cut off once it has taken 1.5x oneDNN's best: a cut-off run
// has lost, and its time (a lower bound) is what is recorded. What the runs
// write (output, xbuf, gradients) is overwritten by the first real step; the
// weight caches are marked stale, as the weights are initialised or loaded
// after setup.
static void tune(dt_layer *l, conv_priv *p, dt_network *net) {
    const double t0 = dt_now();
    const double warm = route_run(l, p, net, 0, INFINITY);
    route_run(l, p, net, 1, dt_now() + 4 * warm);
    double to = INFINITY, tg = INFINITY;
    for (int r = 0; r < 5; r++) {
        if (r == 2 && (tg > 1.25 * to || to > 1.25 * tg)) break; // clear after two each
        double t = route_run(l, p, net, 0, INFINITY);
        if (t < to) to = t;
        t = route_run(l, p, net, 1, dt_now() + 1.5 * to);
        if (t < tg) tg = t;
    }
    p->gemm = tg < to;
    p->tune = 0;
    p->how = DT_ROUTE_MEASURED;
    p->main.w.valid = p->train.w.valid = p->bd_w_own.valid = 0;
    if (p->gemm) drop_onednn_only(p, net);
    dt_conv_route_record(&p->shape, p->gemm ? DT_CONV_GEMM : DT_CONV_ONEDNN, tg * 1e6, to * 1e6,
                         dt_now() - t0);
}

static int conv_setup(dt_layer *l, dt_network *net) {
    conv_priv *p = l->priv;
    int route, how, found = 0;
    if (p->tune && dt_conv_route_find(&p->shape, &route, &how)) {
        // an identical shape earlier in this network was measured since parse
        p->tune = 0;
        p->gemm = route == DT_CONV_GEMM;
        p->how = how;
        found = 1;
    }
    if (setup_prims(l, net) != 0) return -1;
    if (p->tune) tune(l, p, net);
    else if (found && p->gemm) drop_onednn_only(p, net); // parse described them to measure
    return 0;
}

static int conv_routes(const dt_layer *l, int *route, int *how, int max) {
    const conv_priv *p = l->priv;
    if (!p || max < 1) return 0;
    route[0] = p->gemm ? DT_CONV_GEMM : DT_CONV_ONEDNN;
    how[0] = p->how;
    return 1;
}

// --- init, describe, destroy ---------------------------------------------------------

// init=pytorch: Conv2d's default, kaiming_uniform(a=sqrt(5)) =
// U(+-1/sqrt(fan_in)), bias the same bound. init=kaiming_fan_out:
// torchvision's ResNet, kaiming_normal_(mode="fan_out", nonlinearity="relu")
// = N(0, sqrt(2 / (filters * size^2))), bias 0. BN starts as the identity on
// running stats.
static void conv_init(dt_layer *l, dt_network *net) {
    conv_priv *p = l->priv;
    dt_param *w = &l->params[p->a.pw];
    if (p->a.init == CONV_INIT_KAIMING_FAN_OUT) {
        const float sd = sqrtf(2.0f / (float)(p->a.filters * p->a.size * p->a.size));
        for (size_t i = 0; i < w->n; i++) w->w[i] = sd * dt_rng_normal(&net->rng);
        if (p->a.bias) dt_fill(l->params[p->a.pb].w, p->a.filters, 0);
    } else {
        float bound = 1.0f / sqrtf((float)(w->n / p->a.filters));
        for (size_t i = 0; i < w->n; i++) w->w[i] = dt_rng_range(&net->rng, -bound, bound);
        if (p->a.bias)
            for (int i = 0; i < p->a.filters; i++)
                l->params[p->a.pb].w[i] = dt_rng_range(&net->rng, -bound, bound);
    }
    if (p->a.bn) {
        dt_fill(l->params[p->a.ps].w, p->a.filters, 1);
        dt_fill(l->params[p->a.pt].w, p->a.filters, 0);
        dt_fill(l->params[p->a.pm].w, p->a.filters, 0);
        dt_fill(l->params[p->a.pv].w, p->a.filters, 1);
    }
}

static void conv_describe(const dt_layer *l, char *buf, size_t n) {
    const conv_priv *p = l->priv;
    int k = snprintf(buf, n, "%d %dx%d/%d", p->a.filters, p->a.size, p->a.size, p->a.stride);
    if (p->a.dilation > 1 && k > 0 && (size_t)k < n)
        k += snprintf(buf + k, n - k, " d%d", p->a.dilation);
    if (p->a.groups > 1 && k > 0 && (size_t)k < n) snprintf(buf + k, n - k, " g%d", p->a.groups);
}

static void wcache_free(conv_wcache *c) {
    dt_dnnl_reorder_free(&c->reorder);
    if (c->mem) dnnl_memory_destroy(c->mem);
    free(c->buf);
}

static void fwd_release(conv_fwd *f) {
    if (f->prim) dnnl_primitive_destroy(f->prim);
    dnnl_memory_t m[4] = {f->src, f->bias, f->dst, f->scratch};
    for (int i = 0; i < 4; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    wcache_free(&f->w);
    dnnl_primitive_desc_t pd = f->pd;
    memset(f, 0, sizeof *f);
    f->pd = pd;
}

static void fwd_free(conv_fwd *f) {
    fwd_release(f);
    if (f->pd) dnnl_primitive_desc_destroy(f->pd);
    f->pd = NULL;
}

static void conv_destroy(dt_layer *l) {
    conv_priv *p = l->priv;
    if (!p) return;
    fwd_free(&p->main);
    fwd_free(&p->train);
    wcache_free(&p->bd_w_own);
    dt_dnnl_reorder_free(&p->dw_reorder);
    if (p->bd_prim) dnnl_primitive_destroy(p->bd_prim);
    if (p->bd_pd) dnnl_primitive_desc_destroy(p->bd_pd);
    if (p->bw_prim) dnnl_primitive_destroy(p->bw_prim);
    if (p->bw_pd) dnnl_primitive_desc_destroy(p->bw_pd);
    dnnl_memory_t m[8] = {p->bd_ddst, p->bd_dsrc, p->bd_scratch, p->bw_src,
                          p->bw_ddst, p->bw_dw,   p->bw_db,      p->bw_scratch};
    for (int i = 0; i < 8; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    free(p->dw_buf);
    free(p->fold_w);
    free(p->fold_b);
    free(p);
    l->priv = NULL;
}

const dt_layer_ops dt_convolutional_ops = {
    .name = "convolutional",
    .parse = conv_parse,
    .setup = conv_setup,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .destroy = conv_destroy,
    .describe = conv_describe,
    .conv_routes = conv_routes,
#ifdef DT_GPU
    .forward_gpu = dt_convolutional_forward_gpu, .backward_gpu = dt_convolutional_backward_gpu,
#endif
};
