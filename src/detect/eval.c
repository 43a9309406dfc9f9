#include "detect/eval.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/sort.h"
#include "detect/box.h"

#define COCO_T 10  // IoU thresholds .50:.05:.95
#define COCO_R 101 // recall thresholds 0:.01:1
#define COCO_MAXDET 100

dt_eval *dt_eval_create(int n_classes, dt_iou_mode mode) {
    if (n_classes < 1) {
        dt_error("eval: need at least one class (got %d)", n_classes);
        return NULL;
    }
    dt_eval *e = dt_calloc(1, sizeof(*e));
    e->n_classes = n_classes;
    e->iou_mode = mode;
    e->iou_thresh = 0.5;
    return e;
}

void dt_eval_free(dt_eval *e) {
    if (!e) return;
    free(e->gt);
    free(e->det);
    free(e);
}

int dt_eval_add_image(dt_eval *e, const double *gt_boxes, const int *gt_cls,
                      const int *gt_difficult, int n_gt, const double *det_boxes,
                      const int *det_cls, const double *det_scores, int n_det) {
    for (int i = 0; i < n_gt; i++)
        if (gt_cls[i] < 0 || gt_cls[i] >= e->n_classes) {
            dt_error("eval: image %d object %d has class %d, outside [0, %d)", e->n_images, i,
                     gt_cls[i], e->n_classes);
            return -1;
        }
    for (int i = 0; i < n_det; i++)
        if (det_cls[i] < 0 || det_cls[i] >= e->n_classes || !isfinite(det_scores[i])) {
            dt_error("eval: image %d detection %d has class %d (C = %d), score %g", e->n_images,
                     i, det_cls[i], e->n_classes, det_scores[i]);
            return -1;
        }
    if (e->n_gt + n_gt > e->cap_gt) {
        e->cap_gt = 2 * (e->n_gt + n_gt) + 64;
        e->gt = dt_realloc(e->gt, (size_t)e->cap_gt * sizeof(dt_eval_gt));
    }
    if (e->n_det + n_det > e->cap_det) {
        e->cap_det = 2 * (e->n_det + n_det) + 64;
        e->det = dt_realloc(e->det, (size_t)e->cap_det * sizeof(dt_eval_det));
    }
    int img = e->n_images++;
    for (int i = 0; i < n_gt; i++) {
        dt_eval_gt *g = &e->gt[e->n_gt++];
        g->image = img;
        g->cls = gt_cls[i];
        g->difficult = gt_difficult ? gt_difficult[i] != 0 : 0;
        memcpy(g->box, gt_boxes + (size_t)i * 4, sizeof(g->box));
    }
    for (int i = 0; i < n_det; i++) {
        dt_eval_det *d = &e->det[e->n_det++];
        d->image = img;
        d->cls = det_cls[i];
        d->score = det_scores[i];
        memcpy(d->box, det_boxes + (size_t)i * 4, sizeof(d->box));
    }
    return img;
}

// Stable counting sort of n records by class; start (C + 1) offsets.
static void group_by_class(const int *cls, int n, int C, int *order, int *start) {
    memset(start, 0, (size_t)(C + 1) * sizeof(int));
    for (int i = 0; i < n; i++) start[cls[i] + 1]++;
    for (int c = 0; c < C; c++) start[c + 1] += start[c];
    int *fill = dt_malloc((size_t)(C + 1) * sizeof(int));
    memcpy(fill, start, (size_t)(C + 1) * sizeof(int));
    for (int i = 0; i < n; i++) order[fill[cls[i]]++] = i;
    free(fill);
}

// The COCO evaluation works in continuous units.
static void coco_box(const dt_eval *e, const double *b, double *out) {
    double one = e->iou_mode == DT_IOU_VOC_PIXEL ? 1.0 : 0.0;
    out[0] = b[0] - one;
    out[1] = b[1] - one;
    out[2] = b[2];
    out[3] = b[3];
}

// pycocotools' bbIou on [x, y, w, h]: crowd regions divide by the detection's
// area only.
static double coco_iou(const double *d, const double *g, int crowd) {
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0) return 0.0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0) return 0.0;
    double i = w * h, da = d[2] * d[3], ga = g[2] * g[3];
    return i / (crowd ? da : da + ga - i);
}

static void to_xywh(const double *b, double *o) {
    o[0] = b[0];
    o[1] = b[1];
    o[2] = b[2] - b[0];
    o[3] = b[3] - b[1];
}

