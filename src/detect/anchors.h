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
// A grid may be W x H (W columns, H rows; docs/DETECT.md): cell (r, c) has
// its centre at ((c + .5)/W, (r + .5)/H) and the size (z*j/W, z*i/H); a
// square grid is W = H = g.
typedef struct {
    int n;             // A, number of anchors
    int k;             // anchors per cell (n_zooms * n_ratios)
    float *ctr_size;   // (A, 4) [cx, cy, w, h]
    float *corners;    // (A, 4) [x1, y1, x2, y2]
    float *grid;       // (A, 2) [1/W, 1/H] of the anchor's grid
} dt_anchors;

// grids (n_grids), zooms (n_zooms), ratios (n_ratios, 2) as (h, w) factors.
// NULL with dt_error() on bad arguments.
dt_anchors *dt_anchors_create(const int *grids, int n_grids, const float *zooms, int n_zooms,
                              const float *ratios, int n_ratios);
// The same over W x H grids: gw[i] columns and gh[i] rows for grid i.
dt_anchors *dt_anchors_create_wh(const int *gw, const int *gh, int n_grids, const float *zooms,
                                 int n_zooms, const float *ratios, int n_ratios);
// Explicit sizes ([ssd] anchor_sizes=): the same k (w, h) pairs, in image
// units (fractions of the image's width and height), in every cell of every
// grid, in the order given: k = n_sizes. NULL with dt_error() on bad arguments.
dt_anchors *dt_anchors_create_sizes(const int *grids, int n_grids, const float *wh, int n_sizes);
dt_anchors *dt_anchors_create_sizes_wh(const int *gw, const int *gh, int n_grids, const float *wh,
                                       int n_sizes);
// The lesson's: grids (4, 2, 1), zooms (0.75, 1, 1.3), ratios (1,1),(1,.5),(.5,1): 189.
dt_anchors *dt_anchors_create_lesson(void);
void dt_anchors_free(dt_anchors *a);

// Data-driven anchor sizes (`detector anchors -kmeans`, docs/DETECT.md): boxes
// and anchors compared by shape alone, both centred at the origin (YOLO's
// gen_anchors): IoU(w1 h1, w2 h2) = min(w) min(h) / (w1 h1 + w2 h2 - min(w) min(h)).
double dt_anchor_iou_wh(double w1, double h1, double w2, double h2);
// The mean over the n boxes (w, h pairs) of their best IoU with any of the k anchors.
double dt_anchors_mean_best_iou(const float *box_wh, int n, const float *anc_wh, int k);
// The distinct (w, h) sizes of `a` (first appearance order) into wh (2 * max);
// returns how many (at most max).
int dt_anchors_distinct_sizes(const dt_anchors *a, float *wh, int max);
// k-means over n box sizes with distance 1 - IoU: k-means++ seeding from
// `seed` (the first centre a box drawn uniformly, each next one a box drawn
// with probability proportional to its squared distance to the nearest
// centre), then Lloyd's iterations (a box joins the centre of highest IoU,
// the lowest index on ties; a centre moves to the mean w and mean h of its
// boxes; an emptied centre stays) until no box changes centre or max_iter.
// The k centres into out_wh, sorted by area (smallest first); *iters the
// iterations run. 0, or -1 with dt_error() (n < k, k < 1, a size <= 0).
int dt_anchors_kmeans(const float *box_wh, int n, int k, unsigned long long seed, int max_iter,
                      float *out_wh, int *iters);

#ifdef __cplusplus
}
#endif
#endif
