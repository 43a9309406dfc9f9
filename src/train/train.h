// Training machinery (docs/SEMANTICS.md §5): stages with per-group learning
// rates, the cyclical schedule, freezing, the debiased loss EMA, the
// epoch loop with validation, checkpoints that resume exactly, lr_find.
//
// The recipe is the model's [stage] sections (train/model.h).
// Each stage starts with a fresh optimizer state (dt_net_reset_optim) and a
// fresh loss EMA, as each fastai fit() call did.
#ifndef DT_TRAIN_H
#define DT_TRAIN_H

#include <stdint.h>

#include "engine/network.h"
#include "eval/valid.h"
#include "train/checkpoint.h"
#include "train/model.h"
#include "train/schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

// --- where batches come from -------------------------------------------------
// The trainer only sees this interface: the CLI plugs in two dt_loaders;
// tests plug in batches made in memory.
typedef struct {
    void *ctx;
    int train_batches; // full training batches per epoch (drop_last), for the schedule
    // Start a pass over a split (0 = train, augmented and shuffled by
    // (seed, epoch); 1 = validation) for global epoch `epoch`. 0 / -1 + dt_error.
    int (*begin)(void *ctx, int split, int epoch);
    dt_batch *(*next)(void *ctx); // NULL at the end of the pass
    void (*end)(void *ctx);
} dt_batch_source;

typedef struct {
    // Data-parallel (docs/DISTRIBUTED.md): the batches per epoch of one
    // process over the whole split, which the checkpoint's recipe records so
    // that a run resumes with any number of ranks; 0: the source's train_batches.
    int recipe_batches;
    const char *name;   // used in file names: <backup>/<name>_last.weights, ...
    const char *backup; // checkpoint folder (created); NULL: nothing written
    int clear;          // ignore (and later overwrite) an existing checkpoint
    double minutes;     // > 0: stop after this much wall clock (at an iteration)
    int max_epochs;     // > 0: stop after this many epochs in this run (tests)
    int progress;       // 1: progress bar on stderr
    FILE *table;        // the epoch table (stdout); NULL: not printed
    // Validation after epoch e (1-based, counted over all stages) when
    // e % valid_every == 0 and after the run's last epoch (or a -minutes stop);
    // 0 is taken as 1 (every epoch, fastai's habit); -1: never (score the
    // weights later with `detector valid`, as Darknet does without -map). An
    // epoch without validation prints "-" for val_loss and the metrics, and
    // cannot become the best checkpoint.
    int valid_every;
    // What the data are, in words, for the checkpoint's recipe (e.g. "voc.data:
    // 24 train images, 8 valid images"): a checkpoint made with other data is
    // refused. NULL: not described.
    const char *data;
} dt_train_opts;

// Runs every stage of m->stages on m->net. Training batches whose n is below the
// network batch are skipped (drop_last: BN statistics would otherwise mix in
// padding rows); validation batches may be partial, their padding rows are
// ignored by the loss layers (set_truth gets b->n). Resumes from
// <backup>/<name>_last.state unless o->clear. 0; 1 when stopped by
// max_epochs/minutes before the end; -1 + dt_error (a NaN or infinite loss
// names stage, epoch and iteration; nothing is written then).
int dt_train(dt_model *m, dt_batch_source *src, const dt_train_opts *o);

// One training step on a batch (b->n == net->batch): input copy, every loss
// layer's set_truth, forward, backward, optimizer step (at the lr already
// in net->group_lr). 0; 1 when the loss is NaN or infinite (nothing
// stepped); -1 + dt_error when set_truth refused the batch. *loss gets it.
int dt_train_step(dt_network *net, const dt_batch *b, float *loss);
// Checks that the net can be trained: a loss layer, set_truth everywhere,
// 3 input channels. 0 / -1.
int dt_train_check(const dt_network *net);

// --- lr_find ----------------------------------------------------------------------
typedef struct {
    double start, end; // lr range, exponential
    int iters;         // iterations (the lr reaches `end` at the last one)
    int n;             // rows filled
    double *lr, *loss; // (iters) lr and smoothed loss per iteration
} dt_lr_find_result;
// One pass with lr = start * (end/start)^(i/iters) on every group (fastai
// 0.7's LR_Finder); stops at a NaN loss or a smoothed loss above 4x the best
// seen (best tracked from the 11th iteration on, as fastai). Weights,
// optimizer and RNG state are restored afterwards (the first stage's
// freeze_to applies during the pass). 0 / -1. Free r->lr and r->loss.
int dt_lr_find(dt_model *m, dt_batch_source *src, dt_lr_find_result *r, int progress);


#ifdef __cplusplus
}
#endif
#endif
