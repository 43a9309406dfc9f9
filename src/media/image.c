// What image.h holds that needs no codec, the same in every build (OpenCV,
// or OPENCV=0): an image's own memory.
#include "media/image.h"

#include "base/common.h"

#include <stdlib.h>

int dt_image_new(int w, int h, dt_image *out) {
    if (w <= 0 || h <= 0) {
        dt_error("dt_image_new: bad size %dx%d", w, h);
        return -1;
    }
    out->w = w;
    out->h = h;
    out->step = (size_t)w * 3;
    out->data = dt_calloc(out->step * h, 1);
    out->owned = 1;
    return 0;
}

void dt_image_free(dt_image *im) {
    if (im->owned) free(im->data);
    im->data = NULL;
    im->w = im->h = 0;
}
