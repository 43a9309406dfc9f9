// The embedding API of include/detector.h (docs/API.md): a detection model
// behind one handle. Every image takes the path of `detector test` and of
// validation (src/cli/test_cmd.c, data/loader.c's dt_sample_load with no
// augmentation): the model's transform drawn with augment 0 (squash or
// letterbox), one warp, the fused normalising pass; the [ssd] layer's
// decoding and NMS; boxes back through the inverse transform
// (dt_box_input_to_source). The pixels come from memory instead of a file,
// so they are used at full size (no half-scale JPEG decode).
//
// No state outside the handle: each owns its model, image context, pixel
// buffer and detections; the error message is the thread's (base/common.c).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "detector.h"

#include "base/common.h"
#include "data/data.h"
#include "data/transform.h"
#include "eval/valid.h"
#include "layers/ssd.h"
#include "media/image.h"
#include "train/model.h"

struct dt_detector {
    dt_model *model;
    dt_network *net;
    dt_layer *ssd;
    dt_detect_cfg det;
    int threads;
    char **names; // ours (from the data file) unless names_net
    int n_names, names_net;
    int n_classes;
    dt_image_ctx *ictx;
    unsigned char *bgr; // an RGB image turned BGR (the image module's order)
    size_t bgr_cap;
    dt_detection *dets; // det.max_total
};

const char *dt_detector_last_error(void) { return dt_last_error(); }

// The handle's thread count around a call, the caller's own afterwards
// (omp_set_num_threads sets the calling thread's value only).
static int threads_enter(int threads) {
    int prev = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads);
    return prev;
}
static void threads_leave(int threads, int prev) {
    if (threads > 0) omp_set_num_threads(prev);
}

void dt_detector_close(dt_detector *d) {
    if (!d) return;
    if (!d->names_net) dt_names_free(d->names, d->n_names);
    dt_image_ctx_free(d->ictx);
    free(d->bgr);
    free(d->dets);
    dt_model_free(d->model);
    free(d);
}

// Class names: the weights' own, else the names= of the cfg's data= file
// (then recorded in the network, so that dt_detector_save keeps them).
static int load_names(dt_detector *d, const char *cfg) {
    dt_network *net = d->net;
    if (net->n_class_names) {
        d->names = net->class_names;
        d->n_names = net->n_class_names;
        d->names_net = 1;
        return 0;
    }
    const char *data = dt_model_data(d->model);
    if (!data || !data[0]) return 0;
    dt_datacfg dc;
    if (dt_datacfg_load(data, &dc) != 0) return -1;
    int rc = dc.names ? dt_names_load(dc.names, &d->names, &d->n_names) : 0;
    dt_datacfg_free(&dc);
    if (rc != 0) return -1;
    if (d->names && d->n_names != d->n_classes) {
        dt_error("%s: its data set %s names %d classes; the [ssd] layer has %d", cfg, data,
                 d->n_names, d->n_classes);
        return -1;
    }
    if (d->names) dt_net_set_class_names(net, d->names, d->n_names);
    return 0;
}

dt_detector *dt_detector_open(const char *cfg, const char *weights, const dt_detector_opts *o) {
    dt_detector_opts z = {0};
    if (!o) o = &z;
    if (!cfg) {
        dt_error("dt_detector_open: no cfg file given");
        return NULL;
    }
    if (o->threads < 0 || o->batch < 0 || o->max_detections < 0 ||
        !(o->score_thresh >= 0 && o->score_thresh < 1) ||
        !(o->nms_iou >= 0 && o->nms_iou <= 1) || o->conv_route < DT_CONV_DEFAULT ||
        o->conv_route > DT_CONV_ONEDNN) {
        dt_error("%s: bad dt_detector_opts (threads %d, batch %d, score_thresh %g, nms_iou %g, "
                 "max_detections %d, conv_route %d): need threads, batch, max_detections >= 0, "
                 "score_thresh in [0, 1), nms_iou in [0, 1], a dt_conv_route",
                 cfg, o->threads, o->batch, (double)o->score_thresh, (double)o->nms_iou,
                 o->max_detections, (int)o->conv_route);
        return NULL;
    }
    const int prev = threads_enter(o->threads);
    dt_detector *d = dt_calloc(1, sizeof *d);
    d->threads = o->threads;
    dt_net_opts no = {.batch = o->batch > 0 ? o->batch : 1, .quiet = 1,
                      .conv_route = (int)o->conv_route};
    d->model = dt_model_load(cfg, &no);
    if (!d->model) goto fail;
    d->net = d->model->net;
    if (weights && dt_net_load_weights(d->net, weights) != 0) goto fail;
    if (d->net->c != 3) {
        dt_error("%s: the input has %d channels; images give 3", cfg, d->net->c);
        goto fail;
    }
    if (dt_head_of(d->net, &d->ssd) != DT_HEAD_SSD) {
        dt_error("%s: not a detection model: a dt_detector needs an [ssd] head", cfg);
        goto fail;
    }
    d->n_classes = dt_ssd_layer_classes(d->ssd);
    if (load_names(d, cfg) != 0) goto fail;
    dt_ssd_layer_detect_cfg(d->ssd, &d->det);
    if (o->score_thresh > 0) d->det.score_thresh = o->score_thresh;
    if (o->nms_iou > 0) d->det.nms_iou = o->nms_iou;
    if (o->max_detections > 0) d->det.max_total = o->max_detections;
    d->dets = dt_calloc((size_t)d->det.max_total, sizeof(dt_detection));
    d->ictx = dt_image_ctx_new();
    dt_net_set_train(d->net, 0);
    threads_leave(o->threads, prev);
    return d;
fail:
    dt_detector_close(d);
    threads_leave(o->threads, prev);
    return NULL;
}

