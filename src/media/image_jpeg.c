// JPEG decoding through libjpeg(-turbo) directly (Debian's libjpeg62-turbo,
// the library OpenCV itself decodes JPEGs with), for one reason: libjpeg
// reports damaged entropy-coded data only as a *warning* ("Corrupt JPEG data:
// premature end of data segment", "bad Huffman code", ...) through its error
// manager's emit_message, fills what it could not decode with grey, and
// returns the picture as a success. OpenCV's imdecode offers no hook for
// those warnings, and no structure check of ours can see them without
// Huffman-decoding the scan (a file cut short and given an end marker, for
// instance, is well-formed marker by marker). So here every warning is an
// error, except two that say nothing about the pixels (an unknown JFIF
// revision, a damaged ICC profile marker: the profile is not used).
//
// The decode settings are libjpeg's defaults with B,G,R output
// (JCS_EXT_BGR), the same as OpenCV's JPEG decoder uses: tests/test_data_loader.c
// checks the pixels against cv::imdecode's. CMYK and YCCK files (Adobe's
// inverted CMYK) come out as libjpeg's CMYK and are converted to B,G,R as
// OpenCV does: b = k - ((255 - y) * k >> 8), likewise g from m and r from c.
//
// C, not C++: libjpeg leaves its errors by longjmp, which must not cross C++
// frames with destructors.
#ifdef DT_OPENCV

#include "media/image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} err_mgr;

static void on_error(j_common_ptr ci) {
    err_mgr *e = (err_mgr *)ci->err;
    ci->err->format_message(ci, e->msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr ci, int level) {
    if (level >= 0) return; // trace messages
    int code = ci->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC) return;
    on_error(ci); // a warning is damage: stop here
}

static void src_init(j_decompress_ptr ci, err_mgr *e, const unsigned char *b, size_t n) {
    ci->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    e->pub.emit_message = on_message;
    e->msg[0] = 0;
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, b, (unsigned long)n);
}

static void set_output(j_decompress_ptr ci, int denom) {
    ci->scale_num = 1;
    ci->scale_denom = (unsigned)denom;
    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
        ci->out_color_space = JCS_CMYK; // libjpeg converts to CMYK only; to BGR below
    else
        ci->out_color_space = JCS_EXT_BGR;
}

int dt_jpeg_info(const unsigned char *b, size_t n, int denom, int *w, int *h, int *out_w,
                 int *out_h, char *why, size_t why_len) {
    struct jpeg_decompress_struct ci;
    err_mgr e;
    src_init(&ci, &e, b, n);
    if (setjmp(e.jump)) {
        snprintf(why, why_len, "%s", e.msg);
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    jpeg_read_header(&ci, TRUE);
    set_output(&ci, denom);
    jpeg_calc_output_dimensions(&ci);
    *w = (int)ci.image_width;
    *h = (int)ci.image_height;
    *out_w = (int)ci.output_width;
    *out_h = (int)ci.output_height;
    jpeg_destroy_decompress(&ci);
    return 0;
}

int dt_jpeg_decode(const unsigned char *b, size_t n, int denom, unsigned char *out, size_t step,
                   int out_w, int out_h, char *why, size_t why_len) {
    struct jpeg_decompress_struct ci;
    err_mgr e;
    unsigned char *volatile cmyk = NULL; // volatile: survives the longjmp
    src_init(&ci, &e, b, n);
    if (setjmp(e.jump)) {
        snprintf(why, why_len, "%s", e.msg);
        free(cmyk);
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    jpeg_read_header(&ci, TRUE);
    set_output(&ci, denom);
    jpeg_start_decompress(&ci);
    if ((int)ci.output_width != out_w || (int)ci.output_height != out_h) {
        snprintf(why, why_len, "output size %ux%u, expected %dx%d", ci.output_width,
                 ci.output_height, out_w, out_h);
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    const int is_cmyk = ci.out_color_space == JCS_CMYK;
    if (is_cmyk) cmyk = malloc((size_t)out_w * 4);
    if (is_cmyk && !cmyk) {
        snprintf(why, why_len, "out of memory");
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    while (ci.output_scanline < ci.output_height) {
        unsigned char *row = out + (size_t)ci.output_scanline * step;
        JSAMPROW rp = is_cmyk ? cmyk : row;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) {
            snprintf(why, why_len, "libjpeg returned no row %u", ci.output_scanline);
            free(cmyk);
            jpeg_destroy_decompress(&ci);
            return -1;
        }
        if (is_cmyk) {
            for (int x = 0; x < out_w; x++) {
                const unsigned char *p = cmyk + 4 * x;
                int k = p[3];
                row[3 * x + 0] = (unsigned char)(k - ((255 - p[2]) * k >> 8));
                row[3 * x + 1] = (unsigned char)(k - ((255 - p[1]) * k >> 8));
                row[3 * x + 2] = (unsigned char)(k - ((255 - p[0]) * k >> 8));
            }
        }
    }
    jpeg_finish_decompress(&ci); // reads to the end marker: damage after the last row warns too
    free(cmyk);
    jpeg_destroy_decompress(&ci);
    return 0;
}

#endif // DT_OPENCV
