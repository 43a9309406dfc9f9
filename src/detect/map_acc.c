// mAP accumulator (map_acc.h).
#include "detect/map_acc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/fs.h"

void dt_valid_detect_cfg_default(dt_detect_cfg *cfg) {
    cfg->score_thresh = 0.05f;
    cfg->nms_iou = 0.45f;
    cfg->max_per_class = 100;
    cfg->max_total = 100;
}

struct dt_map_acc {
    int n_classes;
    dt_iou_mode mode;
    dt_detect_cfg det;
    dt_eval *e;
    char **ids; // (e->n_images) VOC image ids
    int cap_ids;
    double *gt, *dets; // (cap, 4) scratch for one image, in the evaluator's units
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
    free(a->gt);
    free(a->dets);
    free(a);
}

void dt_map_acc_reset(dt_map_acc *a) {
    free_ids(a);
    dt_eval_free(a->e);
    a->e = dt_eval_create(a->n_classes, a->mode); // cannot fail: checked at create
}

int dt_map_acc_images(const dt_map_acc *a) { return a->e->n_images; }
int dt_map_acc_classes(const dt_map_acc *a) { return a->n_classes; }
const dt_detect_cfg *dt_map_acc_detect_cfg(const dt_map_acc *a) { return &a->det; }

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
    char id[4096];
    dt_path_stem(path ? path : "", id, sizeof id);
    return dt_strdup(id);
}

int dt_map_acc_add_image(dt_map_acc *a, const double *gt, const int *gt_cls,
                         const int *gt_difficult, int ng, const double *det,
                         const int *det_cls, const double *det_scores, int nd,
                         const char *path) {
    const int need = ng > nd ? ng : nd;
    if (need > a->cap) {
        a->cap = 2 * need + 16;
        a->gt = dt_realloc(a->gt, (size_t)a->cap * 4 * sizeof(double));
        a->dets = dt_realloc(a->dets, (size_t)a->cap * 4 * sizeof(double));
    }
    for (int j = 0; j < ng; j++) to_eval_units(a->mode, gt + 4 * j, a->gt + 4 * j);
    for (int j = 0; j < nd; j++) to_eval_units(a->mode, det + 4 * j, a->dets + 4 * j);
    int img = dt_eval_add_image(a->e, a->gt, gt_cls, gt_difficult, ng, a->dets, det_cls,
                                det_scores, nd);
    if (img < 0) return -1;
    if (img >= a->cap_ids) {
        a->cap_ids = 2 * img + 64;
        a->ids = dt_realloc(a->ids, (size_t)a->cap_ids * sizeof(char *));
    }
    a->ids[img] = image_id(path);
    return 0;
}

int dt_map_acc_compute(const dt_map_acc *a, dt_eval_result *r) {
    return dt_eval_compute(a->e, r);
}

int dt_map_acc_write(const dt_map_acc *a, const char *dir, const char *coco_name,
                     const char *const *names) {
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
