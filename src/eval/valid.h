// Validation of a trained network on a data set's validation split, and the
// `valid` / `test` commands (src/eval/valid.c, src/cli/test_cmd.c).
//
// One validation loop (dt_valid_pass) serves `train`'s per-epoch
// validation and `detector valid`. The head (the network's last loss layer)
// says in its dt_layer_ops what it is: detection heads ([ssd], a detections
// hook): per-class AP and mAP at IoU 0.5 as the VOC devkit (VOC2007
// 11-point and all-point), COCO AP@[.5:.95] as an extra (detect/eval.h,
// detect/map_acc.h). Other heads: their metrics hooks ([softmax]: accuracy;
// [single]: detn_acc, detn_l1; [multilabel]: accuracy at 0.5 and micro F1;
// `valid` shows [cost]'s loss as L1_px). Every model: the validation loss in
// one unit, the mean per image (train's table shows a head whose loss sums
// a batch's rows, [ssd], per batch: that mean times the batch).
//
// GROUND TRUTH is what the loader hands out at augment=0 (the boxes of the
// training path: scaled to the network input, clipped, an object under one
// input pixel dropped), mapped back to the original image's pixels, with
// the `difficult` flags.
#ifndef DT_VALID_H
#define DT_VALID_H

#include "data/data.h"
#include "data/loader.h"
#include "detect/detect.h"
#include "detect/eval.h"
#include "detect/map_acc.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// Detections of the head's last forward (images 0 .. b->n-1) against b's
// boxes, both mapped to the original image's pixels through the inverse of
// the validation transform (aug), into a. *scratch: NULL at first, freed by
// dt_valid_scratch_free (a detection head has ops->detections and
// ops->classes). aug NULL: the default transform.
typedef struct dt_map_scratch dt_map_scratch;
int dt_valid_add_detections(dt_map_acc *a, dt_map_scratch **scratch, const dt_layer *head,
                            const dt_network *net, const dt_augment *aug, const dt_batch *b);
void dt_valid_scratch_free(dt_map_scratch *s);

// The [ssd] metrics from a result: mAP (VOC2007 11-point at IoU .5, the
// checkpoint selector), mAP_all (all-point), AP.5:.95 (COCO). Returns the count.
int dt_map_metrics(const dt_eval_result *r, dt_metric *out, int max);

// --- one validation pass ---------------------------------------------------
typedef struct {
    dt_iou_mode iou_mode; // VOC numbers: DT_IOU_VOC_PIXEL (default) or continuous
    dt_detect_cfg det;    // dt_valid_detect_cfg_default
    int threads;          // loader threads (0: 2)
    int max_images;       // 0: the whole split
    const char *out_dir;  // result files written here; NULL: none
    FILE *table;          // readable table printed here; NULL: none
    const dt_augment *aug; // the model's transform (letterbox); NULL: the defaults
    // Data-parallel (docs/DISTRIBUTED.md), every rank calling: 1 = the
    // batches are this rank's shard of the split (dt_valid_sharded: a loader
    // with rank/world of dist.h, shard_pad 0); the loss and image count are
    // summed over ranks and the detections gathered, so rank 0's result is
    // the whole split's, in the data set's order, as one process's. The
    // other ranks get n_images and the loss, no metrics. 0: this process alone.
    int shard;
} dt_valid_opts;

// 1 when a pass over net can be sharded over the ranks of dist.h (more than
// one rank, a detection head: its detections can be gathered; the other
// heads keep their metrics inside the layer, so rank 0 scores them alone).
int dt_valid_sharded(const dt_network *net);

void dt_valid_opts_default(dt_valid_opts *o);

// What the network's loss layer is (its last layer with is_loss), as its
// dt_layer_ops say.
dt_head_kind dt_head_of(const dt_network *net, dt_layer **loss_layer);

typedef struct {
    dt_head_kind kind;
    int n_images;
    int has_loss;      // the network had targets (with_loss): loss below is set
    double loss;       // mean per image (the one unit of every head); NaN without has_loss
    int batch;         // the network's batch
    int loss_sums_rows; // the head's loss sums a batch's rows ([ssd]): train's table
                        // shows loss * batch, the loss of one full batch
    int n_metrics;
    dt_metric metrics[DT_MAX_METRICS]; // first one: the checkpoint selector
    int has_ap;        // [ssd] only: ap filled
    dt_eval_result ap; // per class and mean; ap.iou_mode says the VOC IoU used
    dt_map_acc *acc;   // detection heads: what ap was computed from (result files)
    double seconds;
} dt_valid_result;

// One step of the loop: b (b->n <= net->batch rows; padding rows ignored)
// into the input and, with targets (net->with_loss), every loss layer's
// set_truth; a forward in inference mode (the mode is restored); the loss
// layers' metrics_add. *loss gets the loss of the b->n rows (the head's
// unit: their mean, or their sum where ops->loss_sums_rows). 0 / -1.
int dt_valid_step(dt_network *net, const dt_batch *b, float *loss);

// The loop: every batch next(ctx) gives until NULL (o->max_images caps it)
// through dt_valid_step, the head's metrics (detection heads: mAP over the
// detections, mapped with o->aug; n_classes >= 0 is checked against the
// head's classes). Fills r (free with dt_valid_result_free). 0 / -1.
int dt_valid_pass(dt_network *net, dt_batch *(*next)(void *), void *ctx, int n_classes,
                  const dt_valid_opts *o, dt_valid_result *r);
// The names of the metrics a pass gives (values NaN). Returns the count.
int dt_valid_metric_names(dt_network *net, dt_metric *out, int max);

// Runs the split `val` once through `net` (a loader and dt_valid_pass) (its batch size, inference mode;
// the mode it had is restored) and fills r (free with dt_valid_result_free).
// The loss is computed when the network has targets (net->with_loss); an
// [ssd] network without them gives the detection metrics only, the other
// heads need them (their metrics compare with targets): -1 otherwise.
// Prints the table to o->table and writes result files to o->out_dir when
// set. 0, or -1 with dt_error.
int dt_valid_run(dt_network *net, const dt_dataset *val, const dt_valid_opts *o,
                 dt_valid_result *r);
void dt_valid_result_free(dt_valid_result *r);
void dt_valid_print(const dt_valid_result *r, const dt_dataset *val, FILE *f);

// What `valid` and `predgrid` start with: the weights into net, then the
// validation split of *data (the caller puts the cfg's data= there when no
// -data was given; NULL: an error that says so). 0 with dc and d to free, or -1 + dt_error with nothing to
// free.
int dt_valid_load_split(dt_network *net, const char *weights, const char **data,
                        dt_datacfg *dc, dt_dataset *d);

// Fills net->truth for batch b through the loss layer's set_truth hook
// (after it the loss covers the b->n real rows only). 0, or -1 with dt_error
// (also when the layer has no hook).
int dt_valid_set_truth(dt_network *net, dt_layer *loss, const dt_batch *b);

// Box (x1, y1, x2, y2) normalised to the network input -> continuous pixels
// of the original ow x oh image, through the inverse of the validation
// transform (squash or letterbox as `aug` says).
void dt_box_input_to_source(const dt_augment *aug, int net_w, int net_h, int ow, int oh,
                            const float *box, double *out);


#ifdef __cplusplus
}
#endif
#endif
