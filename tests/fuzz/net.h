// Shared by fuzz_weights.c and fuzz_state.c: the small network whose weights
// and training-state files are fuzzed, built once per process, and the seed
// generator (DT_FUZZ_WRITE_SEED=FILE: write that net's file and exit), which
// made tests/fuzz/corpus/{weights,state}/tiny.*.
#ifndef DT_FUZZ_NET_H
#define DT_FUZZ_NET_H

#include <stdio.h>
#include <stdlib.h>

#include "base/cfg.h"
#include "base/common.h"
#include "engine/network.h"
#include "train/model.h"

// Conv with batch norm (five tensors), a pool without parameters, a
// connected layer and a softmax; two training stages. 22 parameters.
static const char fz_tiny_cfg[] =
    "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\nseed=1\noptimizer=adam\n"
    "[convolutional]\nfilters=2\nsize=1\nbatch_normalize=1\nactivation=relu\n"
    "[avgpool]\n"
    "[connected]\noutput=2\n"
    "[softmax]\n"
    "[stage]\nepochs=1\nlr=1e-3\n"
    "[stage]\nepochs=2\nlr=1e-4\n";

// The model (network and recipe); built once per process, never freed.
static inline dt_model *fz_tiny_model(int with_grads) {
    dt_cfg *cfg = dt_cfg_parse_string(fz_tiny_cfg, "tiny.cfg");
    if (!cfg) {
        fprintf(stderr, "fuzz: tiny cfg: %s\n", dt_last_error());
        abort();
    }
    dt_net_opts o = {.batch = 1, .with_grads = with_grads, .quiet = 1, .conv_route = DT_CONV_GEMM};
    dt_model *m = dt_model_from_cfg(cfg, "tiny.cfg", &o);
    if (!m) {
        fprintf(stderr, "fuzz: tiny net: %s\n", dt_last_error());
        abort();
    }
    dt_net_init_params(m->net, 1);
    return m;
}

#endif
