// mAP accumulated over images (VOC AP at IoU .5, 11-point and all-point,
// and COCO AP@[.5:.95]; detect/eval.h), with the image ids of the VOC and
// COCO result files. It knows no layer and no batch: it takes each image's
// ground truth and detections as boxes in the original image's pixels.
#ifndef DT_DETECT_MAP_ACC_H
#define DT_DETECT_MAP_ACC_H

#include "detect/detect.h"
#include "detect/eval.h"

#ifdef __cplusplus
extern "C" {
#endif

// Scoring detections for mAP (docs/SEMANTICS.md §7's reference run): score > 0.05, NMS
// at IoU 0.45, at most 100 per class, the image's top 100. A low threshold
// only appends detections at the tail of the ranking, so it never lowers AP;
// the ssd layer's own keys (0.25, 0.4: docs/SEMANTICS.md §4) are for showing detections.
void dt_valid_detect_cfg_default(dt_detect_cfg *cfg);

typedef struct dt_map_acc dt_map_acc;

// C classes; mode: the IoU convention of the VOC numbers (COCO AP is
// always continuous). det: detection settings (NULL: the default above),
// read back by dt_map_acc_detect_cfg for whoever makes the detections.
dt_map_acc *dt_map_acc_create(int n_classes, dt_iou_mode mode, const dt_detect_cfg *det);
void dt_map_acc_free(dt_map_acc *a);
void dt_map_acc_reset(dt_map_acc *a);
int dt_map_acc_classes(const dt_map_acc *a);
const dt_detect_cfg *dt_map_acc_detect_cfg(const dt_map_acc *a);
// One image: ng objects (gt (ng, 4) x1, y1, x2, y2 in continuous pixels of
// the original image, gt_cls, gt_difficult (NULL: none)) and nd detections
// (det (nd, 4) in the same pixels, det_cls, det_scores). path: the image
// file; its name without folder and extension is the VOC image id. 0, or
// -1 with dt_error.
int dt_map_acc_add_image(dt_map_acc *a, const double *gt, const int *gt_cls,
                         const int *gt_difficult, int ng, const double *det,
                         const int *det_cls, const double *det_scores, int nd,
                         const char *path);
// Every AP (dt_eval_compute). r: free with dt_eval_result_free.
int dt_map_acc_compute(const dt_map_acc *a, dt_eval_result *r);
int dt_map_acc_images(const dt_map_acc *a);
// Writes dir/comp4_det_test_<class>.txt and dir/<coco_name> (COCO results
// JSON, category_id = class + 1, image_id = the image's place in the
// pass, 0-based; VOC ids = image file names without extension). dir exists.
int dt_map_acc_write(const dt_map_acc *a, const char *dir, const char *coco_name,
                     const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
