// An AVI (RIFF) writer for Motion-JPEG: frames arrive already JPEG-encoded
// (libjpeg-turbo through OpenCV's imencode, ~1.5 ms for 640x480 where
// FFmpeg's MJPEG encoder with its colour conversion takes ~4.4 ms).
//
// The file is OpenDML (AVI 2.0): the first RIFF 'AVI ' holds the headers and
// the legacy idx1 index, and every further ~1 GiB goes in a RIFF 'AVIX'; each
// RIFF's movi list ends with a standard index (ix00) that the super index
// (indx, in the stream header) points to. So a file may grow past the 2 and
// 4 GiB limits of plain AVI and stays readable by FFmpeg, OpenCV, VLC and
// Windows players. The headers are rewritten with the final counts on close.
#ifndef DT_AVI_H
#define DT_AVI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_avi dt_avi;

// A new file at `path` for w x h frames at `fps` (> 0). NULL with dt_error.
dt_avi *dt_avi_open(const char *path, int w, int h, double fps);
// Appends one frame (a complete JPEG). 0, or -1 with dt_error (I/O error, or
// the file would pass the super index's capacity of 256 RIFFs, ~256 GiB).
int dt_avi_write_frame(dt_avi *a, const void *jpeg, size_t n);
// Writes the indexes and final headers and closes the file. 0, or -1 with
// dt_error. Frees `a` either way; NULL is a no-op.
int dt_avi_close(dt_avi *a);
// For tests: the size at which a RIFF is closed and the next begins
// (default 1 GiB), so that small files exercise the OpenDML path.
void dt_avi_set_riff_limit(dt_avi *a, uint64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
