// Validation: one pass over a validation split, mAP of detection models and
// the loss layer's metrics of the others (valid.h), and `detector valid`.
#include "eval/valid.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/args.h"
#include "base/common.h"
#include "base/fs.h"
#include "data/transform.h"
#include "dist/dist.h"
#include "engine/gpu.h"
#include "layers/ssd.h"

void dt_valid_opts_default(dt_valid_opts *o) {
    memset(o, 0, sizeof *o);
    o->iou_mode = DT_IOU_VOC_PIXEL;
    dt_valid_detect_cfg_default(&o->det);
    o->threads = 2;
}

void dt_box_input_to_source(const dt_augment *aug, int net_w, int net_h, int ow, int oh,
                            const float *box, double *out) {
    dt_geom g = {0, 0, (float)ow, (float)oh, 0, 0, aug ? aug->letterbox : 0};
    dt_tfm t;
    dt_tfm_geometry(&g, ow, oh, net_w, net_h, &t);
    // x' = m0 x + m1 y + m2, y' = m3 x + m4 y + m5: invert the 2x2 part
    // (a pure scale at augment=0; written in general so a rotation would do too)
    const double *m = t.m;
    double det = m[0] * m[4] - m[1] * m[3];
    double i0 = m[4] / det, i1 = -m[1] / det, i3 = -m[3] / det, i4 = m[0] / det;
    double xs[4] = {box[0] * net_w, box[2] * net_w, box[0] * net_w, box[2] * net_w};
    double ys[4] = {box[1] * net_h, box[1] * net_h, box[3] * net_h, box[3] * net_h};
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double dx = xs[k] - m[2], dy = ys[k] - m[5];
        double x = i0 * dx + i1 * dy, y = i3 * dx + i4 * dy;
        out[0] = fmin(out[0], x), out[2] = fmax(out[2], x);
        out[1] = fmin(out[1], y), out[3] = fmax(out[3], y);
    }
}

// --- detections -> mAP ---------------------------------------------------------

struct dt_map_scratch {
    dt_detection *dets; // (det.max_total)
    // sharded pass: each image's record is logged here (then gathered to
    // rank 0) instead of going into the accumulator
    int logging;
    unsigned char *log;
    size_t log_n, log_cap;
    double *gt, *det;   // (cap, 4) continuous source pixels
    double *scores;     // (cap)
    int *gt_cls, *det_cls, *diff; // (cap)
    int cap;
};

static void scratch_grow(dt_map_scratch *s, int n, int max_total) {
    if (!s->dets) s->dets = dt_calloc((size_t)max_total, sizeof(dt_detection));
    if (n <= s->cap) return;
    s->cap = 2 * n + 16;
    s->gt = dt_realloc(s->gt, (size_t)s->cap * 4 * sizeof(double));
    s->det = dt_realloc(s->det, (size_t)s->cap * 4 * sizeof(double));
    s->scores = dt_realloc(s->scores, (size_t)s->cap * sizeof(double));
    s->gt_cls = dt_realloc(s->gt_cls, (size_t)s->cap * sizeof(int));
    s->det_cls = dt_realloc(s->det_cls, (size_t)s->cap * sizeof(int));
    s->diff = dt_realloc(s->diff, (size_t)s->cap * sizeof(int));
}

void dt_valid_scratch_free(dt_map_scratch *s) {
    if (!s) return;
    free(s->dets);
    free(s->gt);
    free(s->det);
    free(s->scores);
    free(s->gt_cls);
    free(s->det_cls);
    free(s->diff);
    free(s->log);
    free(s);
}

// --- sharded passes: records of images, gathered -------------------------------------
// One image: int sample, ng, nd, path length; gt (ng x 4 doubles), gt_cls,
// diff (ng ints); det (nd x 4), det_cls (nd ints), scores (nd doubles); path.

static void log_put(dt_map_scratch *s, const void *p, size_t n) {
    if (s->log_n + n > s->log_cap) {
        s->log_cap = 2 * (s->log_n + n) + 4096;
        s->log = dt_realloc(s->log, s->log_cap);
    }
    if (n) memcpy(s->log + s->log_n, p, n);
    s->log_n += n;
}

