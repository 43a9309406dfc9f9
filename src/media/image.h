// Image I/O and geometry through OpenCV 4 (src/media/image_opencv.cpp, the only
// C++ file: OpenCV 4 has no C API). Built with OPENCV=0, src/media/image_none.c
// provides the same functions, each failing with a clear error.
//
// Pixels are 8-bit, interleaved, in OpenCV's B,G,R order (the loader turns
// them into RGB floats in its fused pass, so no separate colour conversion
// is ever made). Files are decoded from their bytes, never by extension, and
// EXIF orientation is ignored: annotations refer to the stored pixels.
#ifndef DT_IMAGE_H
#define DT_IMAGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int w, h;
    size_t step;         // bytes per row (>= 3*w)
    unsigned char *data; // (h, step) BGR8
    int owned;           // 1: data was malloc'ed by dt_image_* and dt_image_free frees it
} dt_image;

// A per-thread workspace (file bytes, decoded and warped images) allocated
// once and reused, so a loader thread allocates nothing per sample once the
// buffers have grown to the largest image.
typedef struct dt_image_ctx dt_image_ctx;
dt_image_ctx *dt_image_ctx_new(void);
void dt_image_ctx_free(dt_image_ctx *c);

// A context's own cap (a data set's max_pixels=), used unless the caller set
// one (dt_image_set_max_pixels, imgprobe.h: the command line wins); n <= 0
// goes back to the process-wide cap.
void dt_image_ctx_set_max_pixels(dt_image_ctx *c, long long n);

// Read and decode `path` into the context. `want_w`/`want_h` is the size the
// image will be reduced to next: a JPEG at least twice that size in both
// directions is decoded at half scale in the DCT domain (about 1.5x faster);
// *scale tells which (1 or 0.5: decoded pixel coords = original * scale).
// *orig_w/*orig_h get the full stored size. The view *out stays valid until
// the next decode on the same context. 0, or -1 with dt_error naming the file
// (missing, not a regular file, empty, not JPEG/PNG/BMP, above the pixel cap,
// truncated, corrupt, or a JPEG libjpeg warns about); after -1 the context
// holds no image, so nothing stale can be used in its place.
int dt_image_ctx_decode(dt_image_ctx *c, const char *path, int want_w, int want_h,
                        dt_image *out, float *scale, int *orig_w, int *orig_h);

// Warp the decoded image (`src`, any view) with the 2x3 affine `m` mapping
// source pixel-index coordinates to destination ones (OpenCV's convention:
// dst(x,y) = src(m^-1 (x,y))), bilinear, border BORDER_REFLECT_101, into an
// out_w x out_h image held by the context. `affine_only_scale` set means m has
// no rotation/shear and cv::resize is used instead (same pixel-centre
// convention, cheaper). The view stays valid until the next warp.
int dt_image_ctx_warp(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                      int out_h, int affine_only_scale, dt_image *out);
// The same warp (never the resize) with a constant border of colour
// fill (B,G,R) in place of the reflection.
int dt_image_ctx_warp_fill(dt_image_ctx *c, const dt_image *src, const double m[6], int out_w,
                           int out_h, const unsigned char fill[3], dt_image *out);

// Whole-image helpers (malloc'ed results, free with dt_image_free).
int dt_image_load(const char *path, dt_image *out);
int dt_image_new(int w, int h, dt_image *out); // zeroed (black)
void dt_image_free(dt_image *im);
int dt_image_resize(const dt_image *src, int w, int h, dt_image *out); // INTER_LINEAR
// Same affine convention and border as dt_image_ctx_warp.
int dt_image_warp(const dt_image *src, const double m[6], int out_w, int out_h,
                  dt_image *out);
// Horizontal mirror.
int dt_image_flip(const dt_image *src, dt_image *out);

// Drawing (colours are B,G,R). Rectangle corners are inclusive pixel
// positions; thickness < 0 fills.
void dt_image_draw_rect(dt_image *im, int x1, int y1, int x2, int y2, const unsigned char bgr[3],
                        int thickness);
// Text with a filled label background whose top-left is at (x, y), moved
// inside the image when it would stick out.
void dt_image_draw_label(dt_image *im, int x, int y, const char *text,
                         const unsigned char bg[3], const unsigned char fg[3], double font_scale);

// Filled polygon of n vertices xy (n, 2) in continuous pixel coordinates
// (pixel i covers [i, i+1), as the box convention in data/data.h), 1/256
// pixel precision; antialias: blend the edges (OpenCV's LINE_AA).
void dt_image_fill_polygon(dt_image *im, const double *xy, int n, const unsigned char bgr[3],
                           int antialias);

// Write by extension: .jpg/.jpeg (quality 1..100, `progressive` for a
// progressive JPEG) or .png, with `channels` 3 (colour), 1 (grey: luma) or
// 4 (colour + opaque alpha, PNG only). 0 or -1 with dt_error naming the file.
int dt_image_write(const char *path, const dt_image *im, int quality, int progressive,
                   int channels);

// JPEG through libjpeg(-turbo) directly (src/media/image_jpeg.c), whose every
// warning is an error here (see there why). dt_jpeg_info reads the header:
// full size and the output size at 1/denom scale (denom 1 or 2). dt_jpeg_decode
// writes B,G,R rows (out_h, step) of that output size. 0, or -1 with the
// reason in `why`.
int dt_jpeg_info(const unsigned char *bytes, size_t n, int denom, int *w, int *h, int *out_w,
                 int *out_h, char *why, size_t why_len);
int dt_jpeg_decode(const unsigned char *bytes, size_t n, int denom, unsigned char *out,
                   size_t step, int out_w, int out_h, char *why, size_t why_len);

// Whether this build can decode images (0 when built with OPENCV=0).
int dt_image_available(void);
// Turn OpenCV's own thread pool off (0) or back to its default (-1): loader
// workers are the parallelism, nested pools only add overhead.
void dt_image_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
