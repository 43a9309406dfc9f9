// libFuzzer harness: PASCAL VOC annotation XML (src/data/read_voc.c through
// dt_read_voc_xml), with names collected and with a fixed names list.
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
    for (int grow = 0; grow < 2; grow++) {
        dt_dataset d;
        dt_warnings w;
        fz_dataset(&d, &w, grow);
        int rc = dt_read_voc_xml(&d, path, "img.jpg", grow);
        if (rc != 0 && rc != -1) abort();
        if (rc == 0 && d.n != 1) abort();
        if (rc != 0 && (d.n != 0 || d.n_skipped != 1)) abort();
        fz_check_and_free(&d, &w, 0);
    }
    return 0;
}
