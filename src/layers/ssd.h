// Public helpers of the detection head layers ([outconv], [ssd]) for the
// code that runs a trained network (detection, mAP) and for [ssd]'s checks.
#ifndef DT_LAYERS_SSD_H
#define DT_LAYERS_SSD_H

#include "detect/anchors.h"
#include "detect/detect.h"
#include "detect/ssd.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// [outconv]: its classes C and anchors per cell k; -1 if l is not an [outconv].
int dt_outconv_shape(const dt_layer *l, int *classes, int *k);

// [ssd] ---------------------------------------------------------------------
// Its output (B, 1, A, C+1+4) holds, per image and anchor (detect/anchors.h
// order: the referenced [outconv]s in cfg order, cells row by row, k anchors
// per cell), the C+1 class logits (column C = background) then the 4 box
// activations [ax, ay, aw, ah] (detect/box.h). All functions below take an
// [ssd] layer (checked: NULL / -1 otherwise).
const dt_anchors *dt_ssd_layer_anchors(const dt_layer *l);
int dt_ssd_layer_classes(const dt_layer *l); // C, without background
// The detection keys of the section (score_thresh, nms_thresh,
// max_per_class, max_detections). -1 if l is not an [ssd] layer.
int dt_ssd_layer_detect_cfg(const dt_layer *l, dt_detect_cfg *cfg);
// Detections of image b of the last forward: out (cfg->max_total) in
// descending score (detect/detect.h). cfg NULL: the section's keys. Returns
// their number, -1 on a bad layer or b. Uses scratch owned by the layer: one
// caller at a time per network.
int dt_ssd_layer_detect(const dt_layer *l, int b, const dt_detect_cfg *cfg, dt_detection *out);
// Loss terms of the last forward summed over the batch (loc, clas) and the
// positive anchors; -1 if l is not an [ssd] layer or has no loss (a
// predictions-only network).
int dt_ssd_layer_terms(const dt_layer *l, double *loc, double *clas, int *n_pos);

#ifdef __cplusplus
}
#endif
#endif
