// Validation of a trained network on a data set's validation split, and the
// `valid` / `test` commands (src/eval/valid.c, src/cli/test_cmd.c).
//
// Detection models ([ssd] loss layer): per-class AP and mAP at IoU 0.5 as
// the VOC devkit (VOC2007 11-point and all-point), COCO AP@[.5:.95] as an
// extra (detect/eval.h). Other models: the loss layer's metrics
// ([softmax]: accuracy; [cost]: L1; [single]: detn_acc, detn_l1;
// [multilabel]: accuracy at 0.5 and micro F1). Every model: the validation
// loss, mean per image.
//
// GROUND TRUTH is what the loader hands out at augment=0 (the boxes of the
// training path: scaled to the network input, clipped, an object under one
// input pixel dropped), mapped back to the original image's pixels, with
// the `difficult` flags. The [ssd] layer's metrics hooks use the same
// dt_map_acc, so `train`'s per-epoch mAP and `valid` agree.
#ifndef DT_VALID_H
#define DT_VALID_H

#include "data/data.h"
#include "data/loader.h"
#include "detect/detect.h"
#include "detect/eval.h"
#include "engine/network.h"

#ifdef __cplusplus
extern "C" {
#endif

// Scoring detections for mAP (docs/SEMANTICS.md §7's reference run): score > 0.05, NMS
// at IoU 0.45, at most 100 per class, the image's top 100. A low threshold
// only appends detections at the tail of the ranking, so it never lowers AP;
// the ssd layer's own keys (0.25, 0.4: docs/SEMANTICS.md §4) are for showing detections.
void dt_valid_detect_cfg_default(dt_detect_cfg *cfg);

// --- mAP accumulator over batches ------------------------------------------
typedef struct dt_map_acc dt_map_acc;

// C classes; mode: the IoU convention of the VOC numbers (COCO AP is
// always continuous). det: detection settings (NULL: the default above).
dt_map_acc *dt_map_acc_create(int n_classes, dt_iou_mode mode, const dt_detect_cfg *det);
void dt_map_acc_free(dt_map_acc *a);
void dt_map_acc_reset(dt_map_acc *a);
// Images 0 .. b->n-1 of the last forward of `net`, whose [ssd] layer is
// `ssd`: detections (dt_ssd_layer_detect) against b's boxes, both in the
// original image's pixels. 0, or -1 with dt_error.
int dt_map_acc_add(dt_map_acc *a, const dt_layer *ssd, const dt_network *net,
                   const dt_batch *b);
// Every AP (dt_eval_compute). r: free with dt_eval_result_free.
int dt_map_acc_compute(const dt_map_acc *a, dt_eval_result *r);
int dt_map_acc_images(const dt_map_acc *a);
// Writes dir/comp4_det_test_<class>.txt and dir/<coco_name> (COCO results
// JSON, category_id = class + 1, image_id = the image's place in the
// validation pass, 0-based; VOC ids = image file names without extension).
int dt_map_acc_write(const dt_map_acc *a, const char *dir, const char *coco_name,
                     const char *const *names);

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
} dt_valid_opts;

void dt_valid_opts_default(dt_valid_opts *o);

typedef enum {
    DT_HEAD_OTHER = 0,
    DT_HEAD_SSD,        // [ssd]
    DT_HEAD_CLASS,      // [softmax]: class of the largest object
    DT_HEAD_BOX,        // [cost]: box of the largest object, in input pixels
    DT_HEAD_SINGLE,     // [single]: class + box of the largest object
    DT_HEAD_MULTILABEL, // [multilabel]
} dt_head_kind;

// What the network's loss layer is (its last layer with is_loss).
dt_head_kind dt_head_of(const dt_network *net, dt_layer **loss_layer);

// A batch's loss summed over its n real rows: the [ssd] loss is that sum
// already (the lesson's ssd_loss); the other loss layers average their rows.
static inline double dt_loss_rows_total(dt_head_kind kind, float loss, int n) {
    return kind == DT_HEAD_SSD ? (double)loss : (double)loss * n;
}

typedef struct {
    dt_head_kind kind;
    int n_images;
    int has_loss;      // the network had targets (with_loss): loss below is set
    double loss;       // mean per image (the [ssd] loss sums a batch; the rest are means);
                       // NaN without has_loss
    int batch;         // the network's batch (train's val_loss unit for [ssd])
    int n_metrics;
    dt_metric metrics[DT_MAX_METRICS]; // first one: the checkpoint selector
    int has_ap;        // [ssd] only: ap filled
    dt_eval_result ap; // per class and mean; ap.iou_mode says the VOC IoU used
    double seconds;
} dt_valid_result;

// Runs the split `val` once through `net` (its batch size, inference mode;
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
// validation split of *data (NULL: the cfg's [net] data=; *data is set to
// the file used). 0 with dc and d to free, or -1 + dt_error with nothing to
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

// mkdir -p. 0, or -1 with dt_error.
int dt_valid_make_dirs(const char *path);

// CLI commands (argv[0] = the command name).
// env: the command line's network options (conv route, GPU; NULL: none).
int dt_cmd_valid(int argc, char **argv, const dt_net_opts *env);
int dt_cmd_test(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
