// detector test <cfg> <weights> <images...>: runs a trained network on
// images one by one (batch 1), prints what it finds in the pixels of each
// ORIGINAL image and draws it there.
//
// Each image takes the validation path of the loader (dt_sample_load with
// augment=0: decode, squash or letterbox as the cfg says, normalise), so the
// network sees what it saw in validation; boxes go back through the inverse
// of that transform (dt_box_input_to_source).
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/commands.h"
#include "cli/env.h"
#include "base/common.h"
#include "base/fs.h"
#include "data/loader.h"
#include "media/draw.h"
#include "media/image.h"
#include "layers/ssd.h"
#include "eval/valid.h"
#include "train/model.h"

static const char *class_name(char **names, int n, int c, char *buf, size_t len) {
    if (names && c >= 0 && c < n) return names[c];
    snprintf(buf, len, "class%d", c);
    return buf;
}

// Box (continuous pixels) on the picture: inclusive pixel corners, clipped.
static void draw_box(dt_image *im, const double *px, const char *label, int cls) {
    unsigned char bg[3], fg[3];
    dt_draw_class_colour(cls, bg);
    dt_draw_text_colour(bg, fg);
    int x1 = (int)floor(px[0]), y1 = (int)floor(px[1]);
    int x2 = (int)ceil(px[2]) - 1, y2 = (int)ceil(px[3]) - 1;
    // line and text grow with the picture: readable on 112 px and on 2000 px
    const int side = im->w + im->h;
    int t = side < 500 ? 1 : side < 1400 ? 2 : 3;
    dt_image_draw_rect(im, x1, y1, x2, y2, bg, t);
    double fs = fmax(0.3, fmin(0.8, side / 1600.0));
    int lh = (int)(30 * fs); // label height, about
    // label above the box when there is room, else inside it
    dt_image_draw_label(im, x1, y1 > lh ? y1 - lh : y1, label, bg, fg, fs);
}

static void clip_px(double *px, int w, int h) {
    px[0] = fmin(fmax(px[0], 0), w), px[2] = fmin(fmax(px[2], 0), w);
    px[1] = fmin(fmax(px[1], 0), h), px[3] = fmin(fmax(px[3], 0), h);
}

// Class names: -names, else the names= of -data / the cfg's data=.
static int load_names(const char *names_path, const char *data, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    if (names_path) return dt_names_load(names_path, names, n);
    if (!data || !data[0]) return 0;
    dt_datacfg dc;
    if (dt_datacfg_load(data, &dc) != 0) return -1;
    int rc = dc.names ? dt_names_load(dc.names, names, n) : 0;
    dt_datacfg_free(&dc);
    return rc;
}

typedef struct {
    dt_network *net;
    const dt_augment *aug; // the model's transform
    dt_layer *loss;
    dt_head_kind kind;
    dt_detect_cfg det;
    char **names;
    int n_names;
    const char *out_dir;
    dt_detection *dets;
} test_ctx;

