// [route] layers=-1,-4 mode=concat|sum: Darknet's route. One layer: its
// output, copied. Several, mode=concat (the default): their outputs
// concatenated along channels, in the listed order (spatial sizes must
// match). mode=sum: their outputs added element-wise, in the listed order
// (an FPN's top-down merge; all shapes must be equal). References are
// relative when negative, absolute layer indices otherwise. docs/LAYERS.md.
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/network.h"
#include "layers/basic_priv.h"

#define ROUTE_MAX DT_ROUTE_MAX

static const char *const route_modes[] = {"concat", "sum", NULL};

static int route_parse(dt_layer *l, dt_cfg_section *s, dt_network *net) {
    route_priv *p = dt_calloc(1, sizeof *p);
    l->priv = p;
    int refs[ROUTE_MAX], idx[ROUTE_MAX];
    if (!dt_cfg_has(s, "layers")) {
        dt_cfg_error_sec(s, "missing required key 'layers'");
        return -1;
    }
    if (dt_cfg_ints(s, "layers", refs, ROUTE_MAX, &p->n) ||
        dt_cfg_choice(s, "mode", route_modes, DT_ROUTE_CONCAT, &p->mode))
        return -1;
    for (int i = 0; i < p->n; i++) {
        idx[i] = dt_layer_ref(l, s, "layers", refs[i]);
        if (idx[i] < 0) return -1;
    }
    dt_layer_set_inputs(l, idx, p->n);
    // the layer's input shape is its first input's (for the summary table)
    dt_layer_in_shape(net, l, 0, &l->h, &l->w, &l->c);
    l->inputs = (size_t)l->h * l->w * l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    l->out_c = 0;
    for (int i = 0; i < p->n; i++) {
        int h, w, c;
        dt_layer_in_shape(net, l, i, &h, &w, &c);
        if (h != l->h || w != l->w) {
            dt_cfg_error_key(s, dt_cfg_find(s, "layers"),
                             "layer %d's output %dx%dx%d and layer %d's %dx%dx%d differ in "
                             "height/width; %s needs equal spatial sizes",
                             idx[0], l->h, l->w, l->c, idx[i], h, w, c,
                             p->mode == DT_ROUTE_SUM ? "mode=sum" : "concatenation");
            return -1;
        }
        if (p->mode == DT_ROUTE_SUM && c != l->c) {
            dt_cfg_error_key(s, dt_cfg_find(s, "layers"),
                             "layer %d's output %dx%dx%d and layer %d's %dx%dx%d differ; "
                             "mode=sum needs equal shapes (HxWxC)",
                             idx[0], l->h, l->w, l->c, idx[i], h, w, c);
            return -1;
        }
        p->c[i] = c;
        l->out_c += c;
    }
    if (p->mode == DT_ROUTE_SUM) l->out_c = l->c;
    l->flops = p->mode == DT_ROUTE_SUM ? (double)(p->n - 1) * l->inputs : 0;
    return 0;
}

static void route_forward(dt_layer *l, dt_network *net) {
    const route_priv *p = l->priv;
    if (p->n == 1) {
        dt_copy(dt_layer_in(net, l, 0), l->output, l->outputs * l->batch);
        return;
    }
    if (p->mode == DT_ROUTE_SUM) { // ((in0 + in1) + in2) + ...
        const size_t n = l->outputs * l->batch;
        dt_copy(dt_layer_in(net, l, 0), l->output, n);
        for (int i = 1; i < p->n; i++) dt_add(dt_layer_in(net, l, i), l->output, n, 1);
        return;
    }
    const float *in[ROUTE_MAX];
    for (int i = 0; i < p->n; i++) in[i] = dt_layer_in(net, l, i);
    const size_t rows = (size_t)l->batch * l->out_h * l->out_w;
    const int OC = l->out_c;
#pragma omp parallel for schedule(static) if (rows * OC > DT_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        float *yr = l->output + r * OC;
        for (int i = 0; i < p->n; i++) {
            memcpy(yr, in[i] + r * p->c[i], sizeof(float) * p->c[i]);
            yr += p->c[i];
        }
    }
}

static void route_backward(dt_layer *l, dt_network *net) {
    const route_priv *p = l->priv;
    const size_t rows = (size_t)l->batch * l->out_h * l->out_w;
    const int OC = l->out_c;
    // inputs in ascending order: when one layer is listed twice, the engine
    // makes the lower index assign and the later one add
    for (int i = 0, off = 0; i < p->n; off += p->c[i], i++) {
        float *dx = dt_layer_in_delta(net, l, i);
        if (!dx) continue;
        const int c = p->c[i], accum = l->in_accum[i];
        if (p->n == 1 || p->mode == DT_ROUTE_SUM) { // dy reaches every input unchanged
            dt_add(l->delta, dx, rows * c, accum);
            continue;
        }
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const float *g = l->delta + r * OC + off;
            float *d = dx + r * c;
            if (accum) {
#pragma omp simd
                for (int j = 0; j < c; j++) d[j] += g[j];
            } else {
                memcpy(d, g, sizeof(float) * c);
            }
        }
    }
}

static void route_describe(const dt_layer *l, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < l->n_in && used + 1 < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%d", i ? "," : "", l->in[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    const route_priv *p = l->priv;
    if (p->mode == DT_ROUTE_SUM && used + 1 < n) snprintf(buf + used, n - used, " sum");
}

static void route_destroy(dt_layer *l) { free(l->priv); }

const dt_layer_ops dt_route_ops = {
    .name = "route",
    .parse = route_parse,
    .forward = route_forward,
    .backward = route_backward,
    .destroy = route_destroy,
    .describe = route_describe,
#ifdef DT_GPU
    .forward_gpu = dt_route_forward_gpu, .backward_gpu = dt_route_backward_gpu,
#endif
};