static void log_image(dt_map_scratch *s, int sample, int ng, int nd, const char *path) {
    int h[4] = {sample, ng, nd, path ? (int)strlen(path) : -1};
    log_put(s, h, sizeof h);
    log_put(s, s->gt, sizeof(double) * 4 * ng);
    log_put(s, s->gt_cls, sizeof(int) * ng);
    log_put(s, s->diff, sizeof(int) * ng);
    log_put(s, s->det, sizeof(double) * 4 * nd);
    log_put(s, s->det_cls, sizeof(int) * nd);
    log_put(s, s->scores, sizeof(double) * nd);
    if (path) log_put(s, path, strlen(path));
}

typedef struct {
    int sample;
    size_t at;
} log_ref;

static int ref_cmp(const void *a, const void *b) {
    const log_ref *x = a, *y = b;
    return (x->sample > y->sample) - (x->sample < y->sample);
}

#define LOG_GET(p, n) (memcpy((p), buf + at, (n)), at += (n))

// Rank 0: every rank's records into acc, in the data set's order. 0 / -1.
static int replay(dt_map_acc *acc, const unsigned char *buf, size_t n) {
    size_t at = 0, nr = 0, cap = 0;
    log_ref *refs = NULL;
    while (at < n) { // index the records
        int h[4];
        LOG_GET(h, sizeof h);
        if (nr == cap) cap = 2 * cap + 64, refs = dt_realloc(refs, sizeof *refs * cap);
        refs[nr++] = (log_ref){h[0], at - sizeof h};
        at += (sizeof(double) * 4 + 2 * sizeof(int)) * (size_t)h[1] +
              (sizeof(double) * 5 + sizeof(int)) * (size_t)h[2] + (h[3] > 0 ? (size_t)h[3] : 0);
    }
    qsort(refs, nr, sizeof *refs, ref_cmp);
    int rc = 0;
    for (size_t k = 0; k < nr && rc == 0; k++) {
        at = refs[k].at;
        int h[4];
        LOG_GET(h, sizeof h);
        const int ng = h[1], nd = h[2];
        double *gt = dt_malloc(sizeof(double) * 4 * (ng + 1)), *det = dt_malloc(sizeof(double) * 4 * (nd + 1)),
               *sc = dt_malloc(sizeof(double) * (nd + 1));
        int *gc = dt_malloc(sizeof(int) * (ng + 1)), *df = dt_malloc(sizeof(int) * (ng + 1)),
            *dc = dt_malloc(sizeof(int) * (nd + 1));
        char *path = h[3] >= 0 ? dt_malloc((size_t)h[3] + 1) : NULL;
        LOG_GET(gt, sizeof(double) * 4 * ng);
        LOG_GET(gc, sizeof(int) * ng);
        LOG_GET(df, sizeof(int) * ng);
        LOG_GET(det, sizeof(double) * 4 * nd);
        LOG_GET(dc, sizeof(int) * nd);
        LOG_GET(sc, sizeof(double) * nd);
        if (path) LOG_GET(path, (size_t)h[3]), path[h[3]] = 0;
        rc = dt_map_acc_add_image(acc, gt, gc, df, ng, det, dc, sc, nd, path);
        free(gt), free(det), free(sc), free(gc), free(df), free(dc), free(path);
    }
    free(refs);
    return rc;
}

int dt_valid_sharded(const dt_network *net) {
    dt_layer *head = NULL;
    dt_head_of(net, &head);
    return dt_dist_active() && head && head->ops->detections;
}

