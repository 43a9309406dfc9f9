// Private state of the layers that layers/basic.cu gives a GPU twin:
// [activation], [batchnorm], [dropout], [maxpool], [avgpool], [shortcut],
// [route], [upsample], [connected]. Each CPU file (layers/x.c) parses its section into its
// struct; the twin reads the same struct (l->priv) instead of reading the
// keys again. Not for other code.
#ifndef DT_LAYERS_BASIC_PRIV_H
#define DT_LAYERS_BASIC_PRIV_H

#include "engine/kernels.h"
#include "engine/network.h"

// [activation] (layers/activation.c)
typedef struct {
    dt_act act;
} activation_priv;

// [batchnorm] (layers/batchnorm.c)
typedef struct {
    dt_act act;
    float momentum, eps;
    float *save_mean;   // (C) statistics the forward pass normalised with
    float *save_invstd; // (C)
    int trained;        // the last forward used batch statistics
} batchnorm_priv;

// [dropout] (layers/dropout.c)
typedef struct {
    float p;
    float *mask; // (B, H, W, C) 0 or 1/(1-p); the backward multiplies by it
    int trained; // the last forward dropped (the mask is valid)
} dropout_priv;

// [maxpool] (layers/maxpool.c)
typedef struct {
    int size, stride, pad;
    // (B, out_h, out_w, C) spatial index iy*W+ix of each output's maximum in
    // its input image; allocated once in parse, only when training is possible
    int *argmax;
} maxpool_priv;

// [avgpool] (layers/avgpool.c)
typedef struct {
    int global;
    int size, stride, pad;
} avgpool_priv;

// [shortcut] (layers/shortcut.c)
typedef struct {
    dt_act act;
    int from; // absolute index of the second input
} shortcut_priv;

// [route] (layers/route.c)
#define DT_ROUTE_MAX 32
enum { DT_ROUTE_CONCAT, DT_ROUTE_SUM };
typedef struct {
    int n;
    int mode;              // DT_ROUTE_CONCAT or DT_ROUTE_SUM
    int c[DT_ROUTE_MAX];   // channels of each input
} route_priv;

// [upsample] (layers/upsample.c)
enum { DT_UPSAMPLE_NEAREST, DT_UPSAMPLE_BILINEAR };
typedef struct {
    int stride; // integer factor >= 1
    int mode;   // DT_UPSAMPLE_NEAREST or DT_UPSAMPLE_BILINEAR
} upsample_priv;

// [connected] (layers/connected.c)
typedef struct {
    dt_act act;
    int bias;
    int pb, pw; // indices of "bias" (-1 without) and "weights" in l->params
} connected_priv;

#endif
