// Image size from header bytes (JPEG SOFn, PNG IHDR, BMP info header),
// without decoding: the decoder refuses an image above the pixel cap before
// allocating anything, and the loader decides from it whether a half-scale
// JPEG decode is enough. Also: what a file that is none of these holds, and
// the pixel cap itself.
#include "media/imgprobe.h"

#include "base/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe_jpeg(const unsigned char *b, size_t n, int *w, int *h) {
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) return -1;
        unsigned m = b[i + 1];
        if (m == 0xFF) { // fill byte
            i++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { // no length field
            i += 2;
            continue;
        }
        size_t len = ((size_t)b[i + 2] << 8) | b[i + 3];
        if (len < 2) return -1;
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (i + 9 > n) return -1;
            *h = (b[i + 5] << 8) | b[i + 6];
            *w = (b[i + 7] << 8) | b[i + 8];
            return (*w > 0 && *h > 0) ? 0 : -1;
        }
        if (m == 0xD9 || m == 0xDA) return -1; // image data before any frame header
        i += 2 + len;
    }
    return -1;
}

int dt_image_probe_size(const unsigned char *b, size_t n, int *w, int *h, int *is_jpeg) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    *is_jpeg = 0;
    if (n >= 4 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        *is_jpeg = 1;
        return probe_jpeg(b, n, w, h);
    }
    if (n >= 24 && memcmp(b, png_sig, 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0) {
        uint32_t ww = ((uint32_t)b[16] << 24) | ((uint32_t)b[17] << 16) | ((uint32_t)b[18] << 8) | b[19];
        uint32_t hh = ((uint32_t)b[20] << 24) | ((uint32_t)b[21] << 16) | ((uint32_t)b[22] << 8) | b[23];
        if (ww == 0 || hh == 0 || ww > (1u << 30) || hh > (1u << 30)) return -1;
        *w = (int)ww;
        *h = (int)hh;
        return 0;
    }
    if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
        // BITMAPFILEHEADER (14 bytes), then the info header: its size, then
        // 16-bit (OS/2 core header, 12 bytes) or 32-bit signed width and
        // height (negative height: rows stored top-down).
        uint32_t dib = b[14] | (uint32_t)b[15] << 8 | (uint32_t)b[16] << 16 | (uint32_t)b[17] << 24;
        long long ww, hh;
        if (dib == 12) {
            ww = b[18] | b[19] << 8;
            hh = b[20] | b[21] << 8;
        } else if (dib >= 40 && dib <= 124) {
            ww = (int32_t)(b[18] | (uint32_t)b[19] << 8 | (uint32_t)b[20] << 16 | (uint32_t)b[21] << 24);
            hh = (int32_t)(b[22] | (uint32_t)b[23] << 8 | (uint32_t)b[24] << 16 | (uint32_t)b[25] << 24);
            if (hh < 0) hh = -hh;
        } else {
            return -1;
        }
        if (ww <= 0 || hh <= 0 || ww > (1 << 30) || hh > (1 << 30)) return -1;
        *w = (int)ww;
        *h = (int)hh;
        return 0;
    }
    return -1;
}

int dt_image_sniff(const unsigned char *b, size_t n, char *what, size_t what_len) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return DT_IMG_JPEG;
    if (n >= 8 && memcmp(b, png_sig, 8) == 0) return DT_IMG_PNG;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return DT_IMG_BMP;
    const char *k = NULL;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) k = "a GIF image";
    else if (n >= 4 && b[0] == 0 && b[1] == 0 && (b[2] == 1 || b[2] == 2) && b[3] == 0)
        k = b[2] == 1 ? "an ICO icon" : "a CUR cursor";
    else if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0)) k = "a TIFF image";
    else if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) k = "a WebP image";
    else if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0) k = "an ISO media file (HEIC, AVIF or MP4)";
    else if (n >= 4 && memcmp(b, "%PDF", 4) == 0) k = "a PDF document";
    else if (n >= 2 && b[0] == 0xFF && b[1] == 0xD8) k = "a damaged JPEG (no marker after its start)";
    if (!k) {
        size_t i = n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF ? 3 : 0; // UTF-8 BOM
        while (i < n && isspace(b[i])) i++;
        if (i < n && b[i] == '<') {
            k = "HTML or XML text";
        } else {
            size_t m = n < 512 ? n : 512, text = 0;
            for (size_t j = 0; j < m; j++) text += b[j] >= 0x20 || b[j] == '\n' || b[j] == '\r' || b[j] == '\t';
            k = m && text == m ? "text" : "no known image format";
        }
    }
    snprintf(what, what_len, "%s", k);
    return DT_IMG_OTHER;
}