int dt_valid_add_detections(dt_map_acc *a, dt_map_scratch **scratch, const dt_layer *head,
                            const dt_network *net, const dt_augment *aug, const dt_batch *b) {
    const int C = head->ops->classes ? head->ops->classes(head) : -1;
    if (!head->ops->detections || C != dt_map_acc_classes(a)) {
        dt_error("mAP: the [%s] layer has %d classes, the evaluation %d", head->ops->name, C,
                 dt_map_acc_classes(a));
        return -1;
    }
    const dt_detect_cfg *det = dt_map_acc_detect_cfg(a);
    if (!*scratch) *scratch = dt_calloc(1, sizeof **scratch);
    dt_map_scratch *s = *scratch;
    const int M = b->max_boxes;
    for (int i = 0; i < b->n; i++) {
        scratch_grow(s, 0, det->max_total);
        int nd = head->ops->detections(head, i, det, s->dets);
        if (nd < 0) return -1;
        const int ng = b->n_boxes[i], ow = b->orig_w[i], oh = b->orig_h[i];
        scratch_grow(s, ng > nd ? ng : nd, det->max_total);
        for (int j = 0; j < ng; j++) {
            dt_box_input_to_source(aug, net->w, net->h, ow, oh,
                                   b->boxes + ((size_t)i * M + j) * 4, s->gt + 4 * j);
            s->gt_cls[j] = b->classes[(size_t)i * M + j];
            s->diff[j] = b->difficult ? b->difficult[(size_t)i * M + j] : 0;
        }
        for (int j = 0; j < nd; j++) {
            // a prediction may reach past the image: clip it to the picture
            float c[4];
            for (int k = 0; k < 4; k++) c[k] = fminf(fmaxf(s->dets[j].box[k], 0.0f), 1.0f);
            dt_box_input_to_source(aug, net->w, net->h, ow, oh, c, s->det + 4 * j);
            s->det_cls[j] = s->dets[j].cls;
            s->scores[j] = s->dets[j].score;
        }
        if (s->logging) {
            log_image(s, b->sample ? b->sample[i] : 0, ng, nd, b->paths ? b->paths[i] : NULL);
            continue;
        }
        if (dt_map_acc_add_image(a, s->gt, s->gt_cls, s->diff, ng, s->det, s->det_cls,
                                 s->scores, nd, b->paths ? b->paths[i] : NULL) != 0)
            return -1;
    }
    return 0;
}

int dt_map_metrics(const dt_eval_result *r, dt_metric *out, int max) {
    const dt_metric m[3] = {{"mAP", r->map11, 1}, {"mAP_all", r->map_all, 1},
                            {"AP.5:.95", r->map_coco, 1}};
    int n = max < 3 ? max : 3;
    for (int i = 0; i < n; i++) out[i] = m[i];
    return n;
}

// --- heads and targets -----------------------------------------------------------

dt_head_kind dt_head_of(const dt_network *net, dt_layer **loss_layer) {
    dt_layer *l = NULL;
    for (int i = net->n_layers - 1; i >= 0 && !l; i--)
        if (net->layers[i].is_loss) l = &net->layers[i];
    if (loss_layer) *loss_layer = l;
    return l ? l->ops->head : DT_HEAD_OTHER;
}

int dt_valid_set_truth(dt_network *net, dt_layer *loss, const dt_batch *b) {
    if (!net->with_loss) {
        dt_error("%s: the network was built for predictions only (no targets, no loss); "
                 "build it with with_loss (valid: -loss) to give it targets",
                 net->cfg_path ? net->cfg_path : "cfg");
        return -1;
    }
    if (!loss->ops->set_truth) {
        dt_error("layer %d [%s] (%s:%d) is a loss layer without targets from data (no "
                 "set_truth): it cannot be validated",
                 loss->index, loss->ops->name, loss->sec->file, loss->sec->line);
        return -1;
    }
    return loss->ops->set_truth(loss, net, b);
}

int dt_valid_step(dt_network *net, const dt_batch *b, float *loss) {
    *loss = NAN;
    if (dt_net_feed(net, b, net->with_loss) != 0) return -1;
    const int was_train = net->train;
    dt_net_set_train(net, 0);
    dt_net_forward(net);
    dt_net_set_train(net, was_train);
    *loss = net->loss;
    for (int i = 0; i < net->n_layers; i++) {
        dt_layer *l = &net->layers[i];
        if (l->is_loss && l->ops->metrics_add) l->ops->metrics_add(l, net, b);
    }
    return 0;
}

// --- the pass -----------------------------------------------------------------------

