// Checkpoints that resume a training run exactly (checkpoint.c).
#ifndef DT_TRAIN_CHECKPOINT_H
#define DT_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "train/model.h"
#include "train/schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

// --- checkpoints (checkpoint.c) ------------------------------------------------
// Everything a run needs to continue exactly where it stopped.
typedef struct {
    int stage, epoch;     // next stage and epoch within it to run
    long iter;            // global training iterations so far
    long stage_iter;      // iterations done in the current stage (clr position)
    uint64_t seed;
    dt_ema ema;
    double best;          // best selection value so far (higher is better)
    int has_best;
    int n_hist;           // epochs recorded
    double *hist;         // (cap_hist, 3): trn_loss, val_loss, first metric (NaN if none)
    int cap_hist;
    // The run's recipe (dt_train_recipe; not owned): written by dt_state_save
    // and compared by dt_state_load (NULL: save writes the net's own with 0
    // batches, load compares only the network and the classes).
    const char *recipe;
    // The weights' exponential moving average (n_params floats, owned by the
    // trainer; NULL without [net] ema=). Saved after the three tensors when
    // not NULL; loaded when the file has one (its recipe's "ema" line). Its
    // update count is `iter` (one update per training step from the start).
    float *wema;
} dt_train_state;

// <path>: a self-contained file (parameters, Adam m and v and t, net->rng,
// images seen, the state above, what network and recipe it belongs to, the
// class names, checksums) written to a temp file, synced and renamed. 0 / -1.
int dt_state_save(const dt_model *m, const dt_train_state *st, const char *path);
// Loads it into net and st (st->hist reallocated). Refuses, with a message
// that says what differs and names -clear: a file made for another network
// (layer types, shapes, inputs, groups, tensors), another recipe (when
// st->recipe is set) or other class names (when net has names; without,
// net takes the file's). A damaged or truncated file is called so, with
// where. Reads version 1 files (with a note). A file with a weight EMA
// fills st->wema when set (without one, st->wema is left as it was). 0 / -1.
int dt_state_load(dt_model *m, dt_train_state *st, const char *path);
// The class names a version 2 state records (*names NULL, *n 0 when none or
// an older file). 0 / -1 when the file cannot be read or its header is damaged.
int dt_state_class_names(const char *path, char ***names, int *n);
// The identity texts stored in a state (malloc'ed, one line per item): the
// network (per layer: type, shapes, inputs, group, tensors) and the recipe
// (batch, batches per epoch, optimizer, augmentation, each [stage], data).
char *dt_net_identity(const dt_network *net);
char *dt_train_recipe(const dt_model *m, int train_batches, const char *data);
// Removes <dir>/<name>_*.weights.tmp.<pid> and <name>_*.state.tmp.<pid> left
// by a process killed during a save: those whose pid is gone or runs another
// program (a live process of this program may be saving: its files stay).
// Returns how many were removed (each one logged).
int dt_remove_stale_temps(const char *dir, const char *name);


#ifdef __cplusplus
}
#endif
#endif
