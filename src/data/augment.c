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
