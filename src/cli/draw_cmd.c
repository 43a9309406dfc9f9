// detector anchors <cfg>: the [ssd] layer's anchors as a picture, one panel
// per grid; -kmeans K: K anchor sizes fitted to the training boxes. detector predgrid <cfg> <weights>: the first validation batch,
// ground truth beside predictions (the lesson's 3x4 figure).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/commands.h"
#include "cli/env.h"
#include "base/common.h"
#include "base/fs.h"
#include "data/data.h"
#include "data/loader.h"
#include "data/transform.h"
#include "media/draw.h"
#include "media/imgprobe.h"
#include "detect/anchors.h"
#include "layers/ssd.h"
#include "engine/network.h"
#include "eval/valid.h"
#include "train/model.h"

// The [ssd] layer of a detection cfg, or NULL + dt_error.
static dt_layer *ssd_of(dt_network *net, const char *cfg) {
    dt_layer *loss = NULL;
    if (dt_head_of(net, &loss) != DT_HEAD_SSD) {
        dt_error("%s: needs a detection model ([ssd] layer); this cfg has none", cfg);
        return NULL;
    }
    return loss;
}

// The training boxes' sizes (w, h pairs, fractions of their image) of the
// .data file's train split: every object, clipped to its image (as the
// loader clips it). *n gets the count; NULL + dt_error when none.
static float *train_box_sizes(const char *data, int *n) {
    dt_datacfg dc;
    dt_dataset d = {0};
    dt_warnings warn;
    float *wh = NULL;
    *n = 0;
    if (dt_datacfg_load(data, &dc) != 0) return NULL;
    dt_warnings_init(&warn);
    warn.quiet = 1;
    if (dt_dataset_load(&dc, "train", &warn, &d) != 0) goto done;
    size_t cap = 0;
    for (int i = 0; i < d.n; i++) cap += (size_t)d.s[i].n_obj;
    wh = dt_alloc_floats(cap * 2 + 2);
    for (int i = 0; i < d.n; i++) {
        const dt_sample *s = &d.s[i];
        double W = 1, H = 1;
        if (!s->normalised) {
            int w = s->width, h = s->height;
            if ((w <= 0 || h <= 0) && dt_image_probe_file(s->image, &w, &h) != 0) {
                dt_error("%s: cannot read the image's size (%s)", s->image, dt_last_error());
                free(wh);
                wh = NULL;
                goto done;
            }
            W = w, H = h;
        }
        for (int j = 0; j < s->n_obj; j++) {
            const dt_box *b = &s->obj[j].box;
            double x1 = b->x1 < 0 ? 0 : b->x1, y1 = b->y1 < 0 ? 0 : b->y1;
            double x2 = b->x2 > W ? W : b->x2, y2 = b->y2 > H ? H : b->y2;
            if (x2 <= x1 || y2 <= y1) continue;
            wh[2 * *n] = (float)((x2 - x1) / W);
            wh[2 * *n + 1] = (float)((y2 - y1) / H);
            (*n)++;
        }
    }
    if (*n == 0) {
        dt_error("%s: the train split holds no boxes", data);
        free(wh);
        wh = NULL;
    }
done:
    dt_dataset_free(&d);
    dt_datacfg_free(&dc);
    dt_warnings_destroy(&warn);
    return wh;
}

