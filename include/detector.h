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

/* GPU settings (docs/GPU.md). All zero: the defaults. The command line fills
 * them from -gpu/-tf32/-amp and the DT_* variables of docs/GPU.md; a library
 * user sets them directly. */
typedef struct {
    int device;          /* the CUDA device index */
    int tf32;            /* TF32 tensor cores for fp32 matrix products and convolutions */
    int amp;             /* mixed precision: 0 off, 1 fp16, 2 bf16 (dt_amp_mode) */
    float loss_scale;    /* amp's first (dynamic) loss scale: 0 the format's default,
                            < 0 no loss scaling */
    int workspace_mb;    /* cap on cuDNN's workspace in MiB (0: 1024) */
    int no_copy_stream;  /* 1: upload inputs on the compute stream, no staging copy */
    int profile;         /* > 0: per-layer GPU timings of step max(profile, 3) (> 1) */
    int verbose;         /* print cuDNN's algorithm choices and skipped amp steps */
    int no_cudnn_find;   /* 1: cuDNN's heuristic algorithms instead of measured ones */
    int no_pin;          /* 1: host buffers stay pageable (an A/B switch) */
} dt_gpu_opts;

typedef struct {
    int batch;            /* > 0 overrides the cfg's [net] batch */
    int with_grads;       /* allocate gradients and optimizer state (training) */
    int quiet;            /* do not print the layer table */
    int with_input_delta; /* also compute dL/d(input) */
    int conv_route;       /* dt_conv_route: how [convolutional] layers compute */
    int with_loss;        /* targets (net->truth) and the loss without gradients:
                             validation. 0 with with_grads 0: predictions only, no
                             targets, no loss, no training buffers (docs/DETECT.md) */
    const char *conv_route_why; /* who forced conv_route, for the routes report
                                   ("DT_CONV=gemm"); NULL: "the network's conv_route option" */
    double max_mem_gb;    /* a cfg needing more memory (GiB) is refused; 0: physical memory */
    int profile;          /* per-layer CPU wall times, printed to stderr by dt_net_free */
    const dt_gpu_opts *gpu; /* non-NULL: dt_net_load moves the network onto GPU gpu->device */
} dt_net_opts;

/* The convolution route. DT_CONV_DEFAULT: the library's default (auto). The
 * command line maps DT_CONV=auto|gemm|onednn onto it. */
typedef enum {
    DT_CONV_DEFAULT = 0,
    DT_CONV_AUTO,   /* per shape, the faster route measured on this machine */
    DT_CONV_GEMM,   /* im2col + sgemm forward and backward weights */
    DT_CONV_ONEDNN  /* oneDNN's direct primitives throughout */
} dt_conv_route;

const char *dt_last_error(void);

/* Process-wide settings, set once before networks are built (the command
 * line maps its environment onto them, docs/ENV.md):
 * dt_set_verbosity(0) silences the informational lines on stderr (1: shown,
 * the default); dt_image_set_max_pixels(n) caps the pixels (width x height)
 * of a decoded image, over a data set's max_pixels (0: the data set's, else
 * 100000000); dt_conv_route_set_cache(file, xdg_cache_home, home) names the
 * file of measured convolution routes, or its default folder under
 * xdg_cache_home or home (all NULL, the default: no file, routes are
 * measured in every process; docs/CONV_ROUTES.md). */
void dt_set_verbosity(int v);
void dt_image_set_max_pixels(long long n);
void dt_conv_route_set_cache(const char *file, const char *xdg_cache_home, const char *home);

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

/* --- the detector: a trained detection model behind one handle ---------------
 * (docs/API.md). Each handle owns its network and buffers; separate handles
 * may be used from separate threads at the same time, one handle by one
 * thread at a time. Errors: NULL or -1, and dt_detector_last_error() (the
 * calling thread's last message) says why, naming the file where one is at
 * fault.
 *
 *   dt_detector *d = dt_detector_open("ssd.cfg", "ssd_final.weights", NULL);
 *   if (!d) { fprintf(stderr, "%s\n", dt_detector_last_error()); return 1; }
 *   dt_det_box box[100];
 *   int n = dt_detector_detect(d, rgb, w, h, 3 * w, DT_PIXEL_RGB, box, 100);
 *   for (int i = 0; i < n; i++)   // original image's pixels, best first
 *       printf("%d %.3f %.1f %.1f %.1f %.1f\n", box[i].cls, box[i].score,
 *              box[i].x1, box[i].y1, box[i].x2, box[i].y2);
 *   dt_detector_close(d);
 */
typedef struct dt_detector dt_detector;

/* 8-bit interleaved pixels, 3 bytes each, in this order. */
typedef enum { DT_PIXEL_RGB = 0, DT_PIXEL_BGR = 1 } dt_pixel_format;

/* All zero (or a NULL pointer): the defaults. */
typedef struct {
    int threads;          /* OpenMP threads of this handle's calls (0: OpenMP's default) */
    int batch;            /* images per forward pass in dt_detector_detect_batch (0: 1) */
    float score_thresh;   /* keep boxes scoring above this, in [0, 1) (0: the [ssd]
                             layer's score_thresh; to keep nearly all, pass 1e-6) */
    float nms_iou;        /* NMS IoU in (0, 1] (0: the [ssd] layer's nms_thresh) */
    int max_detections;   /* per image, after NMS (0: the [ssd] layer's max_detections) */
    dt_conv_route conv_route; /* how convolutions compute (0: DT_CONV_DEFAULT) */
    int train;            /* 1: a training handle, built as `detector train` builds the
                             cfg (gradients, optimizer state; batch: the cfg's [net]
                             batch unless `batch` is set): dt_detector_train_step and
                             dt_detector_train; detection works too */
    float lr;             /* dt_detector_train_step's lr on every layer group (0: the
                             lr= of the cfg's first [stage], its maximum when clr=;
                             no [stage]: [net] learning_rate) */
} dt_detector_opts;

