// Line charts written as PNG through src/media/image.h: axes with ticks and
// labels, a title, a legend; linear or logarithmic x axis. Used for the
// training curves and the lr_find plot.
#ifndef DT_CHART_H
#define DT_CHART_H

#include "media/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;         // legend text
    const double *x, *y;      // (n) points; non-finite y values are skipped
    int n;
    unsigned char bgr[3];     // line colour
} dt_chart_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logx; // 1: log10 x axis (x must be > 0)
    int xint; // 1: x ticks on integers only (epochs)
} dt_chart_axes;

// Draws one chart into the rectangle (x0, y0, w, h) of `im` (white
// background, axes, ticks, tick labels, series, legend).
void dt_chart_panel(dt_image *im, int x0, int y0, int w, int h, const dt_chart_axes *a,
                    const dt_chart_series *s, int ns);
// One chart of w x h pixels written to `path` (.png). 0 / -1 + dt_error.
int dt_chart_write(const char *path, int w, int h, const dt_chart_axes *a,
                   const dt_chart_series *s, int ns);

#ifdef __cplusplus
}
#endif
#endif
