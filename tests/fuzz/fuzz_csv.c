// libFuzzer harness: the lesson's CSV pair (src/data/read_text.c through
// dt_read_lesson_csv). The input is the box CSV, a NUL byte, then the
// classes CSV (no NUL: the classes CSV is empty).
#include <stdint.h>
#include <string.h>

#include "readers.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t nb = nul ? (size_t)(nul - data) : size;
    const char *bbox = fz_file(0, data, nb);
    const char *cls = nul ? fz_file(1, nul + 1, size - nb - 1) : fz_file(1, data, 0);
    for (int grow = 0; grow < 2; grow++) {
        dt_dataset d;
        dt_warnings w;
        fz_dataset(&d, &w, grow);
        int rc = dt_read_lesson_csv(&d, bbox, cls, "images", grow);
        if (rc != 0 && rc != -1) abort();
        fz_check_and_free(&d, &w, 0);
    }
    return 0;
}
