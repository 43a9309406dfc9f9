// The network: an ordered list of layers built from a cfg, with every
// parameter, gradient, optimizer moment and activation allocated once.
//
// Layout conventions (used by every layer, CPU and CUDA alike):
//   activations: float32 NHWC, (B, H, W, C), C contiguous;
//   conv weights: OIHW (PyTorch's order; also the weights file's order);
//   connected weights: (out, in) row-major, as torch.nn.Linear;
//   flatten: emits each image in C, H, W order, as torch.flatten on NCHW,
//     so that a Linear after it imports from PyTorch unchanged.
//   `delta` buffers hold dL/d(output) (true gradients, not Darknet's negative).
#ifndef DT_NETWORK_H
#define DT_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/common.h"
#include "data/batch.h" // dt_batch, for set_truth
#include "data/data.h"  // dt_dataset, for dt_dataset_use_classes
#include "detect/detect.h" // dt_detection, for a detection head's hook
#include "detector.h"
#include "engine/kernels.h" // dt_bn_sync

#ifdef __cplusplus
extern "C" {
#endif

#define DT_MAX_PARAMS 8
#define DT_MAX_GROUPS 16
#define DT_NAME_LEN 16

typedef struct dt_layer dt_layer;
typedef struct dt_network dt_network;
typedef struct dt_prof dt_prof;

// One validation metric of a loss layer, e.g. {"mAP", 0.41, 1}.
typedef struct {
    char name[24];
    double value;
    int higher_is_better;
} dt_metric;
#define DT_MAX_METRICS 8

// What a loss layer's output means, for code that shows or scores it
// without knowing layer names (each head says so in its dt_layer_ops).
typedef enum {
    DT_HEAD_OTHER = 0,
    DT_HEAD_SSD,        // [ssd]: anchors' classes and boxes (detections hook)
    DT_HEAD_CLASS,      // [softmax]: class of the largest object
    DT_HEAD_BOX,        // [cost] target=box: box of the largest object, in input pixels
    DT_HEAD_SINGLE,     // [single]: class + box of the largest object
    DT_HEAD_MULTILABEL, // [multilabel] (and [cost] target=classes)
} dt_head_kind;

// One parameter tensor of a layer. `w` and `g` point into the network's
// single parameter and gradient allocations; `offset` is its place there.
typedef struct {
    char name[DT_NAME_LEN]; // "bias", "scale", "shift", "mean", "var", "weights"
    int trainable;          // 0 for BN running statistics
    int ndims;
    int dims[4];
    size_t n;
    size_t offset;
    float *w; // (n)
    float *g; // (n) gradient; NULL in inference-only networks
} dt_param;

// The table entry of a layer type. Every layer type lives in its own file
// under src/layers/ and is listed once in layers/registry.c. The GPU twins
// (forward_gpu, backward_gpu: x_gpu.cu or a family .cu) share the signatures
// of the CPU functions; they are set in a GPU build and NULL in a CPU one.
typedef struct dt_layer_ops {
    const char *name; // cfg section name
    // Reads the section's keys, sets the output shape, declares parameters
    // (dt_layer_add_param) and buffers (dt_layer_add_buffer). 0 / -1.
    int (*parse)(dt_layer *l, dt_cfg_section *s, dt_network *net);
    // Called once buffers and parameters exist: build private state
    // (e.g. oneDNN primitives). May be NULL. 0 / -1.
    int (*setup)(dt_layer *l, dt_network *net);
    // Fills the parameters with their initial values (net->rng). May be NULL.
    void (*init)(dt_layer *l, dt_network *net);
    void (*forward)(dt_layer *l, dt_network *net);
    // Reads l->delta, writes parameter gradients (assigning, not adding) and
    // the deltas of its inputs (assigning or adding per l->in_accum).
    void (*backward)(dt_layer *l, dt_network *net);
    void (*destroy)(dt_layer *l); // frees private state; may be NULL
    void (*forward_gpu)(dt_layer *l, dt_network *net);
    void (*backward_gpu)(dt_layer *l, dt_network *net);
    // Text for the summary's "filters size" column, e.g. "64 3x3/2".
    void (*describe)(const dt_layer *l, char *buf, size_t n);
    // Layers that run [convolutional] convolutions on the CPU: the route of
    // each (DT_CONV_GEMM / DT_CONV_ONEDNN) and how it was chosen
    // (dt_route_how, conv_route.h), at most max; returns how many. May be NULL.
    int (*conv_routes)(const dt_layer *l, int *route, int *how, int max);

    // Loss layers only (NULL elsewhere). Copy this layer's targets from a
    // loader batch into net->truth (its rows beyond b->n zeroed): 0, or -1
    // with dt_error when the batch does not fit (e.g. more boxes than the
    // layer's capacity). Until the next set_truth, the layer's loss (and
    // gradient) averages over the first b->n rows only and ignores the rest
    // (validation's last batch is partial; its padding rows hold garbage).
    int (*set_truth)(dt_layer *l, dt_network *net, const dt_batch *b);
    // Validation metrics, accumulated over batches after each forward:
    // reset, add one batch, then read. The first metric is the one that
    // selects the best checkpoint.
    // May be NULL: a detection head ([ssd]) is scored by the evaluator from
    // its detections hook instead (mAP needs the image geometry, which the
    // layer does not know).
    void (*metrics_reset)(dt_layer *l, dt_network *net);
    void (*metrics_add)(dt_layer *l, dt_network *net, const dt_batch *b);
    int (*metrics_get)(dt_layer *l, dt_network *net, dt_metric *out, int max);
    // What the head is (DT_HEAD_OTHER for layers that are no loss).
    dt_head_kind head;
    // How the layer's loss covers a batch's b->n real rows: 0 = their mean
    // (most heads), 1 = their sum (the lesson's ssd_loss).
    int loss_sums_rows;
    // A head without metrics hooks may name its mean validation loss as its
    // metric (the evaluator shows it; [cost]: "L1_px"). NULL: none.
    const char *loss_metric;
    // Detection heads only (NULL elsewhere): the classes C it detects, and the
    // detections of image b of the last forward (boxes normalised to the
    // network input, out holding cfg->max_total, best first; cfg NULL: the
    // layer's own settings). Returns their number, -1 + dt_error.
    int (*classes)(const dt_layer *l);
    int (*detections)(const dt_layer *l, int b, const dt_detect_cfg *cfg, dt_detection *out);
} dt_layer_ops;

struct dt_layer {
    const dt_layer_ops *ops;
    int index;
    int group;  // layer group for per-group lr and freezing
    int frozen; // set by dt_net_freeze_to
    dt_cfg_section *sec;

    int batch;
    int h, w, c;             // shape of input 0
    int out_h, out_w, out_c; // output shape
    size_t inputs, outputs;  // per-image element counts (h*w*c, out_h*out_w*out_c)

    // Inputs: indices of producing layers, -1 = the network input.
    int n_in;
    int *in;
    int *in_accum; // 1: backward adds into that input's delta, 0: assigns

    float *output; // (B, out_h, out_w, out_c)
    float *delta;  // (B, out_h, out_w, out_c) dL/doutput; NULL when not training

    int n_params;
    dt_param params[DT_MAX_PARAMS];

    double flops; // forward FLOPs per image (multiply-add = 2)
    void *priv;   // layer-type private state
    int is_loss;  // writes net->loss and seeds the backward pass
    // Version of this layer's parameters: bumped when an optimizer step
    // changes them, and for every layer by dt_net_weights_changed. Caches
    // derived from the weights (reorders, BN folding) key on it, so frozen
    // layers keep theirs across steps.
    uint64_t wver;
    // GPU (src/cuda/): the GPU twin's private state, built on its first
    // call; starts with a dt_gpu_priv header (its destroy). NULL on the CPU.
    void *priv_gpu;
};

typedef enum { DT_OPT_SGD = 0, DT_OPT_ADAM, DT_OPT_ADAMW } dt_opt_kind;

typedef struct {
    dt_opt_kind kind;
    // [net] learning_rate: the lr of a fresh network and of a [stage] without
    // lr=. The step uses dt_network.group_lr (the current lr of each group).
    float base_lr;
    float momentum; // SGD
    float decay;    // weight decay (L2 for SGD/Adam, decoupled for AdamW)
    float beta1, beta2, eps;
    long t; // steps taken since the last reset (Adam bias correction)
} dt_optim;

typedef struct {
    float **dst;
    size_t n;
} dt_buffer_req;

struct dt_network {
    int batch;
    int h, w, c; // input shape (B, H, W, C)
    int n_layers;
    dt_layer *layers;

    float *input;       // (B, H, W, C)
    float *input_delta; // (B, H, W, C) only if requested (tests), else NULL
    float *truth;       // (B, truth_size) targets for loss layers; NULL without with_loss
    int truth_size;     // 0 without with_loss
    float loss;         // of the last forward; NaN in a predictions-only network


    int train;      // 1: training mode (batch statistics, dropout)
    int with_grads; // gradients, deltas and optimizer state allocated
    int conv_route; // dt_conv_route asked for (DT_CONV_DEFAULT: auto)
    const char *conv_route_why; // dt_net_opts.conv_route_why (the caller's string)
    double max_mem_gb;          // dt_net_opts.max_mem_gb (0: physical memory)
    // Targets (truth) allocated and the loss computed by the loss layers
    // (with_grads, or dt_net_opts.with_loss). 0: a predictions-only network:
    // loss layers compute their outputs only (no truth, matching, loss or
    // scratch of the loss), set_truth refuses, net->loss stays NaN.
    int with_loss;
    int first_trainable; // backward stops here (earlier layers are frozen or have no params)

    size_t n_params; // all parameter floats (trainable + running statistics)
    size_t n_trainable;
    float *params;  // (n_params)
    float *grads;   // (n_params)
    float *opt_m, *opt_v; // (n_params) optimizer moments
    uint64_t weights_version; // bumped whenever parameters change

    size_t n_act; // floats in the activation arena
    float *arena;
    dt_buffer_req *reqs;
    int n_reqs, cap_reqs;
    size_t workspace_n; // shared scratch floats (max over layers' requests)
    float *workspace;

    dt_optim opt;
    int n_groups;
    float group_lr[DT_MAX_GROUPS]; // absolute lr per group (set per stage)

    uint64_t images_seen;
    uint64_t seed;
    dt_rng rng;
    dt_cfg *cfg;
    dt_cfg_section *net_sec; // the [net] section
    char *cfg_path;          // the cfg's name, for messages
    // The classes the parameters were trained for, in the order of the
    // model's outputs: from the weights file or the training data
    // (dt_net_set_class_names); NULL / 0 when unknown (a version 1 file).
    char **class_names;
    int n_class_names;

    // --- GPU mode (src/cuda/gpu_net.h; docs/GPU.md) -------------------------
    // gpu = device index + 1 while forward/backward/step run on a GPU, else 0.
    // Every host tensor above (arena buffers, params, grads, optimizer moments)
    // then has a device twin at the same offset (dt_dev()). The host side stays
    // the interface: forward uploads input/truth and downloads the outputs of
    // the last and the loss layers; dt_net_pull() brings parameters back.
    int gpu;
    struct dt_gpu_net *gpu_state;
    // The device forward / backward / step run on (engine/backend.h): the
    // CPU's from the start, the CUDA one while gpu is set.
    const struct dt_backend *backend;
    dt_gpu_opts gpu_opts; // dt_net_opts.gpu (zero: the defaults), read by dt_net_gpu_enable
    int gpu_wanted;       // dt_net_opts.gpu was given: dt_net_place (train/model.h) moves it there
    struct dt_prof *prof; // DT_PROFILE timings (network.c), or NULL when off

    // --- data-parallel training (src/dist/, docs/DISTRIBUTED.md) ------------
    // Set by the trainer on every rank; NULL in one process. grad_ready runs
    // after each layer's backward (that layer's parameter gradients are then
    // final: a communication thread may start reducing them while backward
    // goes on); grads_wait at the end of dt_net_backward, which returns with
    // the gradients averaged over ranks. bn_reduce sums n doubles over ranks
    // in place ([net] sync_bn=1: batch norm's batch moments, docs/DISTRIBUTED.md).
    void (*grad_ready)(void *ctx, dt_network *net, int layer);
    void (*grads_wait)(void *ctx, dt_network *net);
    void (*bn_reduce)(void *ctx, double *buf, size_t n);
    void *dist_ctx;
    int sync_bn; // [net] sync_bn: 1 = batch norm statistics over every rank's batch
    dt_bn_sync bn_sync; // {bn_reduce, dist_ctx}, what dt_net_bn_sync hands the kernels
};

// The batch-norm kernels' reducer (engine/kernels.h): over every rank with
// [net] sync_bn=1 in a data-parallel run, else NULL (this rank's rows).
static inline const dt_bn_sync *dt_net_bn_sync(dt_network *net) {
    if (!net->sync_bn || !net->bn_reduce) return NULL;
    net->bn_sync.fn = net->bn_reduce, net->bn_sync.ctx = net->dist_ctx;
    return &net->bn_sync;
}

// dt_net_opts comes from the public header (include/detector.h).

// Build a network from cfg text (dt_net_load, the public one from a file, is
// api/net.c's: it also takes the GPU dt_net_opts.gpu asks for). NULL +
// dt_error on failure. These read [net] and the layers only: a cfg with
// data, augmentation or a training recipe is read whole by the model builder
// (train/model.h), which hands the network the sections that are not its
// own through a reader.
dt_network *dt_net_from_cfg(dt_cfg *cfg, const char *name, const dt_net_opts *o);

// The parts of a cfg that are not the network, read while it is built.
typedef struct {
    void *ctx;
    const char *sections; // names of the sections it reads, for messages ("augment, stage")
    // [net]'s keys that are not the network's, read before unused keys are
    // refused. 0 / -1 with a cfg error.
    int (*net_keys)(void *ctx, const dt_network *net, dt_cfg_section *s);
    // A section that is no layer type: 1 read, 0 not one of its own, -1 error.
    int (*section)(void *ctx, const dt_network *net, dt_cfg_section *s);
} dt_cfg_reader;
// As dt_net_load / dt_net_from_cfg, with reader r (NULL: none).
dt_network *dt_net_load_with(const char *cfg_path, const dt_net_opts *o, const dt_cfg_reader *r);
dt_network *dt_net_build(dt_cfg *cfg, const char *name, const dt_net_opts *o,
                         const dt_cfg_reader *r);
void dt_net_free(dt_network *net);

void dt_net_forward(dt_network *net);  // input -> outputs (and loss if any)
void dt_net_backward(dt_network *net); // needs a forward first
void dt_net_set_train(dt_network *net, int train);
void dt_net_freeze_to(dt_network *net, int n); // trains groups n.. (n<0 counts from the end)
void dt_net_reset_optim(dt_network *net);
void dt_net_set_lr(dt_network *net, float lr);  // group_lr of every group
void dt_net_step(dt_network *net);              // optimizer update from grads
void dt_net_init_params(dt_network *net, uint64_t seed);
// Call after writing parameters directly (loading, restoring, tests): every
// cache derived from weights is rebuilt on its next use.
void dt_net_weights_changed(dt_network *net);
// Batch b (b->n <= net->batch rows) into the input, rows beyond b->n zeroed
// (computed, then ignored: they must not hold NaNs of an earlier batch); with
// truth, every loss layer's set_truth (its loss then covers the b->n rows).
// 0, or -1 + dt_error (a batch that does not fit, a refused target).
int dt_net_feed(dt_network *net, const dt_batch *b, int truth);
float *dt_net_output(dt_network *net);
float *dt_net_input(dt_network *net);
void dt_net_input_shape(const dt_network *net, int *b, int *h, int *w, int *c);
dt_layer *dt_net_last(dt_network *net);

// Summary table (index, type, filters, size/stride, input -> output,
// params, GFLOPs) and totals.
void dt_net_print_summary(const dt_network *net, FILE *f);

// Weights file: returns 0 / -1 (dt_error names file and first differing layer).
int dt_net_save_weights(const dt_network *net, const char *path);
int dt_net_load_weights(dt_network *net, const char *path);

// --- class names (weights.c) ------------------------------------------------
// Replaces net's class names with a copy of names (n = 0: none).
void dt_net_set_class_names(dt_network *net, char *const *names, int n);
// Makes data set d use the model's class list (names, n): the same list is
// left alone; the same names in another order, or a subset, are renumbered
// to the model's order with a message (d->names becomes the model's list);
// a data class the model lacks is an error naming it, `model` and `data`
// (words for messages). 0 / -1.
int dt_dataset_use_classes(dt_dataset *d, char *const *names, int n, const char *model,
                           const char *data);
// Label names for pictures: with *names NULL, a copy of the weights' names
// (if any); a list in another order is replaced by the weights' order (with a
// message); other names are an error (`from` names their source). Without
// names in the weights, *names is left as given. 0 / -1.
int dt_net_label_names(const dt_network *net, char ***names, int *n, const char *from);
// "a, b, c" (the first 8, then the count) for messages.
void dt_class_list(char *const *names, int n, char *buf, size_t len);

// --- for layer implementations ------------------------------------------
// Declare a parameter tensor (call from parse, in weights-file order).
dt_param *dt_layer_add_param(dt_layer *l, const char *name, int trainable, int ndims,
                             int d0, int d1, int d2, int d3);
// Ask for a float buffer of n elements from the activation arena; *dst is set
// before setup() runs.
void dt_layer_add_buffer(dt_network *net, float **dst, size_t n);
// Ask for shared scratch of at least n floats (net->workspace).
void dt_net_need_workspace(dt_network *net, size_t n);
// Set the layer's inputs (indices of earlier layers, -1 = network input).
void dt_layer_set_inputs(dt_layer *l, const int *idx, int n);
// Resolve a cfg layer reference (relative if negative, absolute otherwise)
// from layer `l`; -2 + dt_error if it does not name an earlier layer.
int dt_layer_ref(const dt_layer *l, const dt_cfg_section *s, const char *key, int ref);
float *dt_layer_in(dt_network *net, const dt_layer *l, int k);
float *dt_layer_in_delta(dt_network *net, const dt_layer *l, int k); // NULL: not needed
void dt_layer_in_shape(const dt_network *net, const dt_layer *l, int k, int *h, int *w,
                       int *c);
// 1 when the layer runs in training mode (BN batch statistics); frozen
// layers run in inference mode.
int dt_layer_training(const dt_network *net, const dt_layer *l);
// Reads the keys every layer may carry (group).
int dt_layer_parse_common(dt_layer *l, dt_cfg_section *s, dt_network *net);

#ifdef DT_GPU
// The GPU twins (src/layers/*.cu), same signatures as forward/backward;
// a layer type without one runs on the CPU inside a GPU network.
#define DT_LAYER(x)                                                              \
    void dt_##x##_forward_gpu(dt_layer *l, dt_network *net);                     \
    void dt_##x##_backward_gpu(dt_layer *l, dt_network *net);
#include "layers/list.h"
#undef DT_LAYER
#endif

// The registry (layers/registry.c).
const dt_layer_ops *dt_layer_find(const char *name);
const char *dt_layer_names(void); // "a, b, c" for messages

#ifdef __cplusplus
}
#endif
#endif
