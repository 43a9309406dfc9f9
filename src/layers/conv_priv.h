// What the layers built on a convolution parse from their sections:
// [convolutional], [stdconv] and [outconv]. Each CPU file's private struct
// starts with its args (so l->priv points at them); their GPU twins
// (layers/conv_family.cu) read them there instead of reading the keys
// again. Not for other code.
#ifndef DT_LAYERS_CONV_PRIV_H
#define DT_LAYERS_CONV_PRIV_H

#include "engine/kernels.h"
#include "engine/network.h"

// [convolutional] (layers/convolutional.c)
typedef struct {
    int filters, size, stride, pad, dilation, groups, bias, bn;
    int init; // CONV_INIT_*
    float momentum, eps;
    dt_act act;
    int pb, ps, pt, pm, pv, pw; // indices into l->params, -1 when absent
} dt_conv_args;

// [stdconv] (layers/stdconv.c): conv 3x3 + bias -> ReLU -> BN -> dropout p
typedef struct {
    int filters, stride;
    float p, momentum, eps;
} dt_stdconv_args;

// [outconv] (layers/outconv.c): anchors_per_cell k, classes, the class bias init
typedef struct {
    int classes, k;
    float bias;
} dt_outconv_args;

#endif