// detector anchors <cfg> -kmeans K: anchor sizes from the training boxes
// (docs/DETECT.md "Anchors from the data"). Prints the [ssd] line and the
// mean best IoU of the boxes against the cfg's anchors and the new ones.
static int anchors_kmeans(const char *cfg, const dt_anchors *a, const char *data, int K,
                          uint64_t seed, const char *out) {
    int n = 0, iters = 0, rc = -1;
    float *wh = train_box_sizes(data, &n);
    float *cur = dt_alloc_floats((size_t)a->n * 2), *km = dt_alloc_floats((size_t)K * 2);
    if (!wh || dt_anchors_kmeans(wh, n, K, seed, 1000, km, &iters) != 0) goto done;
    const int m = dt_anchors_distinct_sizes(a, cur, a->n);
    const double iou_cur = dt_anchors_mean_best_iou(wh, n, cur, m);
    const double iou_km = dt_anchors_mean_best_iou(wh, n, km, K);
    char line[8192];
    size_t used = (size_t)snprintf(line, sizeof line, "anchor_sizes=");
    for (int j = 0; j < 2 * K && used < sizeof line; j++)
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%.6g", j ? "," : "", km[j]);
    printf("anchors: %s: %d training boxes (%s)\n", cfg, n, data);
    printf("anchors: the cfg's %d anchor sizes: mean best IoU %.6f\n", m, iou_cur);
    printf("anchors: k-means K=%d (seed %llu, %d iterations): mean best IoU %.6f\n", K,
           (unsigned long long)seed, iters, iou_km);
    printf("%s\n", line);
    if (out) {
        char *tmp = NULL;
        FILE *f = dt_atomic_open(out, "anchor sizes", &tmp);
        if (!f) goto done;
        fprintf(f, "# detector anchors %s -kmeans %d -seed %llu: %d boxes of %s; mean best IoU "
                   "%.6f (the cfg's %.6f)\n%s\n",
                cfg, K, (unsigned long long)seed, n, data, iou_km, iou_cur, line);
        if (dt_atomic_commit(f, tmp, out, "anchor sizes", 1) != 0) goto done;
        printf("anchors: -> %s\n", out);
    }
    rc = 0;
done:
    free(wh);
    free(cur);
    free(km);
    return rc;
}

int dt_cmd_anchors(int argc, char **argv) {
    const char *cfg = NULL, *out = NULL, *data = NULL;
    int panel = 320, kmeans = 0;
    uint64_t seed = 1;
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"-out", DT_ARG_STRING, &out, .meta = "F",
         .help = "the picture (results/<cfg>_anchors.png); with -kmeans the [ssd] line"},
        {"-panel", DT_ARG_INT, &panel, 64, 4096, "PIXELS", .help = "side of a panel (320)"},
        {"-kmeans", DT_ARG_INT, &kmeans, 1, 1024, "K",
         .help = "K anchor sizes by k-means (1 - IoU) over the training boxes"},
        {"-data", DT_ARG_STRING, &data, .meta = "F", .help = "-kmeans: .data file (the cfg's data=)"},
        {"-seed", DT_ARG_U64, &seed, .meta = "S", .help = "-kmeans: k-means++ seed (1)"},
        {0}};
    const dt_arg_cmd cmd = {"anchors", args,
                            "  the [ssd] layer's anchors, one panel per grid; with -kmeans K,\n"
                            "  K anchor sizes fitted to the training boxes"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    char path[4096], stem[256];
    if (!out && !kmeans) {
        dt_path_stem(cfg, stem, sizeof stem);
        snprintf(path, sizeof path, "results/%s_anchors.png", stem);
        out = path;
    }
    dt_net_opts no = {.batch = 1, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&no);
    dt_model *model = dt_model_load(cfg, &no);
    dt_network *net = model ? model->net : NULL;
    dt_image im = {0};
    int rc = 1;
    dt_layer *ssd;
    if (!net || !(ssd = ssd_of(net, cfg))) goto done;
    const dt_anchors *a = dt_ssd_layer_anchors(ssd);
    if (kmeans) {
        if (!data) data = model->aug.data;
        if (!data || !data[0]) {
            dt_error("%s names no dataset: add data=FILE to [net] or pass -data FILE", cfg);
            goto done;
        }
        if (a && anchors_kmeans(cfg, a, data, kmeans, seed, out) == 0) rc = 0;
        goto done;
    }
    if (!a || dt_draw_anchors(a, panel, &im) != 0 || dt_mkdirs_parent(out) != 0 ||
        dt_image_write(out, &im, 95, 0, 3) != 0)
        goto done;
    printf("anchors: %s: %d anchors, %d per cell -> %s\n", cfg, a->n, a->k, out);
    rc = 0;
done:
    if (rc) fprintf(stderr, "anchors: %s\n", dt_last_error());
    dt_image_free(&im);
    dt_model_free(model);
    return rc;
}

