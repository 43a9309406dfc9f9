// A synthetic detection data set in VOC layout: rendered shapes (circle,
// square, triangle, cross) of varied sizes and colours, several per image,
// overlapping, on textured, noisy backgrounds. Deterministic: the same
// options give the same files (image k draws from its own RNG stream
// (seed, k), so n does not change the first images).
//
//   DIR/JPEGImages/000000.jpg ...     S x S, JPEG quality 95
//   DIR/Annotations/000000.xml ...    VOC XML (1-based inclusive pixel boxes)
//   DIR/ImageSets/Main/train.txt      the first n - n/5 ids
//   DIR/ImageSets/Main/val.txt        the last n/5 ids
//   DIR/synth.names, DIR/synth.data   classes and the .data file (format=voc)
#ifndef DT_SYNTH_H
#define DT_SYNTH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DT_SYNTH_CLASSES 4
extern const char *const dt_synth_names[DT_SYNTH_CLASSES];

typedef struct {
    int n;           // images (default 500)
    int size;        // image side in pixels (default 128)
    uint64_t seed;   // (default 1)
    int max_objects; // objects per image: 1 .. max_objects (default 4)
    int quiet;
} dt_synth_opts;

void dt_synth_opts_default(dt_synth_opts *o);

// One object of a rendered image: continuous pixel corners (data/data.h).
typedef struct {
    int cls;
    float x1, y1, x2, y2;
} dt_synth_obj;

// Renders image k into bgr (size, size, 3) and its objects into objs
// (capacity max_objects); returns their number.
int dt_synth_render(const dt_synth_opts *o, int k, unsigned char *bgr, dt_synth_obj *objs);

// Writes the whole set into dir (created). 0, or -1 with dt_error.
int dt_synth_make(const char *dir, const dt_synth_opts *o);

#ifdef __cplusplus
}
#endif
#endif
