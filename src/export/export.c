// ONNX export (export.h, docs/EXPORT.md). Inside the graph every activation
// is NCHW (ONNX's Conv layout) while the network's are NHWC; where the memory
// order matters (a [connected] or a head reading "the flat vector", a graph
// output) the exporter transposes to NHWC first, so that the graph's outputs
// are element by element the network's outputs (B, out_h, out_w, out_c).
// Each layer's tensor is either "nchw" (B, c, h, w) or "flat" (B, h*w*c in
// our NHWC memory order); to_nchw/to_flat convert on demand.
#include "export/export.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "data/transform.h"
#include "engine/kernels.h"
#include "layers/basic_priv.h"
#include "layers/conv_priv.h"
#include "layers/ssd.h"

#ifdef DT_ONNX
#include "export/onnx_proto.h"

int dt_export_available(void) { return 1; }

#define NAME 64
#define SSD_MAX_HEADS_EXPORT 16

typedef struct {
    dt_onnx *m;
    const dt_network *net;
    int B;
    int uid;           // serial number for intermediate names
    char (*name)[NAME]; // (n_layers) each layer's tensor
    int *flat;          // (n_layers) 1: (B, N) in NHWC order; 0: NCHW
    // the same for a layer's NCHW / flat view once made (cached)
    char (*alt)[NAME];
    int *has_alt;
    char in_flat[NAME]; // the network input's flat view, once made
} ex;

static void tmpname(ex *e, char *out, const char *what) { snprintf(out, NAME, "%s_%d", what, e->uid++); }

static const dt_param *param(const dt_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0) return &l->params[i];
    return NULL;
}

static dt_onnx_node *node(ex *e, const char *op, int n_in, const char *const *in, const char *out) {
    char nm[NAME + 16];
    snprintf(nm, sizeof nm, "%s_%d", op, e->uid++);
    return dt_onnx_add(e->m, op, nm, n_in, in, 1, &out);
}

static void node1(ex *e, const char *op, const char *in, const char *out) { node(e, op, 1, &in, out); }

static void node2(ex *e, const char *op, const char *a, const char *b, const char *out) {
    const char *in[2] = {a, b};
    node(e, op, 2, in, out);
}

static void const_i64(ex *e, char *out, int n, const int64_t *v) {
    tmpname(e, out, "c");
    const int64_t d = n;
    dt_onnx_init_i64(e->m, out, 1, &d, v);
}

static void const_f32(ex *e, char *out, int ndims, const int64_t *dims, const float *v) {
    tmpname(e, out, "c");
    dt_onnx_init_f32(e->m, out, ndims, dims, v);
}

static void reshape(ex *e, const char *in, const char *out, int n, const int64_t *shape) {
    char s[NAME];
    const_i64(e, s, n, shape);
    node2(e, "Reshape", in, s, out);
}

static void transpose(ex *e, const char *in, const char *out, int n, const int64_t *perm) {
    dt_onnx_attr_ints(node(e, "Transpose", 1, &in, out), "perm", n, perm);
}

// Shape of what layer i (or the network input, i < 0) produces.
static void shape_of(const ex *e, int i, int *h, int *w, int *c) {
    if (i < 0) {
        *h = e->net->h, *w = e->net->w, *c = e->net->c;
        return;
    }
    const dt_layer *l = &e->net->layers[i];
    *h = l->out_h, *w = l->out_w, *c = l->out_c;
}

// Layer i's output as NCHW (B, c, h, w): the tensor's name.
static const char *to_nchw(ex *e, int i) {
    if (i < 0) return "x";
    if (!e->flat[i]) return e->name[i];
    if (!e->has_alt[i]) {
        int h, w, c;
        shape_of(e, i, &h, &w, &c);
        tmpname(e, e->alt[i], "nchw");
        if (h * w == 1) {
            reshape(e, e->name[i], e->alt[i], 4, (int64_t[]){e->B, c, 1, 1});
        } else {
            char t[NAME];
            tmpname(e, t, "nhwc");
            reshape(e, e->name[i], t, 4, (int64_t[]){e->B, h, w, c});
            transpose(e, t, e->alt[i], 4, (int64_t[]){0, 3, 1, 2});
        }
        e->has_alt[i] = 1;
    }
    return e->alt[i];
}

