// Detection scoring (docs/SEMANTICS.md §4): PASCAL VOC AP (VOC2007 11-point and all-point)
// as the official devkit's VOCevaldet computes it, COCO AP@[.5:.95] as
// pycocotools' COCOeval (bbox, area all, maxDets 100) as an extra, and the
// two result-file writers.
//
// Boxes here are double[4] [x1, y1, x2, y2] in the evaluation's own units,
// named by its IoU mode:
//   DT_IOU_VOC_PIXEL   1-based inclusive pixel indices (VOC XML), a side is
//                      x2 - x1 + 1 (the devkit's convention);
//   DT_IOU_CONTINUOUS  continuous coordinates (any scale), a side is x2 - x1.
// COCO AP always uses continuous IoU (as pycocotools): VOC pixel boxes are
// turned into [x1 - 1, y1 - 1, x2, y2] for it.
#ifndef DT_DETECT_EVAL_H
#define DT_DETECT_EVAL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DT_IOU_CONTINUOUS = 0, DT_IOU_VOC_PIXEL = 1 } dt_iou_mode;

typedef struct {
    int image, cls, difficult;
    double box[4];
} dt_eval_gt;

typedef struct {
    int image, cls;
    double score;
    double box[4];
} dt_eval_det;

typedef struct {
    int n_classes;
    dt_iou_mode iou_mode;
    double iou_thresh; // VOC TP threshold: IoU >= this (0.5)
    int n_images;
    int n_gt, cap_gt, n_det, cap_det;
    dt_eval_gt *gt;   // (n_gt)
    dt_eval_det *det; // (n_det) in the order added
} dt_eval;

typedef struct {
    int n_classes;
    dt_iou_mode iou_mode; // which IoU the VOC numbers used
    double iou_thresh;
    int *n_pos;       // (C) non-difficult objects per class
    double *ap11;     // (C) VOC2007 11-point; NaN where n_pos = 0
    double *ap_all;   // (C) all-point (VOC2010+); NaN where n_pos = 0
    double *ap_coco;  // (C) AP@[.5:.95]; NaN where no non-difficult object
    double *ap_coco50; // (C) COCO AP at IoU .5
    double *ap_coco75; // (C) COCO AP at IoU .75
    int n_classes_with_gt;
    double map11, map_all, map_coco, map_coco50, map_coco75; // over classes with objects
} dt_eval_result;

dt_eval *dt_eval_create(int n_classes, dt_iou_mode mode);
void dt_eval_free(dt_eval *e);

// Adds one image: objects gt_boxes (n_gt, 4), gt_cls (n_gt), gt_difficult
// (n_gt, NULL: none); detections det_boxes (n_det, 4), det_cls (n_det),
// det_scores (n_det). Returns the image's index (0, 1, ...), or -1 with
// dt_error() on a class outside [0, C) or a non-finite score.
int dt_eval_add_image(dt_eval *e, const double *gt_boxes, const int *gt_cls,
                      const int *gt_difficult, int n_gt, const double *det_boxes,
                      const int *det_cls, const double *det_scores, int n_det);

// Every AP. r is filled with arrays owned by it (dt_eval_result_free).
//
// VOC, per class: detections in descending score (stable: order added); each
// takes the object of its class in its image with the largest IoU (first on
// ties); IoU >= iou_thresh and the object not yet taken: TP (and taken);
// taken: FP; a difficult object: ignored (neither); below: FP.
// rec = TP/n_pos, prec = TP/max(TP+FP, eps). 11-point: mean over
// t = 0, 0.1, ..., 1 (computed as i*0.1, as np.arange) of max prec at rec >= t.
// All-point: area under the monotone precision envelope.
// COCO: pycocotools' evaluateImg/accumulate; difficult objects are its crowd
// regions (iscrowd = 1: never penalise, IoU = inter / detection area).
int dt_eval_compute(const dt_eval *e, dt_eval_result *r);
void dt_eval_result_free(dt_eval_result *r);

// VOC result files dir/comp4_det_test_<class>.txt, one line per detection
// "image_id score x1 y1 x2 y2" in 1-based VOC pixels (continuous boxes are
// written as [x1 + 1, y1 + 1, x2, y2]). names (C), image_ids (n_images).
int dt_eval_write_voc(const dt_eval *e, const char *dir, const char *const *names,
                      const char *const *image_ids);

// COCO results JSON: [{image_id, category_id, bbox [x, y, w, h], score}],
// bbox continuous (VOC pixel boxes: [x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1]).
// category_ids (C), image_ids (n_images).
int dt_eval_write_coco(const dt_eval *e, const char *path, const int *category_ids,
                       const int *image_ids);

// Normalised box (detect/box.h) of an image w x h to VOC 1-based inclusive
// pixels [x1*w + 1, y1*h + 1, x2*w, y2*h], and back; pixel i (1-based)
// covers the continuous interval [i - 1, i].
void dt_box_to_voc_pixels(const float *box, int w, int h, double *out);
void dt_box_from_voc_pixels(const double *px, int w, int h, float *box);

#ifdef __cplusplus
}
#endif
#endif
