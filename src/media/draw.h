// Pictures on top of image.h: class colours, labelled boxes, grids, the
// anchors of an [ssd] layer, a grid of predictions beside ground truth.
// Line charts (training curves, lr_find) live in chart.h.
//
// Boxes given in pixels are continuous (pixel i covers [i, i+1), as in
// data/data.h): a box [x1, y1, x2, y2] is drawn on the inclusive pixels
// floor(x1) .. ceil(x2) - 1, so its outline lies inside the box.
#ifndef DT_DRAW_H
#define DT_DRAW_H

#include "detect/anchors.h"
#include "detect/detect.h"
#include "media/image.h"

#ifdef __cplusplus
extern "C" {
#endif

// A readable, distinct colour (B, G, R) per class, cycling over 12; and the
// text colour (black or white) that reads best on a background.
void dt_draw_class_colour(int cls, unsigned char bgr[3]);
void dt_draw_text_colour(const unsigned char bg[3], unsigned char fg[3]);

// Outline thickness and label font scale that stay readable at this size.
int dt_draw_thickness(const dt_image *im);
double dt_draw_font_scale(const dt_image *im);

// Box px (4) in continuous pixels, clipped to the image, outlined in the
// class colour with `label` (may be NULL) on a filled background above the
// box when there is room, else inside it.
void dt_draw_box(dt_image *im, const double *px, int cls, const char *label);

// Detections whose boxes are normalised to the rectangle (x0, y0, w, h) of
// `im` (e.g. a panel, or the whole frame): "name score" labels, names (n_names)
// may be NULL ("class3"). Drawn lowest score first, so the best is on top.
void dt_draw_detections(dt_image *im, int x0, int y0, int w, int h, const dt_detection *d,
                        int n, char **names, int n_names);

// gw x gh cell lines (gw columns, gh rows) over the rectangle (x0, y0, w, h).
void dt_draw_grid(dt_image *im, int x0, int y0, int w, int h, int gw, int gh,
                  const unsigned char bgr[3]);

// The anchors as a picture: one panel (panel x panel pixels) per grid, the
// grid's cells drawn, every anchor of the grid outlined (colour = its scale
// within the cell) and the centre cell's anchors thicker. Returns 0 / -1.
int dt_draw_anchors(const dt_anchors *a, int panel, dt_image *out);

// Ground truth beside predictions for n images (the lesson's 3x4 figure):
// `pictures` (n, h, w, 3) BGR8 packed, boxes normalised to them. Each
// image gets a pair of panels (ground truth | predictions), `cols` pairs
// per row. gt_boxes (n, max_gt, 4), gt_cls (n, max_gt), n_gt (n);
// dets (n, max_det), n_det (n). Returns 0 / -1 (dt_error).
int dt_draw_pred_grid(const unsigned char *pictures, int n, int w, int h, const float *gt_boxes,
                      const int *gt_cls, const int *n_gt, int max_gt, const dt_detection *dets,
                      const int *n_det, int max_det, char **names, int n_names, int cols,
                      dt_image *out);

#ifdef __cplusplus
}
#endif
#endif
