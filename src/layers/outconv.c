// [outconv]: the lesson's OutConv(k, nin, bias) (docs/SEMANTICS.md §1): two sibling 3x3
// pad 1 convs with bias on the same input, one for the class logits and one
// for the box activations of the k anchors of every cell.
//
// Keys:
//   classes=C           object classes, without background (required)
//   anchors_per_cell=k  (required)
//   bias=0              initial value of every class-conv bias (the lesson:
//                       -3 for the 4x4 model, -4 for the multi-head one), so
//                       that the sigmoid scores start small
//
// Output (B, H, W, (C+1)*k + 4*k) NHWC, per cell the class channels first,
// then the box channels:
//   anchor s of cell (r, c) owns class channels [s*(C+1), (s+1)*(C+1))
//   (column C of those = background) and box channels (C+1)*k + [4s, 4s+4)
//   ([ax, ay, aw, ah], detect/box.h).
// The [ssd] layer gathers it into the flatten order of docs/SEMANTICS.md §1 / detect/ssd.h
// (cells row by row, then the k anchors of a cell).
//
// Parameters (weights-file order): clas_bias ((C+1)k), clas_weights
// ((C+1)k, I, 3, 3), box_bias (4k), box_weights (4k, I, 3, 3).
//
// Both convs are [convolutional] sub-layers (subconv.h), linear activation.
// Their outputs are interleaved per cell into ours; backward splits our delta
// back. Backward order: the class conv assigns or adds into the input delta
// as our in_accum says, the box conv then always adds.
//
// Without gradients (inference, validation) the two convs are one: our cell
// layout is the class channels then the box channels, i.e. the output of a
// conv whose filters are the class conv's followed by the box conv's. That
// conv (a third sub-layer, its weights and biases copied from the two
// whenever they change) writes our output directly: one convolution and no
// interleaving copy per forward. The GPU twin keeps the two convs.
#include <stdlib.h>

#include "engine/kernels.h"
#include "layers/ssd.h"
#include "layers/subconv.h"
#include "engine/network.h"
#include "layers/conv_priv.h"

typedef struct {
    dt_outconv_args a; // first: the GPU twin reads it (layers/conv_priv.h)
    dt_subconv clas;   // (B, H, W, (C+1)k)
    dt_subconv box;    // (B, H, W, 4k)
    // no gradients: the fused conv ((C+1)k + 4k filters) and its parameters
    int fused;
    dt_subconv both;
    float *fw, *fb;   // ((C+1)k + 4k, I, 3, 3) and ((C+1)k + 4k): clas then box
    uint64_t fver;    // l->wver the copies were made at
    int copied;       // fw/fb hold a copy
} outconv_priv;

static dt_param *param_named(dt_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (strcmp(l->params[i].name, name) == 0) return &l->params[i];
    return NULL;
}

static int outconv_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    outconv_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    if (dt_cfg_int_req(s, "classes", 1, 1 << 14, &p->a.classes) ||
        dt_cfg_int_req(s, "anchors_per_cell", 1, 1024, &p->a.k) ||
        dt_cfg_float(s, "bias", 0.0f, -1e4f, 1e4f, &p->a.bias))
        return -1;
    const int fc = (p->a.classes + 1) * p->a.k, fb = 4 * p->a.k;
    if (dt_subconv_parse(&p->clas, l, net, fc, 1, "linear", "clas_") != 0 ||
        dt_subconv_parse(&p->box, l, net, fb, 1, "linear", "box_") != 0)
        return -1;
    l->out_h = l->h; // 3x3 pad 1 stride 1 keeps the grid
    l->out_w = l->w;
    l->out_c = fc + fb;
    if (!net->with_grads) { // inference: one conv writes our output
        p->fused = 1; // destroy cleans a half-parsed conv too
        if (dt_subconv_parse_bare(&p->both, l, net, fc + fb, 1, "linear") != 0) return -1;
        p->fw = dt_alloc_floats((size_t)(fc + fb) * l->c * 9);
        p->fb = dt_alloc_floats((size_t)(fc + fb));
    } else {
        l->flops += (double)l->out_h * l->out_w * l->out_c; // the interleaving copy
    }
    return 0;
}

static int outconv_setup(dt_layer *l, dt_network *net) {
    outconv_priv *p = l->priv;
    // backward runs clas first (may assign), then box (adds onto it)
    if (dt_subconv_setup(&p->clas, l, net, l->in_accum[0]) != 0) return -1;
    if (dt_subconv_setup(&p->box, l, net, 1) != 0) return -1;
    if (!p->fused) return 0;
    dt_layer *c = &p->both.l;
    dt_param *w = param_named(c, "weights"), *b = param_named(c, "bias");
    DT_ASSERT(w && b && w->n == (size_t)l->out_c * l->c * 9 && b->n == (size_t)l->out_c);
    w->w = p->fw;
    b->w = p->fb;
    c->output = l->output; // (B, H, W, (C+1)k + 4k): ours
    c->in_accum[0] = 0;
    c->frozen = 1;
    c->wver = l->wver;
    return c->ops->setup(c, net);
}

