// The augmentation settings (augment.h). dt_augment_parse reads them through
// the cfg getters (which mark keys used, so the engine can reject unknown
// ones, and word errors as "file:line: [section] key ...").
#include "data/augment.h"

#include "base/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dt_augment_defaults(dt_augment *a) {
    memset(a, 0, sizeof *a);
    a->rotate_p = 1.0f;
    a->saturation = 1.0f;
    a->exposure = 1.0f;
    a->expand = 1.0f;
    a->expand_p = 0.5f;
    a->crop_keep = DT_CROP_KEEP_CENTRE;
    static const float iou[5] = {0.1f, 0.3f, 0.5f, 0.7f, 0.9f};
    a->n_crop_iou = 5;
    memcpy(a->crop_iou, iou, sizeof iou);
    a->crop_scale[0] = 0.3f, a->crop_scale[1] = 1.0f;
    a->crop_ratio[0] = 0.5f, a->crop_ratio[1] = 2.0f;
    a->crop_trials = 50;
}

int dt_augment_ssd(const dt_augment *a) {
    return a->photometric || a->expand > 1 || a->crop;
}

// A list key of exactly `want` numbers (want = 0: 1..max) within [lo, hi],
// ascending when `ordered`. Absent: *out untouched.
static int float_list(dt_cfg_section *sec, const char *key, float *out, int max, int want,
                      float lo, float hi, int ordered, int *n_out) {
    dt_cfg_kv *kv = dt_cfg_find(sec, key);
    if (!kv) return 0;
    float v[8];
    int n = 0;
    if (dt_cfg_floats(sec, key, v, max, &n) != 0) return -1;
    if ((want && n != want) || n < 1) {
        if (want) dt_cfg_error_key(sec, kv, "expected %d numbers separated by commas, got %d", want, n);
        else dt_cfg_error_key(sec, kv, "expected 1 to %d numbers separated by commas", max);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!(v[i] >= lo && v[i] <= hi)) {
            dt_cfg_error_key(sec, kv, "value %g out of range [%g, %g]", v[i], lo, hi);
            return -1;
        }
        if (ordered && i && v[i] < v[i - 1]) {
            dt_cfg_error_key(sec, kv, "expected lo,hi with lo <= hi");
            return -1;
        }
    }
    memcpy(out, v, (size_t)n * sizeof *v);
    if (n_out) *n_out = n;
    return 0;
}

void dt_augment_lesson(dt_augment *a) {
    dt_augment_defaults(a);
    a->flip = 1;
    a->rotate = 3;
    a->rotate_p = 0.5f;
    a->brightness = a->contrast = 0.05f;
}

int dt_augment_parse(dt_cfg_section *sec, dt_augment *a) {
    if (dt_cfg_int(sec, "flip", a->flip, 0, 1, &a->flip) != 0) return -1;
    if (dt_cfg_float(sec, "rotate", a->rotate, 0, 180, &a->rotate) != 0) return -1;
    if (dt_cfg_float(sec, "rotate_p", a->rotate_p, 0, 1, &a->rotate_p) != 0) return -1;
    if (dt_cfg_float(sec, "brightness", a->brightness, 0, 1, &a->brightness) != 0) return -1;
    if (dt_cfg_float(sec, "contrast", a->contrast, 0, 10, &a->contrast) != 0) return -1;
    if (dt_cfg_float(sec, "jitter", a->jitter, 0, 0.49f, &a->jitter) != 0) return -1;
    if (dt_cfg_float(sec, "hue", a->hue, 0, 0.5f, &a->hue) != 0) return -1;
    if (dt_cfg_float(sec, "saturation", a->saturation, 1, 10, &a->saturation) != 0) return -1;
    if (dt_cfg_float(sec, "exposure", a->exposure, 1, 10, &a->exposure) != 0) return -1;
    if (dt_cfg_int(sec, "letterbox", a->letterbox, 0, 1, &a->letterbox) != 0) return -1;
    if (dt_cfg_int(sec, "photometric", a->photometric, 0, 1, &a->photometric) != 0) return -1;
    if (dt_cfg_float(sec, "expand", a->expand, 1, 16, &a->expand) != 0) return -1;
    if (dt_cfg_float(sec, "expand_p", a->expand_p, 0, 1, &a->expand_p) != 0) return -1;
    if (dt_cfg_int(sec, "crop", a->crop, 0, 1, &a->crop) != 0) return -1;
    static const char *const keep[] = {"centre", "clip", NULL};
    if (dt_cfg_choice(sec, "crop_keep", keep, a->crop_keep, &a->crop_keep) != 0) return -1;
    if (float_list(sec, "crop_iou", a->crop_iou, 8, 0, 0, 1, 0, &a->n_crop_iou) != 0) return -1;
    if (float_list(sec, "crop_scale", a->crop_scale, 2, 2, 0.01f, 1, 1, NULL) != 0) return -1;
    if (float_list(sec, "crop_ratio", a->crop_ratio, 2, 2, 0.01f, 100, 1, NULL) != 0) return -1;
    if (dt_cfg_int(sec, "crop_trials", a->crop_trials, 1, 1000, &a->crop_trials) != 0) return -1;
    dt_cfg_kv *kv = dt_cfg_find(sec, "data");
    if (kv) {
        kv->used = 1;
        if (!kv->value[0]) {
            dt_cfg_error_key(sec, kv, "empty value (expected the path of a .data file)");
            return -1;
        }
        // Relative to the cfg file's folder, like every path in our files.
        char *p = dt_path_join_dir(sec->file, kv->value);
        int n = snprintf(a->data, sizeof a->data, "%s", p);
        free(p);
        if (n >= (int)sizeof a->data) {
            dt_cfg_error_key(sec, kv, "path too long (%d characters)", n);
            return -1;
        }
    }
    return 0;
}
