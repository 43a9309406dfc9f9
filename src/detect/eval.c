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

int dt_eval_compute(const dt_eval *e, dt_eval_result *r) {
    int C = e->n_classes, NG = e->n_gt, ND = e->n_det;
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

    // group both by class; within a class records stay in the order added,
    // which is image order
    int *gcls = dt_malloc((size_t)(NG + 1) * sizeof(int));
    int *dcls = dt_malloc((size_t)(ND + 1) * sizeof(int));
    double *score = dt_malloc((size_t)(ND + 1) * sizeof(double));
    for (int i = 0; i < NG; i++) gcls[i] = e->gt[i].cls;
    for (int i = 0; i < ND; i++) {
        dcls[i] = e->det[i].cls;
        score[i] = e->det[i].score;
    }
    int *gorder = dt_malloc((size_t)(NG + 1) * sizeof(int));
    int *dorder = dt_malloc((size_t)(ND + 1) * sizeof(int));
    int *gstart = dt_malloc((size_t)(C + 1) * sizeof(int));
    int *dstart = dt_malloc((size_t)(C + 1) * sizeof(int));
    group_by_class(gcls, NG, C, gorder, gstart);
    group_by_class(dcls, ND, C, dorder, dstart);

    int NI = e->n_images > 0 ? e->n_images : 1;
    int *img_g0 = dt_malloc((size_t)NI * sizeof(int)); // first GT of the image in class
    int *img_gn = dt_calloc((size_t)NI, sizeof(int));  // its count
    int *img_d0 = dt_malloc((size_t)NI * sizeof(int));
    int *img_dn = dt_calloc((size_t)NI, sizeof(int));
    char *taken = dt_calloc((size_t)(NG + 1), 1);
    int *sorted = dt_malloc((size_t)(ND + 1) * sizeof(int));
    int *ws = dt_malloc((size_t)(ND + NG + 1) * sizeof(int));
    char *tp = dt_malloc((size_t)(ND + 1)), *fp = dt_malloc((size_t)(ND + 1));
    double *rec = dt_malloc((size_t)(ND + 1) * sizeof(double));
    double *prec = dt_malloc((size_t)(ND + 1) * sizeof(double));
    // COCO per class: per detection kept (<= 100 per image) its score, and
    // per threshold matched / ignored flags
    double *cscore = dt_malloc((size_t)(ND + 1) * sizeof(double));
    char *cm = dt_malloc((size_t)(ND + 1) * COCO_T), *cig = dt_malloc((size_t)(ND + 1) * COCO_T);
    int *cidx = dt_malloc((size_t)(ND + 1) * sizeof(int));
    double iou_t[COCO_T], rec_t[COCO_R];
    double step = (0.95 - 0.5) / (COCO_T - 1); // as np.linspace(.5, .95, 10)
    for (int t = 0; t < COCO_T; t++) iou_t[t] = t == COCO_T - 1 ? 0.95 : t * step + 0.5;
    for (int q = 0; q < COCO_R; q++) rec_t[q] = q * 0.01; // np.linspace(0, 1, 101)
    double coco_sum = 0, coco50_sum = 0, coco75_sum = 0, sum11 = 0, sumall = 0;
    int n_with = 0;
    int incl = e->iou_mode == DT_IOU_VOC_PIXEL;

    for (int c = 0; c < C; c++) {
        int g0 = gstart[c], g1 = gstart[c + 1], d0 = dstart[c], d1 = dstart[c + 1];
        int npos = 0;
        for (int q = g0; q < g1; q++) {
            const dt_eval_gt *g = &e->gt[gorder[q]];
            npos += !g->difficult;
            if (img_gn[g->image]++ == 0) img_g0[g->image] = q;
        }
        for (int q = d0; q < d1; q++) {
            int im = e->det[dorder[q]].image;
            if (img_dn[im]++ == 0) img_d0[im] = q;
        }
        r->n_pos[c] = npos;

        // --- VOC
        int nd = d1 - d0;
        memcpy(sorted, dorder + d0, (size_t)nd * sizeof(int));
        dt_sort_idx_desc(sorted, nd, score, ws);
        for (int q = g0; q < g1; q++) taken[q] = 0;
        for (int d = 0; d < nd; d++) {
            const dt_eval_det *det = &e->det[sorted[d]];
            double ovmax = -INFINITY;
            int jmax = -1;
            for (int q = img_g0[det->image], k = 0; k < img_gn[det->image]; q++, k++) {
                double ov = dt_box_iou_d(det->box, e->gt[gorder[q]].box, incl);
                if (ov > ovmax) {
                    ovmax = ov;
                    jmax = q;
                }
            }
            tp[d] = fp[d] = 0;
            if (jmax >= 0 && ovmax >= e->iou_thresh) {
                if (!e->gt[gorder[jmax]].difficult) {
                    if (!taken[jmax]) {
                        tp[d] = 1;
                        taken[jmax] = 1;
                    } else {
                        fp[d] = 1;
                    }
                }
            } else {
                fp[d] = 1;
            }
        }
        if (npos > 0) {
            voc_ap(tp, fp, nd, npos, &r->ap11[c], &r->ap_all[c], rec, prec);
            sum11 += r->ap11[c];
            sumall += r->ap_all[c];
            n_with++;
        } else {
            r->ap11[c] = r->ap_all[c] = NAN;
        }

        // --- COCO, image by image (pycocotools evaluateImg)
        int nk = 0; // detections kept for the class
        for (int im = 0; im < e->n_images; im++) {
            int G = img_gn[im], D = img_dn[im];
            if (G == 0 && D == 0) continue;
            // objects: the ignored (crowd = difficult) last, stable
            int *gl = ws;
            int ng = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < G; k++)
                    if (e->gt[gorder[img_g0[im] + k]].difficult == pass)
                        gl[ng++] = gorder[img_g0[im] + k];
            int *dl = ws + G;
            for (int k = 0; k < D; k++) dl[k] = dorder[img_d0[im] + k];
            dt_sort_idx_desc(dl, D, score, cidx);
            if (D > COCO_MAXDET) D = COCO_MAXDET;
            for (int t = 0; t < COCO_T; t++) {
                for (int q = 0; q < G; q++) taken[g0 + q] = 0; // reused as gtm
                for (int k = 0; k < D; k++) {
                    const dt_eval_det *det = &e->det[dl[k]];
                    double db[4], dxy[4];
                    coco_box(e, det->box, db);
                    to_xywh(db, dxy);
                    double best = fmin(iou_t[t], 1 - 1e-10);
                    int m = -1;
                    for (int q = 0; q < G; q++) {
                        const dt_eval_gt *g = &e->gt[gl[q]];
                        if (taken[g0 + q] && !g->difficult) continue;
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
                    cm[at] = m >= 0;
                    cig[at] = m >= 0 ? (char)e->gt[gl[m]].difficult : 0;
                    if (m >= 0) taken[g0 + m] = 1;
                }
            }
            for (int k = 0; k < D; k++) cscore[nk + k] = e->det[dl[k]].score;
            nk += D;
        }
        for (int q = g0; q < g1; q++) img_gn[e->gt[gorder[q]].image] = 0;
        for (int q = d0; q < d1; q++) img_dn[e->det[dorder[q]].image] = 0;

        if (npos == 0) { // pycocotools: no non-ignored object, no AP
            r->ap_coco[c] = r->ap_coco50[c] = r->ap_coco75[c] = NAN;
            continue;
        }
        for (int k = 0; k < nk; k++) cidx[k] = k;
        dt_sort_idx_desc(cidx, nk, cscore, ws);
        double cls_sum = 0;
        for (int t = 0; t < COCO_T; t++) {
            double ctp = 0, cfp = 0;
            for (int k = 0; k < nk; k++) {
                size_t at = (size_t)cidx[k] * COCO_T + t;
                if (!cig[at]) {
                    ctp += cm[at];
                    cfp += !cm[at];
                }
                rec[k] = ctp / npos;
                prec[k] = ctp / (cfp + ctp + 2.220446049250313e-16);
            }
            for (int k = nk - 1; k > 0; k--)
                if (prec[k] > prec[k - 1]) prec[k - 1] = prec[k];
            double s = 0;
            int k = 0;
            for (int q = 0; q < COCO_R; q++) {
                while (k < nk && rec[k] < rec_t[q]) k++; // searchsorted, side left
                s += k < nk ? prec[k] : 0.0;
            }
            cls_sum += s;
            if (t == 0) r->ap_coco50[c] = s / COCO_R;
            if (t == 5) r->ap_coco75[c] = s / COCO_R;
        }
        r->ap_coco[c] = cls_sum / (COCO_T * COCO_R);
        coco_sum += r->ap_coco[c];
        coco50_sum += r->ap_coco50[c];
        coco75_sum += r->ap_coco75[c];
    }
    r->n_classes_with_gt = n_with;
    double nw = n_with > 0 ? n_with : NAN;
    r->map11 = sum11 / nw;
    r->map_all = sumall / nw;
    r->map_coco = coco_sum / nw;
    r->map_coco50 = coco50_sum / nw;
    r->map_coco75 = coco75_sum / nw;

    free(gcls);
    free(dcls);
    free(score);
    free(gorder);
    free(dorder);
    free(gstart);
    free(dstart);
    free(img_g0);
    free(img_gn);
    free(img_d0);
    free(img_dn);
    free(taken);
    free(sorted);
    free(ws);
    free(tp);
    free(fp);
    free(rec);
    free(prec);
    free(cscore);
    free(cm);
    free(cig);
    free(cidx);
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
