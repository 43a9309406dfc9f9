// Internal helpers shared by the annotation readers (not part of the API).
#ifndef DT_DATA_READER_H
#define DT_DATA_READER_H

#include "data.h"

#include <stddef.h>

// Warn through d->warn (or stderr when it is NULL).
void dt_dataset_warn(dt_dataset *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends an empty sample (image path copied) and returns it.
dt_sample *dt_dataset_push(dt_dataset *d, const char *image, const char *ann, int line);
void dt_sample_add_object(dt_sample *s, dt_box b, int cls, int difficult);
// Removes the last sample (a reader that gave up on a file half way).
void dt_dataset_pop(dt_dataset *d);
// Whole file into a NUL-terminated malloc'ed buffer; NULL + dt_error.
char *dt_read_text(const char *path, size_t *len);
// Strip leading/trailing white space in place.
char *dt_strip(char *s);

#endif