// One image: forward, print, draw, write. 0 / -1.
static int test_image(test_ctx *t, dt_image_ctx *ictx, const char *path) {
    dt_network *net = t->net;
    dt_sample s = {0};
    s.image = (char *)path;
    dt_object none;
    int n_obj = 0, largest = -1, ow = 0, oh = 0;
    dt_rng r;
    dt_rng_seed(&r, 0);
    if (dt_sample_load(ictx, &s, t->aug, 0, net->w, net->h, &r, net->input, &none, &n_obj,
                       &largest, &ow, &oh, NULL, 0) != 0)
        return -1;
    dt_net_forward(net); // a predictions-only network: no targets, no loss
    dt_image im;
    if (dt_image_load(path, &im) != 0) return -1;
    const float *y = t->loss ? t->loss->output : dt_net_output(net);
    const int N = t->loss ? (int)t->loss->outputs : 0;
    char nb[32], label[128];
    double px[4];
    printf("%s: %dx%d\n", path, ow, oh);
    switch (t->kind) {
    case DT_HEAD_SSD: {
        int nd = dt_ssd_layer_detect(t->loss, 0, &t->det, t->dets);
        if (nd < 0) goto fail;
        for (int j = nd - 1; j >= 0; j--) { // best drawn last, on top
            const dt_detection *d = &t->dets[j];
            dt_box_input_to_source(t->aug, net->w, net->h, ow, oh, d->box, px);
            clip_px(px, ow, oh);
            const char *name = class_name(t->names, t->n_names, d->cls, nb, sizeof nb);
            snprintf(label, sizeof label, "%s %.2f", name, (double)d->score);
            draw_box(&im, px, label, d->cls);
        }
        for (int j = 0; j < nd; j++) {
            const dt_detection *d = &t->dets[j];
            dt_box_input_to_source(t->aug, net->w, net->h, ow, oh, d->box, px);
            clip_px(px, ow, oh);
            printf("  %-14s %.4f  box %.1f %.1f %.1f %.1f\n",
                   class_name(t->names, t->n_names, d->cls, nb, sizeof nb), (double)d->score,
                   px[0], px[1], px[2], px[3]);
        }
        printf("  %d detection%s (score > %g, NMS %g)\n", nd, nd == 1 ? "" : "s",
               (double)t->det.score_thresh, (double)t->det.nms_iou);
        break;
    }
    case DT_HEAD_CLASS:
    case DT_HEAD_SINGLE: {
        const int off = t->kind == DT_HEAD_SINGLE ? 4 : 0, C = N - off;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (y[off + c] > y[off + best]) best = c;
        const char *name = class_name(t->names, t->n_names, best, nb, sizeof nb);
        snprintf(label, sizeof label, "%s %.2f", name, (double)y[off + best]);
        if (t->kind == DT_HEAD_SINGLE) {
            dt_box_input_to_source(t->aug, net->w, net->h, ow, oh, y, px);
            clip_px(px, ow, oh);
            printf("  %-14s %.4f  box %.1f %.1f %.1f %.1f\n", name, (double)y[off + best], px[0],
                   px[1], px[2], px[3]);
            draw_box(&im, px, label, best);
        } else {
            printf("  %-14s %.4f\n", name, (double)y[best]);
            unsigned char bg[3], fg[3];
            dt_draw_class_colour(best, bg);
            dt_draw_text_colour(bg, fg);
            dt_image_draw_label(&im, 2, 2, label, bg, fg, 0.6);
        }
        break;
    }
    case DT_HEAD_BOX: {
        // [cost] regresses the box in input pixels
        float nbx[4] = {y[0] / net->w, y[1] / net->h, y[2] / net->w, y[3] / net->h};
        dt_box_input_to_source(t->aug, net->w, net->h, ow, oh, nbx, px);
        clip_px(px, ow, oh);
        printf("  box %.1f %.1f %.1f %.1f\n", px[0], px[1], px[2], px[3]);
        draw_box(&im, px, "largest", 0);
        break;
    }
    case DT_HEAD_MULTILABEL: {
        int k = 0;
        for (int c = 0; c < N; c++) {
            if (y[c] <= 0.5f) continue;
            const char *name = class_name(t->names, t->n_names, c, nb, sizeof nb);
            printf("  %-14s %.4f\n", name, (double)y[c]);
            snprintf(label, sizeof label, "%s %.2f", name, (double)y[c]);
            unsigned char bg[3], fg[3];
            dt_draw_class_colour(c, bg);
            dt_draw_text_colour(bg, fg);
            dt_image_draw_label(&im, 2, 2 + 20 * k++, label, bg, fg, 0.5);
        }
        printf("  %d label%s above 0.5\n", k, k == 1 ? "" : "s");
        break;
    }
    default: {
        const float *o = dt_net_output(net);
        const dt_layer *last = dt_net_last(net);
        printf("  output (%zu values):", last->outputs);
        for (size_t i = 0; i < last->outputs && i < 16; i++) printf(" %.4f", (double)o[i]);
        printf("%s\n", last->outputs > 16 ? " ..." : "");
        break;
    }
    }
    {
        char stem[1024], out[4096];
        dt_path_stem(path, stem, sizeof stem);
        snprintf(out, sizeof out, "%s/%s.jpg", t->out_dir, stem);
        if (dt_image_write(out, &im, 90, 0, 3) != 0) goto fail;
        printf("  -> %s\n", out);
    }
    dt_image_free(&im);
    return 0;
fail:
    dt_image_free(&im);
    return -1;
}