// Layer i's output as (B, h*w*c) in the network's NHWC memory order.
static const char *to_flat(ex *e, int i) {
    if (i >= 0 && e->flat[i]) return e->name[i];
    if (i >= 0 && e->has_alt[i]) return e->alt[i];
    int h, w, c;
    shape_of(e, i, &h, &w, &c);
    if (i < 0 && e->in_flat[0]) return e->in_flat;
    char *out = i >= 0 ? e->alt[i] : e->in_flat;
    tmpname(e, out, "flat");
    const char *src = to_nchw(e, i);
    if (h * w == 1) {
        reshape(e, src, out, 2, (int64_t[]){e->B, c});
    } else {
        char t[NAME];
        tmpname(e, t, "nhwc");
        transpose(e, src, t, 4, (int64_t[]){0, 2, 3, 1});
        reshape(e, t, out, 2, (int64_t[]){e->B, (int64_t)h * w * c});
    }
    if (i >= 0) e->has_alt[i] = 1;
    return out;
}

// The activation a from tensor in into out (linear: Identity).
static void act(ex *e, dt_act a, const char *in, const char *out) {
    switch (a) {
    case DT_ACT_RELU: node1(e, "Relu", in, out); break;
    case DT_ACT_LEAKY: dt_onnx_attr_float(node(e, "LeakyRelu", 1, &in, out), "alpha", DT_LEAKY_SLOPE); break;
    case DT_ACT_TANH: node1(e, "Tanh", in, out); break;
    case DT_ACT_SIGMOID: node1(e, "Sigmoid", in, out); break;
    default: node1(e, "Identity", in, out); break;
    }
}

// y = x * a + b per channel of an NCHW tensor, with a = scale / sqrt(var +
// eps), b = shift - mean * a: the inference batch norm exactly as
// dt_bn_forward_infer computes it (engine/kernels.c).
static void bn_affine(ex *e, const dt_layer *l, float eps, const char *in, const char *out) {
    const dt_param *s = param(l, "scale"), *t = param(l, "shift"), *m = param(l, "mean"),
                   *v = param(l, "var");
    const int C = (int)s->n;
    float *a = dt_alloc_floats((size_t)C), *b = dt_alloc_floats((size_t)C);
    for (int c = 0; c < C; c++) {
        const float invstd = 1.0f / sqrtf(v->w[c] + eps);
        a[c] = s->w[c] * invstd;
        b[c] = t->w[c] - m->w[c] * a[c];
    }
    char an[NAME], bn[NAME], mid[NAME];
    const int64_t d[4] = {1, C, 1, 1};
    const_f32(e, an, 4, d, a);
    const_f32(e, bn, 4, d, b);
    tmpname(e, mid, "bnmul");
    node2(e, "Mul", in, an, mid);
    node2(e, "Add", mid, bn, out);
    free(a);
    free(b);
}

// A Conv node: weights (O, I/groups, K, K), bias (O) or NULL.
static void conv(ex *e, const char *in, const char *out, int O, int IG, int K, int stride, int pad,
                 int dilation, int groups, const float *w, const float *bias) {
    char wn[NAME], bn[NAME];
    const_f32(e, wn, 4, (int64_t[]){O, IG, K, K}, w);
    const char *ins[3] = {in, wn, bn};
    if (bias) const_f32(e, bn, 1, (int64_t[]){O}, bias);
    dt_onnx_node *n = node(e, "Conv", bias ? 3 : 2, ins, out);
    dt_onnx_attr_ints(n, "kernel_shape", 2, (int64_t[]){K, K});
    dt_onnx_attr_ints(n, "strides", 2, (int64_t[]){stride, stride});
    dt_onnx_attr_ints(n, "pads", 4, (int64_t[]){pad, pad, pad, pad});
    dt_onnx_attr_ints(n, "dilations", 2, (int64_t[]){dilation, dilation});
    dt_onnx_attr_int(n, "group", groups);
}

