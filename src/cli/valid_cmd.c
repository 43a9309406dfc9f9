// detector valid: a trained network scored on a data set's validation split
// (eval/valid.h).
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "base/common.h"
#include "base/fs.h"
#include "eval/valid.h"
#include "train/model.h"

static void valid_usage(void) {
    fprintf(stderr,
            "usage: detector valid <cfg> <weights> [-data F] [-iou voc|continuous] [-out DIR]\n"
            "                      [-thresh T] [-nms N] [-batch N] [-loader_threads N] [-max N] [-loss]\n"
            "  -data F     .data file (default: the cfg's data=)\n"
            "  -iou        IoU of the VOC AP numbers: voc = the devkit's inclusive pixels\n"
            "              (default), continuous = COCO/torchvision areas\n"
            "  -out DIR    VOC result files comp4_det_test_<class>.txt, coco_results.json and\n"
            "              metrics.txt (default results/valid/<cfg name>/)\n"
            "  -thresh T   score threshold of scored detections (0.05); -nms N  NMS IoU (0.45)\n"
            "  -max N      only the first N validation images\n"
            "  -loss       also the validation loss (detection models: targets and the SSD\n"
            "              loss are computed only when asked)\n");
}

// 1 when the cfg (its includes too) has an [ssd] section; 0 also when it
// cannot be read (dt_model_load then reports why).
static int cfg_has_ssd(const char *path) {
    dt_cfg *c = dt_cfg_load(path);
    if (!c) return 0;
    int has = 0;
    for (int i = 0; i < c->n_sec && !has; i++) has = strcmp(c->sec[i].name, "ssd") == 0;
    dt_cfg_free(c);
    return has;
}

int dt_cmd_valid(int argc, char **argv, const dt_net_opts *env) {
    const char *cfg = NULL, *weights = NULL, *data = NULL, *out = NULL;
    dt_valid_opts o;
    dt_valid_opts_default(&o);
    int batch = 0, with_loss = 0, bad = 0, g;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int more = i + 1 < argc;
        if ((g = dt_arg_global(argc, argv, i))) i += g - 1; // main's
        else if (strcmp(a, "-data") == 0 && more) data = argv[++i];
        else if (strcmp(a, "-out") == 0 && more) out = argv[++i];
        else if (strcmp(a, "-thresh") == 0 && more)
            bad |= dt_arg_float("valid", a, argv[++i], 0, 1, &o.det.score_thresh);
        else if (strcmp(a, "-nms") == 0 && more)
            bad |= dt_arg_float("valid", a, argv[++i], 0, 1, &o.det.nms_iou);
        else if (strcmp(a, "-batch") == 0 && more)
            bad |= dt_arg_int("valid", a, argv[++i], 0, DT_ARG_BATCH_MAX, &batch);
        else if (strcmp(a, "-loader_threads") == 0 && more)
            bad |= dt_arg_threads("valid", a, argv[++i], &o.threads);
        else if (strcmp(a, "-max") == 0 && more)
            bad |= dt_arg_int("valid", a, argv[++i], 0, INT_MAX, &o.max_images);
        else if (strcmp(a, "-loss") == 0) with_loss = 1;
        else if (strcmp(a, "-iou") == 0 && more) {
            const char *v = argv[++i];
            if (strcmp(v, "voc") == 0) o.iou_mode = DT_IOU_VOC_PIXEL;
            else if (strcmp(v, "continuous") == 0) o.iou_mode = DT_IOU_CONTINUOUS;
            else {
                fprintf(stderr, "valid: -iou %s: expected voc or continuous\n", v);
                return 2;
            }
        } else if (a[0] != '-' && !cfg) cfg = a;
        else if (a[0] != '-' && !weights) weights = a;
        else {
            fprintf(stderr, "valid: unknown or incomplete argument '%s'\n", a);
            valid_usage();
            return 2;
        }
    }
    if (bad || !cfg || !weights) {
        valid_usage();
        return 2;
    }
    if (!(o.det.score_thresh >= 0 && o.det.score_thresh < 1) ||
        !(o.det.nms_iou > 0 && o.det.nms_iou <= 1) || batch < 0) {
        fprintf(stderr, "valid: -thresh must be in [0, 1), -nms in (0, 1], -batch >= 0\n");
        return 2;
    }
    // predictions only unless the loss is asked for, or the head's metrics
    // compare with targets (every head but [ssd])
    dt_net_opts no = env ? *env : (dt_net_opts){0}; // the command line's settings
    no.batch = batch;
    no.with_grads = 0;
    no.quiet = 1;
    no.with_loss = with_loss || !cfg_has_ssd(cfg);
    dt_model *model = dt_model_load(cfg, &no);
    if (!model) {
        fprintf(stderr, "valid: %s\n", dt_last_error());
        return 1;
    }
    dt_network *net = model->net;
    o.aug = &model->aug;
    int rc = 1;
    dt_datacfg dc;
    dt_dataset d;
    int have_split = 0;
    char dir[4096];
    if (!data) data = dt_model_data(model);
    if (dt_valid_load_split(net, weights, &data, &dc, &d) != 0) goto done;
    have_split = 1;
    if (!out) {
        char stem[256];
        dt_path_stem(cfg, stem, sizeof stem);
        snprintf(dir, sizeof dir, "results/valid/%s", stem);
        out = dir;
    }
    o.out_dir = out;
    o.table = stdout;
    printf("valid: %s, weights %s, data %s (%d images, %d classes), batch %d\n", cfg, weights,
           data, d.n, d.n_classes, net->batch);
    dt_valid_result r;
    if (dt_valid_run(net, &d, &o, &r) != 0) goto done;
    if (r.has_ap)
        printf("detections scored: score > %g, NMS IoU %g, top %d; written to %s/\n",
               (double)o.det.score_thresh, (double)o.det.nms_iou, o.det.max_total, out);
    else
        printf("metrics written to %s/metrics.txt\n", out);
    dt_valid_result_free(&r);
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "valid: %s\n", dt_last_error());
    if (have_split) {
        dt_dataset_free(&d);
        dt_datacfg_free(&dc);
    }
    dt_model_free(model);
    return rc;
}
