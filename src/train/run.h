// A whole training run as `detector train` does it (docs/API.md): the
// cfg's model (or one given), the .data file's splits, two loaders behind
// a dt_batch_source, the class lists agreed, dt_train with its progress
// bar and epoch table. The command line (cli/train_cmd.c) and the C API's
// dt_detector_train (api/embed.c) both call dt_train_run; lr_find shares
// the session.
#ifndef DT_TRAIN_RUN_H
#define DT_TRAIN_RUN_H

#include <stdint.h>

#include "data/loader.h"
#include "train/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *cfg;     // the cfg (its file stem names the checkpoints)
    const char *data;    // the .data file (NULL: the cfg's data=)
    const char *weights; // weights to start from (NULL: none)
    int loader_threads;  // the data loader's threads (0: its default)
    int seed_given;      // 1: seed re-initialises the parameters and sets the data order
    uint64_t seed;
    int quiet;           // no progress bar
    int clear;           // start again (default: resume <backup>/<stem>_last.state)
    double minutes;      // > 0: stop after this many minutes, checkpointed
    int valid_every;     // validate every N epochs and after the last (0: never)
    int max_epochs;      // > 0: stop after this many epochs in this run
    const char *backup;  // checkpoint folder (NULL: the .data file's backup=, else "backup")
    const dt_net_opts *net_opts; // how to build the network (with_grads is forced on)
    dt_model *model;     // non-NULL: train this model (built with gradients; not freed)
} dt_train_run_opts;

// The loaders of both splits behind a dt_batch_source (data of global epoch
// e: a function of (seed, e) alone).
typedef struct {
    dt_dataset train, valid;
    dt_loader_opts opts;
    dt_loader *L;
    const dt_network *net; // net->seed: set by -seed, or by the checkpoint on resume
    int logged; // bit per split: loader summary printed
    unsigned char *state[2]; // per split: images seen / unreadable, across the run's loaders
} dt_train_loader_src;

typedef struct {
    dt_model *model;
    int own_model;
    dt_network *net; // model->net
    dt_datacfg dc;
    int have_dc;
    dt_train_loader_src src;
    int have_train, have_valid;
    dt_batch_source bs;
} dt_train_session;

// Network (with gradients), seed, weights, .data, both splits (valid only
// with need_valid), loaders. 0 / -1 + dt_error; dt_train_session_free after both.
int dt_train_session_open(dt_train_session *S, const dt_train_run_opts *a, int need_valid);
void dt_train_session_free(dt_train_session *S);
// How many images of each split could not be read (warnings), for command `cmd`.
void dt_train_report_unreadable(dt_train_session *S, const char *cmd);

// The run: 0 done (final weights written), 1 stopped early (minutes,
// max_epochs; checkpointed), -1 + dt_error.
int dt_train_run(const dt_train_run_opts *a);

#ifdef __cplusplus
}
#endif
#endif
