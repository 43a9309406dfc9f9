// The augmentation settings of a cfg: what the keys of [net] and [augment]
// ask of the transforms (transform.h applies them, sample by sample).
#ifndef DT_DATA_AUGMENT_H
#define DT_DATA_AUGMENT_H

#include "base/cfg.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DT_CROP_KEEP_CENTRE = 0, DT_CROP_KEEP_CLIP = 1 };

// The augmentation settings of a cfg ([net] and/or [augment]). Defaults
// change nothing (identity geometry, no lighting, no HSV).
typedef struct {
    int flip;          // 1: horizontal flip with probability 0.5
    float rotate;      // degrees: angle ~ U(-rotate, rotate)
    float rotate_p;    // probability of rotating at all
    float brightness;  // b: b' ~ U(-b, b) added (on [0,1] pixels)
    float contrast;    // c: c' ~ U(-c, c); k = 1+c' (c'>=0) or 1/(1-c')
    float jitter;      // crop sides move by U(-jitter, jitter) of the size
    float hue;         // hue shift ~ U(-hue, hue), in turns (1 = 360 degrees)
    float saturation;  // saturation scaled by s or 1/s, s ~ U(1, saturation)
    float exposure;    // value (brightness in HSV) scaled likewise
    int letterbox;     // 0: squash to the input size; 1: keep aspect, grey bars
    // The SSD paper's augmentation (docs/DATA.md "SSD augmentation"), in its
    // order: photometric, expand, crop, flip, resize.
    int photometric;   // 1: SSD photometric distortion (each part with p = 0.5)
    float expand;      // zoom out: canvas ratio ~ U(1, expand) (1 = off)
    float expand_p;    // probability of expanding
    int crop;          // 1: IoU-constrained random crop
    int crop_keep;     // DT_CROP_KEEP_CENTRE or DT_CROP_KEEP_CLIP
    int n_crop_iou;
    float crop_iou[8]; // min-IoU choices (plus "whole image" and "no constraint")
    float crop_scale[2]; // each side ~ U(lo, hi) of the (expanded) image's side
    float crop_ratio[2]; // w/h of the crop within [lo, hi]
    int crop_trials;   // tries per chosen constraint before the whole image
    char data[4096];   // data= (the .data file named by the cfg), "" if absent
} dt_augment;

void dt_augment_defaults(dt_augment *a);
// 1 when any of the SSD augmentations (photometric, expand, crop) is on.
int dt_augment_ssd(const dt_augment *a);
// The lesson's augmentations on top of the defaults (docs/SEMANTICS.md §2):
// horizontal flip, rotation up to 3 degrees half of the time, brightness and
// contrast 0.05. What a .data file alone gets (show_batch, bench_loader).
void dt_augment_lesson(dt_augment *a);

// Reads the keys above from one cfg section ([net] or [augment]), marking them
// used; absent keys keep the value already in *out, so call it on [net] and
// then on [augment] after dt_augment_defaults. 0, or -1 with the cfg error
// ("file:line: [section] key ...").
int dt_augment_parse(dt_cfg_section *sec, dt_augment *out);

#ifdef __cplusplus
}
#endif
#endif