int dt_image_probe_file(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    // The frame header is usually in the first few KiB; EXIF/ICC segments
    // can push it further (each up to 64 KiB).
    size_t cap = 16384, n = 0;
    unsigned char *buf = NULL;
    int rc = -1, is_jpeg;
    for (int pass = 0; pass < 2 && rc != 0; pass++) {
        buf = dt_realloc(buf, cap);
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        rc = dt_image_probe_size(buf, n, w, h, &is_jpeg);
        if (n < cap) break; // the whole file was read
        cap = 1 << 20;
    }
    free(buf);
    fclose(f);
    return rc;
}

long long dt_image_parse_max_pixels(const char *s) {
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return -1;
    if (*end == 'x' || *end == 'X') { // WIDTHxHEIGHT
        const char *t = end + 1;
        double h = strtod(t, &end);
        if (end == t || errno) return -1;
        v *= h;
    }
    while (isspace((unsigned char)*end)) end++;
    if (*end || !(v >= 1) || v > 9.0e18) return -1;
    return (long long)floor(v);
}

static long long max_pixels_set; // dt_image_set_max_pixels; 0: none

void dt_image_set_max_pixels(long long n) { max_pixels_set = n > 0 ? n : 0; }

long long dt_image_max_pixels_set(void) { return max_pixels_set; }

long long dt_image_max_pixels(void) {
    return max_pixels_set > 0 ? max_pixels_set : DT_IMAGE_MAX_PIXELS_DEFAULT;
}

// libjpeg decodes damaged files "successfully": it prints a warning ("Corrupt
// JPEG data: N extraneous bytes before marker", "Premature end of JPEG file")
// and fills in grey, and OpenCV returns the result. Such images would train
// on garbage, so the marker structure is walked first: segments with their
// lengths, a frame header before the first scan, entropy-coded data holding
// only stuffed bytes and restart markers, and an end marker (anything after
// it, as some cameras append, is ignored).
int dt_image_check_jpeg(const unsigned char *b, size_t n, char *why, size_t why_len) {
    size_t i = 2;
    int have_sof = 0;
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) {
        snprintf(why, why_len, "no JPEG start marker");
        return -1;
    }
    while (i < n) {
        if (b[i] != 0xFF) {
            size_t j = i;
            while (j < n && b[j] != 0xFF) j++;
            snprintf(why, why_len, "%zu stray bytes before a marker at offset %zu", j - i, i);
            return -1;
        }
        while (i < n && b[i] == 0xFF) i++; // fill bytes
        if (i >= n) break;
        unsigned m = b[i++];
        if (m == 0xD9) return have_sof ? 0 : (snprintf(why, why_len, "no frame header"), -1);
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; // no length field
        if (m == 0xD8 || m == 0x00) {
            snprintf(why, why_len, "unexpected marker 0x%02X at offset %zu", m, i - 1);
            return -1;
        }
        if (i + 2 > n) break;
        size_t len = ((size_t)b[i] << 8) | b[i + 1];
        if (len < 2) {
            snprintf(why, why_len, "bad segment length at offset %zu", i);
            return -1;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) have_sof = 1;
        i += len;
        if (m != 0xDA) continue;
        if (!have_sof) {
            snprintf(why, why_len, "scan before any frame header");
            return -1;
        }
        // Entropy-coded data: up to the next marker that is not a stuffed
        // 0xFF00 or a restart marker.
        for (;;) {
            const unsigned char *ff = i < n ? memchr(b + i, 0xFF, n - i) : NULL;
            if (!ff) {
                i = n;
                break;
            }
            i = (size_t)(ff - b);
            size_t k = i + 1;
            while (k < n && b[k] == 0xFF) k++;
            if (k >= n) {
                i = n;
                break;
            }
            if (b[k] == 0x00 || (b[k] >= 0xD0 && b[k] <= 0xD7)) {
                i = k + 1;
                continue;
            }
            i = k - 1; // at the 0xFF of a real marker
            break;
        }
    }
    snprintf(why, why_len, "truncated: the file ends before the JPEG end marker");
    return -1;
}