int dt_detector_classes(const dt_detector *d, const char *const **names) {
    if (names) *names = d->names ? (const char *const *)d->names : NULL;
    return d->n_classes;
}

void dt_detector_input_size(const dt_detector *d, int *w, int *h) {
    if (w) *w = d->net->w;
    if (h) *h = d->net->h;
}

int dt_detector_save(const dt_detector *d, const char *path) {
    if (!path) {
        dt_error("dt_detector_save: no path given");
        return -1;
    }
    return dt_net_save_weights(d->net, path);
}

// Image i into slot b of the network input. 0 / -1.
static int feed(dt_detector *d, const dt_det_image *im, int i, int b) {
    dt_network *net = d->net;
    if (!im->pixels || im->w <= 0 || im->h <= 0 || im->stride < 3 * im->w ||
        (im->fmt != DT_PIXEL_RGB && im->fmt != DT_PIXEL_BGR)) {
        dt_error("dt_detector_detect: image %d: bad image (pixels %s, %dx%d, stride %d, "
                 "format %d): need pixels, w, h > 0, stride >= 3 w, DT_PIXEL_RGB or "
                 "DT_PIXEL_BGR", i, im->pixels ? "set" : "NULL", im->w, im->h, im->stride,
                 (int)im->fmt);
        return -1;
    }
    dt_image src = {.w = im->w, .h = im->h, .step = (size_t)im->stride,
                    .data = (unsigned char *)im->pixels, .owned = 0};
    if (im->fmt == DT_PIXEL_RGB) {
        const size_t step = 3 * (size_t)im->w, n = step * (size_t)im->h;
        if (n > d->bgr_cap) {
            free(d->bgr);
            d->bgr = dt_malloc(n);
            d->bgr_cap = n;
        }
        for (int y = 0; y < im->h; y++) {
            const uint8_t *s = im->pixels + (size_t)y * (size_t)im->stride;
            unsigned char *o = d->bgr + (size_t)y * step;
            for (int x = 0; x < im->w; x++)
                o[3 * x] = s[3 * x + 2], o[3 * x + 1] = s[3 * x + 1], o[3 * x + 2] = s[3 * x];
        }
        src.data = d->bgr;
        src.step = step;
    }
    dt_tfm t;
    dt_rng r;
    dt_rng_seed(&r, 0);
    dt_tfm_draw(&d->model->aug, 0, im->w, im->h, net->w, net->h, &r, &t); // no augmentation
    dt_image warped;
    if (dt_tfm_warp(d->ictx, &src, 1.0f, &t, &warped) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dt_last_error());
        dt_error("dt_detector_detect: image %d (%dx%d): %s", i, im->w, im->h, msg);
        return -1;
    }
    dt_tfm_pixels(&warped, &t, net->input + (size_t)b * (size_t)net->w * net->h * net->c);
    return 0;
}

// Slot b's detections, in the pixels of image im. The count written.
static int collect(dt_detector *d, const dt_det_image *im, int b, dt_det_box *out, int max) {
    dt_network *net = d->net;
    int nd = dt_ssd_layer_detect(d->ssd, b, &d->det, d->dets);
    if (nd < 0) return -1;
    if (nd > max) nd = max;
    for (int j = 0; j < nd; j++) {
        const dt_detection *e = &d->dets[j];
        double px[4];
        dt_box_input_to_source(&d->model->aug, net->w, net->h, im->w, im->h, e->box, px);
        px[0] = fmin(fmax(px[0], 0), im->w), px[2] = fmin(fmax(px[2], 0), im->w);
        px[1] = fmin(fmax(px[1], 0), im->h), px[3] = fmin(fmax(px[3], 0), im->h);
        out[j] = (dt_det_box){(float)px[0], (float)px[1], (float)px[2], (float)px[3], e->score,
                              e->cls};
    }
    return nd;
}

int dt_detector_detect_batch(dt_detector *d, const dt_det_image *images, int n, dt_det_box *out,
                             int max_per_image, int *counts) {
    if (!d || n < 0 || (n > 0 && (!images || !counts || (max_per_image > 0 && !out))) ||
        max_per_image < 0) {
        dt_error("dt_detector_detect: bad arguments (handle %s, %d images, max %d, out %s, "
                 "counts %s)", d ? "set" : "NULL", n, max_per_image, out ? "set" : "NULL",
                 counts ? "set" : "NULL");
        return -1;
    }
    const int B = d->net->batch, prev = threads_enter(d->threads);
    int total = 0;
    for (int i0 = 0; i0 < n; i0 += B) {
        const int nb = n - i0 < B ? n - i0 : B;
        for (int b = 0; b < nb; b++)
            if (feed(d, &images[i0 + b], i0 + b, b) != 0) goto fail;
        dt_net_forward(d->net); // a predictions-only network: no targets, no loss
        for (int b = 0; b < nb; b++) {
            int k = collect(d, &images[i0 + b], b, out ? out + (size_t)(i0 + b) * max_per_image
                                                       : NULL, max_per_image);
            if (k < 0) goto fail;
            counts[i0 + b] = k;
            total += k;
        }
    }
    threads_leave(d->threads, prev);
    return total;
fail:
    threads_leave(d->threads, prev);
    return -1;
}

int dt_detector_detect(dt_detector *d, const uint8_t *pixels, int w, int h, int stride,
                       dt_pixel_format fmt, dt_det_box *out, int max) {
    dt_det_image im = {pixels, w, h, stride, fmt};
    int count;
    return dt_detector_detect_batch(d, &im, 1, out, max, &count) < 0 ? -1 : count;
}