// [convolutional]: conv (+ bias) -> BN folded into weights and bias from the
// running statistics (the layer's own inference route) -> activation.
static void ex_convolutional(ex *e, const dt_layer *l, const char *out) {
    const dt_conv_args *a = (const dt_conv_args *)l->priv;
    const dt_param *W = param(l, "weights"), *b = param(l, "bias");
    const int O = a->filters, IG = l->c / a->groups, K = a->size;
    const size_t per = (size_t)IG * K * K;
    float *w = dt_alloc_floats((size_t)O * per), *bias = dt_alloc_floats((size_t)O);
    for (int o = 0; o < O; o++) {
        float s = 1.0f, add = b ? b->w[o] : 0.0f;
        if (a->bn) {
            const dt_param *sc = param(l, "scale"), *sh = param(l, "shift"),
                           *m = param(l, "mean"), *v = param(l, "var");
            s = sc->w[o] / sqrtf(v->w[o] + a->eps);
            add = (add - m->w[o]) * s + sh->w[o];
        }
        for (size_t i = 0; i < per; i++) w[o * per + i] = W->w[o * per + i] * s;
        bias[o] = add;
    }
    char y[NAME];
    tmpname(e, y, "conv");
    conv(e, to_nchw(e, l->in[0]), y, O, IG, K, a->stride, a->pad, a->dilation, a->groups, w,
         (b || a->bn) ? bias : NULL);
    act(e, a->act, y, out);
    free(w);
    free(bias);
}

// [stdconv]: conv 3x3 pad 1 + bias -> ReLU -> BN (running statistics);
// dropout is the identity at inference.
static void ex_stdconv(ex *e, const dt_layer *l, const char *out) {
    const dt_stdconv_args *a = (const dt_stdconv_args *)l->priv;
    char y[NAME], r[NAME];
    tmpname(e, y, "conv");
    tmpname(e, r, "relu");
    conv(e, to_nchw(e, l->in[0]), y, a->filters, l->c, 3, a->stride, 1, 1, 1,
         param(l, "weights")->w, param(l, "bias")->w);
    node1(e, "Relu", y, r);
    bn_affine(e, l, a->eps, r, out);
}

// [outconv]: the class conv's filters then the box conv's, as one conv (the
// layer's own inference route): its channels are the cell layout.
static void ex_outconv(ex *e, const dt_layer *l, const char *out) {
    const dt_param *cw = param(l, "clas_weights"), *cb = param(l, "clas_bias"),
                   *bw = param(l, "box_weights"), *bb = param(l, "box_bias");
    const int O = l->out_c;
    float *w = dt_alloc_floats(cw->n + bw->n), *b = dt_alloc_floats((size_t)O);
    memcpy(w, cw->w, cw->n * sizeof(float));
    memcpy(w + cw->n, bw->w, bw->n * sizeof(float));
    memcpy(b, cb->w, cb->n * sizeof(float));
    memcpy(b + cb->n, bb->w, bb->n * sizeof(float));
    conv(e, to_nchw(e, l->in[0]), out, O, l->c, 3, 1, 1, 1, 1, w, b);
    free(w);
    free(b);
}

static void ex_connected(ex *e, const dt_layer *l, const char *out) {
    const connected_priv *p = (const connected_priv *)l->priv;
    const dt_param *W = param(l, "weights"), *b = p->bias ? param(l, "bias") : NULL;
    char wn[NAME], bn[NAME], y[NAME];
    const_f32(e, wn, 2, (int64_t[]){l->out_c, (int64_t)l->inputs}, W->w);
    const char *ins[3] = {to_flat(e, l->in[0]), wn, bn};
    if (b) const_f32(e, bn, 1, (int64_t[]){l->out_c}, b->w);
    tmpname(e, y, "gemm");
    dt_onnx_attr_int(node(e, "Gemm", b ? 3 : 2, ins, y), "transB", 1);
    act(e, p->act, y, out);
}

// Slice of the last axis [a, b) of a (B, N) or (B, A, F) tensor.
static void slice_last(ex *e, const char *in, const char *out, int64_t a, int64_t b, int64_t axis) {
    char s[NAME], t[NAME], ax[NAME];
    const_i64(e, s, 1, &a);
    const_i64(e, t, 1, &b);
    const_i64(e, ax, 1, &axis);
    const char *ins[4] = {in, s, t, ax};
    node(e, "Slice", 4, ins, out);
}

