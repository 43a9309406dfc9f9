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
#include "data/transform.h"
#include "layers/ssd.h"

void dt_valid_detect_cfg_default(dt_detect_cfg *cfg) {
    cfg->score_thresh = 0.05f;
    cfg->nms_iou = 0.45f;
    cfg->max_per_class = 100;
    cfg->max_total = 100;
}

void dt_valid_opts_default(dt_valid_opts *o) {
    memset(o, 0, sizeof *o);
    o->iou_mode = DT_IOU_VOC_PIXEL;
    dt_valid_detect_cfg_default(&o->det);
    o->threads = 2;
}

int dt_valid_make_dirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        dt_error("folder name too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            dt_error("cannot create folder %s: %s", buf, strerror(errno));
            return -1;
        }
        if (!c) break;
        *p = c;
    }
    return 0;
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

// --- mAP accumulator ----------------------------------------------------------

struct dt_map_acc {
    int n_classes;
    dt_iou_mode mode;
    dt_detect_cfg det;
    dt_eval *e;
    char **ids; // (e->n_images) VOC image ids
    int cap_ids;
    dt_detection *dets; // (det.max_total)
    double *boxes;      // (cap, 4) scratch for one image
    double *scores;     // (cap)
    int *cls, *diff;    // (cap)
    int cap;
};

dt_map_acc *dt_map_acc_create(int n_classes, dt_iou_mode mode, const dt_detect_cfg *det) {
    dt_map_acc *a = dt_calloc(1, sizeof *a);
    a->n_classes = n_classes;
    a->mode = mode;
    if (det)
        a->det = *det;
    else
        dt_valid_detect_cfg_default(&a->det);
    a->e = dt_eval_create(n_classes, mode);
    if (!a->e) {
        free(a);
        return NULL;
    }
    a->dets = dt_calloc((size_t)a->det.max_total, sizeof(dt_detection));
    return a;
}

static void free_ids(dt_map_acc *a) {
    for (int i = 0; a->ids && i < a->e->n_images; i++) free(a->ids[i]);
}

void dt_map_acc_free(dt_map_acc *a) {
    if (!a) return;
    free_ids(a);
    free(a->ids);
    dt_eval_free(a->e);
    free(a->dets);
    free(a->boxes);
    free(a->scores);
    free(a->cls);
    free(a->diff);
    free(a);
}

void dt_map_acc_reset(dt_map_acc *a) {
    free_ids(a);
    dt_eval_free(a->e);
    a->e = dt_eval_create(a->n_classes, a->mode); // cannot fail: checked at create
}

int dt_map_acc_images(const dt_map_acc *a) { return a->e->n_images; }

static void grow(dt_map_acc *a, int n) {
    if (n <= a->cap) return;
    a->cap = 2 * n + 16;
    a->boxes = dt_realloc(a->boxes, (size_t)a->cap * 4 * sizeof(double));
    a->scores = dt_realloc(a->scores, (size_t)a->cap * sizeof(double));
    a->cls = dt_realloc(a->cls, (size_t)a->cap * sizeof(int));
    a->diff = dt_realloc(a->diff, (size_t)a->cap * sizeof(int));
}

// Continuous source pixels -> the evaluator's units.
static void to_eval_units(dt_iou_mode mode, const double *px, double *out) {
    double one = mode == DT_IOU_VOC_PIXEL ? 1.0 : 0.0; // pixel i covers [i-1, i]
    out[0] = px[0] + one;
    out[1] = px[1] + one;
    out[2] = px[2];
    out[3] = px[3];
}

// "dir/2007_000027.jpg" -> "2007_000027" (malloc'ed).
static char *image_id(const char *path) {
    const char *s = strrchr(path ? path : "", '/');
    s = s ? s + 1 : (path ? path : "");
    char *id = dt_strdup(s);
    char *dot = strrchr(id, '.');
    if (dot && dot != id) *dot = 0;
    return id;
}

