// detector valid: a trained network scored on a data set's validation split
// (eval/valid.h).
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"
#include "cli/commands.h"
#include "base/common.h"
#include "base/fs.h"
#include "dist/dist.h"
#include "eval/valid.h"
#include "train/model.h"

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
    int batch = 0, with_loss = 0, iou = o.iou_mode == DT_IOU_CONTINUOUS;
    const dt_arg_spec args[] = {
        {"cfg", DT_ARG_STRING, &cfg, .required = 1},
        {"weights", DT_ARG_STRING, &weights, .required = 1},
        {"-data", DT_ARG_STRING, &data, .meta = "F", .help = ".data file (default: the cfg's data=)"},
        {"-iou", DT_ARG_CHOICE, &iou, .choices = "voc|continuous",
         .help = "IoU of the VOC AP numbers: voc = the devkit's inclusive pixels\n"
                 "(default), continuous = COCO/torchvision areas"},
        {"-out", DT_ARG_STRING, &out, .meta = "DIR",
         .help = "VOC result files comp4_det_test_<class>.txt, coco_results.json and\n"
                 "metrics.txt (default results/valid/<cfg name>/)"},
        {"-thresh", DT_ARG_FLOAT, &o.det.score_thresh, 0, 1, "T",
         .help = "score threshold of scored detections (0.05)", .open = DT_ARG_HI_OPEN},
        {"-nms", DT_ARG_FLOAT, &o.det.nms_iou, 0, 1, "N", .help = "NMS IoU (0.45)",
         .open = DT_ARG_LO_OPEN},
        {"-batch", DT_ARG_INT, &batch, 0, DT_ARG_BATCH_MAX, "N", .help = "batch size (0: the cfg's)"},
        {"-loader_threads", DT_ARG_THREADS, &o.threads, .meta = "N",
         .help = "the data loader's threads (0: its default)"},
        {"-max", DT_ARG_INT, &o.max_images, 0, INT_MAX, "N", .help = "only the first N validation images"},
        {"-loss", DT_ARG_FLAG, &with_loss,
         .help = "also the validation loss (detection models: targets and the SSD\n"
                 "loss are computed only when asked)"},
        {0}};
    const dt_arg_cmd cmd = {"valid", args, NULL};
    const int rp = dt_args_parse(&cmd, argc, argv);
    if (rp) return DT_ARGS_EXIT(rp);
    o.iou_mode = iou ? DT_IOU_CONTINUOUS : DT_IOU_VOC_PIXEL;
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
    // under mpirun: each rank scores its shard, rank 0 prints and writes
    // the whole split's result (docs/DISTRIBUTED.md)
    const int rank0 = dt_dist_rank() == 0;
    o.shard = 1;
    o.out_dir = rank0 ? out : NULL;
    o.table = rank0 ? stdout : NULL;
    if (rank0)
    printf("valid: %s, weights %s, data %s (%d images, %d classes), batch %d\n", cfg, weights,
           data, d.n, d.n_classes, net->batch);
    dt_valid_result r;
    if (dt_valid_run(net, &d, &o, &r) != 0) goto done;
    if (!rank0) {
    } else if (r.has_ap)
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
