// The length-prefixed string of the binary files (binio.h).
#include "base/binio.h"

#include <stdlib.h>

char *dt_bio_get_str(dt_bio *b, uint32_t max, int *bad) {
    uint32_t n = 0;
    dt_bio_get(b, &n, 4);
    if (!b->ok) return NULL;
    if (n > max) {
        *bad = 1;
        return NULL;
    }
    char *s = dt_malloc((size_t)n + 1);
    dt_bio_get(b, s, n);
    s[n] = 0;
    if (!b->ok || strlen(s) != n) {
        if (b->ok) *bad = 1;
        free(s);
        return NULL;
    }
    return s;
}