int dt_map_acc_add(dt_map_acc *a, const dt_layer *ssd, const dt_network *net,
                   const dt_batch *b) {
    if (dt_ssd_layer_classes(ssd) != a->n_classes) {
        dt_error("mAP: the [ssd] layer has %d classes, the evaluation %d",
                 dt_ssd_layer_classes(ssd), a->n_classes);
        return -1;
    }
    const int M = b->max_boxes;
    for (int i = 0; i < b->n; i++) {
        int nd = dt_ssd_layer_detect(ssd, i, &a->det, a->dets);
        if (nd < 0) return -1;
        const int ng = b->n_boxes[i], ow = b->orig_w[i], oh = b->orig_h[i];
        grow(a, ng + nd);
        double px[4];
        for (int j = 0; j < ng; j++) {
            dt_box_input_to_source(&net->aug, net->w, net->h, ow, oh, b->boxes + ((size_t)i * M + j) * 4,
                                   px);
            to_eval_units(a->mode, px, a->boxes + 4 * j);
            a->cls[j] = b->classes[(size_t)i * M + j];
            a->diff[j] = b->difficult ? b->difficult[(size_t)i * M + j] : 0;
        }
        double *db = a->boxes + 4 * (size_t)ng;
        for (int j = 0; j < nd; j++) {
            // a prediction may reach past the image: clip it to the picture
            float c[4];
            for (int k = 0; k < 4; k++) c[k] = fminf(fmaxf(a->dets[j].box[k], 0.0f), 1.0f);
            dt_box_input_to_source(&net->aug, net->w, net->h, ow, oh, c, px);
            to_eval_units(a->mode, px, db + 4 * j);
            a->cls[ng + j] = a->dets[j].cls;
            a->scores[j] = a->dets[j].score;
        }
        int img = dt_eval_add_image(a->e, a->boxes, a->cls, a->diff, ng, db, a->cls + ng,
                                    a->scores, nd);
        if (img < 0) return -1;
        if (img >= a->cap_ids) {
            a->cap_ids = 2 * img + 64;
            a->ids = dt_realloc(a->ids, (size_t)a->cap_ids * sizeof(char *));
        }
        a->ids[img] = image_id(b->paths ? b->paths[i] : NULL);
    }
    return 0;
}

int dt_map_acc_compute(const dt_map_acc *a, dt_eval_result *r) {
    return dt_eval_compute(a->e, r);
}

int dt_map_acc_write(const dt_map_acc *a, const char *dir, const char *coco_name,
                     const char *const *names) {
    if (dt_valid_make_dirs(dir) != 0) return -1;
    if (dt_eval_write_voc(a->e, dir, names, (const char *const *)a->ids) != 0) return -1;
    int n = a->e->n_images, C = a->n_classes;
    int *img_ids = dt_malloc((size_t)(n + 1) * sizeof(int));
    int *cat_ids = dt_malloc((size_t)C * sizeof(int));
    for (int i = 0; i < n; i++) img_ids[i] = i;
    for (int c = 0; c < C; c++) cat_ids[c] = c + 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, coco_name);
    int rc = dt_eval_write_coco(a->e, path, cat_ids, img_ids);
    free(img_ids);
    free(cat_ids);
    return rc;
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
    if (!l) return DT_HEAD_OTHER;
    const char *n = l->ops->name;
    if (strcmp(n, "ssd") == 0) return DT_HEAD_SSD;
    if (strcmp(n, "softmax") == 0) return DT_HEAD_CLASS;
    if (strcmp(n, "cost") == 0) return DT_HEAD_BOX;
    if (strcmp(n, "single") == 0) return DT_HEAD_SINGLE;
    if (strcmp(n, "multilabel") == 0) return DT_HEAD_MULTILABEL;
    return DT_HEAD_OTHER;
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

// --- the pass -----------------------------------------------------------------------

