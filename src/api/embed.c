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
#include "data/records.h"
#include "data/transform.h"
#include "eval/valid.h"
#include "layers/ssd.h"
#include "media/image.h"
#include "train/model.h"
#include "train/run.h"
#include "train/schedule.h"

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
    // training (opened with train = 1)
    int train;
    float lr;         // > 0: the lr of every group in dt_detector_train_step
    int step_ready;   // the step's lr and freezing set (undone by dt_detector_train)
    dt_batch batch;   // dt_detector_train_step's batch (net->batch images)
    dt_object *objs;  // scratch: one image's boxes
    int objs_cap;
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
    free(d->objs);
    dt_batch *b = &d->batch;
    free(b->images), free(b->n_boxes), free(b->boxes), free(b->classes), free(b->difficult);
    free(b->largest_box), free(b->largest_class), free(b->class_mask);
    free(b->orig_w), free(b->orig_h), free(b->sample), free(b->paths);
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
        o->conv_route > DT_CONV_ONEDNN || (o->train != 0 && o->train != 1) ||
        !(o->lr >= 0 && o->lr < INFINITY)) {
        dt_error("%s: bad dt_detector_opts (threads %d, batch %d, score_thresh %g, nms_iou %g, "
                 "max_detections %d, conv_route %d, train %d, lr %g): need threads, batch, "
                 "max_detections >= 0, score_thresh in [0, 1), nms_iou in [0, 1], a "
                 "dt_conv_route, train 0 or 1, a finite lr >= 0",
                 cfg, o->threads, o->batch, (double)o->score_thresh, (double)o->nms_iou,
                 o->max_detections, (int)o->conv_route, o->train, (double)o->lr);
        return NULL;
    }
    const int prev = threads_enter(o->threads);
    dt_detector *d = dt_calloc(1, sizeof *d);
    d->threads = o->threads;
    d->train = o->train;
    d->lr = o->lr;
    // a training handle: built as `detector train` builds it (gradients, optimizer
    // state, targets), its batch the cfg's unless opts.batch says otherwise
    dt_net_opts no = {.batch = o->batch > 0 ? o->batch : o->train ? 0 : 1, .quiet = 1,
                      .conv_route = (int)o->conv_route, .with_grads = o->train};
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
    if (d->train && dt_train_check(d->net) != 0) goto fail;
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