// VOC AP of one class from the sorted TP/FP flags (nd).
static void voc_ap(const char *tp, const char *fp, int nd, int npos, double *ap11,
                   double *ap_all, double *rec, double *prec) {
    double ctp = 0, cfp = 0;
    for (int d = 0; d < nd; d++) {
        ctp += tp[d];
        cfp += fp[d];
        rec[d] = ctp / (double)npos;
        double den = ctp + cfp;
        prec[d] = ctp / (den > 2.220446049250313e-16 ? den : 2.220446049250313e-16);
    }
    double a = 0.0;
    for (int t = 0; t <= 10; t++) {
        double thr = t * 0.1, p = 0.0;
        for (int d = 0; d < nd; d++)
            if (rec[d] >= thr && prec[d] > p) p = prec[d];
        a += p / 11.0;
    }
    *ap11 = a;
    // envelope, then the area where recall changes: mrec = [0, rec, 1],
    // mpre = [0, prec, 0]
    double *mpre = prec; // reused in place: mpre[d + 1] = prec[d]
    double next = 0.0;   // mpre[nd + 1]
    for (int d = nd - 1; d >= 0; d--) {
        if (next > mpre[d]) mpre[d] = next;
        next = mpre[d];
    }
    double area = 0.0, prev_rec = 0.0;
    for (int d = 0; d <= nd; d++) {
        double r = d < nd ? rec[d] : 1.0, p = d < nd ? mpre[d] : 0.0;
        if (r != prev_rec) area += (r - prev_rec) * p;
        prev_rec = r;
    }
    *ap_all = area;
}

// The scratch of one dt_eval_compute: records grouped by class, and per
// class the images' first record and count (reset after each class).
typedef struct {
    int *gorder, *dorder; // (NG), (ND) record indices grouped by class, image order within
    int *gstart, *dstart; // (C + 1) each class's range in them
    double *score;        // (ND) the detections' scores, the sort key
    int *img_g0, *img_gn; // (NI) first object of the image in the class's range, count
    int *img_d0, *img_dn; // (NI) likewise for detections
    char *taken;          // (NG) object already matched
    int *sorted, *ws;     // (ND), (ND + NG) sort and list scratch
    char *tp, *fp;        // (ND) VOC flags in score order
    double *rec, *prec;   // (ND) curves
    // COCO, per detection kept (at most 100 an image) and IoU threshold:
    double *cscore;       // (ND) its score
    char *cm, *cig;       // (ND, COCO_T) matched / matched an ignored object
    int *cidx;            // (ND)
    double iou_t[COCO_T], rec_t[COCO_R];
} eval_ws;

static void eval_ws_init(eval_ws *w, const dt_eval *e) {
    int C = e->n_classes, NG = e->n_gt, ND = e->n_det;
    size_t ng = (size_t)NG + 1, nd = (size_t)ND + 1, ni = (size_t)(e->n_images > 0 ? e->n_images : 1);
    int *gcls = dt_malloc(ng * sizeof(int)), *dcls = dt_malloc(nd * sizeof(int));
    w->score = dt_malloc(nd * sizeof(double));
    for (int i = 0; i < NG; i++) gcls[i] = e->gt[i].cls;
    for (int i = 0; i < ND; i++) {
        dcls[i] = e->det[i].cls;
        w->score[i] = e->det[i].score;
    }
    w->gorder = dt_malloc(ng * sizeof(int));
    w->dorder = dt_malloc(nd * sizeof(int));
    w->gstart = dt_malloc((size_t)(C + 1) * sizeof(int));
    w->dstart = dt_malloc((size_t)(C + 1) * sizeof(int));
    group_by_class(gcls, NG, C, w->gorder, w->gstart);
    group_by_class(dcls, ND, C, w->dorder, w->dstart);
    free(gcls);
    free(dcls);
    w->img_g0 = dt_malloc(ni * sizeof(int));
    w->img_gn = dt_calloc(ni, sizeof(int));
    w->img_d0 = dt_malloc(ni * sizeof(int));
    w->img_dn = dt_calloc(ni, sizeof(int));
    w->taken = dt_calloc(ng, 1);
    w->sorted = dt_malloc(nd * sizeof(int));
    w->ws = dt_malloc((nd + ng) * sizeof(int));
    w->tp = dt_malloc(nd);
    w->fp = dt_malloc(nd);
    w->rec = dt_malloc(nd * sizeof(double));
    w->prec = dt_malloc(nd * sizeof(double));
    w->cscore = dt_malloc(nd * sizeof(double));
    w->cm = dt_malloc(nd * COCO_T);
    w->cig = dt_malloc(nd * COCO_T);
    w->cidx = dt_malloc(nd * sizeof(int));
    double step = (0.95 - 0.5) / (COCO_T - 1); // as np.linspace(.5, .95, 10)
    for (int t = 0; t < COCO_T; t++) w->iou_t[t] = t == COCO_T - 1 ? 0.95 : t * step + 0.5;
    for (int q = 0; q < COCO_R; q++) w->rec_t[q] = q * 0.01; // np.linspace(0, 1, 101)
}

