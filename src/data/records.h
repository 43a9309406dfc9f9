// The records the annotation readers (read_voc.c, read_coco.c, read_text.c)
// write, and the checks they make on the way: the lowest unit of data/, below
// the readers, which are below the .data file (dataset.c) that picks them.
// Internal (not part of the API); records.c also defines the dt_dataset,
// dt_warnings, class name and derived-target functions that data.h declares.
#ifndef DT_DATA_RECORDS_H
#define DT_DATA_RECORDS_H

#include "data/data.h"

#include <stddef.h>

// Warn through d->warn (or stderr when it is NULL).
void dt_dataset_warn(dt_dataset *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends an empty sample (image path copied) and returns it.
dt_sample *dt_dataset_push(dt_dataset *d, const char *image, const char *ann, int line);
void dt_sample_add_object(dt_sample *s, dt_box b, int cls, int difficult);
// Removes the last sample (a reader that gave up on a file half way).
void dt_dataset_pop(dt_dataset *d);
// Strip leading/trailing white space in place.
char *dt_strip(char *s);

// Numbers in annotations (docs/DATA.md "Bad data").
// The largest image side any reader accepts: OpenCV's default limit on a
// decodable side (OPENCV_IO_MAX_IMAGE_WIDTH/HEIGHT = 2^20).
#define DT_MAX_SIDE 1048576
// Reads one decimal number (strtod's syntax, leading white space allowed;
// no hex) at *p and moves *p past it. 0; -1 when no number is there (*p
// unchanged); -2 when it is not finite: nan, inf, or beyond a double (1e400).
int dt_parse_number(const char **p, double *v);
// The whole of `s` (white space around it allowed) as one number: 0, -1, -2
// as above (-1 also when something follows the number).
int dt_parse_number_all(const char *s, double *v);
// A declared image side: 0 when `v` is an integer in 1..DT_MAX_SIDE, else -1.
int dt_check_side(double v, int *out);
// An id that an IEEE double holds exactly and uniquely: an integer with
// |v| < 2^53 (beyond it, distinct JSON integers read as the same double).
int dt_id_exact(double v);

// Where a box (pixel corners, in double so that 1e300 stays 1e300) lies in a
// W x H image; W = H = 0 when the size is not known (then only FAR and EMPTY
// can be told).
typedef enum {
    DT_BOX_INSIDE,
    DT_BOX_PARTLY,  // partly outside: warned, clipped when loaded
    DT_BOX_OUTSIDE, // wholly outside: warned, dropped
    DT_BOX_EMPTY,   // x2 <= x1 or y2 <= y1 as stored (float): warned, dropped
    DT_BOX_FAR      // a corner more than one image side beyond the border (or beyond
                    // +-DT_MAX_SIDE when the size is unknown): not a box of this
                    // image; the annotation is malformed
} dt_box_fit;
dt_box_fit dt_box_check(double x1, double y1, double x2, double y2, double W, double H);

// Removes the samples d->s[i] (i >= from) with bad[i - from] set, keeping order.
void dt_dataset_remove_marked(dt_dataset *d, int from, const unsigned char *bad);

#endif
