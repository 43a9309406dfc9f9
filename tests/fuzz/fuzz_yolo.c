// libFuzzer harness: darknet/YOLO txt labels (src/data/read_text.c through
// dt_read_yolo_txt), three classes.
#include <stdint.h>

#include "readers.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file(0, data, size);
    dt_dataset d;
    dt_warnings w;
    fz_dataset(&d, &w, 0);
    int rc = dt_read_yolo_txt(&d, path, "img.jpg");
    if (rc != 0 && rc != -1) abort();
    if (rc == 0 && d.n != 1) abort();
    if (rc != 0 && (d.n != 0 || d.n_skipped != 1)) abort();
    fz_check_and_free(&d, &w, 1);
    return 0;
}