// fw, fb = [clas; box] when our parameters changed since the last copy.
static void fused_refresh(dt_layer *l) {
    outconv_priv *p = l->priv;
    if (p->copied && p->fver == l->wver) return;
    const dt_param *cw = &l->params[p->clas.first_param + 1], *bw = &l->params[p->box.first_param + 1];
    const dt_param *cb = &l->params[p->clas.first_param], *bb = &l->params[p->box.first_param];
    DT_ASSERT(strcmp(cw->name, "clas_weights") == 0 && strcmp(bw->name, "box_weights") == 0 &&
              strcmp(cb->name, "clas_bias") == 0 && strcmp(bb->name, "box_bias") == 0);
    memcpy(p->fw, cw->w, sizeof(float) * cw->n);
    memcpy(p->fw + cw->n, bw->w, sizeof(float) * bw->n);
    memcpy(p->fb, cb->w, sizeof(float) * cb->n);
    memcpy(p->fb + cb->n, bb->w, sizeof(float) * bb->n);
    p->fver = l->wver;
    p->copied = 1;
}

// PyTorch's Conv2d default for both convs (class conv first, as the
// lesson's OutConv builds it), then every class bias = `bias`.
static void outconv_init(dt_layer *l, dt_network *net) {
    outconv_priv *p = l->priv;
    dt_subconv_init(&p->clas, net);
    dt_subconv_init(&p->box, net);
    dt_param *b = &l->params[p->clas.first_param];
    DT_ASSERT(strcmp(b->name, "clas_bias") == 0);
    dt_fill(b->w, b->n, p->a.bias);
}

static void outconv_forward(dt_layer *l, dt_network *net) {
    outconv_priv *p = l->priv;
    if (p->fused) {
        fused_refresh(l);
        p->both.l.wver = l->wver; // the conv's weight caches follow our version
        p->both.l.ops->forward(&p->both.l, net);
        return;
    }
    dt_subconv_forward(&p->clas, l, net);
    dt_subconv_forward(&p->box, l, net);
    const int fc = p->clas.l.out_c, fb = p->box.l.out_c, F = l->out_c;
    const size_t cells = (size_t)l->batch * l->out_h * l->out_w;
    const float *xc = p->clas.l.output, *xb = p->box.l.output;
    float *y = l->output;
#pragma omp parallel for schedule(static) if (cells * F > 65536)
    for (size_t i = 0; i < cells; i++) {
        memcpy(y + i * F, xc + i * fc, sizeof(float) * fc);
        memcpy(y + i * F + fc, xb + i * fb, sizeof(float) * fb);
    }
}

static void outconv_backward(dt_layer *l, dt_network *net) {
    outconv_priv *p = l->priv;
    if (l->frozen && !dt_layer_in_delta(net, l, 0)) return;
    const int fc = p->clas.l.out_c, fb = p->box.l.out_c, F = l->out_c;
    const size_t cells = (size_t)l->batch * l->out_h * l->out_w;
    float *dc = p->clas.l.delta, *db = p->box.l.delta;
    const float *dy = l->delta;
#pragma omp parallel for schedule(static) if (cells * F > 65536)
    for (size_t i = 0; i < cells; i++) {
        memcpy(dc + i * fc, dy + i * F, sizeof(float) * fc);
        memcpy(db + i * fb, dy + i * F + fc, sizeof(float) * fb);
    }
    dt_subconv_backward(&p->clas, l, net);
    dt_subconv_backward(&p->box, l, net);
}

int dt_outconv_shape(const dt_layer *l, int *classes, int *k) {
    if (!l || !l->ops || strcmp(l->ops->name, "outconv") != 0) return -1;
    const outconv_priv *p = l->priv;
    *classes = p->a.classes;
    *k = p->a.k;
    return 0;
}

static void outconv_describe(const dt_layer *l, char *buf, size_t n) {
    const outconv_priv *p = l->priv;
    snprintf(buf, n, "%d+%d 3x3 k%d", p->clas.l.out_c, p->box.l.out_c, p->a.k);
}

static int outconv_routes(const dt_layer *l, int *route, int *how, int max) {
    const outconv_priv *p = l->priv;
    if (!p) return 0;
    int k = dt_subconv_routes(&p->clas, route, how, max);
    return k + dt_subconv_routes(&p->box, route + k, how + k, max - k);
}

static void outconv_destroy(dt_layer *l) {
    outconv_priv *p = l->priv;
    if (!p) return;
    dt_subconv_destroy(&p->clas);
    dt_subconv_destroy(&p->box);
    if (p->fused) dt_subconv_destroy(&p->both);
    free(p->fw);
    free(p->fb);
    free(p);
    l->priv = NULL;
}

const dt_layer_ops dt_outconv_ops = {
    .name = "outconv",
    .parse = outconv_parse,
    .setup = outconv_setup,
    .init = outconv_init,
    .forward = outconv_forward,
    .backward = outconv_backward,
    .destroy = outconv_destroy,
    .describe = outconv_describe,
    .conv_routes = outconv_routes,
#ifdef DT_GPU
    .forward_gpu = dt_outconv_forward_gpu, .backward_gpu = dt_outconv_backward_gpu,
#endif
};