static void eval_ws_free(eval_ws *w) {
    void *p[] = {w->gorder, w->dorder, w->gstart, w->dstart, w->score, w->img_g0,
                 w->img_gn, w->img_d0, w->img_dn, w->taken, w->sorted, w->ws,
                 w->tp, w->fp, w->rec, w->prec, w->cscore, w->cm, w->cig, w->cidx};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

// Indexes class c's records by image; returns its non-difficult objects.
static int class_index(const dt_eval *e, eval_ws *w, int c) {
    int npos = 0;
    for (int q = w->gstart[c]; q < w->gstart[c + 1]; q++) {
        const dt_eval_gt *g = &e->gt[w->gorder[q]];
        npos += !g->difficult;
        if (w->img_gn[g->image]++ == 0) w->img_g0[g->image] = q;
    }
    for (int q = w->dstart[c]; q < w->dstart[c + 1]; q++) {
        int im = e->det[w->dorder[q]].image;
        if (w->img_dn[im]++ == 0) w->img_d0[im] = q;
    }
    return npos;
}

static void class_unindex(const dt_eval *e, eval_ws *w, int c) {
    for (int q = w->gstart[c]; q < w->gstart[c + 1]; q++) w->img_gn[e->gt[w->gorder[q]].image] = 0;
    for (int q = w->dstart[c]; q < w->dstart[c + 1]; q++) w->img_dn[e->det[w->dorder[q]].image] = 0;
}

// VOC (the devkit's VOCevaldet) for class c: TP/FP flags in score order,
// then its APs (NaN without a non-difficult object).
static void voc_class(const dt_eval *e, eval_ws *w, int c, int npos, dt_eval_result *r) {
    int d0 = w->dstart[c], nd = w->dstart[c + 1] - d0, incl = e->iou_mode == DT_IOU_VOC_PIXEL;
    memcpy(w->sorted, w->dorder + d0, (size_t)nd * sizeof(int));
    dt_sort_idx_desc(w->sorted, nd, w->score, w->ws);
    for (int q = w->gstart[c]; q < w->gstart[c + 1]; q++) w->taken[q] = 0;
    for (int d = 0; d < nd; d++) {
        const dt_eval_det *det = &e->det[w->sorted[d]];
        double ovmax = -INFINITY;
        int jmax = -1;
        for (int q = w->img_g0[det->image], k = 0; k < w->img_gn[det->image]; q++, k++) {
            double ov = dt_box_iou_d(det->box, e->gt[w->gorder[q]].box, incl);
            if (ov > ovmax) {
                ovmax = ov;
                jmax = q;
            }
        }
        w->tp[d] = w->fp[d] = 0;
        if (jmax < 0 || ovmax < e->iou_thresh) {
            w->fp[d] = 1;
        } else if (!e->gt[w->gorder[jmax]].difficult) { // difficult: neither
            if (!w->taken[jmax]) w->tp[d] = w->taken[jmax] = 1;
            else w->fp[d] = 1;
        }
    }
    if (npos > 0) voc_ap(w->tp, w->fp, nd, npos, &r->ap11[c], &r->ap_all[c], w->rec, w->prec);
    else r->ap11[c] = r->ap_all[c] = NAN;
}

// COCO matching of class c in image im (pycocotools' evaluateImg): the
// image's best 100 detections, at each IoU threshold matched greedily in
// score order; their flags and scores appended at position nk. Returns how
// many detections it kept.
static int coco_image(const dt_eval *e, eval_ws *w, int c, int im, int nk) {
    int G = w->img_gn[im], D = w->img_dn[im], g0 = w->gstart[c];
    // objects: the ignored (crowd = difficult) last, stable
    int *gl = w->ws, ng = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < G; k++)
            if (e->gt[w->gorder[w->img_g0[im] + k]].difficult == pass)
                gl[ng++] = w->gorder[w->img_g0[im] + k];
    int *dl = w->ws + G;
    for (int k = 0; k < D; k++) dl[k] = w->dorder[w->img_d0[im] + k];
    dt_sort_idx_desc(dl, D, w->score, w->cidx);
    if (D > COCO_MAXDET) D = COCO_MAXDET;
    for (int t = 0; t < COCO_T; t++) {
        for (int q = 0; q < G; q++) w->taken[g0 + q] = 0; // reused as gtm
        for (int k = 0; k < D; k++) {
            double db[4], dxy[4];
            coco_box(e, e->det[dl[k]].box, db);
            to_xywh(db, dxy);
            double best = fmin(w->iou_t[t], 1 - 1e-10);
            int m = -1;
            for (int q = 0; q < G; q++) {
                const dt_eval_gt *g = &e->gt[gl[q]];
                if (w->taken[g0 + q] && !g->difficult) continue;
                if (m > -1 && !e->gt[gl[m]].difficult && g->difficult) break;
                double gb[4], gxy[4];
                coco_box(e, g->box, gb);
                to_xywh(gb, gxy);
                double iou = coco_iou(dxy, gxy, g->difficult);
                if (iou < best) continue;
                best = iou;
                m = q;
            }
            size_t at = (size_t)(nk + k) * COCO_T + t;
            w->cm[at] = m >= 0;
            w->cig[at] = m >= 0 ? (char)e->gt[gl[m]].difficult : 0;
            if (m >= 0) w->taken[g0 + m] = 1;
        }
    }
    for (int k = 0; k < D; k++) w->cscore[nk + k] = e->det[dl[k]].score;
    return D;
}