// Checks before a pass; *head gets the loss layer.
static int pass_check(dt_network *net, dt_layer **head) {
    dt_head_of(net, head);
    dt_layer *loss = *head;
    if (!loss) {
        dt_error("%s: the network has no loss layer; validation needs one (ssd, softmax, "
                 "cost, single, multilabel)",
                 net->cfg_path ? net->cfg_path : "cfg");
        return -1;
    }
    if (net->c != 3) {
        dt_error("%s: the input has %d channels; images give 3", net->cfg_path, net->c);
        return -1;
    }
    // a detection head: detections against the batch's boxes, the loss only
    // when the network has targets; the other heads' metrics compare with targets
    if (!loss->ops->detections && !net->with_loss) {
        dt_error("%s: the network was built for predictions only; the metrics of its [%s] "
                 "head need targets (build it with with_loss)",
                 net->cfg_path ? net->cfg_path : "cfg", loss->ops->name);
        return -1;
    }
    if (net->with_loss && !loss->ops->set_truth) return dt_valid_set_truth(net, loss, NULL);
    return 0;
}

int dt_valid_metric_names(dt_network *net, dt_metric *out, int max) {
    dt_layer *head = NULL;
    dt_head_of(net, &head);
    if (!head) return 0;
    if (head->ops->detections) {
        dt_eval_result none = {0};
        int n = dt_map_metrics(&none, out, max);
        for (int i = 0; i < n; i++) out[i].value = NAN;
        return n;
    }
    if (!head->ops->metrics_reset || !head->ops->metrics_get) return 0;
    head->ops->metrics_reset(head, net);
    return head->ops->metrics_get(head, net, out, max);
}

// The head's metrics after a pass, into r.
static int pass_metrics(dt_network *net, dt_layer *head, dt_valid_result *r) {
    if (r->acc) {
        if (dt_map_acc_compute(r->acc, &r->ap) != 0) return -1;
        r->has_ap = 1;
        r->n_metrics = dt_map_metrics(&r->ap, r->metrics, DT_MAX_METRICS);
    } else if (head->ops->metrics_get) {
        r->n_metrics = head->ops->metrics_get(head, net, r->metrics, DT_MAX_METRICS);
    }
    return 0;
}

int dt_valid_pass(dt_network *net, dt_batch *(*next)(void *), void *ctx, int n_classes,
                  const dt_valid_opts *o, dt_valid_result *r) {
    memset(r, 0, sizeof *r);
    dt_layer *head = NULL;
    if (pass_check(net, &head) != 0) return -1;
    r->kind = head->ops->head;
    r->has_loss = net->with_loss;
    r->batch = net->batch;
    r->loss_sums_rows = head->ops->loss_sums_rows;
    if (head->ops->detections) {
        const int C = head->ops->classes ? head->ops->classes(head) : -1;
        if (n_classes >= 0 && C != n_classes) {
            dt_error("%s: the [%s] layer has classes=%d, the data set %d classes",
                     net->cfg_path, head->ops->name, C, n_classes);
            return -1;
        }
        r->acc = dt_map_acc_create(C, o->iou_mode, &o->det);
        if (!r->acc) return -1;
    }
    if (head->ops->metrics_reset) head->ops->metrics_reset(head, net);
    dt_map_scratch *scratch = NULL;
    const int shard = o->shard && dt_dist_active();
    if (shard) {
        if (!r->acc || o->max_images > 0) {
            dt_error("a sharded validation pass needs a detection head and the whole split");
            dt_valid_result_free(r);
            return -1;
        }
        scratch = dt_calloc(1, sizeof *scratch);
        scratch->logging = 1;
    }
    double loss_sum = 0, t0 = dt_now();
    int rc = 0;
    dt_batch *b;
    while ((b = next(ctx)) != NULL) {
        int n = b->n;
        if (o->max_images > 0 && r->n_images + n > o->max_images) n = o->max_images - r->n_images;
        if (n <= 0) {
            if (b->n <= 0) continue; // an empty batch
            break;
        }
        b->n = n; // the loader's buffer: fewer images only shortens what we read
        float loss;
        if (dt_valid_step(net, b, &loss) != 0 ||
            (r->acc && dt_valid_add_detections(r->acc, &scratch, head, net, o->aug, b) != 0)) {
            rc = -1;
            break;
        }
        // the loss of the n real rows, summed (docs/SEMANTICS.md: one unit, per image)
        if (r->has_loss) loss_sum += head->ops->loss_sums_rows ? (double)loss : (double)loss * n;
        r->n_images += n;
        if (o->max_images > 0 && r->n_images >= o->max_images) break;
    }
    if (shard) { // every rank's: counts and loss summed, the records to rank 0
        double sums[3] = {loss_sum, r->n_images, rc != 0};
        dt_dist_allreduce_d(sums, 3);
        if (sums[2] > 0 && rc == 0) {
            dt_error("validation failed on another rank (its error is printed there)");
            rc = -1;
        }
        if (rc == 0) {
            loss_sum = sums[0], r->n_images = (int)sums[1];
            void *all = NULL;
            size_t n_all = 0;
            dt_dist_gather_bytes(scratch->log, scratch->log_n, &all, &n_all, NULL);
            if (dt_dist_rank() == 0) rc = replay(r->acc, all, n_all);
            free(all);
        }
    }
    dt_valid_scratch_free(scratch);
    r->seconds = dt_now() - t0;
    if (rc == 0) {
        r->loss = r->has_loss && r->n_images ? loss_sum / r->n_images : NAN;
        if (!shard || dt_dist_rank() == 0) rc = pass_metrics(net, head, r);
    }
    if (rc != 0) dt_valid_result_free(r);
    return rc;
}

