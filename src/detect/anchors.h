// SSD anchors (docs/SEMANTICS.md §3): fixed boxes that the head's activations move.
// Boxes follow the convention in detect/box.h ([x1, y1, x2, y2] in [0, 1]).
#ifndef DT_DETECT_ANCHORS_H
#define DT_DETECT_ANCHORS_H

#ifdef __cplusplus
extern "C" {
#endif

// Order of the anchors = the head's flatten order: grids in the order given
// (one OutConv each, concatenated), within a grid cell by cell (row, then
// column), within a cell the k scales zoom-major:
//   scales = [(z*i, z*j) for z in zooms for (i, j) in ratios],
// (i, j) = (height, width) factors; anchor size (w, h) = (z*j/g, z*i/g).
typedef struct {
    int n;             // A, number of anchors
    int k;             // anchors per cell (n_zooms * n_ratios)
    float *ctr_size;   // (A, 4) [cx, cy, w, h]
    float *corners;    // (A, 4) [x1, y1, x2, y2]
    float *grid;       // (A) 1/g of the anchor's grid
} dt_anchors;

// grids (n_grids), zooms (n_zooms), ratios (n_ratios, 2) as (h, w) factors.
// NULL with dt_error() on bad arguments.
dt_anchors *dt_anchors_create(const int *grids, int n_grids, const float *zooms, int n_zooms,
                              const float *ratios, int n_ratios);
// The lesson's: grids (4, 2, 1), zooms (0.75, 1, 1.3), ratios (1,1),(1,.5),(.5,1): 189.
dt_anchors *dt_anchors_create_lesson(void);
void dt_anchors_free(dt_anchors *a);

#ifdef __cplusplus
}
#endif
#endif
