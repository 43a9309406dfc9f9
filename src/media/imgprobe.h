// What an image file is and how large, from its first bytes, without
// decoding (imgprobe.c): the decoders (image.h) refuse an image above the
// pixel cap before allocating anything, and the readers learn the size of an
// image that no annotation declares. Also the pixel cap itself.
#ifndef DT_IMGPROBE_H
#define DT_IMGPROBE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// The largest image decoded, width x height (dt_image_set_max_pixels, which
// the command line sets from `-max_pixels N` or DT_MAX_PIXELS, else this
// default; a data set's `max_pixels=` applies to its loader when no cap was
// set). Checked from the file's header before any pixel memory is allocated:
// a 6 KB JPEG may claim 32000x32000 (3 GB decoded). See docs/DATA.md "Bad data".
#define DT_IMAGE_MAX_PIXELS_DEFAULT 100000000LL
// The process-wide cap: the caller's (n > 0 wins over a data set's; n <= 0:
// none set), else the default.
void dt_image_set_max_pixels(long long n);
long long dt_image_max_pixels_set(void); // the caller's cap, 0 when none
long long dt_image_max_pixels(void);
// Parse a cap as given on a command line or in a .data file ("100000000",
// "1e8", "8000x6000"): > 0, or -1 when it is not a positive count.
long long dt_image_parse_max_pixels(const char *s);

// Width and height from the header bytes of a JPEG, PNG or BMP file, without
// decoding. 0, or -1 when the bytes are none of them (or too short, or the
// header is damaged).
int dt_image_probe_size(const unsigned char *bytes, size_t n, int *w, int *h, int *is_jpeg);

// The formats decoded (the ones whose size is read from the header first).
enum { DT_IMG_OTHER = 0, DT_IMG_JPEG, DT_IMG_PNG, DT_IMG_BMP };
// Which of them the bytes hold, by signature. DT_IMG_OTHER with what they
// look like instead in `what` ("a GIF image", "an ICO icon", "HTML or text",
// ...), for the error message.
int dt_image_sniff(const unsigned char *bytes, size_t n, char *what, size_t what_len);

// Walk the marker structure of a JPEG held in memory: 0, or -1 with the
// reason in `why` (truncated, stray bytes, no frame header).
int dt_image_check_jpeg(const unsigned char *bytes, size_t n, char *why, size_t why_len);

// Width and height of an image file from its header (JPEG, PNG, BMP),
// reading no more of it than needed: 0, or -1 when unreadable or another
// format.
int dt_image_probe_file(const char *path, int *w, int *h);

#ifdef __cplusplus
}
#endif
#endif