typedef struct {
    dt_loader *L;
} loader_ctx;

static dt_batch *loader_next(void *ctx) { return dt_loader_next(((loader_ctx *)ctx)->L); }

// Result files of a pass into o->out_dir. 0 / -1.
static int write_results(const dt_valid_result *r, const dt_dataset *val, const dt_valid_opts *o) {
    if (dt_mkdirs(o->out_dir) != 0) return -1;
    if (r->acc && dt_map_acc_write(r->acc, o->out_dir, "coco_results.json",
                                   (const char *const *)val->names) != 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.txt", o->out_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        dt_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    dt_valid_print(r, val, f);
    fclose(f);
    return 0;
}

int dt_valid_run(dt_network *net, const dt_dataset *val, const dt_valid_opts *o,
                 dt_valid_result *r) {
    memset(r, 0, sizeof *r);
    dt_layer *head = NULL;
    if (pass_check(net, &head) != 0) return -1;
    dt_loader_opts lo;
    dt_loader_opts_net(&lo, net->batch, net->w, net->h, o->aug, 1);
    lo.threads = o->threads > 0 ? o->threads : 2;
    lo.pin = dt_net_pin_ops(net);
    dt_valid_opts oo = *o;
    if (o->shard && dt_dist_active()) {
        if (dt_valid_sharded(net) && o->max_images == 0) { // this rank's shard
            lo.rank = dt_dist_rank(), lo.world = dt_dist_size(), lo.shard_pad = 0;
        } else { // rank 0 alone
            oo.shard = 0;
            if (dt_dist_rank() != 0) return 0;
        }
    }
    o = &oo;
    dt_loader *L = dt_loader_new(val, &lo, NULL);
    if (!L) return -1;
    loader_ctx c = {L};
    int rc = dt_valid_pass(net, loader_next, &c, val->n_classes, o, r);
    const int unreadable = dt_loader_skipped(L);
    dt_loader_free(L);
    if (unreadable)
        dt_warn("valid: %d of %d images could not be read (each named above) and are left "
                "out of the scores\n", unreadable, val->n);
    if (rc != 0) return -1;
    if (o->shard && dt_dist_rank() != 0) return 0; // rank 0 has the result
    if (r->n_images == 0) {
        dt_error("the validation split gave no image that could be loaded");
        dt_valid_result_free(r);
        return -1;
    }
    if (!r->n_metrics && head->ops->loss_metric && r->has_loss) {
        // a head whose loss is its metric ([cost]: the mean L1 in input pixels)
        dt_metric m = {"", r->loss, 0};
        snprintf(m.name, sizeof m.name, "%s", head->ops->loss_metric);
        r->metrics[0] = m;
        r->n_metrics = 1;
    }
    if ((o->out_dir && write_results(r, val, o) != 0)) {
        dt_valid_result_free(r);
        return -1;
    }
    if (o->table) dt_valid_print(r, val, o->table);
    return 0;
}

void dt_valid_result_free(dt_valid_result *r) {
    if (r->has_ap) dt_eval_result_free(&r->ap);
    r->has_ap = 0;
    dt_map_acc_free(r->acc);
    r->acc = NULL;
}

static void print_ap(double v, FILE *f) {
    if (isnan(v)) fprintf(f, "  %9s", "-");
    else fprintf(f, "  %9.4f", v);
}

int dt_valid_load_split(dt_network *net, const char *weights, const char **data,
                        dt_datacfg *dc, dt_dataset *d) {
    if (dt_net_load_weights(net, weights) != 0) return -1;
    if (!*data) {
        dt_error("%s names no data set: add data=FILE to [net] or pass -data FILE",
                 net->cfg_path);
        return -1;
    }
    if (dt_datacfg_load(*data, dc) != 0) return -1;
    if (dt_dataset_load(dc, "valid", NULL, d) != 0) {
        dt_datacfg_free(dc);
        return -1;
    }
    // the data's class numbers follow the model's order (weights that record
    // their classes; an older file cannot be checked: its load says so)
    char model[4200], split[4200];
    snprintf(model, sizeof model, "the weights %s", weights);
    snprintf(split, sizeof split, "%s (valid split)", *data);
    if (net->n_class_names &&
        dt_dataset_use_classes(d, net->class_names, net->n_class_names, model, split) != 0) {
        dt_dataset_free(d);
        dt_datacfg_free(dc);
        return -1;
    }
    return 0;
}

void dt_valid_print(const dt_valid_result *r, const dt_dataset *val, FILE *f) {
    fprintf(f, "validation: %d images in %.1f s\n", r->n_images, r->seconds);
    if (!r->has_loss) // predictions only (valid without -loss)
        ;
    else if (r->loss_sums_rows) // train's val_loss: the lesson's ssd_loss of one batch
        fprintf(f, "loss %.4f per image (%.4f per batch of %d, train's val_loss)\n", r->loss,
                r->loss * r->batch, r->batch);
    else
        fprintf(f, "loss %.4f per image\n", r->loss);
    if (r->has_ap) {
        const dt_eval_result *a = &r->ap;
        fprintf(f, "%-16s %7s  %9s  %9s  %9s  %9s\n", "class", "objects", "AP@.5 11pt",
                "AP@.5 all", "AP.5:.95", "AP@.5coco");
        for (int c = 0; c < a->n_classes; c++) {
            fprintf(f, "%-16.16s %7d", c < val->n_classes ? val->names[c] : "?", a->n_pos[c]);
            print_ap(a->ap11[c], f);
            print_ap(a->ap_all[c], f);
            print_ap(a->ap_coco[c], f);
            print_ap(a->ap_coco50[c], f);
            fputc('\n', f);
        }
        char mean[32];
        snprintf(mean, sizeof mean, "mean (%d classes)", a->n_classes_with_gt);
        fprintf(f, "%-24s", mean);
        print_ap(a->map11, f);
        print_ap(a->map_all, f);
        print_ap(a->map_coco, f);
        print_ap(a->map_coco50, f);
        fputc('\n', f);
        fprintf(f, "AP@.5 (VOC: 11-point = VOC2007, all = VOC2010+): IoU %s; AP.5:.95 and "
                   "AP@.5coco: COCO (pycocotools), continuous IoU\n",
                a->iou_mode == DT_IOU_VOC_PIXEL ? "in VOC devkit pixels (x2 - x1 + 1)"
                                                : "continuous (x2 - x1)");
        fprintf(f, "mAP@.5 11-point %.4f  all-point %.4f  (IoU %s)   COCO AP@[.5:.95] %.4f\n",
                a->map11, a->map_all, a->iou_mode == DT_IOU_VOC_PIXEL ? "voc" : "continuous",
                a->map_coco);
    } else {
        for (int i = 0; i < r->n_metrics; i++)
            fprintf(f, "%-14s %.4f\n", r->metrics[i].name, r->metrics[i].value);
    }
}

