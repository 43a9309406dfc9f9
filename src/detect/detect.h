// From head activations to detections (docs/SEMANTICS.md §4): sigmoid scores, per-class
// threshold, greedy NMS (torchvision.ops.nms / batched_nms semantics), the
// image's top N. Boxes follow detect/box.h; activations detect/ssd.h.
#ifndef DT_DETECT_DETECT_H
#define DT_DETECT_DETECT_H

#include "detect/anchors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float box[4]; // [x1, y1, x2, y2] in [0, 1]
    float score;  // sigmoid of the class logit
    int cls;      // in [0, C)
    int anchor;   // index of the anchor it came from
} dt_detection;

typedef struct {
    float score_thresh; // keep score > this (0.25)
    float nms_iou;      // suppress IoU > this (0.4)
    int max_per_class;  // after NMS (50)
    int max_total;      // the image's top N (100)
} dt_detect_cfg;

void dt_detect_cfg_default(dt_detect_cfg *cfg);

// Greedy NMS of boxes (n, 4) with scores (n): visit in descending score (ties:
// lower index first, a stable sort), keep a box unless a kept one overlaps it
// with IoU > iou_thresh. keep (n) receives the kept indices in that order, at
// most max_keep (< 0: no limit); returns the count. ws: scratch of 2n ints.
int dt_nms(const float *boxes, const float *scores, int n, float iou_thresh, int max_keep,
           int *keep, int *ws);

// NMS per class (cls (n)), as torchvision.ops.batched_nms: keep (n) gets the
// surviving indices of all classes in descending score (ties: lower index);
// max_keep (< 0: no limit) applies per class. ws: scratch of 2n ints.
int dt_nms_batched(const float *boxes, const float *scores, const int *cls, int n,
                   float iou_thresh, int max_keep, int *keep, int *ws);

// Scratch for one image, sized once.
typedef struct {
    int n_anchors, n_classes;
    float *boxes;  // (A, 4) decoded
    float *scores; // (A)
    int *idx;      // (A) candidates of one class
    int *keep;     // (A)
    int *ws;       // (A)
    dt_detection *all; // (C * max_per_class) before the top N; grown on demand
    int all_cap;
} dt_detect_ws;

dt_detect_ws *dt_detect_ws_create(int n_anchors, int n_classes);
void dt_detect_ws_free(dt_detect_ws *ws);

// One image: clas (A, C+1) logits (background column ignored), bact (A, 4).
// out (cfg->max_total) gets the detections in descending score (ties: lower
// class, then lower anchor); returns their number.
int dt_detect_image(const dt_anchors *anchors, int n_classes, const float *clas,
                    const float *bact, const dt_detect_cfg *cfg, dt_detect_ws *ws,
                    dt_detection *out);

// GPU twins (cuda/detect_gpu.cu) on HOST arrays, for tests and one-off use:
// the inputs are uploaded, the kernels run, the result comes back; each call
// allocates and frees its device scratch. Same results as dt_nms (no NaN
// scores) and dt_detect_image (up to the device's expf/tanhf, which can move
// a score or a box by an ulp). -1 with dt_error without a GPU build; CUDA
// errors are fatal (file:line). The [ssd] layer's detection on a GPU network
// uses the same kernels on its device buffers (layers/ssd_gpu.cu).
int dt_nms_gpu(const float *boxes, const float *scores, int n, float iou_thresh, int max_keep,
               int *keep);
int dt_detect_image_gpu(const dt_anchors *anchors, int n_classes, const float *clas,
                        const float *bact, const dt_detect_cfg *cfg, dt_detection *out);

#ifdef __cplusplus
}
#endif
#endif