// COCO AP of class c over the nk detections coco_image kept: precision
// envelope sampled at 101 recalls, averaged over the 10 IoU thresholds.
static void coco_class_ap(eval_ws *w, int c, int nk, int npos, dt_eval_result *r) {
    for (int k = 0; k < nk; k++) w->cidx[k] = k;
    dt_sort_idx_desc(w->cidx, nk, w->cscore, w->ws);
    double cls_sum = 0;
    for (int t = 0; t < COCO_T; t++) {
        double ctp = 0, cfp = 0;
        for (int k = 0; k < nk; k++) {
            size_t at = (size_t)w->cidx[k] * COCO_T + t;
            if (!w->cig[at]) {
                ctp += w->cm[at];
                cfp += !w->cm[at];
            }
            w->rec[k] = ctp / npos;
            w->prec[k] = ctp / (cfp + ctp + 2.220446049250313e-16);
        }
        for (int k = nk - 1; k > 0; k--)
            if (w->prec[k] > w->prec[k - 1]) w->prec[k - 1] = w->prec[k];
        double s = 0;
        int k = 0;
        for (int q = 0; q < COCO_R; q++) {
            while (k < nk && w->rec[k] < w->rec_t[q]) k++; // searchsorted, side left
            s += k < nk ? w->prec[k] : 0.0;
        }
        cls_sum += s;
        if (t == 0) r->ap_coco50[c] = s / COCO_R;
        if (t == 5) r->ap_coco75[c] = s / COCO_R;
    }
    r->ap_coco[c] = cls_sum / (COCO_T * COCO_R);
}