// [ssd]: the gather of layers/ssd.c: head j's cell (r, c) channels -> anchors
// first[j] + (r g + c) k + s, each anchor its C+1 class logits then its 4 box
// activations: (B, A, C+5), i.e. the layer's (B, 1, A, C+5) output.
static void ex_ssd(ex *e, const dt_layer *l, const char *out) {
    const int C1 = dt_ssd_layer_classes(l) + 1;
    char parts[SSD_MAX_HEADS_EXPORT][NAME];
    const char *pn[SSD_MAX_HEADS_EXPORT];
    for (int j = 0; j < l->n_in; j++) {
        const dt_layer *h = &e->net->layers[l->in[j]];
        int hc, k;
        dt_outconv_shape(h, &hc, &k);
        const int64_t cells = (int64_t)h->out_h * h->out_w;
        char nhwc[NAME], cl[NAME], bx[NAME], cl3[NAME], bx3[NAME];
        tmpname(e, nhwc, "ssd_nhwc");
        transpose(e, to_nchw(e, l->in[j]), nhwc, 4, (int64_t[]){0, 2, 3, 1});
        tmpname(e, cl, "ssd_clas");
        tmpname(e, bx, "ssd_box");
        slice_last(e, nhwc, cl, 0, (int64_t)k * C1, 3);
        slice_last(e, nhwc, bx, (int64_t)k * C1, (int64_t)k * (C1 + 4), 3);
        tmpname(e, cl3, "ssd_clas3");
        tmpname(e, bx3, "ssd_box3");
        reshape(e, cl, cl3, 3, (int64_t[]){e->B, cells * k, C1});
        reshape(e, bx, bx3, 3, (int64_t[]){e->B, cells * k, 4});
        tmpname(e, parts[j], "ssd_head");
        const char *cat[2] = {cl3, bx3};
        dt_onnx_attr_int(node(e, "Concat", 2, cat, parts[j]), "axis", 2);
        pn[j] = parts[j];
    }
    char all[NAME];
    tmpname(e, all, "ssd_all");
    dt_onnx_attr_int(node(e, "Concat", l->n_in, pn, all), "axis", 1);
    reshape(e, all, out, 2, (int64_t[]){e->B, (int64_t)l->outputs});
}

