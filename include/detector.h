/* detector: the public C API. Everything else under src/ is internal.
 *
 *   dt_network *net = dt_net_load("cfg/ssd.cfg", &(dt_net_opts){.batch = 1});
 *   dt_net_load_weights(net, "backup/ssd_final.weights");
 *   // fill dt_net_input(net): float32 (B, H, W, C), ImageNet-normalised RGB
 *   dt_net_forward(net);   // predictions only: no targets, no loss
 *   const float *out = dt_net_output(net);
 *   dt_net_free(net);
 *
 * Functions that can fail on user input return NULL or -1 and leave a message
 * naming the file (and line) in dt_last_error().
 */
#ifndef DETECTOR_H
#define DETECTOR_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_network dt_network;

typedef struct {
    int batch;            /* > 0 overrides the cfg's [net] batch */
    int with_grads;       /* allocate gradients and optimizer state (training) */
    int quiet;            /* do not print the layer table */
    int with_input_delta; /* also compute dL/d(input) */
    int conv_route;       /* dt_conv_route: how [convolutional] layers compute */
    int with_loss;        /* targets (net->truth) and the loss without gradients:
                             validation. 0 with with_grads 0: predictions only, no
                             targets, no loss, no training buffers (docs/DETECT.md) */
} dt_net_opts;

/* The convolution route. DT_CONV_DEFAULT takes the DT_CONV environment
 * variable (auto|gemm|onednn) when set, else the library's default. */
typedef enum {
    DT_CONV_DEFAULT = 0,
    DT_CONV_AUTO,   /* per shape, the faster route measured on this machine */
    DT_CONV_GEMM,   /* im2col + sgemm forward and backward weights */
    DT_CONV_ONEDNN  /* oneDNN's direct primitives throughout */
} dt_conv_route;

const char *dt_last_error(void);

dt_network *dt_net_load(const char *cfg_path, const dt_net_opts *o);
void dt_net_free(dt_network *net);
int dt_net_load_weights(dt_network *net, const char *path);
int dt_net_save_weights(const dt_network *net, const char *path);
void dt_net_print_summary(const dt_network *net, FILE *f);

float *dt_net_input(dt_network *net); /* (B, H, W, C) */
void dt_net_input_shape(const dt_network *net, int *b, int *h, int *w, int *c);
void dt_net_forward(dt_network *net);
void dt_net_backward(dt_network *net);
void dt_net_step(dt_network *net);
void dt_net_set_train(dt_network *net, int train);
float *dt_net_output(dt_network *net);

#ifdef __cplusplus
}
#endif
#endif
