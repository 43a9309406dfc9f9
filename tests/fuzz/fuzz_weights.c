// libFuzzer harness: weights files (src/engine/weights.c, dt_net_load_weights)
// against the tiny network of net.h. A file that loads must leave finite
// parameters; one that is refused must leave them untouched and say why.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "net.h"
#include "util.h"

static dt_model *model; // kept for the process (its network is fuzzed)
static dt_network *net;
static float *before;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_init();
    model = fz_tiny_model(0);
    net = model->net;
    const char *seed = getenv("DT_FUZZ_WRITE_SEED");
    if (seed) {
        net->images_seen = 12;
        if (dt_net_save_weights(net, seed) != 0) {
            fprintf(stderr, "%s\n", dt_last_error());
            exit(1);
        }
        exit(0);
    }
    before = malloc(net->n_params * sizeof(float));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_file(0, data, size);
    dt_net_init_params(net, 1);
    memcpy(before, net->params, net->n_params * sizeof(float));
    dt_clear_error();
    if (dt_net_load_weights(net, path) == 0) {
        for (size_t k = 0; k < net->n_params; k++)
            if (!isfinite(net->params[k])) abort();
    } else {
        if (!dt_last_error()[0]) abort();
        if (memcmp(before, net->params, net->n_params * sizeof(float)) != 0) abort();
    }
    return 0;
}