// Normalised NHWC RGB floats back to BGR bytes: (n, h, w, 3) -> (n, h, w, 3).
static void unnormalise(const float *x, size_t n_px, unsigned char *out) {
    for (size_t i = 0; i < n_px; i++)
        for (int c = 0; c < 3; c++) {
            float v = (x[3 * i + c] * dt_imagenet_std[c] + dt_imagenet_mean[c]) * 255.0f + 0.5f;
            out[3 * i + 2 - c] = (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
}

int dt_cmd_predgrid(int argc, char **argv) {
    const char *cfg = NULL, *weights = NULL, *out = NULL, *data = NULL;
    int n = 12, cols = 4;
    float thresh = -1; // -1: the [ssd] layer's
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"weights", DT_ARG_STRING, &weights, .required = 1},
        {"-data", DT_ARG_STRING, &data, .meta = "F", .help = ".data file (default: the cfg's data=)"},
        {"-out", DT_ARG_STRING, &out, .meta = "F.png", .help = "(results/<cfg>_predgrid.png)"},
        {"-n", DT_ARG_INT, &n, 1, 256, "N", .help = "images (12)"},
        {"-cols", DT_ARG_INT, &cols, 1, 256, "N", .help = "columns (4)"},
        {"-thresh", DT_ARG_FLOAT, &thresh, 0, 1, "T", .open = DT_ARG_HI_OPEN,
         .help = "score threshold (default: the [ssd] layer's)"},
        {0}};
    const dt_arg_cmd cmd = {"predgrid", args,
                            "  the first N validation images: ground truth | predictions"};
    const int r = dt_args_parse(&cmd, argc, argv);
    if (r) return DT_ARGS_EXIT(r);
    char path[4096], stem[256];
    if (!out) {
        dt_path_stem(cfg, stem, sizeof stem);
        snprintf(path, sizeof path, "results/%s_predgrid.png", stem);
        out = path;
    }
    dt_net_opts no = {.batch = n, .with_grads = 0, .quiet = 1};
    dt_cli_net_opts(&no);
    dt_model *model = dt_model_load(cfg, &no);
    dt_network *net = model ? model->net : NULL;
    int rc = 1, have_split = 0;
    dt_datacfg dc;
    dt_dataset d;
    dt_loader *L = NULL;
    unsigned char *pics = NULL;
    dt_detection *dets = NULL;
    int *n_det = NULL;
    dt_image im = {0};
    dt_layer *ssd;
    if (!net || !(ssd = ssd_of(net, cfg))) goto done;
    if (!data) data = dt_model_data(model);
    if (dt_valid_load_split(net, weights, &data, &dc, &d) != 0) goto done;
    have_split = 1;
    dt_loader_opts lo;
    dt_loader_opts_net(&lo, n, net->w, net->h, &model->aug, 1);
    lo.threads = 2;
    if (!(L = dt_loader_new(&d, &lo, NULL))) goto done;
    dt_batch *b = dt_loader_next(L);
    if (!b) {
        dt_error("%s: no validation image could be loaded", data);
        goto done;
    }
    const size_t px = (size_t)net->w * net->h;
    if (dt_net_feed(net, b, 0) != 0) goto done;
    dt_net_set_train(net, 0); // a predictions-only network: no targets, no loss
    dt_net_forward(net);
    dt_detect_cfg dcfg;
    dt_ssd_layer_detect_cfg(ssd, &dcfg);
    if (thresh != -1) dcfg.score_thresh = thresh;
    dets = dt_calloc((size_t)b->n * dcfg.max_total, sizeof(dt_detection));
    n_det = dt_calloc((size_t)b->n, sizeof(int));
    pics = dt_malloc(px * 3 * (size_t)b->n);
    for (int i = 0; i < b->n; i++) {
        n_det[i] = dt_ssd_layer_detect(ssd, i, &dcfg, dets + (size_t)i * dcfg.max_total);
        if (n_det[i] < 0) goto done;
    }
    unnormalise(b->images, px * (size_t)b->n, pics);
    if (dt_draw_pred_grid(pics, b->n, net->w, net->h, b->boxes, b->classes, b->n_boxes,
                          b->max_boxes, dets, n_det, dcfg.max_total, d.names, d.n_classes, cols,
                          &im) != 0)
        goto done;
    if (dt_mkdirs_parent(out) != 0 || dt_image_write(out, &im, 92, 0, 3) != 0) goto done;
    printf("predgrid: %d validation images of %s, score > %g -> %s\n", b->n, data,
           (double)dcfg.score_thresh, out);
    rc = 0;
done:
    if (rc) fprintf(stderr, "predgrid: %s\n", dt_last_error());
    dt_image_free(&im);
    free(pics);
    free(dets);
    free(n_det);
    if (L) dt_loader_free(L);
    if (have_split) {
        dt_dataset_free(&d);
        dt_datacfg_free(&dc);
    }
    dt_model_free(model);
    return rc;
}
