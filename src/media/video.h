// Video in and out, and a window, through OpenCV 4 (src/media/video_opencv.cpp:
// VideoCapture, VideoWriter, highgui). Built with OPENCV=0, src/media/video_none.c
// provides the same functions, each failing with a clear error.
//
// Frames are dt_image (image.h): 8-bit B,G,R, owned by the caller. Nothing
// here allocates per frame once the first frame has been read: OpenCV's own
// buffers are reused, and frames are copied into the caller's image.
//
// Threads: one capture and one writer may each be used from their own
// thread. The window functions must all be called from one thread (highgui's
// event loop lives there).
#ifndef DT_VIDEO_H
#define DT_VIDEO_H

#include "media/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_video_cap dt_video_cap;
typedef struct dt_video_writer dt_video_writer;

// A source: "-c N" gives camera index N (camera >= 0, path NULL); else
// `path` is a file or a stream URL (rtsp://, http://, ...). NULL with
// dt_error naming the source when it cannot be opened or gives no frame.
dt_video_cap *dt_video_open(const char *path, int camera);
// Frame size, frames per second (0 when the source does not say) and the
// frame count (-1 for cameras and streams, or when unknown).
void dt_video_info(const dt_video_cap *v, int *w, int *h, double *fps, long *n_frames);
// 1 for a camera or a stream (frames arrive in real time), 0 for a file.
int dt_video_is_live(const dt_video_cap *v);
// The next frame into `out`, which must already have the source's size
// (dt_image_new with dt_video_info's w, h); a frame of another size (a
// stream that changes resolution) is resized into it. 1: a frame, 0: the
// end of the source, -1: a read error (dt_error).
int dt_video_read(dt_video_cap *v, dt_image *out);
void dt_video_close(dt_video_cap *v);

// A writer for w x h frames at `fps`. The codec follows the extension:
// .avi -> MJPG (libjpeg-turbo, quality 90, in our OpenDML container: avi.h),
// .mp4 / .m4v / .mov -> mp4v (FFmpeg); both read back by OpenCV's FFmpeg
// backend. Other extensions are refused. NULL with dt_error.
dt_video_writer *dt_video_writer_open(const char *path, int w, int h, double fps);
// 0, or -1 with dt_error (size differs from the writer's).
int dt_video_writer_write(dt_video_writer *wr, const dt_image *im);
// Finishes the file (an AVI's index and headers). 0, or -1 with dt_error;
// frees `wr` either way.
int dt_video_writer_close(dt_video_writer *wr);

// 1 when a window can be shown: $DISPLAY (or $WAYLAND_DISPLAY) is set and
// its X server accepts a connection. Checked before highgui is touched,
// because Qt aborts the process when it finds no display.
// display, wayland: the caller's $DISPLAY and $WAYLAND_DISPLAY (NULL: unset).
int dt_window_available(const char *display, const char *wayland, char *why, size_t why_len);
// Opens (once) a resizable window and shows the image in it. 0 / -1.
int dt_window_show(const char *name, const dt_image *im);
// Runs the window's events for up to `ms` milliseconds (>= 1); the key
// pressed (ASCII, 27 = ESC) or -1 for none.
int dt_window_poll(int ms);
void dt_window_close(const char *name);

// Whether this build can read video (0 when built with OPENCV=0).
int dt_video_available(void);

#ifdef __cplusplus
}
#endif
#endif
