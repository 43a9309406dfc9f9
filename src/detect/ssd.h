// SSD matching and loss (docs/SEMANTICS.md §3), the lesson's map_to_ground_truth,
// ssd_1_loss and ssd_loss with BCE or focal classification.
//
// ACTIVATION LAYOUT of one image (the head's output, anchors in the order of
// detect/anchors.h, i.e. the OutConv flatten order):
//   clas (A, C+1): class logits, column c < C is class c, column C is
//                  background (never read by the loss; its gradient is 0);
//   bact (A, 4):   box activations [ax, ay, aw, ah] (detect/box.h).
// A batch stacks images: clas (B, A, C+1), bact (B, A, 4).
// Objects: boxes (n, 4) corners in [0, 1] (detect/box.h), classes (n) in
// [0, C). A padded batch gives boxes (B, M, 4), classes (B, M) and
// n_boxes (B): entries n_boxes[b] .. M-1 of image b are ignored.
#ifndef DT_DETECT_SSD_H
#define DT_DETECT_SSD_H

#include "detect/anchors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DT_SSD_BCE = 0, DT_SSD_FOCAL = 1 } dt_ssd_clas_kind;

typedef struct {
    dt_ssd_clas_kind clas;
    float alpha;      // focal only (0.25)
    float gamma;      // focal only (2)
    float pos_thresh; // anchors with overlap > this are positive (0.4)
} dt_ssd_loss_cfg;

void dt_ssd_loss_cfg_default(dt_ssd_loss_cfg *cfg, dt_ssd_clas_kind kind);

// out (n, m) = IoU of every a (n, 4) with every b (m, 4), continuous areas.
void dt_box_jaccard(const float *a, int n, const float *b, int m, float *out);

// The lesson's map_to_ground_truth. overlaps (n_obj, A). Writes
// gt_overlap (A) and gt_idx (A): each anchor's best object (first on ties)
// and its overlap; then each object's best anchor (first on ties) is forced to
// that object with overlap 1.99, objects in order, so a later object wins a
// shared best anchor. n_obj = 0: every overlap 0, every index -1.
void dt_ssd_match(const float *overlaps, int n_obj, int n_anchors, float *gt_overlap,
                  int *gt_idx);

// Scratch sized once, at create; the loss allocates nothing per call.
typedef struct {
    const dt_anchors *anchors; // not owned
    int n_classes;             // C, without background
    int max_objects;
    dt_ssd_loss_cfg cfg;
    float *overlaps;   // (max_objects, A)
    float *gt_overlap; // (A)
    int *gt_idx;       // (A)
    float *pred;       // (A, 4) decoded corners
} dt_ssd_loss;

typedef struct {
    double loc;  // mean |pred - target| over the positive anchors' 4 coords
    double clas; // sum of (weighted) BCE over anchors x classes, / C
    int n_pos;   // positive anchors
} dt_ssd_terms;

dt_ssd_loss *dt_ssd_loss_create(const dt_anchors *anchors, int n_classes, int max_objects,
                                const dt_ssd_loss_cfg *cfg);
void dt_ssd_loss_free(dt_ssd_loss *l);

// Loss of one image = loc + clas. dclas (A, C+1) and dbact (A, 4), when not
// NULL, are overwritten with d loss / d activations. An image without objects
// has loc = 0 (the lesson's mean over no anchors was NaN) and every anchor is
// background. Returns 0, or -1 with dt_error() on a bad class or n.
int dt_ssd_loss_image(dt_ssd_loss *l, const float *clas, const float *bact, const float *boxes,
                      const int *classes, int n, float *dclas, float *dbact,
                      dt_ssd_terms *terms);

// Batch loss = sum over images of (loc + clas), as the lesson's ssd_loss;
// gradients (B, A, C+1) and (B, A, 4) of that sum, when not NULL.
// terms (B) per image, may be NULL. Returns 0 or -1 with dt_error().
int dt_ssd_loss_batch(dt_ssd_loss *l, int batch, const float *clas, const float *bact,
                      const float *boxes, const int *classes, const int *n_boxes, int max_boxes,
                      float *dclas, float *dbact, double *loss, dt_ssd_terms *terms);

#ifdef __cplusplus
}
#endif
#endif
