// The augmentation settings of a cfg: what the keys of [net] and [augment]
// ask of the transforms (transform.h applies them, sample by sample).
#ifndef DT_DATA_AUGMENT_H
#define DT_DATA_AUGMENT_H

#include "base/cfg.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    char data[4096];   // data= (the .data file named by the cfg), "" if absent
} dt_augment;

void dt_augment_defaults(dt_augment *a);
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