// One layer into tensor out; *flat says which form it is in.
static int ex_layer(ex *e, const dt_layer *l, const char *out, int *flat) {
    const char *t = l->ops->name;
    *flat = 0;
    if (strcmp(t, "convolutional") == 0) {
        ex_convolutional(e, l, out);
    } else if (strcmp(t, "stdconv") == 0) {
        ex_stdconv(e, l, out);
    } else if (strcmp(t, "outconv") == 0) {
        ex_outconv(e, l, out);
    } else if (strcmp(t, "batchnorm") == 0) {
        const batchnorm_priv *p = (const batchnorm_priv *)l->priv;
        char y[NAME];
        tmpname(e, y, "bn");
        bn_affine(e, l, p->eps, to_nchw(e, l->in[0]), y);
        act(e, p->act, y, out);
    } else if (strcmp(t, "activation") == 0) {
        act(e, ((const activation_priv *)l->priv)->act, to_nchw(e, l->in[0]), out);
    } else if (strcmp(t, "dropout") == 0) {
        node1(e, "Identity", to_nchw(e, l->in[0]), out); // inverted dropout: identity at inference
    } else if (strcmp(t, "maxpool") == 0) {
        const maxpool_priv *p = (const maxpool_priv *)l->priv;
        const char *in = to_nchw(e, l->in[0]);
        dt_onnx_node *n = node(e, "MaxPool", 1, &in, out);
        dt_onnx_attr_ints(n, "kernel_shape", 2, (int64_t[]){p->size, p->size});
        dt_onnx_attr_ints(n, "strides", 2, (int64_t[]){p->stride, p->stride});
        dt_onnx_attr_ints(n, "pads", 4, (int64_t[]){p->pad, p->pad, p->pad, p->pad});
    } else if (strcmp(t, "avgpool") == 0) {
        const avgpool_priv *p = (const avgpool_priv *)l->priv;
        const char *in = to_nchw(e, l->in[0]);
        if (p->global) {
            node1(e, "GlobalAveragePool", in, out);
        } else {
            dt_onnx_node *n = node(e, "AveragePool", 1, &in, out);
            dt_onnx_attr_ints(n, "kernel_shape", 2, (int64_t[]){p->size, p->size});
            dt_onnx_attr_ints(n, "strides", 2, (int64_t[]){p->stride, p->stride});
            dt_onnx_attr_ints(n, "pads", 4, (int64_t[]){p->pad, p->pad, p->pad, p->pad});
            dt_onnx_attr_int(n, "count_include_pad", 1);
        }
    } else if (strcmp(t, "shortcut") == 0) {
        const shortcut_priv *p = (const shortcut_priv *)l->priv;
        char y[NAME];
        tmpname(e, y, "sum");
        node2(e, "Add", to_nchw(e, l->in[0]), to_nchw(e, l->in[1]), y);
        act(e, p->act, y, out);
    } else if (strcmp(t, "route") == 0) {
        const char *in[64];
        if (l->n_in > 64) goto unsupported;
        for (int i = 0; i < l->n_in; i++) in[i] = to_nchw(e, l->in[i]);
        if (l->n_in == 1) {
            node1(e, "Identity", in[0], out);
        } else if (((const route_priv *)l->priv)->mode == DT_ROUTE_SUM) {
            // a chain of Adds in the listed order: our float sums' order
            char acc[NAME];
            snprintf(acc, NAME, "%s", in[0]);
            for (int i = 1; i < l->n_in; i++) {
                char y[NAME];
                if (i == l->n_in - 1) snprintf(y, NAME, "%s", out);
                else tmpname(e, y, "rsum");
                node2(e, "Add", acc, in[i], y);
                snprintf(acc, NAME, "%s", y);
            }
        } else {
            dt_onnx_attr_int(node(e, "Concat", l->n_in, in, out), "axis", 1);
        }
    } else if (strcmp(t, "upsample") == 0) {
        // nearest: source floor(dst / s) = 'asymmetric' + 'floor'; bilinear
        // with align_corners=False: 'pytorch_half_pixel' (docs/LAYERS.md)
        const upsample_priv *p = (const upsample_priv *)l->priv;
        char sc[NAME];
        const float f = (float)p->stride;
        const_f32(e, sc, 1, (int64_t[]){4}, (float[]){1, 1, f, f});
        const char *in[3] = {to_nchw(e, l->in[0]), "", sc};
        dt_onnx_node *n = node(e, "Resize", 3, in, out);
        if (p->mode == DT_UPSAMPLE_NEAREST) {
            dt_onnx_attr_string(n, "mode", "nearest");
            dt_onnx_attr_string(n, "coordinate_transformation_mode", "asymmetric");
            dt_onnx_attr_string(n, "nearest_mode", "floor");
        } else {
            dt_onnx_attr_string(n, "mode", "linear");
            dt_onnx_attr_string(n, "coordinate_transformation_mode", "pytorch_half_pixel");
        }
    } else if (strcmp(t, "flatten") == 0) {
        // C, H, W order: ONNX's Flatten of the NCHW tensor
        const char *in = to_nchw(e, l->in[0]);
        dt_onnx_attr_int(node(e, "Flatten", 1, &in, out), "axis", 1);
        *flat = 1;
    } else if (strcmp(t, "connected") == 0) {
        ex_connected(e, l, out);
        *flat = 1;
    } else if (strcmp(t, "softmax") == 0) {
        const char *in = to_flat(e, l->in[0]);
        dt_onnx_attr_int(node(e, "Softmax", 1, &in, out), "axis", 1);
        *flat = 1;
    } else if (strcmp(t, "multilabel") == 0) {
        node1(e, "Sigmoid", to_flat(e, l->in[0]), out);
        *flat = 1;
    } else if (strcmp(t, "cost") == 0) {
        // the output is the prediction (the layer's input), the loss is training's
        if (l->out_h * l->out_w == 1) {
            node1(e, "Identity", to_flat(e, l->in[0]), out);
            *flat = 1;
        } else {
            node1(e, "Identity", to_nchw(e, l->in[0]), out);
        }
    } else if (strcmp(t, "single") == 0) {
        // sigmoid of the 4 box values, then softmax of the C class logits
        const char *in = to_flat(e, l->in[0]);
        char b[NAME], c[NAME], bs[NAME], cs[NAME];
        tmpname(e, b, "single_box");
        tmpname(e, c, "single_cls");
        slice_last(e, in, b, 0, 4, 1);
        slice_last(e, in, c, 4, (int64_t)l->inputs, 1);
        tmpname(e, bs, "single_boxp");
        tmpname(e, cs, "single_clsp");
        node1(e, "Sigmoid", b, bs);
        dt_onnx_attr_int(node(e, "Softmax", 1, (const char *[]){c}, cs), "axis", 1);
        const char *cat[2] = {bs, cs};
        dt_onnx_attr_int(node(e, "Concat", 2, cat, out), "axis", 1);
        *flat = 1;
    } else if (strcmp(t, "ssd") == 0) {
        if (l->n_in > SSD_MAX_HEADS_EXPORT) goto unsupported;
        ex_ssd(e, l, out);
        *flat = 1;
    } else {
        goto unsupported;
    }
    return 0;
unsupported:
    dt_error("%s:%d: [%s] (layer %d) has no ONNX form in this exporter (docs/EXPORT.md lists "
             "the layers it writes)",
             e->net->cfg_path ? e->net->cfg_path : "cfg", l->sec ? l->sec->line : 0, t, l->index);
    return -1;
}