// Image i, resized as validation resizes it (no augmentation), into dst
// (h, w, 3) floats at the network size; *t gets the transform. `fn` names the
// caller in messages. 0 / -1.
static int feed(dt_detector *d, const dt_det_image *im, int i, float *dst, dt_tfm *t,
                const char *fn) {
    dt_network *net = d->net;
    if (!im->pixels || im->w <= 0 || im->h <= 0 || im->stride < 3 * im->w ||
        (im->fmt != DT_PIXEL_RGB && im->fmt != DT_PIXEL_BGR)) {
        dt_error("%s: image %d: bad image (pixels %s, %dx%d, stride %d, "
                 "format %d): need pixels, w, h > 0, stride >= 3 w, DT_PIXEL_RGB or "
                 "DT_PIXEL_BGR", fn, i, im->pixels ? "set" : "NULL", im->w, im->h, im->stride,
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
    dt_rng r;
    dt_rng_seed(&r, 0);
    dt_tfm_draw(&d->model->aug, 0, im->w, im->h, net->w, net->h, &r, t); // no augmentation
    dt_image warped;
    if (dt_tfm_warp(d->ictx, &src, 1.0f, t, &warped) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dt_last_error());
        dt_error("%s: image %d (%dx%d): %s", fn, i, im->w, im->h, msg);
        return -1;
    }
    dt_tfm_pixels(&warped, t, dst);
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
        const size_t img = (size_t)d->net->w * d->net->h * d->net->c;
        for (int b = 0; b < nb; b++) {
            dt_tfm t;
            if (feed(d, &images[i0 + b], i0 + b, d->net->input + (size_t)b * img, &t,
                     "dt_detector_detect") != 0)
                goto fail;
        }
        // predictions only (a training handle's loss layers are not fed: no targets)
        if (d->train) dt_net_set_train(d->net, 0);
        dt_net_forward(d->net);
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

// --- training -------------------------------------------------------------------

int dt_detector_batch(const dt_detector *d) { return d->net->batch; }

// The step's lr (opts.lr, else the first [stage]'s maximum, else [net]
// learning_rate) and the first stage's freezing and weight decay.
static void step_setup(dt_detector *d) {
    dt_network *net = d->net;
    dt_model *m = d->model;
    dt_stage st = {.n_lr = 1, .lr = {net->opt.base_lr}};
    if (m->n_stages > 0) {
        dt_stage_enter(net, m, 0, net->opt.decay);
        st = m->stages[0];
        st.clr = 0; // one step at the stage's maximum
    }
    if (d->lr > 0) st.n_lr = 1, st.lr[0] = d->lr;
    dt_stage_set_lr(net, &st, 1, 0);
    d->step_ready = 1;
}

// Room in the step's batch for `maxb` boxes per image.
static void batch_reserve(dt_detector *d, int maxb) {
    dt_batch *b = &d->batch;
    const dt_network *net = d->net;
    if (!b->images) {
        const int cap = net->batch, C = d->n_classes;
        b->cap = cap, b->w = net->w, b->h = net->h, b->n_classes = C;
        b->images = dt_alloc_floats((size_t)cap * net->h * net->w * 3);
        b->n_boxes = dt_calloc(cap, sizeof *b->n_boxes);
        b->largest_box = dt_alloc_floats((size_t)cap * 4);
        b->largest_class = dt_calloc(cap, sizeof *b->largest_class);
        b->class_mask = dt_alloc_floats((size_t)cap * (C > 0 ? C : 1));
        b->orig_w = dt_calloc(cap, sizeof(int));
        b->orig_h = dt_calloc(cap, sizeof(int));
        b->sample = dt_calloc(cap, sizeof(int));
        b->paths = dt_calloc(cap, sizeof(char *));
    }
    if (maxb < 1) maxb = 1;
    if (maxb > b->box_cap) {
        free(b->boxes), free(b->classes), free(b->difficult);
        b->boxes = dt_alloc_floats((size_t)b->cap * maxb * 4);
        b->classes = dt_malloc((size_t)b->cap * maxb * sizeof(int));
        b->difficult = dt_malloc((size_t)b->cap * maxb);
        b->box_cap = maxb;
    }
    if (maxb > d->objs_cap) {
        free(d->objs);
        d->objs = dt_malloc((size_t)maxb * sizeof *d->objs);
        d->objs_cap = maxb;
    }
    b->max_boxes = maxb;
    memset(b->boxes, 0, (size_t)b->cap * maxb * 4 * sizeof(float));
    for (size_t k = 0; k < (size_t)b->cap * maxb; k++) b->classes[k] = -1;
    memset(b->difficult, 0, (size_t)b->cap * maxb);
}

// Image i's ground truth into place i of the step's batch, as the data
// loader's load_place puts a sample's (data/loader.c): mapped through the
// image's transform, dropped under a pixel, divided by the input size; the
// largest object of the given boxes (or of those left, if it was dropped).
static int truth_place(dt_detector *d, int i, const dt_tfm *t, const dt_det_box *in, int n,
                       const dt_det_image *im) {
    dt_batch *b = &d->batch;
    const int W = d->net->w, H = d->net->h, maxb = b->max_boxes, C = d->n_classes;
    dt_object *src = d->objs;
    for (int j = 0; j < n; j++) {
        const dt_det_box *x = &in[j];
        if (x->cls < 0 || x->cls >= C || !(x->x1 < x->x2) || !(x->y1 < x->y2) ||
            dt_box_check(x->x1, x->y1, x->x2, x->y2, im->w, im->h) == DT_BOX_FAR) {
            dt_error("dt_detector_train_step: image %d (%dx%d), box %d: class %d, (%g, %g, %g, "
                     "%g): need a class in [0, %d) and x1 < x2, y1 < y2 within a side of the "
                     "image", i, im->w, im->h, j, x->cls, (double)x->x1, (double)x->y1,
                     (double)x->x2, (double)x->y2, C);
            return -1;
        }
        src[j] = (dt_object){{x->x1, x->y1, x->x2, x->y2}, x->cls, 0};
    }
    const int L = dt_objects_largest(src, n);
    float *bx = b->boxes + (size_t)i * maxb * 4;
    int k = 0, keep_largest = -1, largest;
    for (int j = 0; j < n; j++) {
        dt_box nb;
        if (dt_tfm_box(t, src[j].box, &nb) != 0) continue;
        if (j == L) keep_largest = k;
        bx[4 * k + 0] = nb.x1 / W, bx[4 * k + 1] = nb.y1 / H;
        bx[4 * k + 2] = nb.x2 / W, bx[4 * k + 3] = nb.y2 / H;
        b->classes[i * maxb + k] = src[j].cls;
        src[k] = (dt_object){nb, src[j].cls, 0}; // k <= j: the given src[k] is read already
        k++;
    }
    largest = keep_largest >= 0 ? keep_largest : dt_objects_largest(src, k);
    b->n_boxes[i] = k;
    float *lb = b->largest_box + 4 * i;
    if (largest >= 0) {
        memcpy(lb, bx + 4 * largest, 4 * sizeof(float));
        b->largest_class[i] = src[largest].cls;
    } else {
        lb[0] = lb[1] = lb[2] = lb[3] = 0;
        b->largest_class[i] = -1;
    }
    dt_objects_class_mask(src, k, C, b->class_mask + (size_t)i * C);
    b->orig_w[i] = im->w, b->orig_h[i] = im->h, b->sample[i] = i;
    b->paths[i] = NULL;
    return 0;
}

int dt_detector_train_step(dt_detector *d, const dt_det_image *images, int n,
                           const dt_det_box *boxes, const int *n_boxes, float *loss) {
    if (loss) *loss = NAN;
    if (!d || !d->train) {
        dt_error("dt_detector_train_step: %s", d ? "the handle was not opened for training "
                                                    "(dt_detector_opts.train = 1)"
                                                  : "no handle");
        return -1;
    }
    dt_network *net = d->net;
    if (n != net->batch || !images || !n_boxes) {
        dt_error("dt_detector_train_step: %s: %d images (the network's batch is %d), images "
                 "%s, n_boxes %s: need exactly a batch of images and their box counts",
                 net->cfg_path, n, net->batch, images ? "set" : "NULL", n_boxes ? "set" : "NULL");
        return -1;
    }
    long total = 0;
    int maxb = 1;
    for (int i = 0; i < n; i++) {
        if (n_boxes[i] < 0) {
            dt_error("dt_detector_train_step: image %d: %d boxes", i, n_boxes[i]);
            return -1;
        }
        total += n_boxes[i];
        if (n_boxes[i] > maxb) maxb = n_boxes[i];
    }
    if (total > 0 && !boxes) {
        dt_error("dt_detector_train_step: %ld boxes counted but `boxes` is NULL", total);
        return -1;
    }
    const int prev = threads_enter(d->threads);
    batch_reserve(d, maxb);
    dt_batch *b = &d->batch;
    b->n = b->want = n;
    b->epoch = 0, b->index = 0, b->last = 1;
    const size_t img = (size_t)net->w * net->h * 3;
    const dt_det_box *bx = boxes;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        dt_tfm t;
        rc = feed(d, &images[i], i, b->images + (size_t)i * img, &t, "dt_detector_train_step");
        if (rc == 0) rc = truth_place(d, i, &t, bx, n_boxes[i], &images[i]);
        bx += n_boxes[i];
    }
    if (rc == 0) {
        if (!d->step_ready) step_setup(d);
        float l;
        rc = dt_train_step(net, b, &l);
        if (loss) *loss = l;
        if (rc > 0) {
            dt_error("dt_detector_train_step: %s: the loss is %g: nothing updated", net->cfg_path,
                     (double)l);
            rc = -1;
        }
    }
    threads_leave(d->threads, prev);
    return rc < 0 ? -1 : 0;
}

int dt_detector_train(dt_detector *d, const dt_train_args *a) {
    dt_train_args z = {0};
    if (!a) a = &z;
    if (!d || !d->train) {
        dt_error("dt_detector_train: %s", d ? "the handle was not opened for training "
                                              "(dt_detector_opts.train = 1)"
                                            : "no handle");
        return -1;
    }
    if (a->max_epochs < 0 || !(a->minutes >= 0) || a->loader_threads < 0 ||
        (a->clear != 0 && a->clear != 1)) {
        dt_error("dt_detector_train: %s: bad dt_train_args (max_epochs %d, minutes %g, "
                 "loader_threads %d, clear %d)", d->net->cfg_path, a->max_epochs, a->minutes,
                 a->loader_threads, a->clear);
        return -1;
    }
    const int prev = threads_enter(d->threads);
    dt_train_run_opts o = {.cfg = d->net->cfg_path, .data = a->data,
                           .loader_threads = a->loader_threads, .seed_given = a->seed_given,
                           .seed = a->seed, .quiet = a->quiet, .clear = a->clear,
                           .minutes = a->minutes,
                           .valid_every = a->valid_every < 0 ? 0 : a->valid_every ? a->valid_every : 1,
                           .max_epochs = a->max_epochs, .backup = a->backup,
                           .model = d->model};
    int rc = dt_train_run(&o);
    // the run set the network's class names (from the data) and its stages' lr
    // and freezing: the handle's names follow, the next step sets its own again
    if (d->net->n_class_names) {
        if (!d->names_net) dt_names_free(d->names, d->n_names);
        d->names = d->net->class_names;
        d->n_names = d->net->n_class_names;
        d->names_net = 1;
    }
    d->step_ready = 0;
    fflush(stdout);
    threads_leave(d->threads, prev);
    return rc;
}
