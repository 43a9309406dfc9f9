// Detection on the device (GPU=1 builds only): the twin of detect/detect.h's
// dt_detect_image and dt_nms, on device buffers. Semantics are the CPU's, step
// by step: sigmoid scores, per class the anchors with score > score_thresh in
// descending score (ties: lower anchor), greedy NMS where a kept box
// suppresses one with dt_box_iou > nms_iou (dt_nms_suppresses), at most
// max_per_class, then the image's top max_total in descending score (ties:
// lower class, lower anchor). Comparisons are box.h's dt_rank_before /
// dt_det_before, shared with the CPU code.
#ifndef DT_CUDA_DETECT_GPU_H
#define DT_CUDA_DETECT_GPU_H

#include "detect/anchors.h"
#include "detect/detect.h"

#ifdef __cplusplus
extern "C" {
#endif

// The anchors on the device, uploaded once.
typedef struct {
    int n;
    float *corners;  // (A, 4)
    float *ctr_size; // (A, 4)
    float *grid;     // (A, 2)
} dt_anchors_gpu;

dt_anchors_gpu *dt_anchors_gpu_create(const dt_anchors *an);
void dt_anchors_gpu_free(dt_anchors_gpu *g);

// Device scratch for one image's detection, sized once (A anchors, C classes).
typedef struct dt_detect_gpu dt_detect_gpu;

dt_detect_gpu *dt_detect_gpu_create(const dt_anchors_gpu *anchors, int n_classes); // not owned
void dt_detect_gpu_free(dt_detect_gpu *w);

// One image: clas (A, C+1) logits and bact (A, 4) box activations are DEVICE
// pointers; out (cfg->max_total) is on the host. Returns the number of
// detections. Synchronises (it reads the per-class counts back).
int dt_detect_image_dev(dt_detect_gpu *w, const float *clas, const float *bact,
                        const dt_detect_cfg *cfg, dt_detection *out);

#ifdef __cplusplus
}
#endif
#endif