int dt_eval_compute(const dt_eval *e, dt_eval_result *r) {
    int C = e->n_classes;
    memset(r, 0, sizeof(*r));
    r->n_classes = C;
    r->iou_mode = e->iou_mode;
    r->iou_thresh = e->iou_thresh;
    r->n_pos = dt_calloc((size_t)C, sizeof(int));
    r->ap11 = dt_malloc((size_t)C * sizeof(double));
    r->ap_all = dt_malloc((size_t)C * sizeof(double));
    r->ap_coco = dt_malloc((size_t)C * sizeof(double));
    r->ap_coco50 = dt_malloc((size_t)C * sizeof(double));
    r->ap_coco75 = dt_malloc((size_t)C * sizeof(double));
    eval_ws w;
    eval_ws_init(&w, e);
    double coco_sum = 0, coco50_sum = 0, coco75_sum = 0, sum11 = 0, sumall = 0;
    int n_with = 0;
    for (int c = 0; c < C; c++) {
        int npos = r->n_pos[c] = class_index(e, &w, c);
        voc_class(e, &w, c, npos, r);
        int nk = 0; // COCO detections kept for the class
        for (int im = 0; im < e->n_images; im++)
            if (w.img_gn[im] > 0 || w.img_dn[im] > 0) nk += coco_image(e, &w, c, im, nk);
        class_unindex(e, &w, c);
        if (npos == 0) { // pycocotools: no non-ignored object, no AP
            r->ap_coco[c] = r->ap_coco50[c] = r->ap_coco75[c] = NAN;
            continue;
        }
        coco_class_ap(&w, c, nk, npos, r);
        n_with++;
        sum11 += r->ap11[c];
        sumall += r->ap_all[c];
        coco_sum += r->ap_coco[c];
        coco50_sum += r->ap_coco50[c];
        coco75_sum += r->ap_coco75[c];
    }
    eval_ws_free(&w);
    r->n_classes_with_gt = n_with;
    double nw = n_with > 0 ? n_with : NAN;
    r->map11 = sum11 / nw;
    r->map_all = sumall / nw;
    r->map_coco = coco_sum / nw;
    r->map_coco50 = coco50_sum / nw;
    r->map_coco75 = coco75_sum / nw;
    return 0;
}

void dt_eval_result_free(dt_eval_result *r) {
    if (!r) return;
    free(r->n_pos);
    free(r->ap11);
    free(r->ap_all);
    free(r->ap_coco);
    free(r->ap_coco50);
    free(r->ap_coco75);
    memset(r, 0, sizeof(*r));
}

// ---------------------------------------------------------------------------
// Writers.

int dt_eval_write_voc(const dt_eval *e, const char *dir, const char *const *names,
                      const char *const *image_ids) {
    double one = e->iou_mode == DT_IOU_VOC_PIXEL ? 0.0 : 1.0;
    for (int c = 0; c < e->n_classes; c++) {
        size_t len = strlen(dir) + strlen(names[c]) + 32;
        char *path = dt_malloc(len);
        snprintf(path, len, "%s/comp4_det_test_%s.txt", dir, names[c]);
        FILE *f = fopen(path, "w");
        if (!f) {
            dt_error("eval: cannot write %s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        for (int i = 0; i < e->n_det; i++) {
            const dt_eval_det *d = &e->det[i];
            if (d->cls != c) continue;
            fprintf(f, "%s %.6f %.2f %.2f %.2f %.2f\n", image_ids[d->image], d->score,
                    d->box[0] + one, d->box[1] + one, d->box[2], d->box[3]);
        }
        int bad = ferror(f);
        if (fclose(f) != 0 || bad) {
            dt_error("eval: error writing %s", path);
            free(path);
            return -1;
        }
        free(path);
    }
    return 0;
}

int dt_eval_write_coco(const dt_eval *e, const char *path, const int *category_ids,
                       const int *image_ids) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < e->n_det; i++) {
        const dt_eval_det *d = &e->det[i];
        double b[4], xywh[4];
        coco_box(e, d->box, b);
        to_xywh(b, xywh);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "image_id", image_ids[d->image]);
        cJSON_AddNumberToObject(o, "category_id", category_ids[d->cls]);
        cJSON_AddItemToObject(o, "bbox", cJSON_CreateDoubleArray(xywh, 4));
        cJSON_AddNumberToObject(o, "score", d->score);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!text) dt_fatal("cJSON_PrintUnformatted failed (out of memory)");
    FILE *f = fopen(path, "w");
    if (!f) {
        dt_error("eval: cannot write %s: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    fputs(text, f);
    free(text);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        dt_error("eval: error writing %s", path);
        return -1;
    }
    return 0;
}

void dt_box_to_voc_pixels(const float *box, int w, int h, double *out) {
    out[0] = (double)box[0] * w + 1.0;
    out[1] = (double)box[1] * h + 1.0;
    out[2] = (double)box[2] * w;
    out[3] = (double)box[3] * h;
}

void dt_box_from_voc_pixels(const double *px, int w, int h, float *box) {
    box[0] = (float)((px[0] - 1.0) / w);
    box[1] = (float)((px[1] - 1.0) / h);
    box[2] = (float)(px[2] / w);
    box[3] = (float)(px[3] / h);
}