// The decoding of an [ssd] layer's raw output (B = 1): detect/detect.c's
// dt_detect_image in ONNX ops (docs/EXPORT.md, docs/SEMANTICS.md §4).
static int ex_decode(ex *e, const dt_layer *l, const char *raw) {
    const dt_anchors *an = dt_ssd_layer_anchors(l);
    dt_detect_cfg cfg;
    dt_ssd_layer_detect_cfg(l, &cfg);
    const int C = dt_ssd_layer_classes(l), C1 = C + 1, A = an->n;
    char r3[NAME], cl[NAME], sc[NAME], scT[NAME], ba[NAME], t[NAME];
    tmpname(e, r3, "dec_raw");
    reshape(e, raw, r3, 3, (int64_t[]){1, A, C1 + 4});
    // scores: sigmoid of the C class logits (the background column is ignored)
    tmpname(e, cl, "dec_logits");
    slice_last(e, r3, cl, 0, C, 2);
    tmpname(e, sc, "dec_scores");
    node1(e, "Sigmoid", cl, sc);
    tmpname(e, scT, "dec_scores_bca");
    transpose(e, sc, scT, 3, (int64_t[]){0, 2, 1});
    // boxes (detect/box.h, dt_box_decode): t = tanh(act); centre = t/2 * grid
    // + anchor centre; size = (t/2 + 1) * anchor size; corners
    tmpname(e, ba, "dec_act");
    slice_last(e, r3, ba, C1, C1 + 4, 2);
    tmpname(e, t, "dec_tanh");
    node1(e, "Tanh", ba, t);
    float *gr = dt_alloc_floats((size_t)A * 2), *ctr = dt_alloc_floats((size_t)A * 2),
          *sz = dt_alloc_floats((size_t)A * 2);
    for (int i = 0; i < A; i++) {
        gr[2 * i] = an->grid[2 * i], gr[2 * i + 1] = an->grid[2 * i + 1];
        ctr[2 * i] = an->ctr_size[4 * i], ctr[2 * i + 1] = an->ctr_size[4 * i + 1];
        sz[2 * i] = an->ctr_size[4 * i + 2], sz[2 * i + 1] = an->ctr_size[4 * i + 3];
    }
    char gn[NAME], cn[NAME], zn[NAME], two[NAME], one[NAME];
    const int64_t d3[3] = {1, A, 2}, d1 = 1;
    const_f32(e, gn, 3, d3, gr);
    const_f32(e, cn, 3, d3, ctr);
    const_f32(e, zn, 3, d3, sz);
    free(gr);
    free(ctr);
    free(sz);
    const_f32(e, two, 1, &d1, (float[]){2.0f});
    const_f32(e, one, 1, &d1, (float[]){1.0f});
    char txy[NAME], twh[NAME], h1[NAME], h2[NAME], cxy[NAME], w1[NAME], w2[NAME], wh[NAME],
        half[NAME], p1[NAME], p2[NAME], box[NAME];
    tmpname(e, txy, "dec_txy");
    tmpname(e, twh, "dec_twh");
    slice_last(e, t, txy, 0, 2, 2);
    slice_last(e, t, twh, 2, 4, 2);
    tmpname(e, h1, "dec_a");
    tmpname(e, h2, "dec_b");
    tmpname(e, cxy, "dec_cxy");
    node2(e, "Div", txy, two, h1);
    node2(e, "Mul", h1, gn, h2);
    node2(e, "Add", h2, cn, cxy);
    tmpname(e, w1, "dec_c");
    tmpname(e, w2, "dec_d");
    tmpname(e, wh, "dec_wh");
    node2(e, "Div", twh, two, w1);
    node2(e, "Add", w1, one, w2);
    node2(e, "Mul", w2, zn, wh);
    tmpname(e, half, "dec_half");
    node2(e, "Div", wh, two, half);
    tmpname(e, p1, "dec_p1");
    tmpname(e, p2, "dec_p2");
    node2(e, "Sub", cxy, half, p1);
    node2(e, "Add", cxy, half, p2);
    tmpname(e, box, "dec_boxes");
    dt_onnx_attr_int(node(e, "Concat", 2, (const char *[]){p1, p2}, box), "axis", 2);
    // per-class NMS: IoU > nms_thresh suppresses, score > score_thresh kept,
    // max_per_class per class (ONNX NonMaxSuppression's rules are the same)
    char mo[NAME], io[NAME], so[NAME], sel[NAME];
    const int64_t mpc = cfg.max_per_class;
    const_i64(e, mo, 1, &mpc);
    const_f32(e, io, 1, &d1, &cfg.nms_iou);
    const_f32(e, so, 1, &d1, &cfg.score_thresh);
    tmpname(e, sel, "dec_selected");
    node(e, "NonMaxSuppression", 5, (const char *[]){box, scT, mo, io, so}, sel);
    // the selected (batch, class, anchor) triples: their scores, boxes, classes
    char ssel[NAME], cls[NAME], anc[NAME], cidx[NAME], aidx[NAME], bsq[NAME];
    tmpname(e, ssel, "dec_sel_scores");
    node2(e, "GatherND", scT, sel, ssel); // (M)
    const int64_t i1 = 1, i2 = 2;
    const_i64(e, cidx, 1, &i1);
    const_i64(e, aidx, 1, &i2);
    char col1[NAME], col2[NAME];
    tmpname(e, col1, "dec_col1");
    tmpname(e, col2, "dec_col2");
    dt_onnx_attr_int(node(e, "Gather", 2, (const char *[]){sel, cidx}, col1), "axis", 1);
    dt_onnx_attr_int(node(e, "Gather", 2, (const char *[]){sel, aidx}, col2), "axis", 1);
    tmpname(e, cls, "dec_cls"); // (M)
    tmpname(e, anc, "dec_anchor");
    reshape(e, col1, cls, 1, (int64_t[]){-1});
    reshape(e, col2, anc, 1, (int64_t[]){-1});
    // boxes in input pixels (x by the width, y by the height)
    char bsqz[NAME], bpx[NAME], scale[NAME];
    tmpname(e, bsq, "dec_boxes2");
    reshape(e, box, bsq, 2, (int64_t[]){A, 4});
    tmpname(e, bsqz, "dec_sel_boxes");
    dt_onnx_attr_int(node(e, "Gather", 2, (const char *[]){bsq, anc}, bsqz), "axis", 0);
    const float px[4] = {(float)e->net->w, (float)e->net->h, (float)e->net->w, (float)e->net->h};
    const_f32(e, scale, 1, (int64_t[]){4}, px);
    tmpname(e, bpx, "dec_sel_px");
    node2(e, "Mul", bsqz, scale, bpx);
    // the image's top max_detections by score
    char shp[NAME], mt[NAME], k[NAME], idx[NAME];
    tmpname(e, shp, "dec_m");
    node1(e, "Shape", ssel, shp);
    const int64_t mtot = cfg.max_total;
    const_i64(e, mt, 1, &mtot);
    tmpname(e, k, "dec_k");
    node2(e, "Min", shp, mt, k);
    tmpname(e, idx, "dec_top");
    const char *touts[2] = {"scores", idx};
    char nm[NAME];
    tmpname(e, nm, "TopK");
    dt_onnx_node *tk = dt_onnx_add(e->m, "TopK", nm, 2, (const char *[]){ssel, k}, 2, touts);
    dt_onnx_attr_int(tk, "axis", 0);
    dt_onnx_attr_int(tk, "largest", 1);
    dt_onnx_attr_int(tk, "sorted", 1);
    dt_onnx_attr_int(node(e, "Gather", 2, (const char *[]){bpx, idx}, "boxes"), "axis", 0);
    dt_onnx_attr_int(node(e, "Gather", 2, (const char *[]){cls, idx}, "classes"), "axis", 0);
    return 0;
}

