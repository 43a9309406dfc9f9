// Shared by the annotation-reader harnesses (fuzz_voc/coco/yolo/csv.c): a
// dataset to read into, and the invariants every sample a reader accepts
// must hold, whatever the input (data.h's box convention): a class index
// within the names, a finite box of positive width and height.
#ifndef DT_FUZZ_READERS_H
#define DT_FUZZ_READERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "data/data.h"

static const char *const fz_names[] = {"dog", "cat", "person"};

// grow = 1: no names, collected as they appear; 0: the three above, fixed.
static inline void fz_dataset(dt_dataset *d, dt_warnings *w, int grow) {
    memset(d, 0, sizeof *d);
    dt_warnings_init(w);
    w->quiet = 1;
    d->warn = w;
    if (!grow) {
        d->n_classes = 3;
        d->names = dt_malloc(3 * sizeof *d->names);
        for (int i = 0; i < 3; i++) d->names[i] = dt_strdup(fz_names[i]);
    }
}

static inline void fz_check_and_free(dt_dataset *d, dt_warnings *w, int normalised) {
    for (int i = 0; i < d->n; i++) {
        const dt_sample *s = &d->s[i];
        if (!s->image || !s->ann || s->n_obj < 0 || s->width < 0 || s->height < 0) abort();
        if (s->normalised != normalised) abort();
        for (int k = 0; k < s->n_obj; k++) {
            const dt_object *o = &s->obj[k];
            const dt_box *b = &o->box;
            if (o->cls < 0 || o->cls >= d->n_classes) {
                fprintf(stderr, "fuzz: class %d outside 0..%d\n", o->cls, d->n_classes - 1);
                abort();
            }
            if (!isfinite(b->x1) || !isfinite(b->y1) || !isfinite(b->x2) || !isfinite(b->y2) ||
                !(b->x2 > b->x1) || !(b->y2 > b->y1)) {
                fprintf(stderr, "fuzz: sample %d object %d: box %g %g %g %g accepted\n", i, k,
                        b->x1, b->y1, b->x2, b->y2);
                abort();
            }
        }
    }
    dt_dataset_free(d);
    dt_warnings_destroy(w);
}

#endif
