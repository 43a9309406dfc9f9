// The model builder: the one reader of a whole cfg. A cfg describes a
// network ([net] and the layers, engine/network.h), the data and its
// augmentation (data= and the augmentation keys of [net] / [augment],
// data/transform.h) and the training recipe ([stage] sections):
//   [stage]
//   epochs=3            required, >= 1
//   lr=1e-4,1e-3,1e-2   one number, or one per layer group (group 0 first);
//                       absent: [net] learning_rate
//   clr=32,5            div,cut_div of the cyclical schedule; absent: constant lr
//   freeze_to=-1        train groups n.. only (negative: from the end; 0 unfreezes);
//                       absent: as the previous stage left it (initially all train)
//   wd=0                weight decay of this stage; absent: [net] decay
//   schedule=cosine     constant | clr | cosine | onecycle (docs/TRAIN.md, "Schedules");
//                       absent: clr when clr= is given, else constant
//   warmup=100          iterations of linear warm-up from warmup_start x lr (constant, cosine)
//   warmup_start=0.1    the warm-up's first factor (torch's LinearLR start_factor)
//   lr_min=0            cosine: the lr at the end (torch's CosineAnnealingLR eta_min)
//   pct_start=0.3 div_factor=25 final_div_factor=1e4 cycle_momentum=1
//   base_momentum=0.85 max_momentum=0.95   onecycle: torch's OneCycleLR (three_phase off)
// [net] ema=0.9998 (and ema_warmup=1) keeps an exponential moving average of
// the weights (docs/TRAIN.md, "Weight EMA").
// The lesson's single-object recipe, for instance:
//   [stage] epochs=3  lr=1e-2 clr=32,5 freeze_to=-1
//   [stage] epochs=5  lr=4e-5,4e-4,2e-3 clr=32,10 freeze_to=-2
//   [stage] epochs=10 lr=1e-5,1e-4,1e-3 clr=32,10 freeze_to=0
#ifndef DT_TRAIN_MODEL_H
#define DT_TRAIN_MODEL_H

#include "data/transform.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DT_SCHED_CONSTANT = 0, DT_SCHED_CLR, DT_SCHED_COSINE, DT_SCHED_ONECYCLE } dt_sched_kind;

// One [stage] of the recipe.
#define DT_MAX_STAGES 16
typedef struct {
    int epochs;
    int n_lr;                   // 1, or one per layer group
    float lr[DT_MAX_GROUPS];    // maximum lr of the schedule, per group
    int clr;                    // cyclical schedule on (schedule == DT_SCHED_CLR)
    int sched;                  // dt_sched_kind
    int warmup;                 // iterations of linear warm-up (constant, cosine)
    float warmup_start;         // the warm-up's first factor
    float lr_min;               // cosine's eta_min (absolute)
    float pct_start, div_factor, final_div_factor; // onecycle
    int cycle_momentum;         // onecycle: beta1 (Adam) / momentum (SGD) cycled
    float base_momentum, max_momentum;
    float clr_div, clr_cut_div; // clr=div,cut_div
    int has_freeze, freeze_to;  // freeze_to=n given
    int has_wd;
    float wd;
    const dt_cfg_section *sec; // for messages
} dt_stage;

typedef struct {
    dt_network *net;
    dt_augment aug; // data= and the augmentation keys of [net] / [augment]
    int n_stages;   // [stage] sections: the training recipe
    dt_stage stages[DT_MAX_STAGES];
    // [net] ema=: decay of the weights' exponential moving average (0: off);
    // ema_warmup=1: decay min(ema, (1 + t) / (10 + t)) at update t (0-based)
    double ema_decay;
    int ema_warmup;
    // [net] beta1 / momentum as the cfg gave them: a stage without a cycled
    // momentum puts them back (train/schedule.h)
    float net_beta1, net_momentum;
} dt_model;

// Build a model from a cfg file / cfg text (cfg is owned by the model's
// network on success, by the caller on failure). Every section and key is
// checked: a cfg error names file, line and key. dt_model_load also moves
// the network to the GPU dt_net_opts.gpu asks for. NULL + dt_error on failure.
dt_model *dt_model_load(const char *cfg_path, const dt_net_opts *o);
// Moves a built network onto the GPU its dt_net_opts.gpu asked for (the
// engine builds on the CPU; the CUDA backend sits above it). 0 / -1.
int dt_net_place(dt_network *net);
dt_model *dt_model_from_cfg(dt_cfg *cfg, const char *name, const dt_net_opts *o);
void dt_model_free(dt_model *m); // and its network

// For callers that only run the network: frees m but its network, which it
// returns (NULL for NULL: dt_model_net_only(dt_model_load(...)) keeps the error).
dt_network *dt_model_net_only(dt_model *m);

// The data set the cfg names (data=), or NULL.
const char *dt_model_data(const dt_model *m);

#ifdef __cplusplus
}
#endif
#endif