int dt_export_onnx(const dt_network *net, const char *path, const dt_export_opts *o) {
    const dt_layer *last = &net->layers[net->n_layers - 1];
    const int decode = o && o->decode;
    if (decode) {
        if (strcmp(last->ops->name, "ssd") != 0) {
            dt_error("%s: -decode needs an [ssd] head as the last layer; this cfg ends in [%s]",
                     net->cfg_path, last->ops->name);
            return -1;
        }
        if (net->batch != 1) {
            dt_error("-decode exports batch 1 (one image's detections); got batch %d", net->batch);
            return -1;
        }
        if (net->c != 3) {
            dt_error("%s: -decode takes RGB images: the network has %d input channels, not 3",
                     net->cfg_path, net->c);
            return -1;
        }
    }
    ex e = {.net = net, .B = net->batch};
    e.m = dt_onnx_new(DT_ONNX_IR, DT_ONNX_OPSET, "detector", "1");
    const int L = net->n_layers;
    e.name = dt_calloc((size_t)L, sizeof *e.name);
    e.alt = dt_calloc((size_t)L, sizeof *e.alt);
    e.flat = dt_calloc((size_t)L, sizeof *e.flat);
    e.has_alt = dt_calloc((size_t)L, sizeof *e.has_alt);
    const int64_t in_dims[4] = {e.B, net->c, net->h, net->w};
    if (decode) {
        // RGB 0..255 -> (v / 255 - mean) / std, as data/transform.c
        dt_onnx_input(e.m, "image", DT_ONNX_FLOAT, 4, in_dims, NULL);
        char c255[NAME], mn[NAME], sd[NAME], v[NAME], vm[NAME];
        const int64_t d1 = 1, d4[4] = {1, 3, 1, 1};
        const_f32(&e, c255, 1, &d1, (float[]){255.0f});
        const_f32(&e, mn, 4, d4, dt_imagenet_mean);
        const_f32(&e, sd, 4, d4, dt_imagenet_std);
        tmpname(&e, v, "unit");
        tmpname(&e, vm, "centred");
        node2(&e, "Div", "image", c255, v);
        node2(&e, "Sub", v, mn, vm);
        node2(&e, "Div", vm, sd, "x");
    } else {
        dt_onnx_input(e.m, "input", DT_ONNX_FLOAT, 4, in_dims, NULL);
        node1(&e, "Identity", "input", "x");
    }
    int rc = 0;
    for (int i = 0; i < L && rc == 0; i++) {
        snprintf(e.name[i], NAME, "l%d_%s", i, net->layers[i].ops->name);
        rc = ex_layer(&e, &net->layers[i], e.name[i], &e.flat[i]);
    }
    if (rc == 0) {
        const char *y = to_flat(&e, L - 1);
        if (decode) {
            rc = ex_decode(&e, last, y);
            const int64_t d1[1] = {-1}, d2[2] = {-1, 4};
            dt_onnx_output(e.m, "boxes", DT_ONNX_FLOAT, 2, d2, "N");
            dt_onnx_output(e.m, "scores", DT_ONNX_FLOAT, 1, d1, "N");
            dt_onnx_output(e.m, "classes", DT_ONNX_INT64, 1, d1, "N");
        } else {
            const int64_t od[4] = {e.B, last->out_h, last->out_w, last->out_c};
            reshape(&e, y, "output", 4, od);
            dt_onnx_output(e.m, "output", DT_ONNX_FLOAT, 4, od, NULL);
        }
    }
    if (rc == 0) rc = dt_onnx_save(e.m, path);
    dt_onnx_free(e.m);
    free(e.name);
    free(e.alt);
    free(e.flat);
    free(e.has_alt);
    return rc;
}

#else // built with ONNX=0

int dt_export_available(void) { return 0; }

int dt_export_onnx(const dt_network *net, const char *path, const dt_export_opts *o) {
    (void)net, (void)o;
    dt_error("%s: this build has no ONNX support (rebuild with ONNX=1 and libonnx-dev, "
             "libprotobuf-dev installed)",
             path);
    return -1;
}

#endif
