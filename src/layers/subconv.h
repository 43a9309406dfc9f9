// A [convolutional] layer living inside another layer ([stdconv], [outconv]),
// so that those reuse convolutional.c's oneDNN primitives instead of a second
// convolution. Not a layer type: a header of small helpers for the layers
// that compose one.
//
// How the composition works:
//   parse: a dt_cfg_section is built in memory (filters, size=3, stride,
//     pad=1, bias=1, batch_normalize=0, activation) carrying the outer
//     section's file and line (a conv parse error then points at the outer
//     section), and dt_convolutional_ops.parse runs on an embedded dt_layer
//     with the outer layer's index, batch, input and input shape. Its
//     parameters are declared again on the OUTER layer (same order, same
//     shapes, names prefixed), because the network allocates only the
//     parameters of its own layers. Its output and delta are arena buffers.
//   setup: the sub-layer's params (w, g, offset) are pointed at the outer
//     layer's, in_accum[0] is set (compute_accumulation runs after parse),
//     then the conv's setup binds its primitives to those pointers.
//   forward/backward: `frozen` is copied from the outer layer first.
#ifndef DT_LAYERS_SUBCONV_H
#define DT_LAYERS_SUBCONV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/network.h"

extern const dt_layer_ops dt_convolutional_ops;

#define DT_SUBCONV_KEYS 7

typedef struct {
    dt_layer l;         // the convolution; l.output (B, oh, ow, filters), l.delta
    dt_cfg_section sec; // its synthetic section
    dt_cfg_kv kv[DT_SUBCONV_KEYS];
    char val[DT_SUBCONV_KEYS][24];
    int first_param; // index of its first parameter in the outer layer
} dt_subconv;

// Builds and parses a 3x3 pad 1 conv with bias on the outer layer's input 0,
// and nothing else: its parameters are its own (their w pointers unset) and
// it has no output buffer; the outer layer points both somewhere before the
// conv's setup (e.g. [outconv]'s fused inference conv). 0 / -1.
static inline int dt_subconv_parse_bare(dt_subconv *s, dt_layer *outer, dt_network *net,
                                        int filters, int stride, const char *act) {
    static const char *const keys[DT_SUBCONV_KEYS] = {
        "filters", "size", "stride", "pad", "bias", "batch_normalize", "activation"};
    snprintf(s->val[0], sizeof s->val[0], "%d", filters);
    snprintf(s->val[1], sizeof s->val[1], "3");
    snprintf(s->val[2], sizeof s->val[2], "%d", stride);
    snprintf(s->val[3], sizeof s->val[3], "1");
    snprintf(s->val[4], sizeof s->val[4], "1");
    snprintf(s->val[5], sizeof s->val[5], "0");
    snprintf(s->val[6], sizeof s->val[6], "%s", act);
    for (int i = 0; i < DT_SUBCONV_KEYS; i++) {
        s->kv[i].key = (char *)keys[i]; // never written through: getters only read keys
        s->kv[i].value = s->val[i];
        s->kv[i].line = outer->sec->line;
        s->kv[i].used = 0;
    }
    s->sec.name = outer->sec->name;
    s->sec.file = outer->sec->file;
    s->sec.line = outer->sec->line;
    s->sec.kv = s->kv;
    s->sec.n_kv = s->sec.cap_kv = DT_SUBCONV_KEYS;

    dt_layer *c = &s->l;
    c->ops = &dt_convolutional_ops;
    c->index = outer->index;
    c->group = outer->group;
    c->sec = &s->sec;
    c->batch = outer->batch;
    c->h = outer->h;
    c->w = outer->w;
    c->c = outer->c;
    c->inputs = outer->inputs;
    dt_layer_set_inputs(c, outer->in, 1);
    if (c->ops->parse(c, &s->sec, net) != 0) return -1;
    c->outputs = (size_t)c->out_h * c->out_w * c->out_c;
    return 0;
}

// Builds and parses a 3x3 pad 1 conv with bias on the outer layer's input 0.
// Parameter names on the outer layer are `prefix` + the conv's name ("bias",
// "weights"). 0 / -1 (dt_error set by the conv's parse).
static inline int dt_subconv_parse(dt_subconv *s, dt_layer *outer, dt_network *net,
                                   int filters, int stride, const char *act,
                                   const char *prefix) {
    if (dt_subconv_parse_bare(s, outer, net, filters, stride, act) != 0) return -1;
    dt_layer *c = &s->l;
    s->first_param = outer->n_params;
    for (int i = 0; i < c->n_params; i++) {
        const dt_param *q = &c->params[i];
        char name[DT_NAME_LEN];
        snprintf(name, sizeof name, "%s%s", prefix, q->name);
        dt_layer_add_param(outer, name, q->trainable, q->ndims, q->dims[0], q->dims[1],
                           q->dims[2], q->dims[3]);
    }
    dt_layer_add_buffer(net, &c->output, c->outputs * c->batch);
    if (net->with_grads) dt_layer_add_buffer(net, &c->delta, c->outputs * c->batch);
    outer->flops += c->flops;
    return 0;
}

// accum: 1 when the conv's backward must add into the input delta.
static inline int dt_subconv_setup(dt_subconv *s, dt_layer *outer, dt_network *net,
                                   int accum) {
    dt_layer *c = &s->l;
    for (int i = 0; i < c->n_params; i++) {
        const dt_param *q = &outer->params[s->first_param + i];
        c->params[i].w = q->w;
        c->params[i].g = q->g;
        c->params[i].offset = q->offset;
    }
    c->in_accum[0] = accum;
    c->frozen = outer->frozen;
    c->wver = outer->wver;
    return c->ops->setup(c, net);
}

static inline void dt_subconv_init(dt_subconv *s, dt_network *net) {
    s->l.ops->init(&s->l, net);
}

static inline void dt_subconv_forward(dt_subconv *s, const dt_layer *outer, dt_network *net) {
    s->l.frozen = outer->frozen;
    s->l.wver = outer->wver;
    s->l.ops->forward(&s->l, net);
}

// Reads s->l.delta (dL/d conv output, after its ReLU if any).
static inline void dt_subconv_backward(dt_subconv *s, const dt_layer *outer, dt_network *net) {
    s->l.frozen = outer->frozen;
    s->l.wver = outer->wver;
    s->l.ops->backward(&s->l, net);
}

// The conv's CPU route (dt_layer_ops.conv_routes): 1 written, or 0.
static inline int dt_subconv_routes(const dt_subconv *s, int *route, int *how, int max) {
    if (!s->l.priv || !s->l.ops->conv_routes) return 0;
    return s->l.ops->conv_routes(&s->l, route, how, max);
}

static inline void dt_subconv_destroy(dt_subconv *s) {
    if (s->l.ops && s->l.ops->destroy) s->l.ops->destroy(&s->l);
    free(s->l.in);
    free(s->l.in_accum);
    s->l.in = NULL;
    s->l.in_accum = NULL;
}

#endif
