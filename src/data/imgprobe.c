// Image size from header bytes (JPEG SOFn, PNG IHDR), without decoding: the
// loader decides from it whether a half-scale JPEG decode is enough.
#include "image.h"

#include <stdint.h>
#include <stdio.h>
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
    return -1;
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
