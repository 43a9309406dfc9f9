// Training machinery (docs/SEMANTICS.md §5): stages with per-group learning
// rates, the cyclical schedule, freezing, the debiased loss EMA, the
// epoch loop with validation, checkpoints that resume exactly, lr_find.
//
// A cfg describes its training recipe with [stage] sections (not layers;
// parsed by dt_stage_parse from network.c, like [augment]):
//   [stage]
//   epochs=3            required, >= 1
//   lr=1e-4,1e-3,1e-2   one number, or one per layer group (group 0 first)
//   clr=32,5            div,cut_div of the cyclical schedule; absent: constant lr
//   freeze_to=-1        train groups n.. only (negative: from the end; 0 unfreezes);
//                       absent: as the previous stage left it (initially all train)
//   wd=0                weight decay of this stage; absent: [net] decay
// The lesson's single-object recipe, for instance:
//   [stage] epochs=3  lr=1e-2 clr=32,5 freeze_to=-1
//   [stage] epochs=5  lr=4e-5,4e-4,2e-3 clr=32,10 freeze_to=-2
//   [stage] epochs=10 lr=1e-5,1e-4,1e-3 clr=32,10 freeze_to=0
// Each stage starts with a fresh optimizer state (dt_net_reset_optim) and a
// fresh loss EMA, as each fastai fit() call did.
#ifndef DT_TRAIN_H
#define DT_TRAIN_H

#include <stdint.h>

#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// --- [stage] ------------------------------------------------------------------
// Reads one [stage] section into net->stages (marking its keys used). 0 / -1
// with a cfg error naming file, line and key.
int dt_stage_parse(dt_network *net, dt_cfg_section *s);
// After every layer is known: checks lr counts against the layer groups. 0 / -1.
int dt_stages_check(dt_network *net);

// --- schedules ------------------------------------------------------------------
// docs/SEMANTICS.md §5: iteration j (0-based) of a stage of n iterations,
// cut = n / cut_div (at least 1);
//   pct = j / cut                        if j <= cut
//       = 1 - (j - cut) / (cut * (cut_div - 1))  otherwise (clamped at 0),
// returns the multiplier (1 + pct * (div - 1)) / div of lr_max. Equals
// fastai 0.7's CircularLR whenever n is a multiple of cut_div (its descent is
// over n - cut iterations; the two differ only when n % cut_div != 0, where
// the formula of docs/SEMANTICS.md §5 would go negative without the clamp).
double dt_clr_scale(long n, long j, double div, double cut_div);
// Sets net->group_lr for iteration j of n of the stage (constant without clr).
void dt_stage_set_lr(dt_network *net, const dt_stage *st, long n, long j);
// Applies a stage's freeze_to (if it has one) and its weight decay.
void dt_stage_apply(dt_network *net, const dt_stage *st, float base_decay);

// Debiased exponential moving average of the loss (fastai's
// avg_loss * beta + loss * (1 - beta), divided by 1 - beta^count).
typedef struct {
    double beta, avg;
    long count;
} dt_ema;
void dt_ema_init(dt_ema *e, double beta);
double dt_ema_add(dt_ema *e, double x); // returns the debiased value
double dt_ema_value(const dt_ema *e);   // 0 before the first value

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

// Runs every stage of net->stages. Training batches whose n is below the
// network batch are skipped (drop_last: BN statistics would otherwise mix in
// padding rows); validation batches may be partial, their padding rows are
// ignored by the loss layers (set_truth gets b->n). Resumes from
// <backup>/<name>_last.state unless o->clear. 0; 1 when stopped by
// max_epochs/minutes before the end; -1 + dt_error (a NaN or infinite loss
// names stage, epoch and iteration; nothing is written then).
int dt_train(dt_network *net, dt_batch_source *src, const dt_train_opts *o);

// One training step on a batch (b->n == net->batch): input copy, every loss
// layer's set_truth, forward, backward, optimizer step (at the lr already
// in net->group_lr). 0; 1 when the loss is NaN or infinite (nothing
// stepped); -1 + dt_error when set_truth refused the batch. *loss gets it.
int dt_train_step(dt_network *net, const dt_batch *b, float *loss);
// Forward only, in inference mode, over a batch of b->n <= net->batch rows
// (padding rows ignored), feeding the loss layers' metrics_add. *loss gets
// the mean over the b->n rows. 0 / -1 as above.
int dt_valid_step(dt_network *net, const dt_batch *b, float *loss);
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
int dt_lr_find(dt_network *net, dt_batch_source *src, dt_lr_find_result *r, int progress);

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
} dt_train_state;

// <path>: a self-contained file (parameters, Adam m and v and t, net->rng,
// images seen, the state above, what network and recipe it belongs to, the
// class names, checksums) written to a temp file, synced and renamed. 0 / -1.
int dt_state_save(const dt_network *net, const dt_train_state *st, const char *path);
// Loads it into net and st (st->hist reallocated). Refuses, with a message
// that says what differs and names -clear: a file made for another network
// (layer types, shapes, inputs, groups, tensors), another recipe (when
// st->recipe is set) or other class names (when net has names; without,
// net takes the file's). A damaged or truncated file is called so, with
// where. Reads version 1 files (with a note). 0 / -1.
int dt_state_load(dt_network *net, dt_train_state *st, const char *path);
// The class names a version 2 state records (*names NULL, *n 0 when none or
// an older file). 0 / -1 when the file cannot be read or its header is damaged.
int dt_state_class_names(const char *path, char ***names, int *n);
// The identity texts stored in a state (malloc'ed, one line per item): the
// network (per layer: type, shapes, inputs, group, tensors) and the recipe
// (batch, batches per epoch, optimizer, augmentation, each [stage], data).
char *dt_net_identity(const dt_network *net);
char *dt_train_recipe(const dt_network *net, int train_batches, const char *data);
// Removes <dir>/<name>_*.weights.tmp.<pid> and <name>_*.state.tmp.<pid> left
// by a process killed during a save: those whose pid is gone or runs another
// program (a live process of this program may be saving: its files stay).
// Returns how many were removed (each one logged).
int dt_remove_stale_temps(const char *dir, const char *name);


// --- CLI ------------------------------------------------------------------------------
int dt_cmd_train(int argc, char **argv);
int dt_cmd_lr_find(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
