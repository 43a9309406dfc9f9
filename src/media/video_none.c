// The video API of video.h for builds without OpenCV (OPENCV=0): the library
// still links, and every video operation fails with an error that says why.
#ifndef DT_OPENCV

#include "media/video.h"

#include "base/common.h"

#include <stdio.h>

#define NO_OPENCV "detector was built without OpenCV (OPENCV=0)"

int dt_video_available(void) { return 0; }

dt_video_cap *dt_video_open(const char *path, int camera) {
    if (path) dt_error(NO_OPENCV ": cannot read video %s", path);
    else dt_error(NO_OPENCV ": cannot open camera %d", camera);
    return NULL;
}

void dt_video_info(const dt_video_cap *v, int *w, int *h, double *fps, long *n_frames) {
    (void)v;
    if (w) *w = 0;
    if (h) *h = 0;
    if (fps) *fps = 0;
    if (n_frames) *n_frames = -1;
}

int dt_video_is_live(const dt_video_cap *v) {
    (void)v;
    return 0;
}

int dt_video_read(dt_video_cap *v, dt_image *out) {
    (void)v, (void)out;
    dt_error(NO_OPENCV ": cannot read video");
    return -1;
}

void dt_video_close(dt_video_cap *v) { (void)v; }

dt_video_writer *dt_video_writer_open(const char *path, int w, int h, double fps) {
    (void)w, (void)h, (void)fps;
    dt_error(NO_OPENCV ": cannot write video %s", path);
    return NULL;
}

int dt_video_writer_write(dt_video_writer *wr, const dt_image *im) {
    (void)wr, (void)im;
    dt_error(NO_OPENCV ": cannot write video");
    return -1;
}

int dt_video_writer_close(dt_video_writer *wr) {
    (void)wr;
    return 0;
}

int dt_window_available(const char *display, const char *wayland, char *why, size_t why_len) {
    (void)display;
    (void)wayland;
    snprintf(why, why_len, NO_OPENCV ": no window support");
    return 0;
}

int dt_window_show(const char *name, const dt_image *im) {
    (void)im;
    dt_error(NO_OPENCV ": cannot show window %s", name);
    return -1;
}

int dt_window_poll(int ms) {
    (void)ms;
    return -1;
}

void dt_window_close(const char *name) { (void)name; }

#endif // !DT_OPENCV
