// libFuzzer harness: training-state (checkpoint) files (src/train/checkpoint.c,
// dt_state_load) against the tiny trainable network of net.h. A refused
// file must leave the network and the state untouched and say why. Each
// input is loaded as it is and again with its trailing checksum (FNV-1a of
// every byte before it) made right, so that mutations reach the fields the
// checksum would otherwise guard.
#include <stdint.h>
#include <string.h>

#include "net.h"
#include "train/train.h"
#include "util.h"

static dt_model *model;
static dt_network *net;
static float *before;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_init();
    model = fz_tiny_model(1);
    net = model->net;
    const char *seed = getenv("DT_FUZZ_WRITE_SEED");
    if (seed) {
        double hist[6] = {1.5, 1.25, 0.5, 1.0, 0.75, 0.625};
        dt_train_state st = {.stage = 1, .epoch = 0, .iter = 7, .stage_iter = 0, .seed = 3,
                             .best = 0.625, .has_best = 1, .n_hist = 2, .hist = hist,
                             .cap_hist = 2};
        st.ema.avg = 0.9;
        st.ema.beta = 0.98;
        st.ema.count = 7;
        net->opt.t = 7;
        net->images_seen = 7;
        for (size_t k = 0; k < net->n_params; k++)
            net->opt_m[k] = 0.01f * (float)k, net->opt_v[k] = 0.001f * (float)k;
        if (dt_state_save(model, &st, seed) != 0) {
            fprintf(stderr, "%s\n", dt_last_error());
            exit(1);
        }
        exit(0);
    }
    before = malloc(3 * net->n_params * sizeof(float));
    return 0;
}

static void load(const char *path) {
    const size_t np = net->n_params;
    memcpy(before, net->params, np * sizeof(float));
    memcpy(before + np, net->opt_m, np * sizeof(float));
    memcpy(before + 2 * np, net->opt_v, np * sizeof(float));
    dt_train_state st = {0};
    dt_clear_error();
    if (dt_state_load(model, &st, path) == 0) {
        if (st.n_hist < 0 || (st.n_hist > 0 && !st.hist)) abort();
        if (st.stage < 0 || st.stage > model->n_stages) abort();
        // touch every history entry (ASan checks the allocation holds them)
        volatile double sum = 0;
        for (int i = 0; i < 3 * st.n_hist; i++) sum += st.hist[i];
        (void)sum;
    } else {
        if (!dt_last_error()[0]) abort();
        if (st.hist || st.n_hist || memcmp(before, net->params, np * sizeof(float)) != 0 ||
            memcmp(before + np, net->opt_m, np * sizeof(float)) != 0 ||
            memcmp(before + 2 * np, net->opt_v, np * sizeof(float)) != 0)
            abort();
    }
    free(st.hist);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load(fz_file(0, data, size));
    if (size >= 8) {
        uint8_t *fixed = malloc(size);
        memcpy(fixed, data, size);
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i + 8 < size; i++) h = (h ^ fixed[i]) * 1099511628211ull;
        memcpy(fixed + size - 8, &h, 8);
        load(fz_file(1, fixed, size));
        free(fixed);
    }
    return 0;
}
