// Validation metrics of the single-object and multi-label heads (docs/SEMANTICS.md §1),
// computed from the layer's output of the last forward and net->truth.
#ifndef DT_LAYERS_HEADS_H
#define DT_LAYERS_HEADS_H

#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// [single]: over the batch, acc = fraction of images whose arg-max class is
// the target (the lesson's detn_acc); l1 = mean |predicted - target| box
// coordinate in pixels (detn_l1). Images with an invalid class count as
// misses. 0, or -1 if l is not a [single] layer.
int dt_single_metrics(const dt_layer *l, const dt_network *net, double *acc, double *l1);

// [multilabel]: over the batch's B x C labels, acc = fraction with
// (probability > thresh) == (target > 0.5) (fastai's accuracy_thresh, 0.5 in
// the lesson); f1 = micro F1 over the same decisions (0 when nothing is
// predicted or present). 0, or -1 if l is not a [multilabel] layer.
int dt_multilabel_metrics(const dt_layer *l, const dt_network *net, float thresh, double *acc,
                          double *f1);

// What the loss heads' GPU twins (layers/loss_gpu.cu) need of their CPU
// state: the rows the loss averages over (set_truth's b->n, else the batch),
// the classes, [single]'s cross-entropy weight, [cost]'s type (l1 = 1).
typedef struct {
    int rows, classes, l1;
    float weight;
} dt_head_args;
void dt_softmax_args(const dt_layer *l, dt_head_args *a);
void dt_single_args(const dt_layer *l, dt_head_args *a);
void dt_multilabel_args(const dt_layer *l, dt_head_args *a);
void dt_cost_args(const dt_layer *l, dt_head_args *a);

#ifdef __cplusplus
}
#endif
#endif