int dt_valid_run(dt_network *net, const dt_dataset *val, const dt_valid_opts *o,
                 dt_valid_result *r) {
    memset(r, 0, sizeof *r);
    dt_layer *loss = NULL;
    r->kind = dt_head_of(net, &loss);
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
    // [ssd]: detections against the batch's boxes, the loss only when the
    // network has targets; the other heads' metrics compare with targets
    if (r->kind != DT_HEAD_SSD && !net->with_loss) {
        dt_error("%s: the network was built for predictions only; the metrics of its [%s] "
                 "head need targets (build it with with_loss)",
                 net->cfg_path ? net->cfg_path : "cfg", loss->ops->name);
        return -1;
    }
    r->has_loss = net->with_loss;
    if (r->kind == DT_HEAD_SSD && dt_ssd_layer_classes(loss) != val->n_classes) {
        dt_error("%s: the [ssd] layer has classes=%d, the data set %d classes",
                 net->cfg_path, dt_ssd_layer_classes(loss), val->n_classes);
        return -1;
    }
    dt_loader_opts lo;
    dt_loader_opts_defaults(&lo);
    lo.batch = net->batch;
    lo.width = net->w;
    lo.height = net->h;
    lo.threads = o->threads > 0 ? o->threads : 2;
    lo.shuffle = 0;
    lo.augment = 0;
    lo.epochs = 1;
    lo.aug = net->aug;
    lo.pin = net->gpu && !net->gpu_opts.no_pin;
    dt_loader *L = dt_loader_new(val, &lo, NULL);
    if (!L) return -1;
    dt_map_acc *acc = NULL;
    if (r->kind == DT_HEAD_SSD) acc = dt_map_acc_create(val->n_classes, o->iou_mode, &o->det);
    const int hooks = r->kind != DT_HEAD_SSD && loss->ops->metrics_reset &&
                      loss->ops->metrics_add && loss->ops->metrics_get;
    if (hooks) loss->ops->metrics_reset(loss, net);
    const int was_train = net->train;
    const size_t in = (size_t)net->h * net->w * net->c;
    double loss_sum = 0, t0 = dt_now();
    int rc = 0;
    dt_net_set_train(net, 0);
    dt_batch *b;
    while ((b = dt_loader_next(L)) != NULL) {
        int n = b->n;
        if (o->max_images > 0 && r->n_images + n > o->max_images) n = o->max_images - r->n_images;
        if (n <= 0) break;
        b->n = n; // the loader's buffer: fewer images only shortens what we read
        memcpy(net->input, b->images, (size_t)n * in * sizeof(float));
        // padding rows: zeros (the loss layers ignore them after set_truth)
        memset(net->input + (size_t)n * in, 0, (size_t)(net->batch - n) * in * sizeof(float));
        if (net->with_loss && dt_valid_set_truth(net, loss, b) != 0) {
            rc = -1;
            break;
        }
        dt_net_forward(net);
        if (acc && dt_map_acc_add(acc, loss, net, b) != 0) {
            rc = -1;
            break;
        }
        if (hooks) loss->ops->metrics_add(loss, net, b);
        if (r->has_loss) loss_sum += dt_loss_rows_total(r->kind, net->loss, n); // n rows
        r->n_images += n;
        if (o->max_images > 0 && r->n_images >= o->max_images) break;
    }
    const int unreadable = dt_loader_skipped(L);
    dt_loader_free(L);
    if (unreadable)
        dt_warn("valid: %d of %d images could not be read (each named above) and are left "
                "out of the scores\n", unreadable, val->n);
    dt_net_set_train(net, was_train);
    r->seconds = dt_now() - t0;
    if (rc == 0 && r->n_images == 0) {
        dt_error("the validation split gave no image that could be loaded");
        rc = -1;
    }
    if (rc == 0) {
        r->loss = r->has_loss ? loss_sum / r->n_images : NAN;
        r->batch = net->batch;
        if (acc) {
            if (dt_map_acc_compute(acc, &r->ap) != 0) rc = -1;
            else {
                r->has_ap = 1;
                r->n_metrics = dt_map_metrics(&r->ap, r->metrics, DT_MAX_METRICS);
            }
        } else if (hooks) {
            r->n_metrics = loss->ops->metrics_get(loss, net, r->metrics, DT_MAX_METRICS);
        } else if (r->kind == DT_HEAD_BOX) {
            // [cost] l1 on the box in input pixels: its loss is the mean L1
            r->metrics[0] = (dt_metric){"L1_px", r->loss, 0};
            r->n_metrics = 1;
        }
    }
    if (rc == 0 && o->out_dir) {
        if (dt_valid_make_dirs(o->out_dir) != 0) rc = -1;
        else if (acc && dt_map_acc_write(acc, o->out_dir, "coco_results.json",
                                         (const char *const *)val->names) != 0)
            rc = -1;
        if (rc == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/metrics.txt", o->out_dir);
            FILE *f = fopen(path, "w");
            if (!f) {
                dt_error("cannot write %s: %s", path, strerror(errno));
                rc = -1;
            } else {
                dt_valid_print(r, val, f);
                fclose(f);
            }
        }
    }
    if (rc == 0 && o->table) dt_valid_print(r, val, o->table);
    dt_map_acc_free(acc);
    if (rc != 0) dt_valid_result_free(r);
    return rc;
}

void dt_valid_result_free(dt_valid_result *r) {
    if (r->has_ap) dt_eval_result_free(&r->ap);
    r->has_ap = 0;
}

static void print_ap(double v, FILE *f) {
    if (isnan(v)) fprintf(f, "  %9s", "-");
    else fprintf(f, "  %9.4f", v);
}

int dt_valid_load_split(dt_network *net, const char *weights, const char **data,
                        dt_datacfg *dc, dt_dataset *d) {
    if (dt_net_load_weights(net, weights) != 0) return -1;
    if (!*data) *data = net->aug.data[0] ? net->aug.data : NULL;
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
    else if (r->kind == DT_HEAD_SSD) // train's val_loss: the lesson's ssd_loss of one batch
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

// --- detector valid ------------------------------------------------------------------

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

// "cfg/ssd.cfg" -> "ssd"
static void cfg_stem(const char *path, char *out, size_t n) {
    const char *s = strrchr(path, '/');
    snprintf(out, n, "%s", s ? s + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

// 1 when the cfg (its includes too) has an [ssd] section; 0 also when it
// cannot be read (dt_net_load then reports why).
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
    dt_network *net = dt_net_load(cfg, &no);
    if (!net) {
        fprintf(stderr, "valid: %s\n", dt_last_error());
        return 1;
    }
    int rc = 1;
    dt_datacfg dc;
    dt_dataset d;
    int have_split = 0;
    char dir[4096];
    if (dt_valid_load_split(net, weights, &data, &dc, &d) != 0) goto done;
    have_split = 1;
    if (!out) {
        char stem[256];
        cfg_stem(cfg, stem, sizeof stem);
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
    dt_net_free(net);
    return rc;
}