/* One detection, in the continuous pixel coordinates of the image given
 * (pixel i covers [i, i+1)): corners clipped to the image. */
typedef struct {
    float x1, y1, x2, y2;
    float score; /* the class's sigmoid score */
    int cls;     /* class index, into dt_detector_classes' names */
} dt_det_box;

/* One image of dt_detector_detect_batch. */
typedef struct {
    const uint8_t *pixels; /* h rows of `stride` bytes, w pixels each */
    int w, h, stride;      /* stride >= 3 * w */
    dt_pixel_format fmt;
} dt_det_image;

/* The model of `cfg` (a cfg with an [ssd] head, built as the command line
 * builds it) with the weights file `weights` (NULL: its initial parameters).
 * NULL on error. */
dt_detector *dt_detector_open(const char *cfg, const char *weights, const dt_detector_opts *o);
/* Detections in one image of any size, best first: the image is resized as
 * validation and `detector test` resize it (squash or letterbox as the cfg
 * says) and the boxes mapped back to its pixels. At most `max` are written
 * (the best); returns how many, or -1. */
int dt_detector_detect(dt_detector *d, const uint8_t *pixels, int w, int h, int stride,
                       dt_pixel_format fmt, dt_det_box *out, int max);
/* n images, batch by batch: image i's detections go to out + i * max_per_image,
 * their number to counts[i]. Returns the total, or -1. */
int dt_detector_detect_batch(dt_detector *d, const dt_det_image *images, int n, dt_det_box *out,
                             int max_per_image, int *counts);
/* The number of classes; *names (if names is non-NULL) gets their names (the
 * weights' own, else the names= of the cfg's data= file), or NULL when
 * neither gives any. Valid until dt_detector_close. */
int dt_detector_classes(const dt_detector *d, const char *const **names);
/* The network's input size (images are resized to it). */
void dt_detector_input_size(const dt_detector *d, int *w, int *h);
/* Write the weights (with the class names) to `path`, atomically: a
 * complete new file or the old one untouched. 0 / -1. */
int dt_detector_save(const dt_detector *d, const char *path);
void dt_detector_close(dt_detector *d);
/* The calling thread's last error message. */
const char *dt_detector_last_error(void);

/* --- training (a handle opened with opts.train = 1; docs/API.md) -----------
 * One optimizer step on a batch the caller fills: exactly the network's batch
 * of n images (dt_detector_batch), 8-bit pixels of any size, each resized as
 * validation resizes it (no augmentation), and their ground truth: image i's
 * n_boxes[i] boxes, one after another in `boxes` (image 0's first), in the
 * pixels of that image (x1, y1, x2, y2: the dt_det_box convention) with their
 * class in `cls` (score is ignored). A box under one pixel once resized is
 * left out, as the data loader leaves it out. The step: targets, forward,
 * loss, backward, the optimizer's update at the handle's lr (opts.lr, else
 * the first [stage]'s; that stage's freeze_to and wd apply). *loss (if
 * non-NULL) gets the batch's loss before the update. 0; -1 on bad arguments
 * or a NaN / infinite loss (then nothing is updated). */
int dt_detector_train_step(dt_detector *d, const dt_det_image *images, int n,
                           const dt_det_box *boxes, const int *n_boxes, float *loss);
/* The images per forward pass: opts.batch, else 1 (a training handle: the cfg's). */
int dt_detector_batch(const dt_detector *d);

/* A whole training run, as `detector train <cfg>` runs it (the handle's cfg
 * and its current weights, which it trains): every [stage] of the cfg on the
 * .data file's train split, validation on its valid split, the progress bar
 * on stderr and the epoch table on stdout, checkpoints <backup>/<cfg stem>_*
 * (resumed unless `clear`). All zero (or NULL): the defaults. */
typedef struct {
    const char *data;     /* the .data file (NULL: the cfg's data=) */
    int max_epochs;       /* > 0: stop after this many epochs of this run (checkpointed) */
    double minutes;       /* > 0: stop after this many minutes (checkpointed) */
    int clear;            /* 1: start again; 0: resume <backup>/<stem>_last.state if present */
    int seed_given;       /* 1: `seed` re-initialises the parameters and orders the data */
    uint64_t seed;
    int valid_every;      /* validate every N epochs and after the last (0: 1; < 0: never) */
    int loader_threads;   /* the data loader's threads (0: its default) */
    int quiet;            /* 1: no progress bar (the epoch table still printed) */
    const char *backup;   /* checkpoint folder (NULL: the .data file's backup=, else
                             "backup") */
} dt_train_args;
/* 0 when every stage ran (final weights in <backup>/<stem>_final.weights),
 * 1 when stopped early by max_epochs (the handle holds the weights reached),
 * -1 on error. */
int dt_detector_train(dt_detector *d, const dt_train_args *a);

#ifdef __cplusplus
}
#endif
#endif