int dt_cmd_test(int argc, char **argv) {
    const char *cfg = NULL, *weights = NULL, *out = "results", *names_path = NULL, *data = NULL;
    float thresh = -1, nms = -1; // -1: the [ssd] layer's
    dt_arg_rest img = {0};
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"weights", DT_ARG_STRING, &weights, .required = 1},
        {"image", DT_ARG_REST, &img, .required = 1},
        {"-thresh", DT_ARG_FLOAT, &thresh, 0, 1, "T", .open = DT_ARG_HI_OPEN,
         .help = "detection score threshold (default: the [ssd] layer's score_thresh,\n0.25)"},
        {"-nms", DT_ARG_FLOAT, &nms, 0, 1, "N", .open = DT_ARG_LO_OPEN,
         .help = "NMS IoU (default: its nms_thresh, 0.4)"},
        {"-out", DT_ARG_STRING, &out, .meta = "DIR",
         .help = "where the pictures go (default results/), one <image name>.jpg each"},
        {"-names", DT_ARG_STRING, &names_path, .meta = "F",
         .help = "class names (default: names= of the cfg's data= file)"},
        {"-data", DT_ARG_STRING, &data, .meta = "F", .help = "a .data file whose names= to use"},
        {0}};
    const dt_arg_cmd cmd = {"test", args, NULL};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    const char **images = img.v;
    const int n_images = img.n;
    dt_net_opts no = {.batch = 1, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&no);
    dt_model *model = dt_model_load(cfg, &no);
    if (!model) {
        fprintf(stderr, "test: %s\n", dt_last_error());
        free(images);
        return 1;
    }
    dt_network *net = model->net;
    test_ctx t = {.net = net, .aug = &model->aug, .out_dir = out};
    int rc = 1, failed = 0;
    dt_image_ctx *ictx = NULL;
    if (dt_net_load_weights(net, weights) != 0) goto done;
    if (net->c != 3) {
        dt_error("%s: the input has %d channels; images give 3", cfg, net->c);
        goto done;
    }
    // names the weights record win over the cfg's data= (asked-for ones are checked)
    const int own = net->n_class_names && !names_path && !data;
    if ((!own && load_names(names_path, data ? data : model->aug.data, &t.names, &t.n_names)) ||
        dt_net_label_names(net, &t.names, &t.n_names,
                           names_path ? names_path : data ? data : model->aug.data) != 0)
        goto done;
    t.kind = dt_head_of(net, &t.loss);
    if (t.kind == DT_HEAD_SSD) {
        dt_ssd_layer_detect_cfg(t.loss, &t.det);
        if (thresh != -1) t.det.score_thresh = thresh;
        if (nms != -1) t.det.nms_iou = nms;
        t.dets = dt_calloc((size_t)t.det.max_total, sizeof(dt_detection));
    }
    if (dt_mkdirs(out) != 0) goto done;
    dt_net_set_train(net, 0);
    ictx = dt_image_ctx_new();
    for (int i = 0; i < n_images; i++) {
        if (test_image(&t, ictx, images[i]) != 0) {
            fprintf(stderr, "test: %s\n", dt_last_error());
            failed++;
        }
    }
    rc = failed ? 1 : 0;
    if (failed) fprintf(stderr, "test: %d of %d images failed\n", failed, n_images);
    goto cleanup;
done:
    fprintf(stderr, "test: %s\n", dt_last_error());
cleanup:
    dt_image_ctx_free(ictx);
    dt_names_free(t.names, t.n_names);
    free(t.dets);
    free(images);
    dt_model_free(model);
    return rc;
}
